"""With ``log_format = "json"`` every line a worker writes is JSON: Celery's banner and shutdown
notices, Python's warnings and our own events alike."""

from __future__ import annotations

import json
import time
import uuid

import redis

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


def test_every_line_of_beat_is_json_without_celerys_banner(service: Service) -> None:
    service.env |= {"INGEST_LOG_FORMAT": "json", "PYTHONWARNINGS": "always"}
    proc = service.start_beat()
    deadline = time.monotonic() + 90
    while "first_polls_sent" not in service.logs():  # beat is up and has sent its first round
        assert time.monotonic() < deadline, service.logs()[-2000:]
        time.sleep(0.2)
    stop_process_groups([proc], grace=20)

    lines = [line for line in service.logs().splitlines() if line.strip()]
    assert all(line.startswith("{") and json.loads(line) for line in lines), lines[:5]
    [starting] = [json.loads(line) for line in lines if '"beat_starting"' in line]
    assert starting["transport"].startswith("redis://127.0.0.1:") and "**" not in starting["transport"]


def test_the_worker_says_its_transport_without_a_password_it_does_not_have(service: Service) -> None:
    proc = service.start_worker()
    deadline = time.monotonic() + 90
    while "Connected to" not in service.logs():  # Celery's line, once the broker answers
        assert time.monotonic() < deadline, service.logs()[-2000:]
        time.sleep(0.2)
    stop_process_groups([proc], grace=20)
    logs = service.logs()
    line = next(x for x in logs.splitlines() if "worker_starting" in x)
    assert "transport=redis://127.0.0.1:" in line and "**" not in line
    assert ".> transport:" not in logs  # Celery's banner, which masked a password there is none of
    # kombu masks one whether the URL has it or not ("redis://:**@127.0.0.1")
    connected = next(x for x in logs.splitlines() if "Connected to" in x)
    assert "Connected to redis://127.0.0.1:" in connected and "**" not in connected, connected


def test_the_worker_masks_the_password_of_its_redis_user(service: Service) -> None:
    """A shared Redis with an ACL user (README, "Beyond one machine"): its password is in no line."""
    url = service.env["REDIS_URL"]
    user, password = f"ingest-test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = redis.Redis.from_url(url)
    admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"], commands=["+@all"]
    )
    try:
        proc = service.start_worker(
            env={"REDIS_URL": url.replace("redis://", f"redis://{user}:{password}@", 1)}
        )
        deadline = time.monotonic() + 90
        while "Connected to" not in service.logs():
            assert time.monotonic() < deadline, service.logs()[-2000:]
            time.sleep(0.2)
        stop_process_groups([proc], grace=20)
    finally:
        admin.acl_deluser(user)
        admin.close()
    logs = service.logs()
    assert password not in logs
    assert "transport=redis://***@127.0.0.1:" in logs and "Connected to redis://***@127.0.0.1:" in logs
