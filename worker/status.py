"""What ``ingest status`` shows: read-only views of the service's state in Redis."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import redis

from worker.celery_app import QUEUE_ARTICLES, QUEUE_POLL
from worker.dedup import Epochs
from worker.frontier import frontier_counts
from worker.keys import Keys
from worker.service_record import service_sources, shells_sources
from worker.settings import Settings

# kombu's Redis transport keeps one list per priority step of a queue
_PRIORITY_SUFFIXES = ["", "\x06\x163", "\x06\x166", "\x06\x169"]


def _s(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def broker_queue_keys(s: Settings, queue: str) -> list[str]:
    """The broker's Redis lists of one queue (one per priority)."""
    return [Keys(s.redis.key_prefix).broker_queue(queue) + suffix for suffix in _PRIORITY_SUFFIXES]


def broker_queue_lengths(client: redis.Redis, s: Settings) -> dict[str, int]:
    keys = Keys(s.redis.key_prefix)
    return {
        q: sum(int(client.llen(keys.broker_queue(q) + suffix)) for suffix in _PRIORITY_SUFFIXES)
        for q in (QUEUE_POLL, QUEUE_ARTICLES)
    }


def stream_groups(client: redis.Redis, stream: str) -> list[dict[str, Any]]:
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:  # no stream yet
        return []
    return [
        {
            "name": _s(g["name"]),
            "pending": int(g["pending"]),
            "lag": int(g["lag"])
            if g.get("lag") is not None
            else _lag(client, stream, _s(g["last-delivered-id"])),
            "last_delivered_id": _s(g["last-delivered-id"]),
        }
        for g in groups
    ]


def _lag(client: redis.Redis, stream: str, last_id: str, cap: int = 100_000) -> int:
    """Entries after a group's last delivered one (Redis < 7 does not report lag itself)."""
    entries: Any = client.xrange(stream, min=f"({last_id}", count=cap)
    return len(entries)


def collect_status(client: redis.Redis, s: Settings) -> dict[str, Any]:
    k = Keys(s.redis.key_prefix, s.redis.stream_key)
    live = Epochs.at(time.time(), s.dedup).live
    url_hashes = [k.urls(e) for e in live]
    syndicated: dict[int, float] = {}
    for e in live:
        top: Any = client.zrevrange(k.syndicated(e), 0, 9, withscores=True)
        for member, score in top:
            syndicated[int(member)] = syndicated.get(int(member), 0) + float(score)
    stories: dict[int, float] = {}
    for e in live:
        biggest: Any = client.zrevrange(k.stories(e), 0, 9, withscores=True)
        for member, score in biggest:
            stories[int(member)] = stories.get(int(member), 0) + float(score)
    stats = {_s(name): int(v) for name, v in client.hgetall(k.stats).items()}
    # the running service's sources (worker/service_record.py), else this shell's config's
    service_srcs, sources_of = service_sources(client, s) or shells_sources(s, "no running service found")
    sources = {}
    for src in service_srcs:
        info: dict[str, Any] = {_s(f): _s(v) for f, v in client.hgetall(k.source(src.name)).items()}
        if "interval_seconds" in info:  # the adapted one (worker/source_schedule.py)
            info["interval_now"] = info.pop("interval_seconds")
        if info.get("next_poll_at"):
            info["next_poll_at"] = datetime.fromtimestamp(float(info["next_poll_at"]), UTC).isoformat(
                timespec="seconds"
            )
        for field in ("total_polls", "total_found", "total_new", "total_queued", "failures"):
            if field in info:
                info[field] = int(info[field])
        sources[src.name] = {
            "kind": src.kind,
            "interval_seconds": src.interval_seconds,
            "enabled": src.enabled,
            **info,
        }
    failures = [json.loads(x) for x in client.lrange(k.failures, 0, 9)]
    return {
        "stream": {
            "key": s.redis.stream_key,
            "length": int(client.xlen(s.redis.stream_key)),
            "groups": stream_groups(client, s.redis.stream_key),
        },
        "broker_queues": broker_queue_lengths(client, s),
        "frontier": frontier_counts(client, k),
        "index": {
            "documents": int(client.get(k.docs_count) or 0),
            "seeds": int(client.hlen(k.seeds)),
            "urls_decided": sum(int(client.hlen(k)) for k in url_hashes),
        },
        "outcomes": {
            k: stats.get(k, 0) for k in ("queued", "duplicate", "off_topic", "stale", "partial", "failed")
        },
        "dead_letters": int(client.xlen(k.deadletter)),
        "recent_dead_letters": _dead_letters(client, k),
        "sources": sources,
        "sources_of": sources_of,
        "recent_failures": failures,
        "workers": _workers(client, k),
        "sweep": _sweep(client, k),
        "largest_stories": [
            {"id": story_id, "articles": int(n)}
            for story_id, n in sorted(stories.items(), key=lambda kv: -kv[1])[:5]
            if n > 1
        ],
        "most_syndicated": [
            {"id": doc_id, "copies": int(n), "latest_copies": _copies(client, k, doc_id)}
            for doc_id, n in sorted(syndicated.items(), key=lambda kv: -kv[1])[:5]
        ],
    }


def _workers(client: redis.Redis, k: Keys) -> list[dict[str, Any]]:
    """The live workers (their heartbeat has not expired): id, host, pid, messages held."""
    ids = [_s(w) for w in client.zrange(k.workers, 0, -1)]
    records = client.mget([k.worker(w) for w in ids]) if ids else []
    out = []
    for w, raw in zip(ids, records, strict=True):
        if raw is None:
            continue
        rec = json.loads(raw)
        out.append(
            {
                "id": w,
                "host": rec.get("host"),
                "pid": rec.get("pid"),
                "held": len(rec.get("held", [])),
                "heartbeat_age_seconds": round(max(0.0, time.time() - float(rec.get("at", 0))), 1),
            }
        )
    return out


def _sweep(client: redis.Redis, k: Keys) -> dict[str, Any]:
    raw = {_s(f): _s(v) for f, v in client.hgetall(k.sweep).items()}
    return {
        "runs": int(raw.get("runs", 0)),
        "restored_messages": int(raw.get("restored_messages", 0)),
        "resent_items": int(raw.get("resent_items", 0)),
        "last_at": float(raw["last_at"]) if "last_at" in raw else None,
        "last_by": raw.get("last_by"),
    }


def _dead_letters(client: redis.Redis, k: Keys, count: int = 5) -> list[dict[str, Any]]:
    """The newest items given up on after their last retry: URL, source, reason, attempts."""
    entries: Any = client.xrevrange(k.deadletter, count=count)
    return [json.loads(fields[b"entry"]) for _id, fields in entries]


def _copies(client: redis.Redis, k: Keys, doc_id: int) -> list[dict[str, Any]]:
    return [json.loads(x) for x in client.lrange(k.copies(doc_id), -3, -1)]


def format_status(st: dict[str, Any]) -> str:
    out = []
    stream = st["stream"]
    out.append(f"stream {stream['key']}: {stream['length']} articles")
    for g in stream["groups"]:
        out.append(f"  group {g['name']}: lag={g['lag']} pending={g['pending']}")
    q = st["broker_queues"]
    out.append("broker queues: " + " ".join(f"{k}={v}" for k, v in q.items()))
    fr = st["frontier"]
    out.append(
        f"frontier: {fr['waiting']} articles waiting for their site's turn, {fr['leased']} taken"
        f" by workers, {fr['sites']} sites with articles due"
    )
    ix = st["index"]
    out.append(
        f"index: {ix['documents']} documents ({ix['seeds']} seeds), "
        f"{ix['urls_decided']} URLs and GUIDs decided (an article counts once for each)"
    )
    out.append("outcomes: " + " ".join(f"{k}={v}" for k, v in st["outcomes"].items()))
    out.append(f"dead letters: {st['dead_letters']}")
    for d in st.get("recent_dead_letters", []):
        attempts = f"after {d.get('attempts')} attempts"
        out.append(f"  {d.get('reason')} {attempts}: {d.get('url')} ({d.get('source')})")
    workers = st.get("workers", [])
    out.append(f"workers: {len(workers)} alive")
    for w in workers:
        age = w["heartbeat_age_seconds"]
        out.append(f"  {w['id']} (pid {w['pid']}): holds {w['held']} tasks, heartbeat {age}s ago")
    sw = st.get("sweep") or {}
    if sw.get("runs"):
        ago = f", last {round(time.time() - sw['last_at'])}s ago" if sw.get("last_at") else ""
        out.append(
            f"sweep: {sw['runs']} runs{ago}; put back {sw['restored_messages']} tasks of dead workers,"
            f" sent again {sw['resent_items']} lost items"
        )
    out.append(f"sources of {st.get('sources_of', 'this shell')}:")
    if not st["sources"]:
        out.append("  (none: only ad-hoc fetches)")
    for name, info in st["sources"].items():
        last = info.get("last_poll_at", "never")
        state = info.get("last_status", "-")
        counts = f" found={info['last_found']} new={info['last_new']}" if "last_found" in info else ""
        if int(info.get("failures") or 0):  # a failing source backs off (worker/politeness.py)
            counts += f" failures={info['failures']}"
            counts += f" next poll after {info['next_poll_after']}" if info.get("next_poll_after") else ""
        every = f"every {info['interval_seconds']}s"
        if info.get("interval_now") and info["interval_now"] != str(info["interval_seconds"]):
            every += f" (now {info['interval_now']}s)"
        out.append(f"  {name:<16} {every}  last poll {last} {state}{counts}")
        totals = " ".join(f"{k}={info.get('total_' + k, 0)}" for k in ("polls", "found", "new", "queued"))
        out.append(f"  {'':<16} totals {totals}; last success {info.get('last_success_at', 'never')}")
        if info.get("last_error"):
            out.append(f"  {'':<16} last error {info['last_error']}")
    if st["most_syndicated"]:
        out.append("most syndicated (copies found, latest copy):")
        for m in st["most_syndicated"]:
            latest = m["latest_copies"][-1]["url"] if m["latest_copies"] else "-"
            copies = f"{m['copies']} cop{'y' if m['copies'] == 1 else 'ies'}"
            out.append(f"  #{m['id']}: {copies}, latest {latest}")
    if st.get("largest_stories"):
        out.append("largest stories (articles queued in the same story):")
        for m in st["largest_stories"]:
            out.append(f"  story #{m['id']}: {m['articles']} articles")
    if st["recent_failures"]:
        out.append("recent failures:")
        for f in st["recent_failures"]:
            out.append(f"  {f.get('at', '')} {f.get('reason')}: {f.get('url')} ({f.get('source')})")
    return "\n".join(out)
