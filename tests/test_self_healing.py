"""A dead worker's work comes back by itself: heartbeats, and the sweep of worker.liveness.

The broker's own visibility timeout stays at its default (an hour) in these
tests: an article decided within the tests' bounds was brought back by the
sweep, not by kombu. Pages are held back by a gate the test opens, so the kill
always lands while the victim holds work, however fast the machine is.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import redis

from harness.redis_process import RedisProcess
from tests.conftest import Service, stream_docs
from tests.support.webserver import FixtureServer, Handler, send, serve_stories

# every bound below is a failure message, not a measurement
BOUND_SECONDS = 120


def _liveness(env: dict[str, str]) -> None:
    """A heartbeat each second, dead after 4 s, a sweep every 2 s, a frontier lease of 3 s
    (defaults: 5, 30, 15, 30)."""
    env.update(
        {
            "INGEST_WORKER__HEARTBEAT_SECONDS": "1",
            "INGEST_WORKER__DEAD_AFTER_SECONDS": "4",
            "INGEST_WORKER__SWEEP_SECONDS": "2",
            "INGEST_WORKER__LEASE_SECONDS": "3",
            # the site takes 4 requests at once: a worker holds several articles
            "INGEST_FETCH__PER_DOMAIN_CONCURRENCY": "4",
            # a page held at the gate must not time out meanwhile
            "INGEST_FETCH__READ_TIMEOUT_SECONDS": "60",
            "INGEST_FETCH__TOTAL_TIMEOUT_SECONDS": "90",
        }
    )


def _gated(gate: threading.Event) -> Callable[[bytes], Handler]:
    def respond(body: bytes) -> Handler:
        def handler(req: BaseHTTPRequestHandler) -> None:
            gate.wait(BOUND_SECONDS)
            send(req, 200, body, "text/html; charset=utf-8")

        return handler

    return respond


def _wait_until(check: Callable[[], bool], what: str, timeout: float = BOUND_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def _held(r: redis.Redis, prefix: str) -> dict[str, list[str]]:
    """Worker id -> the delivery tags its heartbeat says it holds."""
    ids = [w.decode() for w in r.zrange(f"{prefix}workers", 0, -1)]
    out = {}
    for w in ids:
        raw = r.get(f"{prefix}worker:{w}")
        if raw:
            out[w] = json.loads(raw)["held"]
    return out


def test_a_killed_worker_s_articles_are_taken_by_another_worker_with_no_command_typed(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _liveness(service.env)
    # a lease and a heartbeat's life with room for a busy machine's stalls: the verdict is
    # that nothing is taken back, which a late renewal would break on a slow machine
    service.env |= {"INGEST_WORKER__LEASE_SECONDS": "10", "INGEST_WORKER__DEAD_AFTER_SECONDS": "10"}
    gate = threading.Event()
    expected = serve_stories(web, 40, respond=_gated(gate))
    victim = service.start_worker("--concurrency", "2")
    service.ingest("fetch", "--feed", web.url("/feeds/gen.rss"))
    # the victim has taken articles from the frontier and is waiting for their pages
    _wait_until(lambda: len(web.paths("/gen/")) >= 2, "the victim asks for pages")

    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    gate.set()
    service.start_worker("--concurrency", "2")

    stream = f"{prefix}articles"
    _wait_until(lambda: r.xlen(stream) >= len(expected), f"{len(expected)} articles queued")
    _wait_until(lambda: r.hlen(f"{prefix}inflight") == 0, "nothing left in flight")
    urls = Counter(d["url"] for d in stream_docs(r, stream))
    assert set(urls) == expected
    assert max(urls.values()) == 1
    assert int(r.hget(f"{prefix}sweep", "resent_items") or 0) >= 2  # its leases ran out
    assert "event=frontier_requeued" in service.logs()


def test_the_sweep_leaves_the_work_of_live_workers_alone(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _liveness(service.env)
    # a lease and a heartbeat's life with room for a busy machine's stalls: the verdict is
    # that nothing is taken back, which a late renewal would break on a slow machine
    service.env |= {"INGEST_WORKER__LEASE_SECONDS": "10", "INGEST_WORKER__DEAD_AFTER_SECONDS": "10"}
    gate = threading.Event()
    expected = serve_stories(web, 40, respond=_gated(gate))
    service.start_worker("--concurrency", "2")
    service.start_worker("--concurrency", "2")
    service.ingest("fetch", "--feed", web.url("/feeds/gen.rss"))
    _wait_until(lambda: len(web.paths("/gen/")) >= 4, "the workers ask for pages")
    _wait_until(lambda: sum(len(h) for h in _held(r, prefix).values()) >= 1, "a drain is held")
    # several sweeps, and more than a lease's length, pass while the workers hold their
    # articles, waiting at the gate: their leases are renewed, not taken back
    runs = int(r.hget(f"{prefix}sweep", "runs") or 0)
    held_since = time.monotonic()
    _wait_until(
        lambda: int(r.hget(f"{prefix}sweep", "runs") or 0) >= runs + 3 and time.monotonic() - held_since > 12,
        "three more sweeps, and more than a lease (10 s)",
    )

    gate.set()

    stream = f"{prefix}articles"
    _wait_until(lambda: r.xlen(stream) >= len(expected), f"{len(expected)} articles queued")
    assert int(r.hget(f"{prefix}sweep", "restored_messages") or 0) == 0
    assert int(r.hget(f"{prefix}sweep", "resent_items") or 0) == 0
    pages = Counter(web.paths("/gen/"))
    assert set(pages) == {u.removeprefix(web.base) for u in expected}
    assert max(pages.values()) == 1  # nothing was handed out a second time


def test_status_lists_a_live_worker_and_a_clean_stop_removes_it(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _liveness(service.env)
    proc = service.start_worker("--concurrency", "1")
    _wait_until(lambda: r.zcard(f"{prefix}workers") == 1, "the worker's first heartbeat")
    [worker_id] = [w.decode() for w in r.zrange(f"{prefix}workers", 0, -1)]
    assert r.exists(f"{prefix}worker:{worker_id}")
    shown = json.loads(service.ingest("status", "--json").stdout)["workers"]
    assert [w["id"] for w in shown] == [worker_id]

    service.stop()

    assert proc.returncode is not None
    assert r.zcard(f"{prefix}workers") == 0
    assert not r.exists(f"{prefix}worker:{worker_id}")


def test_articles_waiting_for_their_site_s_turn_are_all_decided_after_a_redis_restart(
    service: Service, web: FixtureServer, tmp_path: Path
) -> None:
    # they wait in Redis (the frontier), which keeps them on disk (AOF); the workers'
    # drains and leases of the moment are lost with the connection and come back
    _liveness(service.env)
    service.env.update(
        {
            # one page a second: most pages wait for their turn, for up to ~24 s
            "INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND": "1",
            "INGEST_FETCH__PER_DOMAIN_CONCURRENCY": "1",
            "INGEST_FETCH__RESPECT_ROBOTS": "false",
        }
    )
    server = RedisProcess(tmp_path / "redis").start()
    client = redis.Redis.from_url(server.url)
    try:
        service.env["REDIS_URL"] = server.url
        prefix = service.env["INGEST_REDIS__KEY_PREFIX"]
        stream = service.env["INGEST_REDIS__STREAM_KEY"]
        expected = serve_stories(web, 24)
        service.start_worker("--concurrency", "2")
        service.ingest("fetch", "--feed", web.url("/feeds/gen.rss"))
        _wait_until(lambda: client.xlen(stream) >= 2, "two articles queued, the others waiting")
        assert client.hlen(f"{prefix}frontier:entries") > 10

        server.stop()
        server.start()

        _wait_until(lambda: client.xlen(stream) >= len(expected), f"{len(expected)} articles queued")
        urls = Counter(d["url"] for d in stream_docs(client, stream))
        assert set(urls) == expected
        assert max(urls.values()) == 1
    finally:
        service.stop()
        client.close()
        server.stop()


def _held_tags(r: redis.Redis, prefix: str) -> set[str]:
    return {tag for tags in _held(r, prefix).values() for tag in tags}


def test_an_adhoc_poll_the_broker_lost_is_sent_again_by_the_sweep(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _liveness(service.env)
    expected = serve_stories(web, 3)
    service.ingest("fetch", "--feed", web.url("/feeds/gen.rss"))  # no worker yet: it waits in its queue
    assert r.hlen(f"{prefix}polls") == 1
    r.delete(f"{prefix}celery:ingest.poll")  # the broker loses it (as a worker killed mid-take would)

    service.start_worker("--concurrency", "1")

    stream = f"{prefix}articles"
    _wait_until(lambda: r.xlen(stream) >= len(expected), f"{len(expected)} articles queued")
    _wait_until(lambda: r.hlen(f"{prefix}polls") == 0, "the poll's note is gone once it ran")
    assert {d["url"] for d in stream_docs(r, stream)} == expected
    assert "event=polls_lost" in service.logs()
    assert web.count("/feeds/gen.rss") == 1  # sent again once, not once per sweep
