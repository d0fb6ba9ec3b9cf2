"""Prometheus metrics of a worker and its pool children, served on ``worker.metrics_port``.

The official client in multiprocess mode: every process (the worker's main process and
each prefork child) writes its counters and histograms to files in one directory per
worker (``<data_dir>/metrics/<pid>``), which :func:`start` empties when the worker starts
and a child's files are marked dead when it exits (Celery's ``worker_process_shutdown``).
The main process serves ``/metrics`` from all of them, plus what is read from Redis at
each scrape: the stream's length and each consumer group's lag, the broker's queue depths
and the frontier's waiting articles.

``PROMETHEUS_MULTIPROC_DIR`` must be set before ``prometheus_client`` is first imported,
so :func:`start` runs before the pipeline's modules load. With ``metrics_port = 0`` (the
default) nothing is recorded and the recording calls cost one attribute test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from worker.logs import get_logger

log = get_logger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"
_m: Any = None  # the metric objects, once enabled in this process


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.articles = Counter(
            "ingest_articles_total", "Articles decided, by outcome and reason", ["outcome", "reason"]
        )
        self.polls = Counter("ingest_polls_total", "Source polls, by source and result", ["source", "result"])
        self.poll_items = Counter(
            "ingest_poll_items_total", "Items polls found, and new ones", ["source", "kind"]
        )
        self.fetch_seconds = Histogram(
            "ingest_fetch_seconds",
            "Article page downloads: seconds from request to body",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.fetch_bytes = Counter("ingest_fetch_bytes_total", "Bytes of article pages downloaded")
        self.extract_seconds = Histogram(
            "ingest_extract_seconds",
            "Extraction of a page's text",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
        )
        self.relevance = Histogram(
            "ingest_relevance_score",
            "Relevance scores of extracted articles",
            buckets=(0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1),
        )
        self.dedup_seconds = Histogram(
            "ingest_dedup_seconds",
            "Dedup decisions (the decide script, with its round trip)",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
        )


def enabled() -> bool:
    return _m is not None


def get() -> Any:
    """This process's metrics (None when metrics are off: callers test it first)."""
    global _m
    if _m is None and os.environ.get(ENV):
        _m = _Metrics()
    return _m


def start(data_dir: Path, port: int, redis_url: str, settings: Any) -> None:
    """Before the worker loads its pipeline: a clean metrics directory for this worker,
    and the /metrics endpoint of its main process (a port in use is logged, not fatal)."""
    if port <= 0:
        return
    directory = data_dir / "metrics" / str(os.getpid())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(directory)
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(_RedisCollector(redis_url, settings))
    try:
        start_http_server(port, addr="0.0.0.0", registry=registry)  # a scrape target, on every interface
    except OSError as exc:
        log.warning("metrics_port_unavailable", port=port, error=str(exc))
        return
    log.info("metrics_serving", port=port, directory=str(directory))


def process_exited(pid: int) -> None:
    """A pool child exited: its live gauges are dropped (its counters stay counted)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _RedisCollector:
    """Gauges read from Redis at each scrape (cheap: a few LLEN/XINFO calls)."""

    def __init__(self, redis_url: str, settings: Any):
        self.redis_url = redis_url
        self.settings = settings
        self._client: Any = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from worker.frontier import frontier_counts
        from worker.keys import Keys
        from worker.redisconn import redis_client
        from worker.status import broker_queue_lengths, stream_groups

        s = self.settings
        try:
            if self._client is None:
                self._client = redis_client(self.redis_url)
            r = self._client
            length = GaugeMetricFamily("ingest_stream_length", "Articles on the stream")
            length.add_metric([], float(r.xlen(s.redis.stream_key)))
            lag = GaugeMetricFamily(
                "ingest_stream_lag", "Stream entries a consumer group has not read", labels=["group"]
            )
            for g in stream_groups(r, s.redis.stream_key):
                lag.add_metric([g["name"]], float(g["lag"] or 0))
            queues = GaugeMetricFamily(
                "ingest_broker_queue_depth", "Tasks waiting in the broker", labels=["queue"]
            )
            for q, n in broker_queue_lengths(r, s).items():
                queues.add_metric([q], float(n))
            waiting = GaugeMetricFamily("ingest_frontier_waiting", "Articles waiting for their site's turn")
            waiting.add_metric(
                [], float(frontier_counts(r, Keys(s.redis.key_prefix, s.redis.stream_key))["waiting"])
            )
        except Exception as exc:  # Redis away: the scrape shows the process metrics alone
            log.warning("metrics_redis_unavailable", error=str(exc)[:200])
            return
        yield from (length, lag, queues, waiting)
