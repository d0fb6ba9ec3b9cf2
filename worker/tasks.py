"""Celery tasks: decode arguments, call the stage modules, map errors to retry or give up.

Every task is idempotent: it may run twice, or die half-way, without a second
copy on the stream (the dedup script decides and publishes atomically, and an
item already decided is not processed again). What a task does after an error
is :func:`worker.retries.next_step`'s decision; this module only carries it out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import kombu.exceptions
import redis
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_shutdown

from worker.celery_app import app
from worker.context import Context
from worker.feeds import Item
from worker.fetch import FetchResult
from worker.handoff import HandOff
from worker.logs import get_logger
from worker.polls import PollLedger
from worker.processor import Processor, arrival_order, warm_up
from worker.retries import next_step
from worker.settings import get_settings

log = get_logger(__name__)

REDIS_OUTAGE_WAIT_SECONDS = 120.0
T = TypeVar("T")

_ctx: Context | None = None
_ctx_pid: int | None = None


def context() -> Context:
    """The resources of this process (created after fork, one per child)."""
    global _ctx, _ctx_pid
    if _ctx is None or _ctx_pid != os.getpid():
        _ctx = Context(get_settings())
        _ctx_pid = os.getpid()
    return _ctx


@worker_init.connect
def _warm_up(**_: Any) -> None:
    started = time.monotonic()
    warm_up(get_settings())  # before the pool forks: its children inherit the result
    log.info("warmed_up", seconds=round(time.monotonic() - started, 3))


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    if _ctx is not None and _ctx_pid == os.getpid():
        _ctx.close()


def _wait_for_redis(client: redis.Redis, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            client.ping()
            return True
        except redis.RedisError:
            time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
        except SoftTimeLimitExceeded:
            return False
    return False


def through_redis_outages(work: Callable[[], T]) -> T:
    """Run ``work``; when Redis drops, wait for it and run it again (the work is idempotent).

    Letting the error reach Celery would lose the task: on the Redis transport a failed
    late-acked task is rejected without requeue. If Redis stays away, the task is handed
    back to the broker (or, if even that fails, its worker's heartbeat stops being seen
    and the sweep of :mod:`worker.liveness` hands it to another).
    """
    deadline = time.monotonic() + REDIS_OUTAGE_WAIT_SECONDS
    while True:
        try:
            return work()
        except (redis.ConnectionError, redis.TimeoutError, kombu.exceptions.OperationalError) as exc:
            log.warning("redis_unavailable", error=str(exc)[:200])
            if not _wait_for_redis(context().redis, deadline):
                raise Reject(exc, requeue=True) from exc


def send_batch(items: list[dict[str, Any]], run_id: str | None) -> None:
    process_articles.apply_async((items, run_id))


def send_one(item: dict[str, Any], run_id: str | None) -> None:
    process_article.apply_async((item, run_id))


def send_heal(item: dict[str, Any], heal_round: int) -> None:
    """A failed item tried again by the sweep: forced, in its heal round (1 = the first)."""
    process_article.apply_async((item, None), {"force": True, "heal_round": heal_round})


@app.task(bind=True, name="worker.tasks.poll_source")
def poll_source(self: Any, source_name: str, run_id: str | None = None) -> dict[str, Any]:
    """Poll one configured source, unless a poll of it is already running or it is backing off."""
    handoff = HandOff(context())
    token = self.request.id or ""
    summary = through_redis_outages(lambda: handoff.poll_source(source_name, run_id, token, send_batch))
    _poll_done(token)
    return summary


@app.task(bind=True, name="worker.tasks.poll_feed")
def poll_feed(self: Any, feed_url: str, run_id: str | None = None, source: str = "adhoc") -> dict[str, Any]:
    """Poll a feed given ad hoc (not in the configuration)."""
    handoff = HandOff(context())
    token = self.request.id or ""
    summary = through_redis_outages(
        lambda: handoff.poll_and_hand_on(feed_url, source, run_id, token, send_batch)
    )
    _poll_done(token)
    return summary


def _poll_done(task_id: str) -> None:
    """A poll noted by ``ingest fetch`` finished: forget it (worker.polls)."""
    ctx = context()
    through_redis_outages(lambda: PollLedger(ctx.redis, ctx.keys).poll_done(task_id))


def _attempt(
    item: dict[str, Any],
    run_id: str | None,
    retries: int,
    page: Future[FetchResult] | None = None,
    *,
    force: bool = False,
    heal_round: int = 0,
) -> tuple[str, bool]:
    """Take one article to its outcome, or send it again for later.

    Returns the outcome (``retry``/``deferred`` when it was sent again) and whether the
    task's soft time limit struck while it ran. A retry is a new ``process_article``
    message carrying the attempt count, so an article of a batch retries on its own.
    ``page`` is its prefetched download, used on the first attempt only (a run again
    after a Redis outage fetches afresh: the outage may have failed the download).
    ``force`` and ``heal_round``: see :meth:`Processor.process`; a retry carries them on.
    """
    it = Item.from_dict(item)
    processor = Processor(context())
    prefetched = [page] if page is not None else []
    try:
        return through_redis_outages(
            lambda: processor.process(
                it, run_id, prefetched.pop() if prefetched else None, force=force, heal_round=heal_round
            )
        ).outcome, False
    except Reject:
        raise
    except Exception as exc:  # SoftTimeLimitExceeded is one too
        timed_out = isinstance(exc, SoftTimeLimitExceeded)
        step = next_step(exc, retries, get_settings().fetch, timed_out=timed_out)
        if step.error is not exc:  # not one of ours: a bug or a poison input
            log.exception("process_error", url=it.url, source=it.source)
        if step.action == "give_up":
            failed = processor.fail(
                it, step.error, run_id=run_id, attempts=retries + 1, force=force, heal_round=heal_round
            )
            return failed.outcome, timed_out
        attempt = retries + 1 if step.action == "retry" else retries
        forced = {"force": True, "heal_round": heal_round} if force else {}
        process_article.apply_async((item, run_id), forced, countdown=step.countdown, retries=attempt)
        event = "retry" if step.action == "retry" else "deferred"
        log.info(
            event, url=it.url, reason=step.error.reason, attempt=attempt, countdown=round(step.countdown, 1)
        )
        return event, timed_out


@app.task(bind=True, name="worker.tasks.process_article", max_retries=None)
def process_article(
    self: Any, item: dict[str, Any], run_id: str | None = None, force: bool = False, heal_round: int = 0
) -> str:
    """Fetch, extract, score, dedup and publish one article (retries, re-sent items).

    ``force``: a retry asked for (``ingest retry``, ``fetch --force``, healing): a failed
    or off-topic item is decided again. ``heal_round``: the heal rounds it has had.
    """
    return _attempt(item, run_id, self.request.retries, force=force, heal_round=heal_round)[0]


@app.task(name="worker.tasks.process_articles")
def process_articles(items: list[dict[str, Any]], run_id: str | None = None) -> dict[str, int]:
    """Process a poll's new articles: one message for several, their pages fetched side by side.

    Celery's cost per task (receive, trace, ack, one message sent) is paid once for
    ``worker.articles_per_task`` articles (BENCHMARKS.md), and their downloads wait for
    the network together; each article is then extracted and decided as its page
    arrives. Each keeps its own fate: one that needs a retry, or must wait for its
    site's pace, is sent again on its own. When the task has run for half the soft time
    limit, or the limit strikes, the articles not decided yet are handed on in a new
    message instead of being cut short (their downloads under way are wasted: a slow
    site's price).
    """
    budget = get_settings().worker.task_soft_time_limit_seconds / 2
    started = time.monotonic()
    counts: dict[str, int] = {}
    processor = Processor(context())
    remaining = list(range(len(items)))
    pages: list[Future[FetchResult] | None] = [None] * len(items)
    try:
        pages = through_redis_outages(lambda: processor.prefetch([Item.from_dict(i) for i in items]))

        def time_left() -> float | None:  # the first article may take what it needs
            return None if len(remaining) == len(items) else started + budget - time.monotonic()

        for n in arrival_order(pages, time_left):
            if (left := time_left()) is not None and left <= 0:
                break
            outcome, interrupted = _attempt(items[n], run_id, 0, pages[n])
            remaining.remove(n)
            counts[outcome] = counts.get(outcome, 0) + 1
            if interrupted:
                break
    except SoftTimeLimitExceeded:
        pass  # struck between two articles: the rest are handed on below
    if remaining:
        for n in remaining:
            if (pending := pages[n]) is not None:
                pending.cancel()  # a download not started yet; the next task fetches it
        process_articles.apply_async(([items[n] for n in remaining], run_id))
        counts["handed_on"] = len(remaining)
    log.info("batch_done", articles=len(items), seconds=round(time.monotonic() - started, 2), **counts)
    return counts
