"""From a source to the frontier: poll -> claims -> in-flight list -> site queues.

A poll fetches a feed (conditionally), keeps the items no one has decided or
claimed, claims them for itself, notes them in the in-flight list
(``inflight``: handed on, not decided yet) and puts them in the frontier
(:mod:`worker.frontier`), where each waits for its site's turn. This module
knows nothing of Celery. An item leaves the in-flight list when it is decided
(:meth:`worker.processor.Processor.finish`).

Nothing is lost when a worker dies:

* the poll task itself is held by its worker; when that worker's heartbeat
  stops, :mod:`worker.liveness` puts the message back and the poll runs again,
  taking back its own lock and claims (they carry its task id);
* an article taken from the frontier is leased; a dead taker's lease runs out
  and the sweep puts the article back in its site's queue;
* an item lost outright all the same (Redis lost a write in a crash) is still in
  the in-flight list: :meth:`HandOff.stale` finds the items handed on longer ago
  than ``worker.lost_task_seconds``, not decided and not in the frontier, and
  they are queued again.

An ad-hoc poll task lost before it ran is sent again: see :mod:`worker.polls`.

A final failure with a transient reason heals: :meth:`HandOff.heal_due`, called by
the same sweep, sends it again as a forced attempt once its heal time has come.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from worker.context import Context, item_key, item_keys
from worker.errors import IngestError
from worker.feeds import Item
from worker.frontier import Entry
from worker.logs import get_logger
from worker.politeness import FeedBackoff
from worker.redisconn import as_str
from worker.source_schedule import SourceSchedule
from worker.sources import Found, Request, kind_of
from worker.sources import feed as feed_kind
from worker.textsig import url_hash

log = get_logger(__name__)

# failed items a sweep sends again at most (the rest wait for the next sweep)
HEAL_BATCH = 300


@dataclass
class PollResult:
    """One request of a poll, after deduplication and claims."""

    feed_url: str
    source: str
    not_modified: bool = False
    found: int = 0
    seen: int = 0
    items: list[Item] = field(default_factory=list)  # the new ones, to be processed
    validators: dict[str, str] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    error: str | None = None
    message: str | None = None
    retry_after: float | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "feed_url": self.feed_url,
            "not_modified": self.not_modified,
            "found": self.found,
            "seen": self.seen,
            "new": len(self.items),
        }
        if self.problems:
            out["problems"] = dict(self.problems)
        if self.waiting:
            out["waiting"] = self.waiting
        if self.error:
            out |= {"error": self.error, "message": self.message or self.error}
        if self.retry_after:
            out["retry_after"] = self.retry_after
        return out


def merge_summaries(source: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One poll's summary from its requests': totals, and an error only when every request
    failed (one language's search failing does not make the source back off)."""
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {
        "source": source,
        "feed_url": parts[0]["feed_url"] if parts else "",
        "not_modified": all(p.get("not_modified") for p in parts),
        "found": sum(p.get("found", 0) for p in parts),
        "seen": sum(p.get("seen", 0) for p in parts),
        "new": sum(p.get("new", 0) for p in parts),
        "requests": parts,
    }
    problems: Counter[str] = Counter()
    for p in parts:
        problems.update(p.get("problems") or {})
    if problems:
        out["problems"] = dict(problems)
    waiting = sum(p.get("waiting", 0) for p in parts)
    if waiting:
        out["waiting"] = waiting
    retry_after = max((p.get("retry_after") or 0 for p in parts), default=0)
    if retry_after:
        out["retry_after"] = retry_after
    failed = [p for p in parts if p.get("error")]
    if failed and (len(failed) == len(parts) or any(p["error"] in BACK_OFF_ANYWAY for p in failed)):
        out |= {"error": failed[0]["error"], "message": failed[0].get("message", "")}
    elif failed:
        out["errors"] = {p["feed_url"]: p["error"] for p in failed}
    return out


# a request answered this: the whole source backs off, even if its other requests worked
BACK_OFF_ANYWAY = {"rate_limited", "http_429"}


class HandOff:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.settings = ctx.settings
        self.keys = ctx.keys
        self.r = ctx.redis

    # ---- a configured source ------------------------------------------------------------
    def poll_source(self, name: str, run_id: str | None, token: str) -> dict[str, Any]:
        """Poll a configured source, unless a poll of it is running or it is backing off.

        ``token`` (the task id) holds the source's poll lock: the same task delivered
        again after a crash takes its lock back.
        """
        source = self.settings.source(name)
        backoff = FeedBackoff(self.r, self.keys.prefix, self.settings.fetch.feed_backoff_max_seconds)
        schedule = SourceSchedule(self.r, self.keys)
        skipped = {"source": name, "feed_url": source.feed_url, "found": 0, "seen": 0, "new": 0}
        due_in = schedule.due_in(source) if run_id is None else 0.0
        if due_in > 0:  # the beat fires at the least interval; this source's is longer now
            log.debug("poll_not_due", source=name, seconds=round(due_in))
            return skipped | {"skipped": "not_due", "next_poll_in_seconds": round(due_in)}
        wait_s = backoff.remaining(name, source.interval_seconds)
        if wait_s > 0:  # it kept failing: polled less often until it answers again
            summary = skipped | {"skipped": "backoff", "next_poll_in_seconds": round(wait_s)}
            self.ctx.recorder.run_poll_done(run_id, source.feed_url, summary)
            log.info("poll_skipped", source=name, reason="backoff", seconds=round(wait_s))
            return summary
        lock = self.keys.poll_lock(name)
        token = token or uuid.uuid4().hex
        if not self.r.set(lock, token, nx=True, ex=self.settings.worker.poll_lock_seconds) and (
            as_str(self.r.get(lock) or b"") != token
        ):
            summary = skipped | {"skipped": "already_running"}
            self.ctx.recorder.run_poll_done(run_id, source.feed_url, summary)
            log.info("poll_skipped", source=name, reason="already_running")
            return summary
        try:
            kind = kind_of(source)
            parts = []
            for request in kind.requests(source):

                def fetch(state: dict[str, str], request: Request = request) -> Found:
                    return kind.poll(self.ctx, source, request, state)

                parts.append(
                    self.poll_request(fetch, request.url, name, run_id=run_id, token=token, part=True)
                )
            polled = merge_summaries(name, parts)
            self.save_source_status(name, polled)
            schedule.record(source, polled.get("new", 0), polled.get("error"))
            self.ctx.recorder.run_poll_done(run_id, source.feed_url, polled)
            backoff.record(name, source.interval_seconds, polled.get("error"), polled.get("retry_after"))
            return polled
        finally:
            self.ctx.scripts.release(keys=[lock], args=[token])

    # ---- an ad-hoc search ---------------------------------------------------------------
    def poll_search(
        self, kind: str, query: str, lang: str | None, run_id: str | None, token: str
    ) -> dict[str, Any]:
        """``ingest fetch --query``: one search of ``kind``, at the endpoint (and pace) of the
        configured source of that kind if there is one, else the service's public one."""
        from worker.settings import SourceSettings

        like = next((s for s in self.settings.sources if s.kind == kind), None)
        source = SourceSettings(
            name=f"adhoc:{kind}",
            kind=kind,  # type: ignore[arg-type]
            url=like.url if like else None,
            query=query,
            lang=lang,
            request_interval_seconds=like.request_interval_seconds if like else None,
        )
        parts = []
        for request in kind_of(source).requests(source):

            def fetch(state: dict[str, str], request: Request = request) -> Found:
                return kind_of(source).poll(self.ctx, source, request, state)

            parts.append(
                self.poll_request(fetch, request.url, source.name, run_id=run_id, token=token, part=True)
            )
        polled = merge_summaries(source.name, parts)
        self.save_source_status(source.name, polled)
        self.ctx.recorder.run_poll_done(run_id, f"query:{kind}", polled)
        return polled

    # ---- any feed -----------------------------------------------------------------------
    def poll_and_hand_on(self, feed_url: str, source: str, run_id: str | None, token: str) -> dict[str, Any]:
        """Poll an RSS/Atom feed given by URL (``ingest fetch --feed``) and hand its new items on."""

        def fetch(state: dict[str, str]) -> Found:
            return feed_kind.poll_url(self.ctx, source, feed_url, state)

        return self.poll_request(fetch, feed_url, source, run_id=run_id, token=token)

    def poll_request(
        self,
        fetch: Callable[[dict[str, str]], Found],
        url: str,
        source: str,
        *,
        run_id: str | None,
        token: str,
        part: bool = False,
    ) -> dict[str, Any]:
        """One request of a poll: fetch its items, hand the new ones on; a failing request
        ends in a recorded poll (its summary says why), never in an exception. ``part``:
        one of a source's requests (the poll as a whole is recorded, by its caller).

        Redis outages are raised (the caller waits for Redis and runs this again).
        """
        try:
            result = self.poll(fetch, url, source, claim_token=token)
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except Exception as exc:  # a feed that breaks the parser must still end in a recorded poll
            if not isinstance(exc, IngestError):
                log.exception("poll_error", source=source, url=url)
                exc = IngestError(f"{type(exc).__name__}: {exc}", reason="internal_error")
            empty = PollResult(
                feed_url=url,
                source=source,
                error=exc.reason,
                message=str(exc)[:300],
                retry_after=getattr(exc, "retry_after", None),
            )
            summary = empty.summary()
            if not part:  # an ad-hoc feed: its own status
                self.save_source_status(source, summary)
                self.ctx.recorder.run_poll_done(run_id, url, summary)
            log.warning("poll_failed", source=source, url=url, reason=exc.reason, error=str(exc)[:300])
            return summary
        self.hand_on(result.items, run_id, claimed=True)
        self.save_poll(result, error=result.error)
        summary = result.summary()
        if not part:
            self.save_source_status(source, summary)
            self.ctx.recorder.run_poll_done(run_id, url, summary)
        log.info("polled", **{k: v for k, v in summary.items() if k != "message"})
        return summary

    def hand_on(
        self, items: list[Item], run_id: str | None, *, claimed: bool = False, force: bool = False
    ) -> None:
        """Announce ``items`` to the run, note them in flight, queue them in the frontier.

        ``claimed``: the items carry this poll's claims; if queueing fails they are
        released, so that the next poll takes them again. ``force``: each is a forced
        attempt (``ingest retry``, ``fetch --force``: a failed or off-topic item is
        decided again).
        """
        self.ctx.recorder.run_pending(run_id, [item_key(i) for i in items])
        self.note_inflight(items, run_id)
        try:
            self.ctx.frontier.push([Entry(i, run_id, force=force) for i in items], keep=not force)
        except BaseException:
            if claimed:
                self.release_claims(items)
            raise

    def _feed_key(self, feed_url: str) -> str:
        return self.keys.feed(url_hash(feed_url).hex())

    def poll(
        self, fetch: Callable[[dict[str, str]], Found], url: str, source: str, claim_token: str = ""
    ) -> PollResult:
        """One request's items (``fetch``, given the request's state: validators, last
        success) that are not decided or in flight yet.

        Each returned item is claimed with ``claim_token`` (the poll task's id) for
        ``worker.claim_seconds``, so an overlapping poll does not hand it out again; the
        same poll task delivered again after a crash gets its own claims back.
        """
        state = {as_str(k): as_str(v) for k, v in self.r.hgetall(self._feed_key(url)).items()}
        got = fetch(state)
        result = PollResult(
            feed_url=url,
            source=source,
            not_modified=got.not_modified,
            validators=got.validators,
            problems=dict(got.problems),
            waiting=got.waiting,
            error=got.error,
            message=got.message,
            retry_after=got.retry_after,
        )
        if got.not_modified:
            return result
        items = got.items
        result.found = max(got.found, len(items))
        result.seen = result.found - len(items)  # left out by the source itself (old, undecodable)
        keys = [item_keys(i) for i in items]
        flat = [k for ks in keys for k in ks]
        decided = dict(zip(flat, self.ctx.index.decisions(flat), strict=True))
        claim_ttl = self.settings.worker.claim_seconds
        pipe = self.r.pipeline(transaction=False)
        candidates = []
        for item, ks in zip(items, keys, strict=True):
            if any(decided[k] for k in ks):
                result.seen += 1
                continue
            candidates.append(item)
            # an item already handed to a worker is not handed out again until it expires
            self.ctx.scripts.claim(
                keys=[self.keys.claim(ks[0].hex())], args=[claim_token, claim_ttl], client=pipe
            )
        claimed = pipe.execute() if candidates else []
        for item, ok in zip(candidates, claimed, strict=True):
            if ok:
                result.items.append(item)
            else:
                result.seen += 1
        return result

    def save_poll(self, result: PollResult, *, error: str | None = None) -> None:
        """Remember a request's validators and last success, after its items were handed on."""
        key = self._feed_key(result.feed_url)
        pipe = self.r.pipeline(transaction=False)
        if result.waiting:  # items wait in the document: the next poll must read it whole
            pipe.hdel(key, "etag", "last_modified")
        if not error:
            state: dict[Any, Any] = {"last_success": f"{time.time():.3f}", **result.validators}
            pipe.hset(key, mapping=state)
        pipe.execute()

    def save_source_status(self, source: str, summary: dict[str, Any]) -> None:
        """A source's last poll and its totals, as ``ingest status`` shows them (the
        articles queued from it are counted by the decide script)."""
        error = summary.get("error")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        key = self.keys.source(source)
        status: dict[Any, Any] = {
            "last_poll_at": now,
            "last_status": error or ("not_modified" if summary.get("not_modified") else "ok"),
            "feed_url": summary.get("feed_url", ""),
        }
        if error:
            status["last_error"] = f"{now} {error}: {summary.get('message', '')}"[:400]
        else:
            status |= {
                "last_success_at": now,
                "last_found": str(summary.get("found", 0)),
                "last_new": str(summary.get("new", 0)),
            }
        if summary.get("errors"):  # some of its requests failed, not all
            status["last_error"] = (
                f"{now} " + ", ".join(f"{u}: {e}" for u, e in summary["errors"].items())[:380]
            )
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, mapping=status)
        pipe.hincrby(key, "total_polls", 1)
        pipe.hincrby(key, "total_found", int(summary.get("found", 0)))
        pipe.hincrby(key, "total_new", int(summary.get("new", 0)))
        pipe.execute()

    def release_claims(self, items: list[Item]) -> None:
        if items:
            self.r.delete(*[self.keys.claim(item_key(i)) for i in items])

    # ---- the in-flight list -------------------------------------------------------------
    def note_inflight(self, items: list[Item], run_id: str | None) -> None:
        """Remember items handed to tasks until they are decided (see :meth:`stale`)."""
        if not items:
            return
        now = int(time.time())
        self.r.hset(
            self.keys.inflight,
            mapping={
                item_key(i): json.dumps({"item": i.to_dict(), "run_id": run_id, "at": now}) for i in items
            },
        )

    def stale(self, older_than: float) -> list[tuple[Item, str | None]]:
        """Items handed on longer ago than ``older_than`` seconds and still undecided.

        Their task was lost (the rare cases the broker cannot re-deliver); they are
        marked as handed on again now, and returned to be sent again.
        """
        key = self.keys.inflight
        cutoff = time.time() - older_than
        stale = []
        for name, raw in self.r.hscan_iter(key, count=500):
            entry = json.loads(raw)
            if entry["at"] < cutoff:
                stale.append((as_str(name), entry))
        if not stale:
            return []
        decided = self.ctx.index.decisions([bytes.fromhex(name) for name, _ in stale])
        out = []
        pipe = self.r.pipeline(transaction=False)
        for (name, entry), decision in zip(stale, decided, strict=True):
            if decision:  # decided after all (e.g. the worker died after deciding)
                pipe.hdel(key, name)
                continue
            entry["at"] = int(time.time())
            pipe.hset(key, name, json.dumps(entry))
            out.append((Item.from_dict(entry["item"]), entry.get("run_id")))
        pipe.execute()
        return out

    def send_again_stale(self, older_than: float) -> int:
        """Queue again the items :meth:`stale` finds (one waiting in the frontier, or held
        by a taker now, stays as it is); how many were queued."""
        stale = self.stale(older_than)
        queued = self.ctx.frontier.push([Entry(item, run_id) for item, run_id in stale], keep=True)
        if stale:
            log.warning("requeued_stale", count=len(stale), queued=queued)
        return queued

    # ---- failures that heal -------------------------------------------------------------
    def heal_due(self, limit: int = HEAL_BATCH) -> int:
        """Queue the failed items whose heal time has come (at most ``limit``); how many.

        Each is taken out of ``heal`` first (ZREM says whether this caller got it, so two
        callers never send one item twice) and sent as a forced attempt in its next heal
        round, read from its failed record; one whose record is gone (its epoch expired)
        is only taken out. A send that fails puts the item back for the next sweep.
        """
        due = self.r.zrangebyscore(self.keys.heal, "-inf", time.time(), start=0, num=limit)
        sent = 0
        for member in map(as_str, due):
            if not self.r.zrem(self.keys.heal, member):
                continue  # taken meanwhile
            record = self.ctx.index.failed_record(bytes.fromhex(member))
            if record is None:
                continue
            entry = Entry(
                Item.from_dict(record["item"]), force=True, heal_round=int(record.get("round", 0)) + 1
            )
            try:
                self.ctx.frontier.push([entry], keep=False)
            except Exception:
                self.r.zadd(self.keys.heal, {member: time.time()})
                raise
            sent += 1
        if sent:
            log.info("healing", count=sent)
        return sent
