"""What the running service polls and how it is set, recorded in Redis for the commands.

Each worker writes, at start-up, its effective settings (the start-up summary, secret-free)
and its sources to ``Keys.service``. ``ingest sources`` and ``ingest fetch --all`` read them
from there, so they show and poll what the service runs, not what the shell running the
command happens to have in its config (the two differ as soon as the service is started
with another ``INGEST_CONFIG`` or ``INGEST_SOURCES``). With no record (no worker started
yet, or an older one), the commands fall back to their own config and say so.

``ingest explain`` judges in the shell it runs in, with that shell's settings; it reads the
record to warn when those differ from the service's where they change a verdict
(:func:`policy_differences`).
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


# the settings that change what a page is judged to be (explain judges with its own shell's)
POLICY = ("allow_private", "topic", "dedup", "extract", "fetch.respect_robots", "fetch.max_body_bytes")


def _flat(data: Any, path: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out |= _flat(v, f"{path}.{k}" if path else str(k))
        return out
    return {path: data}


def policy_differences(recorded: dict[str, Any], mine: dict[str, Any]) -> list[str]:
    """``key: here X, service Y`` for each verdict-changing setting (:data:`POLICY`) in which
    this shell's summary differs from the service's recorded one."""
    theirs, ours = _flat(recorded), _flat(mine)
    keys = sorted(k for k in theirs.keys() | ours.keys() if k.startswith(POLICY))
    return [
        f"{k}: here {ours.get(k, '-')}, service {theirs.get(k, '-')}"
        for k in keys
        if theirs.get(k) != ours.get(k)
    ]
