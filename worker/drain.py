"""One worker process's turn at the frontier: take -> fetch side by side -> decide as pages arrive.

Plain code, no Celery: the ``drain_frontier`` task of :mod:`worker.tasks` runs a
:class:`Drain` and passes in how to ride out a Redis outage and which exception
means its time limit struck.

A drain takes, from sites whose turn has come, up to ``worker.articles_per_task``
articles at a time (a request's turn each, :mod:`worker.frontier`) and downloads
their pages on the process's download threads; the request over, its site is
released at once (its next article may go, after the site's delay, to any process)
and the site's delay adapts to the answer (:func:`worker.frontier.next_delay`).
Each page is then extracted and decided in arrival order on this thread, while
the drain takes more articles as sites become ready. It ends when nothing is in
flight and no site is ready now: waiting for a site's turn holds no process.

After an error, :func:`worker.retries.next_step` decides, as everywhere: a retry
goes back to its site's queue after its backoff (an attempt counted), a deferral
(another site's pace on a redirect, robots.txt having used the turn) to the head
of the queue for the site's next turn (none counted), a final failure is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import redis

from worker import decisions
from worker.context import Context
from worker.errors import DomainBusy, RateLimited
from worker.fetch import FetchResult
from worker.frontier import Taken, next_delay
from worker.logs import get_logger
from worker.politeness import Turn
from worker.processor import Outcome, Processor
from worker.retries import next_step

log = get_logger(__name__)

T = TypeVar("T")
Guard = Callable[[Callable[[], T]], T]

# how often a drain with articles in flight looks for newly ready sites, at most
TAKE_EVERY = 0.5
TAKE_AT_LEAST = 0.01


def _unguarded(work: Callable[[], T]) -> T:
    return work()


class Drain:
    def __init__(
        self,
        ctx: Context,
        taker: str,
        *,
        guard: Guard[Any] = _unguarded,
        interrupts: tuple[type[BaseException], ...] = (),
    ):
        self.ctx = ctx
        self.settings = ctx.settings
        self.frontier = ctx.frontier
        self.processor = Processor(ctx)
        self.taker = taker
        self.guard = guard
        self.interrupts = interrupts
        self._held: dict[str, Taken] = {}  # token -> taken and not yet released

    def run(self) -> dict[str, int]:
        """Drain until nothing is in flight and no site is ready; the outcomes' counts."""
        started = time.monotonic()
        stop_taking_at = started + self.settings.worker.task_soft_time_limit_seconds / 2
        most = self.settings.worker.articles_per_task
        flying: dict[Future[FetchResult], Taken] = {}
        counts: dict[str, int] = {}
        taking = True
        try:
            while True:
                wait_s: float | None = None
                if taking and len(flying) < most:
                    if time.monotonic() >= stop_taking_at:
                        taking = False
                    else:
                        taken, wait_s = self._take(most - len(flying))
                        for t in self._skip_decided(taken, counts):
                            flying[self.ctx.pool.submit(self._fetch, t)] = t
                if not flying:
                    break
                timeout = None
                if taking and len(flying) < most:  # look again when the next site is ready
                    timeout = TAKE_EVERY if wait_s is None else min(max(wait_s, TAKE_AT_LEAST), TAKE_EVERY)
                done, _ = wait(flying, timeout=timeout, return_when=FIRST_COMPLETED)
                for page in done:
                    t = flying.pop(page)
                    outcome = self._settle(t, page)
                    counts[outcome] = counts.get(outcome, 0) + 1
                    if outcome == "interrupted":
                        raise self.interrupts[0]() if self.interrupts else RuntimeError("interrupted")
        except self.interrupts:
            pass  # the time limit struck: what is still held goes back below
        finally:
            if self._held:  # taken, not decided: first in line again
                for page in flying:
                    page.cancel()
                counts["put_back"] = self._put_back(list(self._held.values()))
        if counts:
            log.info("drain_done", seconds=round(time.monotonic() - started, 2), **counts)
        return counts

    # ---- take -----------------------------------------------------------------------------
    def _take(self, n: int) -> tuple[list[Taken], float | None]:
        try:
            taken, wait_s = self.frontier.take(n, self.taker)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("redis_unavailable", error=str(exc)[:200])
            return [], None  # what is in flight is finished; the rest waits in Redis
        for t in taken:
            self.ctx.leases.hold(t.key)
            self._held[t.token] = t
        return taken, wait_s

    def _skip_decided(self, taken: list[Taken], counts: dict[str, int]) -> list[Taken]:
        """The taken articles still to be decided; those decided already (by a taker whose
        lease ran out, say) leave the frontier here."""
        if not taken:
            return []
        prior = self.ctx.index.decisions([bytes.fromhex(t.key) for t in taken])
        todo = []
        for t, d in zip(taken, prior, strict=True):
            if d and not (t.entry.force and decisions.replaceable(d)):
                decided = self.guard(partial(self.processor.process, t.entry.item, t.entry.run_id))
                self._done(t, decided)
                counts[decided.outcome] = counts.get(decided.outcome, 0) + 1
            else:
                todo.append(t)
        return todo

    # ---- fetch (on a download thread) --------------------------------------------------------
    def _fetch(self, t: Taken) -> FetchResult:
        """The page, with the turn the frontier gave; its site is released as soon as the
        request is over, with its delay adapted to the answer and counted from when the
        request went (not from when it was taken: a turn used late must not shorten the gap)."""
        started = time.monotonic()
        item = t.entry.item
        turn = Turn(t.site)
        try:
            page = self.processor.fetch_page(item, turn)
        except DomainBusy:
            if turn.used:  # robots.txt took the turn: the site's next turn counts from it
                self._fetched(t, latency=None, sent_at=turn.sent_at)
            raise  # the page's request did not go: the article goes back for the site's turn
        except RateLimited as exc:
            self._fetched(
                t, latency=None, rate_limited=True, retry_after=exc.retry_after, sent_at=turn.sent_at
            )
            raise
        except BaseException:
            self._fetched(t, latency=None, sent_at=turn.sent_at)
            raise
        self._fetched(t, latency=time.monotonic() - (turn.sent_at or started), sent_at=turn.sent_at)
        return page

    def _fetched(
        self,
        t: Taken,
        *,
        latency: float | None,
        rate_limited: bool = False,
        retry_after: float | None = None,
        sent_at: float | None = None,
    ) -> None:
        fs = self.settings.fetch
        try:
            base = self.frontier.base_delay(self.ctx.politeness.crawl_delay(t.entry.item.url))
            delay = base
            if fs.adaptive_pace:
                delay = next_delay(
                    t.delay,
                    base,
                    latency=latency,
                    rate_limited=rate_limited,
                    retry_after=retry_after,
                    max_delay=fs.max_delay_seconds,
                    concurrency=fs.per_domain_concurrency,
                )
            self.frontier.fetched(t, delay=delay, from_now=rate_limited, sent_at=sent_at)
        except redis.RedisError as exc:  # the lease runs out and the sweep frees the site
            log.warning("frontier_release_failed", url=t.entry.item.url, error=str(exc)[:200])

    # ---- decide (on this thread) ----------------------------------------------------------
    def _settle(self, t: Taken, page: Future[FetchResult]) -> str:
        """Decide one article whose download is over; its outcome (``retry``/``deferred``
        when it went back to its site's queue, ``interrupted`` when the time limit struck)."""
        e = t.entry
        pending = [page]
        try:
            decided = self.guard(
                lambda: self.processor.process(
                    e.item,
                    e.run_id,
                    pending.pop() if pending else None,
                    force=e.force,
                    heal_round=e.heal_round,
                )
            )
        except Exception as exc:  # the time limit (SoftTimeLimitExceeded) is one too
            timed_out = isinstance(exc, self.interrupts)
            step = next_step(exc, e.retries, self.settings.fetch, timed_out=timed_out)
            if step.error is not exc:  # not one of ours: a bug or a poison input
                log.exception("process_error", url=e.item.url, source=e.item.source)
            if step.action == "give_up":
                failed = self.processor.fail(
                    e.item,
                    step.error,
                    run_id=e.run_id,
                    attempts=e.retries + 1,
                    force=e.force,
                    heal_round=e.heal_round,
                )
                self._done(t, failed)
                return "interrupted" if timed_out else failed.outcome
            again = replace(e, retries=e.retries + 1 if step.action == "retry" else e.retries)
            if step.action == "defer":  # its site's turn is not now (robots.txt took it, ...)
                self._release(lambda t: self.frontier.back(t, again, head=True, site_waits=step.countdown), t)
            else:
                self._release(lambda t: self.frontier.back(t, again, not_before=step.countdown), t)
            if step.action == "retry":
                self.guard(
                    lambda: self.ctx.recorder.run_retrying(
                        e.run_id,
                        t.key,
                        url=e.item.url,
                        reason=step.error.reason,
                        error=str(step.error)[:300],
                        attempt=again.retries + 1,
                        attempts=self.settings.fetch.max_retries + 1,
                        at=time.time() + step.countdown,
                    )
                )
            event = "retry" if step.action == "retry" else "deferred"
            log.info(
                event,
                url=e.item.url,
                reason=step.error.reason,
                attempt=again.retries,
                countdown=round(step.countdown, 1),
            )
            return "interrupted" if timed_out else event
        self._done(t, decided)
        return decided.outcome

    def _done(self, t: Taken, decided: Outcome) -> None:
        """The article leaves the frontier; the other runs that asked for it meanwhile are
        told its outcome too."""
        watchers: list[str] = []

        def done(t: Taken) -> None:
            watchers[:] = self.frontier.done(t) or []

        self._release(done, t)
        for run_id in watchers:
            if run_id != t.entry.run_id:
                self.guard(partial(self.processor.finish, t.entry.item, run_id, decided))

    def _release(self, how: Callable[[Taken], Any], t: Taken) -> None:
        try:
            self.guard(lambda: how(t))
        finally:
            self.ctx.leases.drop(t.key)
            self._held.pop(t.token, None)

    def _put_back(self, held: list[Taken]) -> int:
        """The articles still held when the drain stops early go first in their site's queue."""
        n = 0
        for t in held:
            try:
                self.frontier.back(t, t.entry, head=True)
                n += 1
            except redis.RedisError:
                pass  # their leases run out and the sweep puts them back
            finally:
                self.ctx.leases.drop(t.key)
                self._held.pop(t.token, None)
        return n
