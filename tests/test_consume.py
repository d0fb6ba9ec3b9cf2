"""The downstream contract: consumer groups read every article once, acked; nothing is trimmed unread."""

from __future__ import annotations

import json
from typing import Any

import redis

from tests.conftest import Service
from worker.consume import Consumer, ensure_group, safe_trim
from worker.status import stream_groups


def _publish(r: redis.Redis, stream: str, n: int) -> list[str]:
    return [
        r.xadd(stream, {"article": json.dumps({"id": f"a{i}", "title": f"t{i}"})}).decode() for i in range(n)
    ]


def _collecting() -> tuple[list[dict[str, Any]], Any]:
    seen: list[dict[str, Any]] = []
    return seen, seen.append


def test_a_group_reads_every_article_once_and_acks_it(r: redis.Redis, prefix: str) -> None:
    stream = f"{prefix}articles"
    _publish(r, stream, 25)
    ensure_group(r, stream, "down")
    seen, handler = _collecting()
    Consumer(r, stream, "down", "c1", handler, prefix=prefix, block_ms=100).run(until_idle=True)
    assert [d["id"] for d in seen] == [f"a{i}" for i in range(25)]
    assert r.xpending(stream, "down")["pending"] == 0


def test_an_entry_a_dead_consumer_left_pending_is_claimed_by_another(r: redis.Redis, prefix: str) -> None:
    stream = f"{prefix}articles"
    _publish(r, stream, 3)
    ensure_group(r, stream, "down")
    r.xreadgroup("down", "crashed", {stream: ">"}, count=3)  # read, never acked: the consumer died
    seen, handler = _collecting()
    c = Consumer(r, stream, "down", "c2", handler, prefix=prefix, block_ms=100, claim_idle_ms=0)
    c.run(until_idle=True)
    assert sorted(d["id"] for d in seen) == ["a0", "a1", "a2"] and c.stats.claimed == 3
    assert r.xpending(stream, "down")["pending"] == 0


def test_a_failing_handler_leaves_the_entry_pending_then_parks_it(r: redis.Redis, prefix: str) -> None:
    stream = f"{prefix}articles"
    _publish(r, stream, 2)
    ensure_group(r, stream, "down")
    calls: list[str] = []

    def handler(doc: dict[str, Any]) -> None:
        calls.append(doc["id"])
        if doc["id"] == "a0":
            raise ValueError("cannot handle this one")

    c = Consumer(
        r, stream, "down", "c", handler, prefix=prefix, block_ms=50, claim_idle_ms=0, max_deliveries=3
    )
    c.run_once()
    assert r.xpending(stream, "down")["pending"] == 1  # a0 waits for a retry; a1 is acked
    c.run_once()
    c.run_once()
    assert calls.count("a0") == 3 and calls.count("a1") == 1
    assert r.xpending(stream, "down")["pending"] == 0
    assert r.xlen(f"{prefix}consumer-deadletter") == 1


def test_status_shows_the_lag_of_each_group(r: redis.Redis, prefix: str) -> None:
    stream = f"{prefix}articles"
    _publish(r, stream, 10)
    ensure_group(r, stream, "fast")
    ensure_group(r, stream, "slow")
    Consumer(r, stream, "fast", "c", lambda d: None, prefix=prefix, block_ms=50).run(until_idle=True)
    Consumer(r, stream, "slow", "c", lambda d: None, prefix=prefix, count=4, block_ms=50).run_once()
    lag = {g["name"]: g["lag"] for g in stream_groups(r, stream)}
    assert lag == {"fast": 0, "slow": 6}


def test_trim_removes_only_what_every_group_has_acknowledged(r: redis.Redis, prefix: str) -> None:
    stream = f"{prefix}articles"
    ids = _publish(r, stream, 10)
    ensure_group(r, stream, "a")
    ensure_group(r, stream, "b")
    Consumer(r, stream, "a", "c", lambda d: None, prefix=prefix, block_ms=50).run(until_idle=True)
    r.xreadgroup("b", "c", {stream: ">"}, count=6)  # b has read 6, acked only the first 4
    r.xack(stream, "b", *ids[:4])
    min_id, removed = safe_trim(r, stream, ["a", "b"])
    assert (min_id, removed) == (ids[4], 4)
    assert [e[0].decode() for e in r.xrange(stream)] == ids[4:]


def test_trim_does_nothing_while_a_listed_group_does_not_exist(r: redis.Redis, prefix: str) -> None:
    stream = f"{prefix}articles"
    _publish(r, stream, 5)
    ensure_group(r, stream, "a")
    assert safe_trim(r, stream, ["a", "not-started"]) == (None, 0)
    assert r.xlen(stream) == 5


def test_ingest_consume_prints_and_acks_queued_articles(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    _publish(r, f"{prefix}articles", 3)
    res = service.ingest("consume", "--group", "cli", "--until-idle")
    assert [json.loads(line)["id"] for line in res.stdout.splitlines()] == ["a0", "a1", "a2"]
    assert r.xpending(f"{prefix}articles", "cli")["pending"] == 0
