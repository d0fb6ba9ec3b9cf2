"""Nothing lost, nothing twice: killed workers, a restarted Redis, a poison article."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
import redis

from harness.newsroom import article_html, rss
from harness.redis_process import RedisProcess
from tests.conftest import Service, stream_docs
from tests.support.webserver import FixtureServer, send, serve_stories

pytestmark = pytest.mark.slow

POISON_MARKER = "POISON-NEVER-ENDS"
# the worker's extract() never returns on a page holding the marker (see its module's docstring)
NEVER_ENDING_EXTRACT = {
    "PYTHONPATH": str(Path(__file__).resolve().parent / "support" / "never_ending_extract"),
    "NEVER_ENDING_EXTRACT_MARKER": POISON_MARKER,
}
STARTED = "fault injection: extraction of a never-ending page started"


def _wait_for_stream(r: redis.Redis, key: str, n: int, timeout: float) -> None:
    """Until ``n`` articles are on the stream and nothing handed on is left undecided
    (so that a second copy, if the service made one, would be there too)."""
    inflight = key.removesuffix("articles") + "inflight"
    deadline = time.monotonic() + timeout
    while (r.xlen(key) < n or r.hlen(inflight)) and time.monotonic() < deadline:
        time.sleep(0.5)


def _fast_redelivery(env: dict[str, str]) -> None:
    """Short liveness intervals, so that a dead worker's work comes back in seconds.

    The broker's visibility timeout stays at its default (an hour): what comes back
    within these tests' bounds was brought back by the sweep (worker/liveness.py).
    """
    env.update(
        {
            "INGEST_WORKER__HEARTBEAT_SECONDS": "1",
            "INGEST_WORKER__DEAD_AFTER_SECONDS": "4",
            "INGEST_WORKER__SWEEP_SECONDS": "2",
            "INGEST_WORKER__TASK_SOFT_TIME_LIMIT_SECONDS": "5",
            "INGEST_WORKER__TASK_TIME_LIMIT_SECONDS": "8",
            "INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND": "1000",
        }
    )


def test_killing_workers_at_random_loses_nothing_and_queues_nothing_twice(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _fast_redelivery(service.env)
    expected = serve_stories(web, 150, delay=0.03)
    workers = [service.start_worker("--concurrency", "2"), service.start_worker("--concurrency", "2")]
    service.ingest("fetch", "--feed", web.url("/feeds/gen.rss"))
    rng = random.Random(1)
    kills = Counter[str]()
    for _ in range(6):
        time.sleep(rng.uniform(1.0, 3.0))
        victim = rng.choice([w for w in workers if w.poll() is None])
        children = psutil.Process(victim.pid).children()
        if children and rng.random() < 0.5:  # one pool process dies (OOM-killer style)
            rng.choice(children).send_signal(signal.SIGKILL)
            kills["pool process"] += 1
        else:  # the whole worker dies; a new one takes its place
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            workers.remove(victim)
            workers.append(service.start_worker("--concurrency", "2"))
            kills["worker"] += 1

    _wait_for_stream(r, f"{prefix}articles", len(expected), timeout=240)
    urls = Counter(d["url"] for d in stream_docs(r, f"{prefix}articles"))
    assert sum(kills.values()) == 6
    assert set(urls) == expected, f"missing {len(expected - set(urls))} after kills {dict(kills)}"
    assert max(urls.values()) == 1, [u for u, c in urls.items() if c > 1]


def test_redis_restart_mid_run_loses_nothing_and_queues_nothing_twice(
    service: Service, web: FixtureServer, tmp_path: Path
) -> None:
    server = RedisProcess(tmp_path / "redis").start()
    client = redis.Redis.from_url(server.url)
    try:
        service.env["REDIS_URL"] = server.url
        _fast_redelivery(service.env)
        stream = service.env["INGEST_REDIS__STREAM_KEY"]
        expected = serve_stories(web, 120, delay=0.05)
        service.start_worker("--concurrency", "2")
        service.start_worker("--concurrency", "2")
        service.ingest("fetch", "--feed", web.url("/feeds/gen.rss"))
        deadline = time.monotonic() + 60
        while client.xlen(stream) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.stop()  # mid-run: some articles queued, most not
        time.sleep(3)
        server.start()
        assert 0 < client.xlen(stream) < len(expected)  # the AOF kept what was queued

        _wait_for_stream(client, stream, len(expected), timeout=240)
        urls = Counter(d["url"] for d in stream_docs(client, stream))
        assert set(urls) == expected, f"missing {len(expected - set(urls))}"
        assert max(urls.values()) == 1
        assert all(p.poll() is None for p in service.procs)  # the workers reconnected on their own
    finally:
        service.stop()
        client.close()
        server.stop()


def _wait_for_log(service: Service, text: str, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while service.logs().count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not logged {count} times:\n{service.logs()[-3000:]}"
        time.sleep(0.2)


def test_a_worker_celery_gives_up_on_starts_again_by_itself_and_goes_on(
    service: Service, web: FixtureServer, tmp_path: Path
) -> None:
    # Celery stops a worker for good on any exception in its consumer; a broker refusing
    # the consumer's BRPOP (an ACL) is a way to cause one on purpose
    server = RedisProcess(tmp_path / "redis").start()
    client = redis.Redis.from_url(server.url)
    try:
        service.env["REDIS_URL"] = server.url
        proc = service.start_worker("--concurrency", "1")
        _wait_for_log(service, " ready.")
        client.execute_command("ACL", "SETUSER", "default", "-brpop")
        _wait_for_log(service, "Unrecoverable error")
        client.execute_command("ACL", "SETUSER", "default", "+brpop")
        _wait_for_log(service, "event=worker_stopped_unexpectedly")

        expected = serve_stories(web, 3)
        summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"), timeout=90)

        assert summary["complete"] and summary["queued"] == 3
        stream = service.env["INGEST_REDIS__STREAM_KEY"]
        assert {d["url"] for d in stream_docs(client, stream)} == expected
        assert proc.poll() is None  # the same process (same pid), started again
        assert service.logs().count(" ready.") == 2
    finally:
        service.stop()
        client.close()
        server.stop()


def test_poison_article_ends_in_dead_letters_without_blocking_the_others(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _fast_redelivery(service.env)
    service.env.update(
        {
            # a normal article starts at most half the soft limit into its task (the batch's
            # budget): 2 s left to extract it, far more than it needs however loaded the machine
            "INGEST_WORKER__TASK_SOFT_TIME_LIMIT_SECONDS": "4",
            "INGEST_WORKER__TASK_TIME_LIMIT_SECONDS": "8",
            "INGEST_FETCH__MAX_RETRIES": "2",
        }
    )
    expected = serve_stories(web, 20)
    # an on-topic page (it would be queued if extracted) whose extraction never ends: the
    # worker's extract() is wrapped to loop on the marker (tests/support/never_ending_extract),
    # so every attempt outlives the soft time limit, on any machine
    poison = f"{article_html(1000)}\n<!-- {POISON_MARKER} -->\n"
    poison_url = web.route("/gen/poison.html", lambda req: send(req, 200, poison.encode(), "text/html"))
    feed = rss(web.base, ["/gen/poison.html", *[u.removeprefix(web.base) for u in sorted(expected)]]).encode()
    web.route("/feeds/poison.rss", lambda req: send(req, 200, feed, "application/rss+xml"))
    worker = service.start_worker("--concurrency", "2", env=NEVER_ENDING_EXTRACT)

    summary = service.fetch_wait("--feed", web.url("/feeds/poison.rss"), timeout=180)

    # each of the three attempts ran into the injected hang, not into anything else
    assert service.logs().count(STARTED) == 3, service.logs()[-3000:]
    assert summary["complete"] and summary["queued"] == 20 and summary["failed"] == 1
    [(_, fields)] = r.xrange(f"{prefix}deadletter")
    entry = json.loads(fields[b"entry"])
    assert (entry["url"], entry["reason"], entry["attempts"]) == (poison_url, "timeout", 3)
    assert {d["url"] for d in stream_docs(r, f"{prefix}articles")} == expected
    assert worker.poll() is None
    assert "dead letters: 1" in service.ingest("status").stdout


def test_an_article_whose_task_was_lost_is_sent_again_and_queued_once(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    from worker.context import item_keys
    from worker.feeds import Item, canonical_url

    service.start_worker()
    lost_url = web.url("/news/on-topic-3.html")
    lost = Item(url=lost_url, canonical_url=canonical_url(lost_url), source="adhoc")
    decided = web.url("/news/on-topic-4.html")
    service.fetch_wait("--url", decided)
    done = Item(url=decided, canonical_url=canonical_url(decided), source="adhoc")
    for item in (lost, done):  # both handed on long ago; only `lost` never got decided
        entry = {"item": item.to_dict(), "run_id": None, "at": 0}
        r.hset(f"{prefix}inflight", item_keys(item)[0].hex(), json.dumps(entry))

    assert service.ingest("requeue-stale", "--older-than", "60").stdout.strip() == "sent again: 1"
    _wait_for_stream(r, f"{prefix}articles", 2, timeout=60)

    assert sorted(d["url"] for d in stream_docs(r, f"{prefix}articles")) == [lost.url, decided]
    assert r.hlen(f"{prefix}inflight") == 0
    assert service.ingest("requeue-stale", "--older-than", "0").stdout.strip() == "sent again: 0"
