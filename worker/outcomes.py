"""Exactly one recorded outcome per item: counters, run tallies, failures, dead letters.

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

from worker.dedup import DedupIndex
from worker.keys import Keys
from worker.logs import get_logger

log = get_logger(__name__)

RUN_TTL_SECONDS = 7 * 86400


class Recorder:
    def __init__(self, client: redis.Redis, keys: Keys, index: DedupIndex | None = None):
        self.r = client
        self.keys = keys
        self.index = index

    def mark_final(
        self,
        url_keys: list[bytes],
        outcome: str,
        decision: str,
        failure: dict[str, Any] | None = None,
        *,
        replace: bool = False,
        record: dict[str, Any] | None = None,
        heal_at: float | None = None,
    ) -> bool:
        """Write an off-topic/failed decision for the item's keys; True if it was written.

        Written when the item was not decided yet, or (``replace``: a forced attempt) when
        its decision was failed or off topic. The ``stats`` counter moves and the failure
        is remembered only then; ``record`` and ``heal_at``: see
        :meth:`worker.dedup.DedupIndex.mark`.
        """
        assert self.index is not None, "a Recorder that marks decisions needs the index"
        return self.index.mark(
            url_keys,
            decision,
            outcome=outcome,
            failure=failure,
            first_only=True,
            replace=replace,
            record=record,
            heal_at=heal_at,
        )

    def run_item(
        self, run_id: str | None, item_key: str, outcome: str, pipe: Any = None, **detail: Any
    ) -> None:
        """Record an item's outcome in an ad-hoc run (idempotent: the last write wins).

        Queued on ``pipe`` when given (the caller executes it), else sent at once.
        """
        if not run_id:
            return
        key = self.keys.run_items(run_id)
        p = pipe if pipe is not None else self.r.pipeline(transaction=False)
        p.hset(key, item_key, json.dumps({"outcome": outcome, **detail}, ensure_ascii=False))
        p.expire(key, RUN_TTL_SECONDS)
        p.srem(self.keys.run_pending(run_id), item_key)
        if pipe is None:
            p.execute()

    def run_retrying(self, run_id: str | None, item_key: str, **detail: Any) -> None:
        """Note why a run's item is being tried again, for ``fetch --wait`` to say. Kept apart
        from its outcome, which a late note must never overwrite; read only while the item is
        still pending."""
        if run_id:
            self._run_note(self.keys.run_retrying(run_id), item_key, detail)

    def run_pending(self, run_id: str | None, item_keys: list[str]) -> None:
        """Announce items a run is waiting for, before their tasks are sent."""
        if not run_id or not item_keys:
            return
        key = self.keys.run_items(run_id)
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
            pipe.sadd(self.keys.run_pending(run_id), *undecided)
            pipe.expire(self.keys.run_pending(run_id), RUN_TTL_SECONDS)
            pipe.execute()

    def run_poll_done(self, run_id: str | None, feed_url: str, summary: dict[str, Any]) -> None:
        if run_id:
            self._run_note(self.keys.run_polls(run_id), feed_url, summary)

    def _run_note(self, key: str, field: str, value: dict[str, Any]) -> None:
        """One field of a run's hash, which lives as long as the run (RUN_TTL_SECONDS)."""
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, field, json.dumps(value, ensure_ascii=False))
        pipe.expire(key, RUN_TTL_SECONDS)
        pipe.execute()

    def dead_letter(self, entry: dict[str, Any]) -> None:
        """Give up on an item for good, where an operator can see and replay it."""
        self.r.xadd(
            self.keys.deadletter,
            {"entry": json.dumps({**entry, "at": int(time.time())}, ensure_ascii=False)},
            maxlen=100_000,
            approximate=True,
        )
