"""Celery tasks: decode arguments, call the stage modules, ride out Redis outages.

Polls put new articles in the frontier (:mod:`worker.frontier`); ``drain_frontier``
takes those whose site's turn has come and decides them (:mod:`worker.drain`).
Every task is idempotent: it may run twice, or die half-way, without a second
copy on the stream (the dedup script decides and publishes atomically, and an
item already decided is not processed again).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import kombu.exceptions
import redis
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_shutdown

from worker import metrics
from worker.celery_app import app
from worker.context import Context
from worker.drain import Drain
from worker.feeds import Item
from worker.frontier import Entry
from worker.handoff import HandOff
from worker.logs import get_logger
from worker.polls import PollLedger
from worker.processor import warm_up
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
    metrics.process_exited(os.getpid())


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


@app.task(bind=True, name="worker.tasks.poll_source")
def poll_source(self: Any, source_name: str, run_id: str | None = None) -> dict[str, Any]:
    """Poll one configured source, unless a poll of it is already running or it is backing off."""
    handoff = HandOff(context())
    token = self.request.id or ""
    summary = through_redis_outages(lambda: handoff.poll_source(source_name, run_id, token))
    _poll_done(token, source_name, summary)
    return summary


@app.task(bind=True, name="worker.tasks.poll_feed")
def poll_feed(self: Any, feed_url: str, run_id: str | None = None, source: str = "adhoc") -> dict[str, Any]:
    """Poll a feed given ad hoc (not in the configuration)."""
    handoff = HandOff(context())
    token = self.request.id or ""
    summary = through_redis_outages(lambda: handoff.poll_and_hand_on(feed_url, source, run_id, token))
    _poll_done(token, source, summary)
    return summary


@app.task(bind=True, name="worker.tasks.poll_search")
def poll_search(
    self: Any, kind: str, query: str, lang: str | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """An ad-hoc search (``ingest fetch --query``) of one search kind."""
    handoff = HandOff(context())
    token = self.request.id or ""
    summary = through_redis_outages(lambda: handoff.poll_search(kind, query, lang, run_id, token))
    _poll_done(token, f"adhoc-{kind}", summary)
    return summary


def _poll_done(task_id: str, source: str = "", summary: dict[str, Any] | None = None) -> None:
    """A poll finished: counted (worker.metrics), and forgotten if ``ingest fetch`` noted it
    (worker.polls)."""
    m = metrics.get()
    if m is not None and summary is not None:
        result = "error" if summary.get("error") else str(summary.get("skipped") or "ok")
        m.polls.labels(source, result).inc()
        m.poll_items.labels(source, "found").inc(int(summary.get("found") or 0))
        m.poll_items.labels(source, "new").inc(int(summary.get("new") or 0))
    ctx = context()
    through_redis_outages(lambda: PollLedger(ctx.redis, ctx.keys).poll_done(task_id))


DRAIN_TASK = "worker.tasks.drain_frontier"


@app.task(bind=True, name=DRAIN_TASK)
def drain_frontier(self: Any) -> dict[str, int]:
    """Take articles whose site's turn has come, fetch them side by side, decide each as
    its page arrives; end when none is in flight and no site is ready.

    Sent by :mod:`worker.dispatch` when sites are ready; never waits for a site.
    """
    taker = f"{self.request.hostname or socket.gethostname()}/{os.getpid()}"
    return Drain(context(), taker, guard=through_redis_outages, interrupts=(SoftTimeLimitExceeded,)).run()


@app.task(name="worker.tasks.process_article", max_retries=None)
def process_article(
    item: dict[str, Any], run_id: str | None = None, force: bool = False, heal_round: int = 0
) -> str:
    """Queue one article in the frontier (kept for senders of earlier versions)."""
    entry = Entry(Item.from_dict(item), run_id, force=force, heal_round=heal_round)
    through_redis_outages(lambda: context().frontier.push([entry], keep=not force))
    return "frontier"


@app.task(name="worker.tasks.process_articles")
def process_articles(items: list[dict[str, Any]], run_id: str | None = None) -> dict[str, int]:
    """Queue a batch of articles in the frontier (kept for senders of earlier versions)."""
    entries = [Entry(Item.from_dict(i), run_id) for i in items]
    through_redis_outages(lambda: context().frontier.push(entries))
    return {"frontier": len(entries)}
