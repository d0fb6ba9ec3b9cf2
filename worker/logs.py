"""Structured logging: one ``key=value`` (or JSON) line per event, for every module.

Library code calls ``get_logger(__name__).info("event", key=value)``; this
module decides the rendering once per process, Celery's own loggers included.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog


class _NamedWriter(structlog.WriteLogger):
    """structlog's line writer, carrying the name given to :func:`get_logger`."""

    def __init__(self, file: TextIO, name: str):
        super().__init__(file)
        self.name = name


class _NamedWriterFactory:
    def __init__(self, file: TextIO):
        self.file = file

    def __call__(self, *args: Any) -> _NamedWriter:
        return _NamedWriter(self.file, str(args[0]) if args else "")


class _BrokerAsConfigured(logging.Filter):
    """Celery's "Connected to <broker>" names the broker as we do: kombu masks a password
    there whether the URL has one or not (``redis://:**@host``)."""

    def __init__(self, broker: str):
        super().__init__()
        self.broker = broker

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Connected to %s":
            record.args = (self.broker,)
        return True


def configure_logging(level: str = "INFO", fmt: str = "logfmt", broker: str | None = None) -> None:
    """Route structlog and stdlib logging to stderr in one format.

    ``broker``: the broker URL as it may be shown (secrets masked), for Celery's connection line.
    Safe to call twice with the same settings (the CLI, then Celery's setup signal);
    a logger already used keeps the configuration it was first used with.
    """
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.processors.LogfmtRenderer(key_order=["timestamp", "level", "logger", "event"])
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # our own events are rendered and written by structlog directly, at a third of the cost
    # of a trip through the stdlib logging machinery (one line per article: BENCHMARKS.md)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=_NamedWriterFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    # everyone else's (Celery's, libraries') through the standard library, in the same format
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Python's warnings become log lines in the same format
    # the HTTP client logs every request at INFO; ours says what matters
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Celery's two INFO lines per task ("received", "succeeded") repeat ours ("article_decided",
    # "polled") and cost ~0.2 ms of CPU each (BENCHMARKS.md); its warnings and errors still show
    for chatty in ("celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    connection = logging.getLogger("celery.worker.consumer.connection")
    connection.filters[:] = [_BrokerAsConfigured(broker)] if broker else []


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
