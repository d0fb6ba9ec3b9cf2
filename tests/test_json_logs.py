"""With ``log_format = "json"`` every line a worker writes is JSON: Celery's banner and shutdown
notices, Python's warnings and our own events alike."""

from __future__ import annotations

import json
import time

from harness.processes import stop_process_groups
from tests.conftest import Service
from tests.support.webserver import FixtureServer


def test_every_line_of_a_worker_that_fetched_and_stopped_is_json(
    service: Service, web: FixtureServer
) -> None:
    proc = service.start_worker(env={"INGEST_LOG_FORMAT": "json", "PYTHONWARNINGS": "always"})
    summary = service.fetch_wait("--url", web.url("/news/on-topic-4.html"))
    assert summary["queued"] == 1
    stop_process_groups([proc], grace=20)  # a warm shutdown, with Celery's notice

    lines = [line for line in service.logs().splitlines() if line.strip()]
    not_json = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    assert lines and not not_json, not_json[:5]
    events = [json.loads(line).get("event") for line in lines]
    assert "article_decided" in events and "celery_notice" in events
    [decided] = [json.loads(line) for line in lines if json.loads(line).get("event") == "article_decided"]
    assert {"id", "url", "source", "outcome", "reason", "ms"} <= set(decided)
    assert decided["outcome"] == "queued" and decided["ms"] > 0


def test_the_worker_says_its_transport_without_a_password_it_does_not_have(service: Service) -> None:
    proc = service.start_worker()
    deadline = time.monotonic() + 90
    while "worker_starting" not in service.logs():
        assert time.monotonic() < deadline, service.logs()[-2000:]
        time.sleep(0.2)
    stop_process_groups([proc], grace=20)
    logs = service.logs()
    line = next(x for x in logs.splitlines() if "worker_starting" in x)
    assert "transport=redis://127.0.0.1:" in line and "**" not in line
    assert ".> transport:" not in logs  # Celery's banner, which masked a password there is none of
