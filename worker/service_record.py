"""What the running service polls and how it is set, recorded in Redis for the commands.

Each worker writes, at start-up, its effective settings (the start-up summary, secret-free)
and its sources to ``Keys.service``. ``ingest sources`` and ``ingest fetch --all`` read them
from there, so they show and poll what the service runs, not what the shell running the
command happens to have in its config (the two differ as soon as the service is started
with another ``INGEST_CONFIG`` or ``INGEST_SOURCES``). With no record (no worker started
yet, or an older one), the commands fall back to their own config and say so.

``ingest explain`` judges as the service would: it takes the settings that change a verdict
(:data:`POLICY`: the topic, dedup and extraction settings, robots.txt, the body cap and the
private hosts allowed) from the record (:func:`adopt`), and says where its own shell's differ
(:func:`policy_differences`). ``INGEST_ALLOW_PRIVATE`` set where the worker runs is thus
enough for both ``fetch`` and ``explain``.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from typing import Any

import redis

from worker.keys import Keys
from worker.settings import (
    DedupSettings,
    ExtractSettings,
    Settings,
    SourceSettings,
    TopicSettings,
    config_path,
)


def record(client: redis.Redis, s: Settings) -> None:
    """Write this worker's effective settings and sources (the last worker to start wins)."""
    doc = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "settings": s.summary(),
        "policy": policy(s),
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


def shells_sources(s: Settings, why: str) -> tuple[list[SourceSettings], str]:
    """This shell's config's sources, and where they come from, where the service's cannot be
    read (``why``): the one fallback of ``sources``, ``fetch --all`` and ``status``."""
    return list(s.sources), f"this shell's config ({config_path()}): {why}"


def source_differences(service: list[SourceSettings], mine: list[SourceSettings]) -> list[str]:
    """How this shell's sources differ from the service's, by name: what a command that uses
    the service's says so that nobody wonders why a source of their config is not polled."""
    theirs, ours = {x.name: x for x in service}, {x.name: x for x in mine}
    groups = {
        "only in this shell's config": [n for n in ours if n not in theirs],
        "only in the service's": [n for n in theirs if n not in ours],
        "set differently": [n for n in ours if n in theirs and ours[n] != theirs[n]],
    }
    return [f"{what}: {', '.join(names)}" for what, names in groups.items() if names]


# the settings that change what a page is judged to be (explain takes the service's)
POLICY = ("allow_private", "topic", "dedup", "extract", "fetch.respect_robots", "fetch.max_body_bytes")


def policy(s: Settings) -> dict[str, Any]:
    """The verdict-changing settings (:data:`POLICY`) in full, as :func:`adopt` reads them."""
    return {
        "allow_private": list(s.allow_private),
        "topic": s.topic.model_dump(mode="json"),
        "dedup": s.dedup.model_dump(mode="json"),
        "extract": s.extract.model_dump(mode="json"),
        "fetch": {"respect_robots": s.fetch.respect_robots, "max_body_bytes": s.fetch.max_body_bytes},
    }


def adopt(s: Settings, recorded: dict[str, Any]) -> Settings | None:
    """``s`` with the service's verdict-changing settings (a record's ``policy``) in place of
    its own; the rest (Redis, keys, timeouts) stays this shell's. None when this shell cannot
    read the record's policy (a worker of another version)."""
    try:
        return s.model_copy(
            update={
                "allow_private": [str(hp) for hp in recorded["allow_private"]],
                "topic": TopicSettings.model_validate(recorded["topic"]),
                "dedup": DedupSettings.model_validate(recorded["dedup"]),
                "extract": ExtractSettings.model_validate(recorded["extract"]),
                "fetch": s.fetch.model_copy(
                    update={
                        "respect_robots": bool(recorded["fetch"]["respect_robots"]),
                        "max_body_bytes": int(recorded["fetch"]["max_body_bytes"]),
                    }
                ),
            }
        )
    except (KeyError, TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


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
