"""The polite frontier: articles wait for their site's turn in Redis, not in a worker.

Every article a poll (or a retry, a heal, ``ingest fetch --url``) hands on is put
in its site's queue; sites whose turn has come are on a ready list scored by the
time of their next allowed request. A worker process *takes* articles from ready
sites only, a request's turn each, and fetches many sites' pages side by side;
an article whose site must wait costs no process and no thread, only its entry in
Redis. Shared by every worker on every machine (all state is in Redis), so adding
workers never adds load on one site.

Per site (``site`` = :func:`~worker.politeness.domain_of`, the pace's scope):

* **concurrency**: at most ``fetch.per_domain_concurrency`` requests in flight
  (1 by default): a site leaves the ready list while it has that many, and comes
  back when one of them is over (``fetched``), not when its article is decided.
* **pace**: its next request no sooner than ``pace:<site>`` (the same key that
  robots.txt and feed requests reserve, :mod:`worker.politeness`); each take moves
  it to now + the site's *delay*.
* **delay** (``frontier:delay``): ``1 / fetch.per_domain_requests_per_second``, or
  the site's robots.txt ``Crawl-delay`` up to ``fetch.max_crawl_delay_seconds``,
  whichever is longer; adapted as its answers come (:func:`next_delay`): doubled on
  429/503 (a ``Retry-After`` wins when longer), moved half-way towards the response
  time divided by ``fetch.per_domain_concurrency`` when that exceeds it, back down
  towards the base as the site recovers; at most ``fetch.max_delay_seconds``.

**Nothing lost, nothing done twice.** Taking an article leases it (``frontier:leases``,
key -> expiry) to the taker's token; the taking process renews its leases while it
works (:class:`LeaseKeeper`), and the sweep (:mod:`worker.liveness`) puts back at the
head of their site's queue the articles whose lease expired: a killed pool child or
worker, a lost machine. A late release by a taker whose lease was taken back changes
nothing (the token no longer matches), and an article leased now is not queued again.
Deciding an article stays atomic in the dedup script, so even a page fetched twice
after a lease expired mid-way is queued once.

=============================  =======  ===================================================
key                            type     what
=============================  =======  ===================================================
``frontier:sites``             zset     site -> when its next request may go (ms); ready list
``frontier:q:<site>``          zset     item key -> not before (ms): the site's queue, in order
``frontier:entries``           hash     item key -> entry (item, run id, attempts, force ...)
``frontier:leases``            zset     item key -> lease expiry (ms)
``frontier:leased``            hash     item key -> token|site|1 while its request is in flight, 0 after
``frontier:active``            hash     site -> requests in flight
``frontier:delay``             hash     site -> its delay now (ms)
``frontier:runs:<item key>``   set      other runs waiting for a queued article's decision
=============================  =======  ===================================================
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.feeds import Item
from worker.keys import Keys
from worker.logs import get_logger
from worker.politeness import domain_of
from worker.redisconn import as_str
from worker.scripts import Scripts
from worker.settings import FetchSettings

log = get_logger(__name__)

# expired leases the sweep puts back per call (the rest at its next run)
EXPIRE_BATCH = 500


@dataclass
class Entry:
    """An article in the frontier, with what its next attempt needs."""

    item: Item
    run_id: str | None = None
    retries: int = 0  # attempts used (a deferral uses none)
    force: bool = False  # a retry asked for (ingest retry, fetch --force, healing)
    heal_round: int = 0

    @property
    def key(self) -> str:
        from worker.context import item_key  # (context builds the frontier)

        return item_key(self.item)

    @property
    def site(self) -> str:
        return domain_of(self.item.url)

    def dumps(self) -> str:
        return json.dumps(
            {
                "item": self.item.to_dict(),
                "run_id": self.run_id,
                "retries": self.retries,
                "force": self.force,
                "heal_round": self.heal_round,
            }
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> Entry:
        d = json.loads(raw)
        return cls(
            Item.from_dict(d["item"]),
            d.get("run_id"),
            int(d.get("retries", 0)),
            bool(d.get("force", False)),
            int(d.get("heal_round", 0)),
        )


@dataclass
class Taken:
    """An article taken from the frontier: its request's turn at its site is now."""

    entry: Entry
    key: str
    token: str
    site: str
    delay: float  # the site's delay when taken (seconds)
    taken_at: float = field(default_factory=time.monotonic)


def next_delay(
    current: float,
    base: float,
    *,
    latency: float | None,
    rate_limited: bool = False,
    retry_after: float | None = None,
    max_delay: float,
    concurrency: int = 1,
) -> float:
    """A site's delay after an answer (seconds), after Scrapy's AutoThrottle.

    ``base`` is the least it may be (our pace, the site's Crawl-delay). 429/503 double
    it (a Retry-After wins when longer); an answer that took ``latency`` moves it
    half-way towards ``latency / concurrency`` (AutoThrottle's target delay: with
    ``concurrency`` requests allowed in flight, a site that answers in ``latency`` is
    kept at about that many in flight, not at one; a slow site is asked less often, a
    recovered one comes back down towards ``base``); an error with no answer leaves it
    as it was.
    """
    if rate_limited:
        return min(max_delay, max(current * 2, base, retry_after or 0.0))
    if latency is None:
        return min(max_delay, max(current, base))
    target = max(base, latency / max(1, concurrency))
    return min(max_delay, max(base, (current + target) / 2))


class Frontier:
    """The frontier's operations; one per process (its state is in Redis only)."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: FetchSettings, lease_seconds: float):
        self.r = client
        self.keys = keys
        self.s = settings
        self.lease_ms = int(lease_seconds * 1000)
        self.scripts = Scripts(client)

    @property
    def _base_keys(self) -> list[str]:
        k = self.keys
        return [
            k.frontier_sites,
            k.frontier_entries,
            k.frontier_leased,
            k.frontier_active,
            k.frontier_leases,
            k.frontier_delay,
        ]

    @property
    def default_delay(self) -> float:
        return 1.0 / self.s.per_domain_requests_per_second

    def base_delay(self, crawl_delay: float | None) -> float:
        """The least delay of a site: our pace, or its Crawl-delay (capped) when longer."""
        delay = self.default_delay
        if crawl_delay:
            delay = max(delay, min(float(crawl_delay), self.s.max_crawl_delay_seconds))
        return delay

    # ---- in ---------------------------------------------------------------------------
    def push(self, entries: Iterable[Entry], *, not_before: float = 0.0, keep: bool = True) -> int:
        """Queue articles for their sites' turns; how many were queued.

        ``not_before``: seconds from now (a retry's backoff). ``keep``: an article already
        waiting keeps its place. An article a taker holds now is not queued again. Either
        way the entry's run is told the article's decision (:meth:`done`).
        """
        k = self.keys
        pipe = self.r.pipeline(transaction=False)
        n = 0
        for e in entries:
            # a thousandth of a ms apart: a site's articles leave in the order given
            offset = not_before * 1000 + n / 1000
            self.scripts.frontier_push(
                keys=[k.frontier_sites, k.frontier_entries, k.frontier_leased, k.frontier_active],
                args=[
                    k.prefix,
                    e.site,
                    e.key,
                    e.dumps(),
                    f"{offset:.3f}",
                    self.s.per_domain_concurrency,
                    "keep" if keep else "",
                    e.run_id or "",
                ],
                client=pipe,
            )
            n += 1
        return sum(int(x) for x in pipe.execute()) if n else 0

    # ---- out --------------------------------------------------------------------------
    def take(self, n: int, taker: str) -> tuple[list[Taken], float | None]:
        """Up to ``n`` articles whose site's turn is now, leased to ``taker``; and seconds
        until the next site is ready (None: no site is waiting)."""
        raw = self.scripts.frontier_take(
            keys=self._base_keys,
            args=[
                self.keys.prefix,
                n,
                max(1, round(self.default_delay * 1000)),
                self.s.per_domain_concurrency,
                self.lease_ms,
                taker,
            ],
        )
        wait_ms = int(raw[-1])
        taken = []
        for i in range(0, len(raw) - 1, 5):
            key, token, site, entry, delay_ms = (as_str(x) for x in raw[i : i + 5])
            taken.append(Taken(Entry.loads(entry), key, token, site, float(delay_ms) / 1000))
        return taken, (None if wait_ms < 0 else wait_ms / 1000)

    def next_ready_in(self) -> float | None:
        """Seconds until the first site is ready (0: one is now); None when none waits.
        (On the Redis server's clock, as the scores.)"""
        pipe = self.r.pipeline(transaction=False)
        pipe.time()
        pipe.zrange(self.keys.frontier_sites, 0, 0, withscores=True)
        (sec, usec), first = pipe.execute()
        if not first:
            return None
        return max(0.0, (float(first[0][1]) - (sec * 1000 + usec / 1000)) / 1000)

    def ready_now(self) -> int:
        """Sites whose turn has come."""
        sec, usec = self.r.time()
        return int(self.r.zcount(self.keys.frontier_sites, "-inf", sec * 1000 + usec // 1000))

    # ---- release ----------------------------------------------------------------------
    def _release(
        self,
        mode: str,
        key: str,
        token: str,
        *,
        delay: float | None = None,
        pace_in: float | None = None,
        entry: Entry | None = None,
        not_before: float = 0.0,
        client: Any = None,
    ) -> Any:
        return self.scripts.frontier_release(
            keys=self._base_keys,
            args=[
                self.keys.prefix,
                mode,
                key,
                token,
                self.s.per_domain_concurrency,
                "" if delay is None else max(1, round(delay * 1000)),
                "" if pace_in is None else max(0, round(pace_in * 1000)),
                "" if entry is None else entry.dumps(),
                round(not_before * 1000),
            ],
            client=client,
        )

    def fetched(
        self, t: Taken, *, delay: float | None = None, from_now: bool = False, sent_at: float | None = None
    ) -> bool:
        """Its request is over: the site may take its next one, ``delay`` (its new delay,
        seconds) after this one went (``sent_at``, ``time.monotonic()``; unknown: when it
        was taken), or after its answer (``from_now``, as a Retry-After)."""
        pace_in = None
        if delay is not None:
            went = t.taken_at if sent_at is None else max(sent_at, t.taken_at)
            pace_in = delay if from_now else max(0.0, delay - (time.monotonic() - went))
        return bool(self._release("fetched", t.key, t.token, delay=delay, pace_in=pace_in))

    def done(self, t: Taken) -> list[str] | None:
        """Decided: the article leaves the frontier. Returns the other runs that asked for
        it meanwhile (to be told its outcome), or None when the lease was no longer ours."""
        res = self._release("done", t.key, t.token)
        if not isinstance(res, list):
            return None
        return [as_str(r) for r in res[1:]]

    def back(
        self,
        t: Taken,
        entry: Entry,
        *,
        not_before: float = 0.0,
        head: bool = False,
        site_waits: float | None = None,
    ) -> bool:
        """Into its site's queue again: a retry (``not_before`` its backoff), a deferral or
        an attempt cut short (``head``: first in line; ``site_waits``: the site's next
        request no sooner than this many seconds from now)."""
        return bool(
            self._release(
                "back",
                t.key,
                t.token,
                entry=entry,
                not_before=-1 if head else not_before,
                pace_in=site_waits,
            )
        )

    def renew(self, keys: Iterable[str]) -> None:
        """Extend the leases of the articles this process is working on."""
        keys = list(keys)
        if keys:
            until = (time.time() * 1000) + self.lease_ms
            self.r.zadd(self.keys.frontier_leases, dict.fromkeys(keys, until), xx=True)

    def requeue_expired(self) -> int:
        """Put back, first in their site's queue, the articles whose lease expired (their
        taker died or lost Redis for longer than the lease); how many."""
        now_ms = time.time() * 1000
        expired = self.r.zrangebyscore(self.keys.frontier_leases, "-inf", now_ms, start=0, num=EXPIRE_BATCH)
        if not expired:
            return 0
        pipe = self.r.pipeline(transaction=False)
        for key in expired:
            self._release("back", as_str(key), "", not_before=-1, client=pipe)
        n = sum(int(x) for x in pipe.execute())
        if n:
            log.warning("frontier_requeued", count=n)
        return n

    def counts(self) -> dict[str, int]:
        return frontier_counts(self.r, self.keys)


def frontier_counts(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Articles waiting for their site's turn, articles taken now, sites with articles
    waiting (for ``ingest status``)."""
    pipe = client.pipeline(transaction=False)
    pipe.hlen(keys.frontier_entries)
    pipe.zcard(keys.frontier_leases)
    pipe.zcard(keys.frontier_sites)
    entries, leased, sites = pipe.execute()
    return {"waiting": int(entries) - int(leased), "leased": int(leased), "sites": int(sites)}


class LeaseKeeper:
    """Renews, from a thread of its own, the leases this process holds.

    A task busy extracting a large page for a minute keeps its articles; a process
    that dies stops renewing, and its articles go back after ``lease_seconds``.
    """

    def __init__(self, frontier: Frontier, every: float):
        self.frontier = frontier
        self.every = every
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def hold(self, key: str) -> None:
        with self._lock:
            self._held[key] = self._held.get(key, 0) + 1
        self._ensure_thread()

    def drop(self, key: str) -> None:
        with self._lock:
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="frontier-leases", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            with self._lock:
                keys = list(self._held)
            try:
                self.frontier.renew(keys)
            except redis.RedisError as exc:  # the leases run out if Redis stays away; that is the design
                log.warning("lease_renew_failed", error=str(exc)[:200])
