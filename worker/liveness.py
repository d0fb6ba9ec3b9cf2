"""Worker heartbeats, and the sweep that hands a dead worker's work to the living.

A worker holds broker messages: the tasks it runs, the ones it has prefetched,
and those waiting for their time (a retry's countdown, a site's pace). On
Redis, kombu keeps each such message in its ``unacked`` hash until the worker
acknowledges it, and on its own gives it to another worker only after the
visibility timeout (an hour by default): a worker killed with ``SIGKILL``, or
one whose connection dropped while Redis restarted, would strand its messages
that long. So:

* **Heartbeat.** Every ``worker.heartbeat_seconds`` each worker writes
  ``worker:<id>`` (expiring after ``worker.dead_after_seconds``) with the
  delivery tags of every message it holds, and refreshes those messages'
  delivery time in kombu's ``unacked_index`` (so kombu's own visibility
  timeout never takes a message from a live worker, however long it waits).
* **Sweep.** Every ``worker.sweep_seconds``, and when a worker starts or
  reconnects, one worker at a time (``lock:sweep``) puts back on their queue
  the unacknowledged messages that no live worker holds, once they are older
  than every live worker's last heartbeat (a message just taken is not yet
  listed by its holder). It then puts back in their site's queue the articles
  whose frontier lease ran out (their taker died: :meth:`worker.frontier.Frontier.requeue_expired`),
  queues again the in-flight items lost outright
  (:meth:`worker.handoff.HandOff.send_again_stale`), and the failed items whose
  heal time has come (:meth:`worker.handoff.HandOff.heal_due`).

So a dead worker's work is running elsewhere about ``dead_after_seconds`` +
``sweep_seconds`` after its death, with no one typing a command; a message
delivered twice is harmless (every task is idempotent). This module and
:mod:`worker.tasks` are the only ones that know Celery.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar

import redis
from celery import bootsteps

from worker.keys import Keys
from worker.logs import get_logger
from worker.redisconn import as_str
from worker.settings import WorkerSettings

log = get_logger(__name__)


def held(qos: Any) -> tuple[list[str], list[str]]:
    """The delivery tags and task ids of the messages a kombu channel holds (not acked)."""
    for _ in range(5):  # another thread may change it while we copy (threads pool)
        try:
            messages = [(t, m) for t, m in list(qos._delivered.items()) if t not in qos._dirty]
        except RuntimeError:
            continue
        ids = [str((getattr(m, "headers", None) or {}).get("id", "")) for _, m in messages]
        return [str(t) for t, _ in messages], [i for i in ids if i]
    return [], []


class Liveness:
    """Heartbeat and sweep of one worker; ``restore(tag)`` puts a message back on its queue."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        settings: WorkerSettings,
        worker_id: str,
        restore: Callable[[str], None],
        send_again_stale: Callable[[], int] | None = None,
        heal_due: Callable[[], int] | None = None,
        resend_lost_polls: Callable[[set[str]], int] | None = None,
        requeue_expired: Callable[[], int] | None = None,
    ):
        self.r = client
        self.keys = keys
        self.s = settings
        self.id = worker_id
        self.restore = restore
        self.send_again_stale = send_again_stale
        self.heal_due = heal_due
        self.resend_lost_polls = resend_lost_polls
        self.requeue_expired = requeue_expired
        self.started_at = time.time()

    def beat(self, held: list[str], tasks: list[str] | None = None) -> None:
        """Say this worker is alive and what it holds (delivery tags, task ids); keep its
        messages from timing out."""
        now = time.time()
        record = {"host": socket.gethostname(), "pid": os.getpid(), "at": now, "since": self.started_at}
        pipe = self.r.pipeline(transaction=False)
        pipe.set(
            self.keys.worker(self.id),
            json.dumps(record | {"held": held, "tasks": tasks or []}),
            px=int(self.s.dead_after_seconds * 1000),
        )
        pipe.zadd(self.keys.workers, {self.id: now})
        if held:
            pipe.zadd(self.keys.broker_unacked_index, dict.fromkeys(held, now), xx=True)
        pipe.execute()

    def leave(self) -> None:
        """A clean stop: this worker's messages were handed back by kombu; forget it."""
        pipe = self.r.pipeline(transaction=False)
        pipe.delete(self.keys.worker(self.id))
        pipe.zrem(self.keys.workers, self.id)
        pipe.execute()

    def live_workers(self) -> dict[str, dict[str, Any]]:
        """Worker id -> heartbeat record of every worker alive now; forgets the dead."""
        ids = [as_str(w) for w in self.r.zrange(self.keys.workers, 0, -1)]
        if not ids:
            return {}
        records = self.r.mget([self.keys.worker(w) for w in ids])
        dead = [w for w, rec in zip(ids, records, strict=True) if rec is None]
        if dead:
            self.r.zrem(self.keys.workers, *dead)
            log.warning("workers_dead", workers=",".join(dead))
        return {w: json.loads(rec) for w, rec in zip(ids, records, strict=True) if rec is not None}

    def sweep(self) -> dict[str, int]:
        """Put back what dead workers held, send lost items and healing failures again; one
        worker at a time."""
        lock_ms = int(max(self.s.sweep_seconds, 1.0) * 1000)
        if not self.r.set(self.keys.sweep_lock, self.id, nx=True, px=lock_ms):
            return {}
        try:
            restored, live = self._restore_orphans()
            # articles a dead process had taken from the frontier: back in their site's queue
            resent = self.requeue_expired() if self.requeue_expired else 0
            resent += self.send_again_stale() if self.send_again_stale else 0
            if self.resend_lost_polls and self.id in live:
                resent += self.resend_lost_polls({t for rec in live.values() for t in rec.get("tasks", [])})
            healed = self.heal_due() if self.heal_due else 0
            pipe = self.r.pipeline(transaction=False)
            pipe.hincrby(self.keys.sweep, "runs", 1)
            pipe.hincrby(self.keys.sweep, "restored_messages", restored)
            pipe.hincrby(self.keys.sweep, "resent_items", resent)
            pipe.hincrby(self.keys.sweep, "healed_items", healed)
            pipe.hset(self.keys.sweep, mapping={"last_at": time.time(), "last_by": self.id})
            pipe.execute()
        finally:
            if as_str(self.r.get(self.keys.sweep_lock) or b"") == self.id:
                self.r.delete(self.keys.sweep_lock)
        if restored or resent:
            log.warning("swept", restored_messages=restored, resent_items=resent)
        return {"restored_messages": restored, "resent_items": resent, "healed_items": healed}

    def _restore_orphans(self) -> tuple[int, dict[str, dict[str, Any]]]:
        live = self.live_workers()
        if self.id not in live:
            return 0, live  # our own heartbeat did not land: our view is not to be trusted now
        held = {tag for rec in live.values() for tag in rec.get("held", [])}
        # a message delivered after its holder's last heartbeat is not listed by it yet;
        # one older than every live worker's last heartbeat (less a margin for clocks) is
        # listed by its holder if it has one
        before = min(rec["at"] for rec in live.values()) - self.s.heartbeat_seconds
        candidates = [as_str(t) for t in self.r.zrangebyscore(self.keys.broker_unacked_index, "-inf", before)]
        orphans = [t for t in candidates if t not in held]
        for tag in orphans:
            log.warning("restoring", tag=tag, **_describe(self.r.hget(self.keys.broker_unacked, tag)))
            self.restore(tag)
        return len(orphans), live


def _describe(raw: Any) -> dict[str, Any]:
    """The task name and id of a message in kombu's unacked hash (for the log)."""
    try:
        headers = json.loads(raw)[0]["headers"]
        return {"task": headers.get("task"), "task_id": headers.get("id")}
    except (TypeError, ValueError, KeyError, IndexError):
        return {}


class LivenessStep(bootsteps.StartStopStep):
    """The consumer bootstep that runs :class:`Liveness` on the worker's own timer."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self.trefs: list[Any] = []
        self.liveness: Liveness | None = None

    def start(self, c: Any) -> None:
        from worker.settings import get_settings

        settings = get_settings()
        channel = c.task_consumer.channel
        qos = channel.qos
        if not hasattr(qos, "restore_by_tag"):
            log.warning("liveness_off", reason="the broker is not Redis")
            return
        handoff = _handoff()
        self.liveness = Liveness(
            _client(),
            handoff.keys,
            settings.worker,
            c.hostname,
            restore=lambda tag: qos.restore_by_tag(tag),
            send_again_stale=lambda: handoff.send_again_stale(settings.worker.lost_task_seconds),
            heal_due=handoff.heal_due,
            requeue_expired=handoff.ctx.frontier.requeue_expired,
            resend_lost_polls=lambda held_ids: _resend_lost_polls(handoff, held_ids, settings.worker),
        )
        liveness = self.liveness

        def beat() -> None:
            try:
                liveness.beat(*held(qos))
            except Exception as exc:  # Redis away: the next beat tries again
                log.warning("heartbeat_failed", error=f"{type(exc).__name__}: {exc}"[:200])

        def sweep() -> None:
            try:
                liveness.sweep()
            except Exception as exc:
                log.warning("sweep_failed", error=f"{type(exc).__name__}: {exc}"[:200])

        beat()
        sweep()  # at start-up and after every reconnect: what was stranded meanwhile goes back now
        self.trefs = [
            c.timer.call_repeatedly(settings.worker.heartbeat_seconds, beat),
            c.timer.call_repeatedly(settings.worker.sweep_seconds, sweep),
        ]
        log.info("liveness_started", worker=c.hostname)

    def stop(self, c: Any) -> None:
        for tref in self.trefs:
            tref.cancel()
        self.trefs = []

    def shutdown(self, c: Any) -> None:
        self.stop(c)
        if self.liveness is not None:
            with contextlib.suppress(redis.RedisError):
                self.liveness.leave()


def _client() -> redis.Redis:
    from worker.tasks import context

    return context().redis


def _handoff() -> Any:
    from worker.handoff import HandOff
    from worker.tasks import context

    return HandOff(context())


def _resend_lost_polls(handoff: Any, held_ids: set[str], settings: WorkerSettings) -> int:
    """Send again, under their own ids, the noted polls that are queued and held nowhere."""
    from worker.celery_app import QUEUE_POLL, app
    from worker.polls import PollLedger

    ledger = PollLedger(handoff.r, handoff.keys)
    present = held_ids | ledger.queued_task_ids(QUEUE_POLL)
    grace = max(settings.sweep_seconds, 2 * settings.heartbeat_seconds)
    lost = ledger.lost_polls(present, grace)
    for task_id, task, args in lost:
        app.send_task(task, args, task_id=task_id)
    return len(lost)
