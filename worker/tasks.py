"""Celery tasks: decode arguments, call the pipeline, map errors to retry or give up.

Every task is idempotent: it may run twice, or die half-way, without a second
copy on the stream (the dedup script decides and publishes atomically, and an
item already decided is not processed again).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, TypeVar

import kombu.exceptions
import redis
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_shutdown

from worker.celery_app import app
from worker.errors import DomainBusy, IngestError, PermanentError, RateLimited, TransientError
from worker.feeds import Item
from worker.fetch import FetchResult
from worker.logs import get_logger
from worker.pipeline import Ingest, Outcome, warm_up
from worker.politeness import FeedBackoff
from worker.redisconn import as_str
from worker.settings import get_settings

log = get_logger(__name__)

_ingest: Ingest | None = None
_ingest_pid: int | None = None

# compare-and-delete: only the holder releases a lock
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def get_ingest() -> Ingest:
    """The pipeline resources of this process (created after fork, one per child)."""
    global _ingest, _ingest_pid
    if _ingest is None or _ingest_pid != os.getpid():
        _ingest = Ingest(get_settings())
        _ingest_pid = os.getpid()
    return _ingest


@worker_init.connect
def _warm_up(**_: Any) -> None:
    started = time.monotonic()
    warm_up(get_settings())  # before the pool forks: its children inherit the result
    log.info("warmed_up", seconds=round(time.monotonic() - started, 3))


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    if _ingest is not None and _ingest_pid == os.getpid():
        _ingest.close()


def backoff_seconds(retries: int, exc: IngestError | None = None, base: float = 5.0) -> float:
    """Exponential backoff with full jitter; a site's Retry-After wins when longer."""
    delay = random.uniform(base / 2, min(600.0, base * 2**retries))
    if isinstance(exc, RateLimited) and exc.retry_after:
        delay = max(delay, min(exc.retry_after, 3600.0))
    return delay


REDIS_OUTAGE_WAIT_SECONDS = 120.0
T = TypeVar("T")


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


def through_redis_outages(ingest: Ingest, work: Callable[[], T]) -> T:
    """Run ``work``; when Redis drops, wait for it and run it again (the work is idempotent).

    Letting the error reach Celery would lose the task: on the Redis transport a failed
    late-acked task is rejected without requeue. If Redis stays away, the task is handed
    back to the broker (or, if even that fails, its unacknowledged copy is delivered
    again after the visibility timeout).
    """
    deadline = time.monotonic() + REDIS_OUTAGE_WAIT_SECONDS
    while True:
        try:
            return work()
        except (redis.ConnectionError, redis.TimeoutError, kombu.exceptions.OperationalError) as exc:
            log.warning("redis_unavailable", error=str(exc)[:200])
            if not _wait_for_redis(ingest.redis, deadline):
                raise Reject(exc, requeue=True) from exc


def _poll(feed_url: str, source: str, run_id: str | None, task_id: str) -> dict[str, Any]:
    ingest = get_ingest()
    return through_redis_outages(ingest, lambda: _poll_once(ingest, feed_url, source, run_id, task_id))


def _poll_once(
    ingest: Ingest, feed_url: str, source: str, run_id: str | None, task_id: str
) -> dict[str, Any]:
    try:
        result = ingest.poll(feed_url, source, claim_token=task_id)
    except (redis.ConnectionError, redis.TimeoutError):
        raise  # an outage, not this feed's fault: waited out by the caller
    except Exception as exc:  # a feed that breaks the parser must still end in a recorded poll
        if not isinstance(exc, IngestError):
            log.exception("poll_error", source=source, url=feed_url)
            exc = IngestError(f"{type(exc).__name__}: {exc}", reason="internal_error")
        from worker.pipeline import PollResult

        empty = PollResult(feed_url=feed_url, source=source)
        ingest.save_poll(empty, error=exc.reason)
        summary = {**empty.summary(), "error": exc.reason, "message": str(exc)[:300]}
        ingest.recorder.run_poll_done(run_id, feed_url, summary)
        log.warning("poll_failed", source=source, url=feed_url, reason=exc.reason, error=str(exc)[:300])
        return summary
    ingest.warm_robots(result.items)
    ingest.recorder.run_pending(run_id, [_run_key(i) for i in result.items])
    ingest.note_inflight(result.items, run_id)
    sent = 0
    size = get_settings().worker.articles_per_task
    try:
        for first in range(0, len(result.items), size):
            batch = result.items[first : first + size]
            process_articles.apply_async(([i.to_dict() for i in batch], run_id))
            sent += len(batch)
    finally:
        # items not handed on are released so the next poll takes them again
        ingest.release_claims(result.items[sent:])
    ingest.save_poll(result)
    summary = result.summary()
    ingest.recorder.run_poll_done(run_id, feed_url, summary)
    log.info("polled", **summary)
    return summary


def _run_key(item: Item) -> str:
    from worker.pipeline import item_keys

    return item_keys(item)[0].hex()


@app.task(bind=True, name="worker.tasks.poll_source")
def poll_source(self: Any, source_name: str, run_id: str | None = None) -> dict[str, Any]:
    """Poll one configured source, unless a poll of it is already running or it is backing off."""
    settings = get_settings()
    source = settings.source(source_name)
    ingest = get_ingest()
    backoff = FeedBackoff(ingest.redis, settings.redis.key_prefix, settings.fetch.feed_backoff_max_seconds)
    wait = backoff.remaining(source_name, source.interval_seconds)
    if wait > 0:  # it kept failing: polled less often until it answers again
        summary = {
            "source": source_name,
            "feed_url": source.feed_url,
            "skipped": "backoff",
            "next_poll_in_seconds": round(wait),
            "found": 0,
            "seen": 0,
            "new": 0,
        }
        ingest.recorder.run_poll_done(run_id, source.feed_url, summary)
        log.info("poll_skipped", source=source_name, reason="backoff", seconds=round(wait))
        return summary
    lock = settings.key("lock", "poll", source_name)
    # the task id as token: this same task delivered again after a crash takes its lock back
    token = self.request.id or uuid.uuid4().hex
    if not ingest.redis.set(lock, token, nx=True, ex=settings.worker.poll_lock_seconds) and (
        as_str(ingest.redis.get(lock) or b"") != token
    ):
        summary = {
            "source": source_name,
            "feed_url": source.feed_url,
            "skipped": "already_running",
            "found": 0,
            "seen": 0,
            "new": 0,
        }
        ingest.recorder.run_poll_done(run_id, source.feed_url, summary)
        log.info("poll_skipped", source=source_name, reason="already_running")
        return summary
    try:
        polled = _poll(source.feed_url, source_name, run_id, self.request.id or "")
        backoff.record(source_name, source.interval_seconds, polled.get("error"))
        return polled
    finally:
        ingest.redis.eval(_UNLOCK, 1, lock, token)


@app.task(bind=True, name="worker.tasks.poll_feed")
def poll_feed(self: Any, feed_url: str, run_id: str | None = None, source: str = "adhoc") -> dict[str, Any]:
    """Poll a feed given ad hoc (not in the configuration)."""
    return _poll(feed_url, source, run_id, self.request.id or "")


@app.task(name="worker.tasks.requeue_stale")
def requeue_stale() -> int:
    """Send again the articles whose task was lost: handed on, never decided, for too long."""
    ingest = get_ingest()
    grace = get_settings().worker.visibility_timeout_seconds * 2
    stale = ingest.stale_inflight(older_than=grace)
    for item, run_id in stale:
        process_article.apply_async((item.to_dict(), run_id))
    if stale:
        log.warning("requeued_stale", count=len(stale))
    return len(stale)


def _process_one(
    item: dict[str, Any], run_id: str | None, retries: int, page: Future[FetchResult] | None = None
) -> tuple[str, bool]:
    """Take one article to its outcome, or send it again for later.

    Returns the outcome (``retry``/``deferred`` when it was sent again) and whether the
    task's soft time limit struck while it ran. A retry is a new ``process_article``
    message carrying the attempt count, so an article of a batch retries on its own.
    ``page`` is its prefetched download, used on the first attempt only (a run again
    after a Redis outage fetches afresh: the outage may have failed the download).
    """
    it = Item.from_dict(item)
    ingest = get_ingest()
    max_retries = get_settings().fetch.max_retries
    prefetched = [page] if page is not None else []

    def work() -> Outcome:
        return ingest.process(it, run_id, prefetched.pop() if prefetched else None)

    try:
        return through_redis_outages(ingest, work).outcome, False
    except PermanentError as exc:  # raised outside the pipeline's own handling
        return ingest.fail(it, exc, run_id=run_id).outcome, False
    except Reject:
        raise
    except DomainBusy as exc:  # our own pace, not a failure: sent again for later, attempts unchanged
        countdown = (exc.retry_after or 1.0) * random.uniform(1.0, 1.5)
        process_article.apply_async((item, run_id), countdown=countdown, retries=retries)
        log.info("deferred", url=it.url, reason=exc.reason, countdown=round(countdown, 1))
        return "deferred", False
    except Exception as exc:  # transient, or a bug/poison input: retried, then given up
        timed_out = isinstance(exc, SoftTimeLimitExceeded)
        err = (
            exc
            if isinstance(exc, IngestError)
            else TransientError(
                f"{type(exc).__name__}: {exc}", reason="timeout" if timed_out else "internal_error"
            )
        )
        if not isinstance(exc, IngestError):
            log.exception("process_error", url=it.url, source=it.source)
        if retries < max_retries:
            countdown = backoff_seconds(retries, err, get_settings().fetch.retry_backoff_seconds)
            process_article.apply_async((item, run_id), countdown=countdown, retries=retries + 1)
            log.info(
                "retry", url=it.url, reason=err.reason, attempt=retries + 1, countdown=round(countdown, 1)
            )
            return "retry", timed_out
        return ingest.fail(it, err, run_id=run_id, attempts=retries + 1).outcome, timed_out


@app.task(bind=True, name="worker.tasks.process_article", max_retries=None)
def process_article(self: Any, item: dict[str, Any], run_id: str | None = None) -> str:
    """Fetch, extract, score, dedup and publish one article (retries, re-sent stale items)."""
    return _process_one(item, run_id, self.request.retries)[0]


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
    ingest = get_ingest()
    remaining = list(range(len(items)))
    pages: list[Future[FetchResult] | None] = [None] * len(items)
    try:
        pages = through_redis_outages(ingest, lambda: ingest.prefetch([Item.from_dict(i) for i in items]))

        def time_left() -> float | None:  # the first article may take what it needs
            return None if len(remaining) == len(items) else started + budget - time.monotonic()

        for n in _arrival_order(pages, time_left):
            if (left := time_left()) is not None and left <= 0:
                break
            outcome, interrupted = _process_one(items[n], run_id, 0, pages[n])
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


def _arrival_order(
    pages: list[Future[FetchResult] | None], time_left: Callable[[], float | None]
) -> Iterator[int]:
    """Indexes of the items: those with nothing to download first, then as pages arrive.

    Stops when no page arrives within ``time_left()`` seconds (None: no limit).
    """
    yield from (n for n, p in enumerate(pages) if p is None)
    pending = {p: n for n, p in enumerate(pages) if p is not None}
    while pending:
        left = time_left()
        done, _ = wait(pending, timeout=None if left is None else max(0.0, left), return_when=FIRST_COMPLETED)
        if not done:
            return
        for page in done:
            yield pending.pop(page)
