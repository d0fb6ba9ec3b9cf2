"""Each worker's dispatcher: a ``drain_frontier`` task for a free pool slot when a site is ready.

A thread of the worker's main process watches the frontier's ready list
(:mod:`worker.frontier`). When a site's turn has come and the worker has a pool
slot no drain of its own is using (at most one per core, and never the last slot: see
:func:`drain_slots`), it sends a drain to its own direct queue
(Celery's ``worker_direct``): the drain runs on this worker, whose load the
dispatcher can see (``celery.worker.state``), and no worker piles up drains
another must run. Between turns it sleeps until the next site is ready (at most
``IDLE_POLL_SECONDS``: other workers' polls add sites too). Waiting for a turn
therefore costs one sleeping thread per worker, whatever the number of sites.

A drain message lost with its worker is harmless: it carries no article (the
articles are leased in Redis, and come back when their lease runs out), and it
expires after ``DRAIN_EXPIRES_SECONDS``.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any, ClassVar

import redis
from celery import bootsteps
from celery.signals import task_received
from celery.utils import worker_direct

from worker.logs import get_logger

log = get_logger(__name__)

IDLE_POLL_SECONDS = 0.25
# while every slot has a drain, or right after sending some: look again this soon
BUSY_POLL_SECONDS = 0.02
# a drain sent and not seen on this worker for this long is taken for lost
DRAIN_LOST_SECONDS = 30.0
DRAIN_EXPIRES_SECONDS = 60
POLLS_EVERY_SECONDS = 0.5


class Dispatcher:
    """Sends drains for ready sites to its worker, one per free pool slot at most."""

    def __init__(self, app: Any, hostname: str, slots: int, per_drain: int, most_slots: int | None = None):
        from worker.celery_app import QUEUE_POLL
        from worker.status import broker_queue_keys
        from worker.tasks import DRAIN_TASK, context

        self.app = app
        self.task = DRAIN_TASK
        ctx = context()
        self.frontier = ctx.frontier
        self.queue = worker_direct(hostname)
        self.slots = slots
        # while no poll waits in the broker, drains may use every slot but one
        self.most_slots = max(slots, most_slots or slots)
        self._poll_keys = broker_queue_keys(ctx.settings, QUEUE_POLL)
        self._polls_checked_at = -1.0
        self._polls_waiting = True
        self.per_drain = per_drain
        self._sent: dict[str, float] = {}  # task id -> when sent
        self._received: dict[str, float] = {}  # task id -> when the worker took it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frontier-dispatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def received(self, task_id: str) -> None:
        """The worker took one of its drains off its queue (Celery's task_received). It may
        do so before :meth:`tick` has noted the drain as sent: it is remembered either way."""
        self._received[task_id] = time.monotonic()

    def running(self) -> int:
        """Our drains sent and not finished: still on their way, reserved or running."""
        from celery.worker import state

        for _ in range(5):
            try:
                here = {r.id for r in list(state.reserved_requests)}
                break
            except RuntimeError:  # changed while we copied it
                continue
        else:
            return len(self._sent)
        now = time.monotonic()
        for task_id, sent_at in list(self._sent.items()):
            finished = task_id in self._received and task_id not in here
            if finished or now - sent_at > DRAIN_LOST_SECONDS:
                del self._sent[task_id]
                self._received.pop(task_id, None)
        for task_id, at in list(self._received.items()):  # received, never noted as ours
            if now - at > DRAIN_LOST_SECONDS:
                del self._received[task_id]
        return len(self._sent)

    def polls_waiting(self) -> bool:
        """Does a poll wait in the broker for a slot? (looked up at most every POLLS_EVERY s)"""
        now = time.monotonic()
        if now - self._polls_checked_at >= POLLS_EVERY_SECONDS:
            self._polls_checked_at = now
            pipe = self.frontier.r.pipeline(transaction=False)
            for key in self._poll_keys:
                pipe.llen(key)
            self._polls_waiting = any(int(n) for n in pipe.execute())
        return self._polls_waiting

    def tick(self) -> float:
        """Send the drains wanted now; seconds to sleep before looking again."""
        waiting = self.most_slots != self.slots and self.polls_waiting()
        free = slots_now(self.slots, self.most_slots, polls_waiting=waiting) - self.running()
        if free <= 0:
            return BUSY_POLL_SECONDS  # no slot to give: no need to ask Redis
        ready_in = self.frontier.next_ready_in()
        if ready_in is None:
            return IDLE_POLL_SECONDS
        if ready_in > 0:
            return min(ready_in, IDLE_POLL_SECONDS)
        ready = self.frontier.ready_now()
        for _ in range(min(free, max(1, math.ceil(ready / self.per_drain)))):
            result = self.app.send_task(self.task, (), queue=self.queue, expires=DRAIN_EXPIRES_SECONDS)
            self._sent[result.id] = time.monotonic()
        return BUSY_POLL_SECONDS

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pause = self.tick()
            except (redis.RedisError, OSError) as exc:  # Redis away: look again in a moment
                log.warning("dispatch_failed", error=f"{type(exc).__name__}: {exc}"[:200])
                pause = 1.0
            except Exception:
                log.exception("dispatch_error")
                pause = 1.0
            self._stop.wait(pause)


def drain_slots(pool: int, cpus: int) -> int:
    """How many of a worker's pool slots its drains may use while polls wait in the broker:
    at least one is left to polls, which feed the frontier (a drain runs as long as sites
    are ready, and polls queued behind drains would starve them of articles), and no more
    than one per core, so that waiting polls get slots. With no poll waiting, drains may use
    every slot but one (:func:`most_drain_slots`): a drain waits for Redis and the network
    between extractions, and a third drain on two cores keeps them busy (the e2e
    benchmark's throughput, BENCHMARKS.md round 9)."""
    return max(1, min(pool - 1, cpus))


def most_drain_slots(pool: int) -> int:
    return max(1, pool - 1)


def slots_now(slots: int, most_slots: int, *, polls_waiting: bool) -> int:
    """The drains a worker may run now: ``slots`` while polls wait, else ``most_slots``."""
    return slots if polls_waiting else max(slots, most_slots)


class DispatchStep(bootsteps.StartStopStep):
    """The consumer bootstep that runs this worker's :class:`Dispatcher`."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self.dispatcher: Dispatcher | None = None

    def start(self, c: Any) -> None:
        from worker.settings import get_settings

        s = get_settings().worker
        pool = 1 if s.pool == "solo" else int(getattr(c.controller, "concurrency", 0) or s.tasks_at_once)
        slots = drain_slots(pool, os.cpu_count() or 1)
        self.dispatcher = Dispatcher(c.app, c.hostname, slots, s.articles_per_task, most_drain_slots(pool))
        task_received.connect(self._received, weak=False)
        self.dispatcher.start()
        log.info("dispatch_started", worker=c.hostname, slots=slots, most_slots=most_drain_slots(pool))

    def _received(self, request: Any = None, **_: Any) -> None:
        if self.dispatcher is not None and request is not None and request.name == self.dispatcher.task:
            self.dispatcher.received(request.id)

    def stop(self, c: Any) -> None:
        task_received.disconnect(self._received)
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None

    def shutdown(self, c: Any) -> None:
        self.stop(c)
