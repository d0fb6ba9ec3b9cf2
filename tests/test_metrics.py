"""Prometheus metrics: a worker serves its own and its pool children's on its metrics port."""

from __future__ import annotations

import socket
import time
import urllib.request

from tests.conftest import Service
from tests.support.webserver import FixtureServer

BOUND_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> str:
    deadline = time.monotonic() + BOUND_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as res:
                return res.read().decode()
        except OSError:
            assert time.monotonic() < deadline, "no metrics endpoint"
            time.sleep(0.2)


def _value(text: str, name: str) -> float:
    """The value of one sample (exact name with labels), 0 when absent."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_scrape_after_a_real_fetch_counts_the_article_the_poll_and_the_stream(
    service: Service, web: FixtureServer
) -> None:
    port = _free_port()
    service.start_worker("--concurrency", "2", env={"INGEST_WORKER__METRICS_PORT": str(port)})
    summary = service.fetch_wait(
        "--url", web.url("/news/on-topic-4.html"), "--url", web.url("/news/gone.html")
    )
    assert (summary["queued"], summary["failed"]) == (1, 1)

    text = _scrape(port)

    assert _value(text, 'ingest_articles_total{outcome="queued",reason=""}') == 1
    assert _value(text, 'ingest_articles_total{outcome="failed",reason="http_404"}') == 1
    assert _value(text, "ingest_fetch_seconds_count") >= 1  # the 404 raises before it is observed
    assert _value(text, "ingest_extract_seconds_count") == 1
    assert _value(text, "ingest_relevance_score_count") == 1
    assert _value(text, "ingest_dedup_seconds_count") == 1
    assert _value(text, "ingest_fetch_bytes_total") > 1000
    assert _value(text, "ingest_stream_length") == 1
    assert 'ingest_broker_queue_depth{queue="ingest.poll"}' in text
