# The wheels are built in the full image: it has the C compiler that processor/duis/_layout.pyx (Cython, the
# DUIS reader's layout check) needs; the images that run srguard are the slim one, with no compiler in them.
FROM python:3.11 AS build
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY processor ./processor
COPY schemas ./schemas
RUN rm -rf processor/schemas && cp -r schemas processor/schemas \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels/devkit . \
    && rm -rf processor/devkit build \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels/processor .

# `srguard stack kit` for docker-compose.secure.yml: the development tools stay in; run as root, once, to hand
# each container its own files.
FROM python:3.11-slim AS devkit
COPY --from=build /wheels/devkit /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENTRYPOINT ["srguard"]

# The processor's image (the default target): the development tools (embedded stack, simulator, demo) stay out.
FROM python:3.11-slim AS processor
COPY --from=build /wheels/processor /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER nobody
EXPOSE 9108
ENTRYPOINT ["srguard"]
CMD ["run"]
