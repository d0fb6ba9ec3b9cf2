"""Ad-hoc poll tasks, noted until they finish, so that one the broker lost is sent again.

``ingest fetch --all`` and ``--feed`` note each poll task they send in ``polls``
(task id -> task, arguments, time); the task removes its note when it finishes.
A poll is only ever in a broker queue, held by a worker (listed in its heartbeat,
:mod:`worker.liveness`), or running; one that is none of these on two sweeps
running was lost (a message taken off the queue by a worker killed before kombu
recorded it as held, or a write the broker lost) and the sweep sends it again
under the same id, so that it takes back its own lock and claims. Beat's own
polls are not noted: beat sends the next one at the source's next interval.

Poll queues are short (a message per source polled), so reading one whole is cheap.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from worker.keys import Keys
from worker.logs import get_logger
from worker.redisconn import as_str

log = get_logger(__name__)


class PollLedger:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.r = client
        self.keys = keys

    def note_poll(self, task_id: str, task: str, args: list[Any]) -> None:
        """Remember a poll task sent by hand until it finishes (see :meth:`lost_polls`)."""
        record = {"task": task, "args": args, "at": time.time()}
        self.r.hset(self.keys.polls, task_id, json.dumps(record))

    def poll_done(self, task_id: str) -> None:
        if task_id:
            self.r.hdel(self.keys.polls, task_id)

    def lost_polls(self, present: set[str], grace_seconds: float) -> list[tuple[str, str, list[Any]]]:
        """Noted polls whose task is nowhere: ``(task id, task, args)`` to send again.

        ``present``: the task ids queued or held by a live worker now. A poll missing
        from it is suspect on the first sweep and lost on the next one that still misses
        it (a message just taken is not yet listed by its holder's heartbeat); it is then
        sent again under the same id, so it takes back its own lock and claims.
        """
        now = time.time()
        lost = []
        pipe = self.r.pipeline(transaction=False)
        for raw_id, raw in self.r.hgetall(self.keys.polls).items():
            task_id, record = as_str(raw_id), json.loads(raw)
            if task_id in present or now - record["at"] < grace_seconds:
                if record.pop("suspect", None) is not None:
                    pipe.hset(self.keys.polls, task_id, json.dumps(record))
                continue
            if record.get("suspect") is None:
                record["suspect"] = now
            elif now - record["suspect"] >= grace_seconds / 2:
                lost.append((task_id, record["task"], record["args"]))
                record = {k: v for k, v in record.items() if k != "suspect"} | {"at": now}
            pipe.hset(self.keys.polls, task_id, json.dumps(record))
        pipe.execute()
        if lost:
            log.warning("polls_lost", count=len(lost), tasks=",".join(t for t, _, _ in lost))
        return lost

    def queued_task_ids(self, queue: str) -> set[str]:
        """The ids of the task messages waiting in a broker queue (read whole: keep it short)."""
        ids = set()
        for raw in self.r.lrange(self.keys.broker_queue(queue), 0, -1):
            try:
                ids.add(json.loads(raw)["headers"]["id"])
            except (ValueError, KeyError, TypeError):
                continue
        return ids
