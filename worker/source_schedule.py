"""How often each source is polled: an interval that adapts to how often it has news.

A source that yielded new items is polled sooner next time (its interval halves), one
that yielded none later (it grows by half), always within its bounds
(``min_interval_seconds`` .. ``max_interval_seconds``; by default half and four times
``interval_seconds``, where it starts). The beat scheduler fires every source at its
least interval; a poll that is not due yet ends at once, before any request. The
interval and the next poll's time are fields of the source's hash ``source:<name>``
(:mod:`worker.keys`), so they survive restarts and every worker and beat agrees.
A failing source's backoff (:class:`worker.politeness.FeedBackoff`) comes on top.
Ad-hoc polls (``ingest fetch --all``) run whether due or not, and count the same.
"""

from __future__ import annotations

import time

import redis

from worker.keys import Keys
from worker.logs import get_logger
from worker.settings import SourceSettings

log = get_logger(__name__)

SOONER = 0.5  # a poll with new items: the interval times this
LATER = 1.5  # a poll with none


def next_interval(current: float, new_items: int, lo: float, hi: float) -> float:
    return min(hi, max(lo, current * (SOONER if new_items else LATER)))


class SourceSchedule:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def interval(self, source: SourceSettings) -> float:
        """The source's current interval (seconds)."""
        raw = self.r.hget(self.keys.source(source.name), "interval_seconds")
        lo, hi = source.interval_bounds
        return min(hi, max(lo, float(raw))) if raw else float(source.interval_seconds)

    def due_in(self, source: SourceSettings) -> float:
        """Seconds until the source's next poll is due; 0 when due. The beat fires on a
        fixed cadence, so a poll due within half the least interval counts as due."""
        raw = self.r.hget(self.keys.source(source.name), "next_poll_at")
        if not raw:
            return 0.0
        left = float(raw) - time.time()
        return left if left > source.interval_bounds[0] / 2 else 0.0

    def record(self, source: SourceSettings, new_items: int, error: str | None) -> float:
        """After a poll: the source's next interval (kept as it was after an error)."""
        current = self.interval(source)
        lo, hi = source.interval_bounds
        interval = current if error else next_interval(current, new_items, lo, hi)
        now = time.time()
        self.r.hset(
            self.keys.source(source.name),
            mapping={"interval_seconds": f"{interval:.0f}", "next_poll_at": f"{now + interval:.0f}"},
        )
        if interval != current:
            log.info("source_interval", source=source.name, interval_seconds=round(interval), new=new_items)
        return interval
