# The ingest worker image: one image for the worker and the beat scheduler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    INGEST_CONFIG=/app/config/ingest.toml INGEST_DATA_DIR=/data
WORKDIR /app

COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install . && useradd --system --home /app ingest && mkdir /data && chown ingest /data
COPY config ./config
COPY seeds ./seeds

USER ingest
ENTRYPOINT ["ingest"]
CMD ["worker"]
