"""What the running service polls and how it is set, recorded in Redis for the commands.

Each worker writes, at start-up, its effective settings (the start-up summary, secret-free)
and its sources to ``Keys.service``. ``ingest sources`` and ``ingest fetch --all`` read them
from there, so they show and poll what the service runs, not what the shell running the
command happens to have in its config (the two differ as soon as the service is started
with another ``INGEST_CONFIG`` or ``INGEST_SOURCES``). With no record (no worker started
yet, or an older one), the commands fall back to their own config and say so.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from typing import Any

import redis

from worker.keys import Keys
from worker.settings import Settings, SourceSettings


def record(client: redis.Redis, s: Settings) -> None:
    """Write this worker's effective settings and sources (the last worker to start wins)."""
    doc = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "settings": s.summary(),
        "sources": [src.model_dump(mode="json") for src in s.sources],
    }
    client.set(Keys(s.redis.key_prefix).service, json.dumps(doc, ensure_ascii=False))


def read(client: redis.Redis, s: Settings) -> dict[str, Any] | None:
    """The running service's record, or None when no worker wrote one."""
    raw = client.get(Keys(s.redis.key_prefix).service)
    return json.loads(raw) if raw else None


def service_sources(client: redis.Redis, s: Settings) -> tuple[list[SourceSettings], str] | None:
    """(the service's sources, where they come from), or None without a record."""
    doc = read(client, s)
    if doc is None:
        return None
    sources = [SourceSettings(**d) for d in doc.get("sources", [])]
    age = ""
    try:
        written = datetime.fromisoformat(doc["at"]).timestamp()
        age = f", {round(time.time() - written)}s ago"
    except (KeyError, ValueError):
        pass
    return sources, f"the running service (written by a worker on {doc.get('host', '?')}{age})"
