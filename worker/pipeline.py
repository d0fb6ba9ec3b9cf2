"""The ingest pipeline as plain functions: source -> fetch -> extract -> relevance/dedup -> publish.

Nothing here knows about Celery; ``worker.tasks`` calls these and maps the
exceptions (:mod:`worker.errors`) to retry or give up.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import redis

from worker import relevance
from worker.dedup import DedupIndex, Verdict
from worker.errors import ConfigError, IngestError, NotAnArticle, PermanentError
from worker.extract import HTML_TYPES, decode_html, extract
from worker.feeds import Item, parse_feed
from worker.fetch import Fetcher, FetchResult
from worker.logs import get_logger
from worker.message import SCHEMA_VERSION, build_message
from worker.outcomes import Recorder, decision_outcome
from worker.politeness import Politeness, domain_of, origin_of
from worker.redisconn import as_str, redis_client
from worker.settings import Settings
from worker.textsig import normalize, signature, url_hash

log = get_logger(__name__)

# pages downloaded side by side per worker process (below the HTTP client's 20 connections)
PREFETCH_THREADS = 16
# sites whose robots.txt a poll fetches before handing its articles on (see Ingest.warm_robots)
ROBOTS_WARM_MAX_SITES = 32

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


# claim an item for a poll task unless another task holds it
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def warm_up(settings: Settings) -> None:
    """Build what every process would otherwise build during its first article.

    The Public Suffix List behind :func:`~worker.politeness.domain_of` (~40 ms to
    load), the MinHash permutations and numpy's first use (~25 ms), the topic's term
    index. Called in the worker's main process before its pool starts, so prefork
    children inherit them instead of each paying in its first task.
    """
    domain_of("http://example.com/")
    signature(normalize("warm up"), k=settings.dedup.shingle_words, num_perm=settings.dedup.num_perm)
    relevance.score_normalized("warm up", settings.topic)


def item_keys(item: Item) -> list[bytes]:
    """The index keys of an item: its canonical URL first, then its GUID if any."""
    keys = [url_hash(item.canonical_url)]
    if item.guid:
        keys.append(url_hash(f"guid:{item.source}:{item.guid}"))
    return keys


def item_id(item: Item) -> str:
    """A stable id for an item: the same canonical URL always gives the same id."""
    return hashlib.sha256(item.canonical_url.encode("utf-8")).hexdigest()[:32]


@dataclass
class PollResult:
    feed_url: str
    source: str
    not_modified: bool = False
    found: int = 0
    seen: int = 0
    items: list[Item] = field(default_factory=list)  # the new ones, to be processed
    validators: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "feed_url": self.feed_url,
            "not_modified": self.not_modified,
            "found": self.found,
            "seen": self.seen,
            "new": len(self.items),
        }


@dataclass(frozen=True)
class Outcome:
    outcome: str  # queued | duplicate | off_topic | failed
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # further keys (the GUID) to record the decision under, and the decision
    also_mark: tuple[list[bytes], str] | None = None


def prior_outcome(decision: str) -> Outcome:
    """The outcome of an item decided before (by another task, or an earlier run of this one)."""
    return Outcome(decision_outcome(decision), detail={"prior": decision})


class Ingest:
    """The resources one worker process holds for its life: Redis, HTTP client, index."""

    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        if client is None:
            if not settings.redis_url:
                raise ConfigError("REDIS_URL is not set and no embedded Redis is running")
            client = redis_client(settings.redis_url)
        self.settings = settings
        self.redis = client
        self.fetcher = Fetcher(settings.fetch, settings.allow_private)
        # robots.txt and the per-domain pace, shared with every worker through Redis
        self.politeness = Politeness(settings.fetch, client, self.fetcher, settings.redis.key_prefix)
        self.index = DedupIndex(client, settings.dedup, settings.redis.key_prefix, settings.redis.stream_key)
        self.recorder = Recorder(client, settings.redis.key_prefix)
        self._claim = client.register_script(_CLAIM)
        self._prefetcher: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=False, cancel_futures=True)
        self.fetcher.close()

    # ---- source ---------------------------------------------------------------
    def _feed_key(self, feed_url: str) -> str:
        return self.settings.key("feed", url_hash(feed_url).hex())

    def poll(self, feed_url: str, source: str, claim_token: str = "") -> PollResult:
        """Fetch a feed (conditionally) and return its items not decided or in flight yet.

        Each returned item is claimed with ``claim_token`` (the poll task's id) until the
        visibility timeout, so an overlapping poll does not hand it out again; the same
        poll task delivered again after a crash gets its own claims back.
        """
        state = {as_str(k): as_str(v) for k, v in self.redis.hgetall(self._feed_key(feed_url)).items()}
        self._robots_meanwhile(feed_url)
        res = self.fetcher.get(
            feed_url,
            max_bytes=self.settings.fetch.max_feed_bytes,
            etag=state.get("etag"),
            last_modified=state.get("last_modified"),
            accept=FEED_ACCEPT,
            before_request=self.politeness.throttle,
        )
        result = PollResult(feed_url=feed_url, source=source)
        result.validators = {k: v for k, v in (("etag", res.etag), ("last_modified", res.last_modified)) if v}
        if res.not_modified:
            result.not_modified = True
            return result
        items = parse_feed(
            res.content, source=source, base_url=res.url, max_items=self.settings.fetch.max_items_per_poll
        )
        result.found = len(items)
        keys = [item_keys(i) for i in items]
        flat = [k for ks in keys for k in ks]
        decided = dict(zip(flat, self.index.decisions(flat), strict=True))
        claim_ttl = self.settings.worker.visibility_timeout_seconds
        pipe = self.redis.pipeline(transaction=False)
        candidates = []
        for item, ks in zip(items, keys, strict=True):
            if any(decided[k] for k in ks):
                result.seen += 1
                continue
            candidates.append(item)
            # an item already handed to a worker is not handed out again until it expires
            self._claim(
                keys=[self.settings.key("claim", ks[0].hex())], args=[claim_token, claim_ttl], client=pipe
            )
        claimed = pipe.execute() if candidates else []
        for item, ok in zip(candidates, claimed, strict=True):
            if ok:
                result.items.append(item)
            else:
                result.seen += 1
        return result

    def save_poll(self, result: PollResult, *, error: str | None = None) -> None:
        """Remember validators and poll status, after the items were handed on."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        pipe = self.redis.pipeline(transaction=False)
        if result.validators and not error:
            pipe.hset(self._feed_key(result.feed_url), mapping=cast(dict[Any, Any], result.validators))
        status: dict[Any, Any] = {
            "last_poll_at": now,
            "last_status": error or ("not_modified" if result.not_modified else "ok"),
            "feed_url": result.feed_url,
        }
        if not error:
            status |= {"last_found": str(result.found), "last_new": str(len(result.items))}
        pipe.hset(self.settings.key("source", result.source), mapping=status)
        pipe.execute()

    # ---- hand-off ---------------------------------------------------------------
    def note_inflight(self, items: list[Item], run_id: str | None) -> None:
        """Remember items handed to tasks until they are decided (see :meth:`stale_inflight`)."""
        if not items:
            return
        now = int(time.time())
        self.redis.hset(
            self.settings.key("inflight"),
            mapping={
                item_keys(i)[0].hex(): json.dumps({"item": i.to_dict(), "run_id": run_id, "at": now})
                for i in items
            },
        )

    def stale_inflight(self, older_than: float) -> list[tuple[Item, str | None]]:
        """Items handed on longer ago than ``older_than`` seconds and still undecided.

        Their task was lost (the rare cases the broker cannot re-deliver); they are
        marked as handed on again now, and returned to be sent again.
        """
        key = self.settings.key("inflight")
        cutoff = time.time() - older_than
        stale = []
        for name, raw in self.redis.hscan_iter(key, count=500):
            entry = json.loads(raw)
            if entry["at"] < cutoff:
                stale.append((as_str(name), entry))
        if not stale:
            return []
        decided = self.index.decisions([bytes.fromhex(name) for name, _ in stale])
        out = []
        pipe = self.redis.pipeline(transaction=False)
        for (name, entry), decision in zip(stale, decided, strict=True):
            if decision:  # decided after all (e.g. the worker died after deciding)
                pipe.hdel(key, name)
                continue
            entry["at"] = int(time.time())
            pipe.hset(key, name, json.dumps(entry))
            out.append((Item.from_dict(entry["item"]), entry.get("run_id")))
        pipe.execute()
        return out

    def _robots_meanwhile(self, feed_url: str) -> None:
        """Start fetching the robots.txt of the feed's own site while the feed downloads.

        An outlet's feed lists pages of its own site, whose robots.txt :meth:`warm_robots`
        would otherwise fetch only after the feed: one round trip less before the first
        page. Nothing waits for it here; a later ask for the same site waits on this
        fetch (one per site at a time in a process), not on a second one.
        """
        if self.politeness.uncached_origins([feed_url]):
            self._pool().submit(self.politeness.robots, feed_url)

    def warm_robots(self, items: list[Item]) -> None:
        """Fetch, before they are handed on, the robots.txt of sites with several new items.

        Otherwise every task that gets some of them asks for it at the same moment
        (one download per process, the others waiting on Redis) and all of them wait
        one more round trip before their first page: with a feed's items handed on
        together, that stalls every worker at once, site after site. Sites with a
        single item gain nothing (its page fetches the file as it would here) and
        are left to it. Failures are not raised: the site's answer, kept in Redis
        either way, reaches its pages.
        """
        per_site = Counter(origin_of(i.url) for i in items)
        shared = [o for o, n in per_site.most_common(ROBOTS_WARM_MAX_SITES) if n > 1]
        missing = self.politeness.uncached_origins(shared) if shared else []
        jobs = [self._pool().submit(self.politeness.robots, origin + "/") for origin in missing]
        wait(jobs)
        for origin, job in zip(missing, jobs, strict=True):
            exc = job.exception()
            if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
                raise exc  # an outage: the poll waits for Redis and runs again
            if exc is not None and not isinstance(exc, IngestError):
                log.warning("robots_warm_error", site=origin, error=f"{type(exc).__name__}: {exc}"[:300])

    def _pool(self) -> ThreadPoolExecutor:
        if self._prefetcher is None:
            self._prefetcher = ThreadPoolExecutor(PREFETCH_THREADS, thread_name_prefix="prefetch")
        return self._prefetcher

    def release_claims(self, items: list[Item]) -> None:
        if items:
            self.redis.delete(*[self.settings.key("claim", item_keys(i)[0].hex()) for i in items])

    # ---- article --------------------------------------------------------------
    def prefetch(self, items: list[Item]) -> list[Future[FetchResult] | None]:
        """Start downloading the pages of the items not decided yet, side by side.

        A task's articles then wait for the network together, not one after the
        other, while their extraction (CPU) runs in turn: a few tasks per core keep
        it busy. Each future holds the page, or the error its fetch raised; pass it
        to :meth:`process`. None for an item already decided.
        """
        decided = self.index.decisions([item_keys(i)[0] for i in items])
        pool = self._pool()
        return [None if d else pool.submit(self.fetch_page, i) for i, d in zip(items, decided, strict=True)]

    def fetch_page(self, item: Item) -> FetchResult:
        """An article page, under the fetch policy and the site's robots.txt and pace."""
        return self.fetcher.get(
            item.url, content_types=HTML_TYPES, before_request=self.politeness.before_page
        )

    def process(
        self, item: Item, run_id: str | None = None, page: Future[FetchResult] | None = None
    ) -> Outcome:
        """Take one item to its final outcome. Raises TransientError to ask for a retry.

        ``page``: its download started by :meth:`prefetch`, else it is fetched here.
        """
        keys = item_keys(item)
        # a prefetched item was looked up by prefetch() a moment ago; one decided since is
        # caught where its decision is written (the decide script, mark_final)
        prior = self.index.decisions(keys[:1])[0] if page is None else None
        if prior:
            return self._finish(item, run_id, prior_outcome(prior))
        try:
            outcome = self._process_new(item, keys, page)
        except PermanentError as exc:
            outcome = self.fail(item, exc, run_id=None)
        return self._finish(item, run_id, outcome)

    def _process_new(self, item: Item, keys: list[bytes], pending: Future[FetchResult] | None) -> Outcome:
        page = pending.result() if pending is not None else self.fetch_page(item)
        fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
        if page.content_type not in HTML_TYPES:
            raise NotAnArticle(f"content type {page.content_type!r} is not a page", reason="not_html")
        ext = extract(
            decode_html(page.content, page.encoding), url=page.url, min_words=self.settings.extract.min_words
        )
        norm = normalize(ext.text)  # once, for relevance and dedup alike
        rel = relevance.score_normalized(f"{normalize(ext.title or '')} {norm}", self.settings.topic)
        if not rel.on_topic:
            if not self.recorder.mark_final(self.index.url_hashes(), keys, "off_topic", "o"):
                return self._decided_meanwhile(keys, "off_topic")
            return Outcome("off_topic", detail={"relevance": rel.score, "mentions": rel.mentions})
        prep = self.index.prepare_normalized(norm)
        message = build_message(
            item=item,
            item_id=item_id(item),
            final_url=page.url,
            extracted=ext,
            word_count=prep.word_count,
            content_hash=prep.content_hash,
            fetched_at=fetched_at,
            relevance=rel,
        )
        verdict = self.index.commit(
            prep, keys[0], message, now=int(time.time()), url=item.url, source=item.source
        )
        return self._verdict_outcome(verdict, keys)

    def _decided_meanwhile(self, keys: list[bytes], ours: str) -> Outcome:
        """The outcome of an item another task decided first: its decision, not ours."""
        prior = self.index.decisions(keys[:1])[0]
        # None: decided under the GUID only, or expired since: ours stands
        return Outcome(ours) if prior is None else prior_outcome(prior)

    def _verdict_outcome(self, v: Verdict, keys: list[bytes]) -> Outcome:
        if v.status == "seen":  # another worker decided this URL a moment ago
            assert v.prior
            return prior_outcome(v.prior)
        # the GUID too (written by _finish), so the next poll skips the item by either key
        decision = f"q:{v.doc_id}" if v.status == "queued" else f"d:{(v.nearest or {}).get('id')}"
        if v.status == "queued":
            detail: dict[str, Any] = {"stream_id": v.stream_id, "doc_id": v.doc_id}
            return Outcome("queued", detail=detail, also_mark=(keys[1:], decision))
        return Outcome("duplicate", detail={"duplicate_of": v.nearest}, also_mark=(keys[1:], decision))

    def fail(self, item: Item, exc: IngestError, *, run_id: str | None, attempts: int = 1) -> Outcome:
        """Record a final failure (permanent, or transient after its last retry)."""
        entry = {
            "url": item.url,
            "source": item.source,
            "reason": exc.reason,
            "error": str(exc)[:500],
            "attempts": attempts,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        keys = item_keys(item)
        first = self.recorder.mark_final(self.index.url_hashes(), keys, "failed", f"f:{exc.reason}", entry)
        if first and not isinstance(exc, PermanentError):
            self.recorder.dead_letter(entry)
        outcome = (
            Outcome("failed", reason=exc.reason, detail={"error": str(exc)[:300]})
            if first
            else self._decided_meanwhile(keys, "failed")
        )
        if run_id:
            self._finish(item, run_id, outcome)
        return outcome

    def _finish(self, item: Item, run_id: str | None, outcome: Outcome) -> Outcome:
        """The item's bookkeeping after its decision, in one round trip."""
        key = item_keys(item)[0].hex()
        pipe = self.redis.pipeline(transaction=False)
        if outcome.also_mark and outcome.also_mark[0]:
            self.index.mark(*outcome.also_mark, pipe=pipe)
        self.recorder.run_item(
            run_id,
            key,
            outcome.outcome,
            pipe=pipe,
            reason=outcome.reason,
            url=item.url,
            prior=outcome.detail.get("prior"),
        )
        pipe.delete(self.settings.key("claim", key))
        pipe.hdel(self.settings.key("inflight"), key)
        pipe.execute()
        log.info(
            "article_decided",
            outcome=outcome.outcome,
            reason=outcome.reason,
            url=item.url,
            source=item.source,
            schema_version=SCHEMA_VERSION,
        )
        return outcome
