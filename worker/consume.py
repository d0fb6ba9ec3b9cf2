"""A reference consumer of the article stream, and the safe trim that goes with it.

It is what the README's downstream contract describes, in code: a consumer
group reads with ``XREADGROUP``, acknowledges each entry with ``XACK`` only after
its handler returned, and takes over entries another consumer left pending for
too long with ``XAUTOCLAIM``. An entry whose handler fails stays pending and is
retried; after ``max_deliveries`` it is acknowledged and parked in
``<prefix>consumer-deadletter`` so it cannot block the group.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from worker.keys import Keys
from worker.logs import get_logger
from worker.message import decode
from worker.redisconn import as_str

log = get_logger(__name__)

Handler = Callable[[dict[str, Any]], None]


@dataclass
class ConsumerStats:
    handled: int = 0
    failed: int = 0
    claimed: int = 0
    parked: int = 0


def ensure_group(client: redis.Redis, stream: str, group: str, start: str = "0") -> None:
    """Create the group (reading from ``start``: "0" all history, "$" only new) if missing."""
    try:
        client.xgroup_create(stream, group, id=start, mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class Consumer:
    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        handler: Handler,
        *,
        prefix: str = "ingest:",
        count: int = 10,
        block_ms: int = 2000,
        claim_idle_ms: int = 60_000,
        max_deliveries: int = 5,
    ):
        self.r = client
        self.stream, self.group, self.consumer = stream, group, consumer
        self.handler = handler
        self.prefix = prefix
        self.count, self.block_ms = count, block_ms
        self.claim_idle_ms, self.max_deliveries = claim_idle_ms, max_deliveries
        self.stats = ConsumerStats()

    def _deliveries(self, entry_id: str) -> int:
        info: Any = self.r.xpending_range(self.stream, self.group, entry_id, entry_id, 1)
        return int(info[0]["times_delivered"]) if info else 0

    def _handle(self, entry_id: str, fields: Any) -> None:
        try:
            self.handler(decode(fields))
        except Exception as exc:  # the handler's failure: leave it pending, retry later
            self.stats.failed += 1
            deliveries = self._deliveries(entry_id)
            log.warning("consume_failed", id=entry_id, error=str(exc)[:300], deliveries=deliveries)
            if deliveries >= self.max_deliveries:
                self.r.xadd(
                    Keys(self.prefix).consumer_deadletter,
                    {
                        "entry_id": entry_id,
                        "group": self.group,
                        "error": str(exc)[:500],
                        "fields": json.dumps(
                            {as_str(k): as_str(v) for k, v in fields.items()}, ensure_ascii=False
                        ),
                    },
                )
                self.r.xack(self.stream, self.group, entry_id)
                self.stats.parked += 1
            return
        self.r.xack(self.stream, self.group, entry_id)
        self.stats.handled += 1

    def claim_stale(self) -> int:
        """Take over entries other (dead) consumers left pending longer than claim_idle_ms."""
        n = 0
        start = "0-0"
        while True:
            res: Any = self.r.xautoclaim(
                self.stream, self.group, self.consumer, self.claim_idle_ms, start_id=start, count=self.count
            )
            start, entries = as_str(res[0]), res[1]
            for entry_id, fields in entries:
                if fields is None:  # deleted from the stream meanwhile
                    continue
                n += 1
                self._handle(as_str(entry_id), fields)
            if start == "0-0":
                break
        self.stats.claimed += n
        return n

    def run_once(self) -> int:
        """Claim stale entries, then read and handle one batch of new ones; how many were handled."""
        n = self.claim_stale()
        res: Any = self.r.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.count, block=self.block_ms
        )
        for _stream, entries in res or []:
            for entry_id, fields in entries:
                n += 1
                self._handle(as_str(entry_id), fields)
        return n

    def run(self, *, stop: Callable[[], bool] = lambda: False, until_idle: bool = False) -> ConsumerStats:
        """Consume until ``stop()`` (or, with until_idle, until a read returns nothing)."""
        while not stop():
            if self.run_once() == 0 and until_idle:
                break
        return self.stats


def safe_trim(client: redis.Redis, stream: str, groups: list[str]) -> tuple[str | None, int]:
    """Trim entries every listed group has read and acknowledged; (min id kept, entries removed).

    Nothing is trimmed when a listed group does not exist: it may not have started yet.
    """
    ids: list[tuple[int, int]] = []
    groups_info: Any = client.xinfo_groups(stream)
    existing = {as_str(g["name"]): g for g in groups_info}
    for name in groups:
        g = existing.get(name)
        if g is None:
            return None, 0
        ids.append(_parse_id(as_str(g["last-delivered-id"]), plus_one=True))
        pending: Any = client.xpending(stream, name)
        if pending and pending.get("pending"):
            ids.append(_parse_id(as_str(pending["min"])))
    if not ids:
        return None, 0
    keep = min(ids)
    min_id = f"{keep[0]}-{keep[1]}"
    removed = int(client.xtrim(stream, minid=min_id, approximate=False))
    return min_id, removed


def _parse_id(entry_id: str, plus_one: bool = False) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0) + (1 if plus_one else 0))


def print_handler(doc: dict[str, Any]) -> None:
    """The default handler: one JSON line per article on standard output."""
    import click

    click.echo(json.dumps(doc, ensure_ascii=False))
