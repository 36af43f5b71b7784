FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY processor ./processor
COPY schemas ./schemas
RUN rm -f processor/schemas && cp -r schemas processor/schemas && pip install --no-cache-dir .
USER nobody
EXPOSE 9108
ENTRYPOINT ["srguard"]
CMD ["run"]
