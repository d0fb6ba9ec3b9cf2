"""The Celery application, created once and configured from the settings.

Delivery semantics: tasks are acknowledged after they finish (``acks_late``)
and re-delivered when the pool process running them dies (``reject_on_worker_lost``)
or the whole worker does (its heartbeat stops: :mod:`worker.liveness`), one
message prefetched at a time, so a crash loses no task; the tasks are
idempotent, so a re-run is harmless.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import schedule
from celery.signals import beat_init, setup_logging

from worker.keys import Keys
from worker.settings import Settings, get_settings

QUEUE_POLL = "ingest.poll"
QUEUE_ARTICLES = "ingest.articles"


def celery_config(settings: Settings) -> dict[str, Any]:
    url = settings.redis_url
    transport = {
        "visibility_timeout": settings.worker.visibility_timeout_seconds,
        "global_keyprefix": Keys(settings.redis.key_prefix).broker_prefix,
        "socket_connect_timeout": 5,
        "retry_on_timeout": True,
        "health_check_interval": 15,
    }
    return {
        "broker_url": url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # a task that failed for want of Redis is not acknowledged: it is delivered again
        # (the tasks themselves turn every other error into a recorded outcome)
        "task_acks_on_failure_or_timeout": False,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_concurrency": settings.worker.tasks_at_once,
        "worker_pool": settings.worker.pool,
        "worker_send_task_events": settings.worker.task_events,
        # each worker also reads its own queue, <hostname>.dq2: its dispatcher's drains
        "worker_direct": True,
        "task_default_queue": QUEUE_ARTICLES,
        "task_routes": {
            "worker.tasks.poll_source": {"queue": QUEUE_POLL},
            "worker.tasks.poll_feed": {"queue": QUEUE_POLL},
            "worker.tasks.poll_search": {"queue": QUEUE_POLL},
            "worker.tasks.process_article": {"queue": QUEUE_ARTICLES},
            "worker.tasks.process_articles": {"queue": QUEUE_ARTICLES},
            # worker.tasks.drain_frontier: sent to its worker's own queue (worker/dispatch.py)
        },
        "task_time_limit": settings.worker.task_time_limit_seconds,
        "task_soft_time_limit": settings.worker.task_soft_time_limit_seconds,
        "beat_schedule": beat_schedule(settings),
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        "timezone": "UTC",
    }


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Every source fires at its least interval; a poll not due yet (its interval has
    grown: worker/source_schedule.py) ends at once. (The sweep for dead workers' and lost
    work runs in every worker: worker/liveness.py.)"""
    out = {}
    for s in settings.sources:
        if not s.enabled:
            continue
        every = s.interval_bounds[0]
        out[f"poll:{s.name}"] = {
            "task": "worker.tasks.poll_source",
            "schedule": schedule(every),
            "args": (s.name,),
            # a poll not started within its interval is dropped, not piled up
            "options": {"expires": every},
        }
    return out


@beat_init.connect
def _first_polls(sender: Any = None, **_: Any) -> None:
    """The scheduler's first round at its start, not one interval later; a source polled
    shortly before (its next poll not due yet) lets its poll end at once."""
    from worker.logs import get_logger

    settings = get_settings()
    target = getattr(sender, "app", None) or app
    sources = [s for s in settings.sources if s.enabled]
    for s in sources:
        target.send_task("worker.tasks.poll_source", args=(s.name,), expires=s.interval_bounds[0])
    get_logger(__name__).info("first_polls_sent", sources=len(sources))


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    from worker.dispatch import DispatchStep
    from worker.liveness import LivenessStep

    app = Celery("worker", include=["worker.tasks"])
    app.conf.update(celery_config(settings))
    app.steps["consumer"].add(LivenessStep)
    app.steps["consumer"].add(DispatchStep)
    return app


@setup_logging.connect
def _logging(**_: Any) -> None:
    from worker.logs import configure_logging
    from worker.settings import mask_url

    s = get_settings()
    configure_logging(s.log_level, s.log_format, broker=mask_url(s.redis_url) if s.redis_url else None)


app = create_app()
