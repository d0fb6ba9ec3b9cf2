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

# HSETNX each key; the first one written moves the counter and remembers the failure.
_MARK = """
local first = 0
for i = 1, #KEYS - 2 do
  if redis.call('HSETNX', KEYS[i], ARGV[i], ARGV[#ARGV - 2]) == 1 and i == 1 then first = 1 end
end
if first == 1 then
  redis.call('HINCRBY', KEYS[#KEYS - 1], ARGV[#ARGV - 1], 1)
  if ARGV[#ARGV] ~= '' then
    redis.call('LPUSH', KEYS[#KEYS], ARGV[#ARGV])
    redis.call('LTRIM', KEYS[#KEYS], 0, tonumber(ARGV[#ARGV - 3]))
  end
end
return first
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
        self, url_keys: list[bytes], outcome: str, decision: str, failure: dict[str, Any] | None = None
    ) -> bool:
        """Write an off-topic/failed decision for the item's keys; True if it was the first."""
        keys = [f"{self.prefix}urls"] * len(url_keys) + [f"{self.prefix}stats", f"{self.prefix}failures"]
        fail = json.dumps(failure, ensure_ascii=False) if failure else ""
        return bool(self._mark(keys=keys, args=[*url_keys, RECENT_FAILURES - 1, decision, outcome, fail]))

    def run_item(self, run_id: str | None, item_key: str, outcome: str, **detail: Any) -> None:
        """Record an item's outcome in an ad-hoc run (idempotent: the last write wins)."""
        if not run_id:
            return
        key = f"{self.prefix}run:{run_id}:items"
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, item_key, json.dumps({"outcome": outcome, **detail}, ensure_ascii=False))
        pipe.expire(key, RUN_TTL_SECONDS)
        pipe.execute()

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
