"""Exactly one recorded outcome per item: counters, run tallies, failures, log line.

Queued and duplicate decisions are written by the dedup script itself (atomically
with the publication); off-topic and failed ones are written here. Either way the
``stats`` counter moves only when the URL's decision is first written, so a task
that runs twice never counts twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from worker.logs import get_logger

log = get_logger(__name__)

OUTCOMES = ("queued", "duplicate", "off_topic", "failed")
RUN_TTL_SECONDS = 7 * 86400
RECENT_FAILURES = 100

# Write the decision for every key of the item unless its URL (first key) is decided in
# any live epoch; the first write moves the counter and remembers the failure.
# KEYS: write hash, stats, failures, then every live url hash
# ARGV: expire_at, trim, decision, outcome, failure JSON, then the item's keys
_MARK = """
local first_key = ARGV[6]
for i = 4, #KEYS do
  if redis.call('HEXISTS', KEYS[i], first_key) == 1 then return 0 end
end
for i = 6, #ARGV do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[3]) end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
if ARGV[5] ~= '' then
  redis.call('LPUSH', KEYS[3], ARGV[5])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[2]))
end
return 1
"""


def decision_outcome(decision: str) -> str:
    """The outcome name of a recorded decision (``q:12`` -> queued ...)."""
    return {"q": "queued", "d": "duplicate", "s": "duplicate", "o": "off_topic", "f": "failed"}.get(
        decision[:1], "failed"
    )


class Recorder:
    def __init__(self, client: redis.Redis, prefix: str):
        self.r = client
        self.prefix = prefix
        self._mark = client.register_script(_MARK)

    def mark_final(
        self,
        url_hashes: tuple[str, list[str], int],
        url_keys: list[bytes],
        outcome: str,
        decision: str,
        failure: dict[str, Any] | None = None,
    ) -> bool:
        """Write an off-topic/failed decision for the item's keys; True if it was the first.

        ``url_hashes`` is :meth:`worker.dedup.DedupIndex.url_hashes`: where decisions live.
        """
        write, read, expire_at = url_hashes
        keys = [write, f"{self.prefix}stats", f"{self.prefix}failures", *read]
        fail = json.dumps(failure, ensure_ascii=False) if failure else ""
        args: list[Any] = [expire_at, RECENT_FAILURES - 1, decision, outcome, fail, *url_keys]
        return bool(self._mark(keys=keys, args=args))

    def run_item(
        self, run_id: str | None, item_key: str, outcome: str, pipe: Any = None, **detail: Any
    ) -> None:
        """Record an item's outcome in an ad-hoc run (idempotent: the last write wins).

        Queued on ``pipe`` when given (the caller executes it), else sent at once.
        """
        if not run_id:
            return
        key = f"{self.prefix}run:{run_id}:items"
        p = pipe if pipe is not None else self.r.pipeline(transaction=False)
        p.hset(key, item_key, json.dumps({"outcome": outcome, **detail}, ensure_ascii=False))
        p.expire(key, RUN_TTL_SECONDS)
        p.srem(f"{self.prefix}run:{run_id}:pending", item_key)
        if pipe is None:
            p.execute()

    def run_pending(self, run_id: str | None, item_keys: list[str]) -> None:
        """Announce items a run is waiting for, before their tasks are sent."""
        if not run_id or not item_keys:
            return
        key = f"{self.prefix}run:{run_id}:items"
        pending = json.dumps({"outcome": "pending"})
        pipe = self.r.pipeline(transaction=False)
        for k in item_keys:
            pipe.hsetnx(key, k, pending)
        pipe.expire(key, RUN_TTL_SECONDS)
        # the same keys in a set that only shrinks as outcomes arrive: a cheap "done yet?"
        # for waiting clients (HSETNX keeps an outcome already there; the set must agree)
        pipe.hmget(key, item_keys)
        current = pipe.execute()[-1]
        undecided = [k for k, v in zip(item_keys, current, strict=True) if v == pending.encode()]
        if undecided:
            pipe.sadd(f"{self.prefix}run:{run_id}:pending", *undecided)
            pipe.expire(f"{self.prefix}run:{run_id}:pending", RUN_TTL_SECONDS)
            pipe.execute()

    def run_poll_done(self, run_id: str | None, feed_url: str, summary: dict[str, Any]) -> None:
        if not run_id:
            return
        key = f"{self.prefix}run:{run_id}:polls"
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, feed_url, json.dumps(summary, ensure_ascii=False))
        pipe.expire(key, RUN_TTL_SECONDS)
        pipe.execute()

    def dead_letter(self, entry: dict[str, Any]) -> None:
        """Give up on an item for good, where an operator can see and replay it."""
        self.r.xadd(
            f"{self.prefix}deadletter",
            {"entry": json.dumps({**entry, "at": int(time.time())}, ensure_ascii=False)},
            maxlen=100_000,
            approximate=True,
        )
