FROM python:3.11-slim AS source
WORKDIR /app
COPY pyproject.toml README.md ./
COPY processor ./processor
COPY schemas ./schemas
RUN rm -rf processor/schemas && cp -r schemas processor/schemas

# `srguard stack kit` for docker-compose.secure.yml: the development tools stay in; run as root, once, to hand
# each container its own files.
FROM source AS devkit
RUN pip install --no-cache-dir .
ENTRYPOINT ["srguard"]

# The processor's image (the default target): the development tools (embedded stack, simulator, demo) stay out.
FROM source AS processor
RUN rm -rf processor/devkit && pip install --no-cache-dir .
USER nobody
EXPOSE 9108
ENTRYPOINT ["srguard"]
CMD ["run"]
