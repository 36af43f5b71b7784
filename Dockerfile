FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY processor ./processor
COPY schemas ./schemas
# The development tools (embedded stack, simulator, demo) stay out of the processor's image.
RUN rm -rf processor/schemas processor/devkit && cp -r schemas processor/schemas && pip install --no-cache-dir .
USER nobody
EXPOSE 9108
ENTRYPOINT ["srguard"]
CMD ["run"]
