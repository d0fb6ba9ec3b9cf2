"""Politeness towards the sites we read: robots.txt, a per-domain pace, failing feeds.

**robots.txt** (RFC 9309), parsed by protego, fetched through the same safe
:class:`~worker.fetch.Fetcher` (SSRF guard, caps, deadline) and kept in Redis
for ``fetch.robots_cache_seconds``, so all workers share one copy per site
(``robots:<scheme://host:port>``). It is checked before every article page
request, redirect hops included; not for feeds, which are URLs the operator
subscribed to and are published for machines. What the site's answer means:

* 2xx: its rules, the first 500 KiB of them. A disallowed page is a permanent
  failure, ``robots_disallowed``; a ``Crawl-delay`` for our group slows the
  domain's pace (up to ``fetch.max_crawl_delay_seconds``).
* 4xx, or a redirect we cannot follow ("unavailable"): no rules, all allowed.
* 5xx, 429, timeouts, network errors ("unreachable"): RFC 9309 says to assume
  complete disallow. We do, *temporarily*: the page fails as a transient
  ``robots_unreachable`` (retried with backoff, then dead-lettered), and that
  answer is kept for ``fetch.robots_error_cache_seconds`` so the site's other
  pages do not ask again meanwhile.
* our own policy refusing the robots.txt URL (a private address) refuses the
  page with that same reason.

``fetch.respect_robots = false`` turns robots.txt off; nothing else does.

**Per-domain pace**, shared by every worker through Redis: a "next free slot"
time per registered domain (``pace:<domain>``), reserved atomically by a Lua
script on the Redis server's clock, ``1 / fetch.per_domain_requests_per_second``
apart. A request whose slot is at most ``fetch.rate_limit_max_wait_seconds``
away sleeps until it; a later one reserves nothing and raises
:class:`~worker.errors.DomainBusy`, and its task is sent again for then, without
counting an attempt. So adding workers never adds load on one site.

**Failing feeds back off**: see :class:`FeedBackoff`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import courlan
import redis
from protego import Protego

from worker.errors import DomainBusy, PermanentError, PolicyRefused, RateLimited, TransientError
from worker.fetch import Fetcher
from worker.keys import Keys
from worker.logs import get_logger
from worker.redisconn import as_str
from worker.scripts import Scripts
from worker.settings import FetchSettings

log = get_logger(__name__)

# RFC 9309: crawlers must parse at least the first 500 KiB
ROBOTS_MAX_BYTES = 500 * 1024
ROBOTS_LOCK_STRIPES = 64
# how often a request waiting for another process's robots.txt download looks again
ROBOTS_WAIT_SECONDS = 0.2
# robots.txt bodies parsed and kept per process, by content (at most 64 x ROBOTS_MAX_BYTES)
ROBOTS_PARSED = 64


def domain_of(url: str) -> str:
    """The site a URL belongs to for pacing: its registered domain (``bbc.co.uk``), else its host."""
    return courlan.extract_domain(url) or (urlsplit(url).hostname or "").lower()


def origin_of(url: str) -> str:
    """``scheme://host[:port]``, the scope of one robots.txt."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"


@lru_cache(maxsize=ROBOTS_PARSED)
def parse_robots(body: bytes) -> Protego:
    """A robots.txt body's rules, parsed once per process and content.

    Every page asks for its site's rules; real robots.txt files run to tens of KB.
    Keyed by the body itself, so a new robots.txt in Redis is obeyed at once.
    The parsed rules are only read (thread-safe).
    """
    return Protego.parse(body.decode("utf-8", errors="replace"))


class Turn:
    """One request's turn at a site, given by the frontier: the first request to that
    site uses it and goes at once. If robots.txt took it, the page itself does not wait
    (its article goes back to the frontier for the site's next turn); once the page's
    request has gone, its redirect hops wait for their site's pace like any request."""

    def __init__(self, site: str):
        self.site = site
        self.used = False
        self.page_sent = False
        self.sent_at: float | None = None  # time.monotonic() when the turn's request went
        self._lock = threading.Lock()

    def use(self, site: str) -> bool:
        with self._lock:
            if self.used or site != self.site:
                return False
            self.used = True
            self.sent_at = time.monotonic()
            return True


class Politeness:
    """One per worker process, beside its Fetcher; all its state is in Redis."""

    def __init__(self, settings: FetchSettings, client: redis.Redis, fetcher: Fetcher, prefix: str):
        self.s = settings
        self.r = client
        self.fetcher = fetcher
        self.keys = Keys(prefix)
        self.scripts = Scripts(client)
        # one robots.txt download per site at a time in this process (a task's pages are
        # fetched side by side, and would otherwise each miss the cache and download it)
        self._robots_locks = [threading.Lock() for _ in range(ROBOTS_LOCK_STRIPES)]

    def before_page(self, url: str, turn: Turn | None = None) -> None:
        """Before each request for an article page (and each of its redirect hops).

        ``turn``: the request's turn the frontier gave (:mod:`worker.frontier`); a request
        that cannot use it never waits here, it raises DomainBusy for the frontier to
        queue its article again for the site's next turn.
        """
        crawl_delay = None
        if self.s.respect_robots:
            rules = self.robots(url, turn)
            if not rules.can_fetch(url, self.s.robots_agent):
                raise PolicyRefused(
                    f"robots.txt of {origin_of(url)} disallows {url}", reason="robots_disallowed"
                )
            crawl_delay = rules.crawl_delay(self.s.robots_agent)
        self.throttle(url, min_interval=crawl_delay, turn=turn)
        if turn is not None:
            turn.page_sent = True

    def crawl_delay(self, url: str) -> float | None:
        """The Crawl-delay of ``url``'s site for us, from its cached robots.txt (None: none
        or not known yet); never fetches."""
        if not self.s.respect_robots:
            return None
        raw: Any = self.r.get(self.keys.robots(origin_of(url)))
        if raw is None or bytes(raw)[:1] != b"R":
            return None
        delay = parse_robots(bytes(raw)[1:]).crawl_delay(self.s.robots_agent)
        return float(delay) if delay else None

    def throttle(
        self,
        url: str,
        *,
        min_interval: float | None = None,
        turn: Turn | None = None,
        max_wait: float | None = None,
    ) -> None:
        """Wait for the domain's next free slot, or raise DomainBusy if it is too far off.

        With a ``turn`` that is still unused and for this site, the request goes at once
        (the frontier reserved its slot); the article's page itself, its turn used by
        robots.txt, never waits (see :class:`Turn`). ``max_wait``: wait this long at most
        (default ``fetch.rate_limit_max_wait_seconds``): a source's several requests to one
        host (a search in 7 languages) wait their turns in one poll.
        """
        domain = domain_of(url)
        interval = 1.0 / self.s.per_domain_requests_per_second
        if min_interval:
            interval = max(interval, min(float(min_interval), self.s.max_crawl_delay_seconds))
        if turn is not None and turn.use(domain):
            # the frontier set the site's next turn from when it handed this one out; a
            # redirect hop or robots.txt's page must count from when this request went
            self.scripts.reserve_slot(
                keys=[self.keys.pace(domain)], args=[max(1, math.ceil(interval * 1000)), 0, "sent"]
            )
            return
        max_wait = self.s.rate_limit_max_wait_seconds if max_wait is None else max_wait
        if turn is not None and not turn.page_sent:
            max_wait = 0.0
        reserved, wait_ms = self.scripts.reserve_slot(
            keys=[self.keys.pace(domain)],
            args=[max(1, math.ceil(interval * 1000)), int(max_wait * 1000)],
        )
        wait = int(wait_ms) / 1000
        if not int(reserved):
            raise DomainBusy(f"{domain} has no free slot for {wait:.1f}s", retry_after=wait)
        if wait > 0:
            time.sleep(wait)

    def robots(self, url: str, turn: Turn | None = None) -> Protego:
        """The robots.txt rules for ``url``'s site, from Redis or fetched once for all
        workers (with the frontier's ``turn``, if any).

        One process fetches it (``lock:robots:<origin>``); a page of the site asking
        meanwhile waits for it (with a turn: raises DomainBusy, its article waits in the
        frontier instead), so a new site with many articles is asked once.
        """
        origin = origin_of(url)
        key = self.keys.robots(origin)
        raw: Any = self.r.get(key)
        if raw is None:
            with self._robots_locks[hash(origin) % ROBOTS_LOCK_STRIPES]:
                raw = self._robots_once(origin, key, turn)
        cached = bytes(raw)
        if cached[:1] == b"U":
            raise TransientError(
                f"robots.txt of {origin} is unreachable ({as_str(cached[1:])})",
                reason="robots_unreachable",
            )
        return parse_robots(cached[1:])

    def _robots_once(self, origin: str, key: str, turn: Turn | None) -> Any:
        lock = self.keys.robots_lock(origin)
        hold_ms = int((self.s.total_timeout_seconds + 5) * 1000)
        deadline = time.monotonic() + self.s.rate_limit_max_wait_seconds + self.s.total_timeout_seconds
        while True:
            raw = self.r.get(key)  # another process may have just cached it
            if raw is not None:
                return raw
            if self.r.set(lock, os.getpid(), nx=True, px=hold_ms):
                try:
                    return self._fetch_robots(origin, key, turn)
                finally:
                    self.r.delete(lock)
            if turn is not None or time.monotonic() > deadline:
                raise DomainBusy(f"robots.txt of {origin} is being fetched", retry_after=ROBOTS_WAIT_SECONDS)
            time.sleep(ROBOTS_WAIT_SECONDS)

    def _fetch_robots(self, origin: str, key: str, turn: Turn | None = None) -> bytes:
        url = origin + "/robots.txt"

        def before_request(u: str) -> None:
            self.throttle(u, turn=turn)

        try:
            res = self.fetcher.get(
                url,
                max_bytes=ROBOTS_MAX_BYTES,
                accept="text/plain",
                truncate=True,
                before_request=before_request,
            )
            value, ttl = b"R" + res.content, self.s.robots_cache_seconds
        except PolicyRefused:
            raise
        except TransientError as exc:  # 5xx, 429, timeout, network: disallow for now
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            ttl = max(
                self.s.robots_error_cache_seconds,
                math.ceil(min(retry_after or 0, self.s.robots_cache_seconds)),
            )
            value = b"U" + exc.reason.encode()
            log.warning("robots_unreachable", url=url, reason=exc.reason, retry_in=ttl)
        except PermanentError as exc:  # 4xx and the like: no rules
            value, ttl = b"R", self.s.robots_cache_seconds
            log.info("robots_unavailable", url=url, reason=exc.reason)
        self.r.set(key, value, ex=ttl)
        return value


class FeedBackoff:
    """Sources whose polls keep failing are polled less often, not at full rate.

    After ``n`` consecutive failed polls (``n >= 2``; one failure changes
    nothing) the source is not polled again until ``interval * 2^(n-1)``
    (at most ``fetch.feed_backoff_max_seconds``) after the last failure; the
    first successful poll resets it. The state is two fields of the source's
    hash ``source:<name>``, ``failures`` and ``next_poll_after`` (UTC), which
    ``ingest status`` shows. ``domain_busy`` is our own pacing, not a failure.
    """

    def __init__(self, client: redis.Redis, prefix: str, max_seconds: int):
        self.r = client
        self.keys = Keys(prefix)
        self.max_seconds = max_seconds

    def _key(self, source: str) -> str:
        return self.keys.source(source)

    def remaining(self, source: str, interval: float) -> float:
        """Seconds the source still waits; 0 when it may be polled."""
        raw = self.r.hget(self._key(source), "next_poll_after")
        if not raw:
            return 0.0
        left = datetime.fromisoformat(as_str(raw)).timestamp() - time.time()
        # the scheduler fires on a fixed cadence: a poll due a little early is not skipped for that
        return left if left > min(interval / 2, 120.0) else 0.0

    def record(
        self, source: str, interval: float, error: str | None, retry_after: float | None = None
    ) -> int:
        """Count a poll's result; returns the consecutive failures now. ``retry_after``:
        the source asked us to wait this long (a 429's Retry-After): honoured at once,
        up to ``fetch.feed_backoff_max_seconds``."""
        key = self._key(source)
        if error is None:
            pipe = self.r.pipeline(transaction=False)
            pipe.hset(key, "failures", 0)
            pipe.hdel(key, "next_poll_after")
            pipe.execute()
            return 0
        if error == "domain_busy":
            return int(self.r.hget(key, "failures") or 0)
        failures = int(self.r.hincrby(key, "failures", 1))
        if failures >= 2 or retry_after:
            wait = interval * 2.0 ** min(failures - 1, 32) if failures >= 2 else 0.0
            wait = min(float(self.max_seconds), max(wait, retry_after or 0.0))
            until = datetime.fromtimestamp(time.time() + wait, tz=UTC).isoformat(timespec="seconds")
            self.r.hset(key, "next_poll_after", until)
            log.warning("feed_backoff", source=source, failures=failures, next_poll_after=until)
        return failures
