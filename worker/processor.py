"""One article from its page to its decision: fetch -> extract -> relevance -> decide.

Plain code, no Celery: :mod:`worker.tasks` calls :meth:`Processor.process` and
hands the errors it raises to :func:`worker.retries.next_step`. Permanent
failures are recorded here; transient ones and our own pace are raised.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from worker import dates, decisions, metrics, page_check, relevance
from worker.context import Context, item_id, item_key, item_keys
from worker.dedup import Verdict
from worker.errors import IngestError, NotAnArticle, PermanentError
from worker.extract import HTML_TYPES, Extracted, decode_html, detect_language, extract
from worker.feeds import Item
from worker.fetch import FetchResult
from worker.logs import get_logger
from worker.message import SCHEMA_VERSION, build_message
from worker.politeness import Turn
from worker.retries import heal_delay
from worker.settings import Settings
from worker.textsig import normalize, signature

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    outcome: str  # queued | duplicate | off_topic | stale | partial | failed
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    # further keys (the GUID) to record the decision under, and the decision
    also_mark: tuple[list[bytes], str] | None = None
    # decided by a forced attempt: also_mark overwrites a replaceable decision of those keys
    forced: bool = False


def prior_outcome(decision: str) -> Outcome:
    """The outcome of an item decided before (by another task, or an earlier run of this one)."""
    return Outcome(decisions.outcome_of(decision), detail={"prior": decision})


WARM_UP_PAGE = (
    "<html lang='en'><head><title>Warm up</title></head>"
    "<body><article><p>A short note to warm up the extraction.</p></article></body></html>"
)


def warm_up(settings: Settings) -> None:
    """Build what every process would otherwise build during its first article.

    The Public Suffix List behind :func:`~worker.politeness.domain_of` (~40 ms to
    load), the language model (~25 MB), the MinHash permutations and numpy's first
    use (~25 ms), the topic's term index, and what trafilatura loads on a page's first
    extraction (its whole cascade: jusText's stop lists, readability, htmldate; ~35
    MB). Called in the worker's main process before its pool starts, so prefork
    children inherit them instead of each paying in its first task.
    """
    from worker.extract import detect_language, extract
    from worker.politeness import domain_of

    domain_of("http://example.com/")
    detect_language("warm up")  # the language model, shared by the children (copy-on-write)
    with contextlib.suppress(NotAnArticle):  # a short page: trafilatura's whole cascade runs
        extract(WARM_UP_PAGE, url="http://example.com/warm-up", min_words=1)
    signature(normalize("warm up"), k=settings.dedup.shingle_words, num_perm=settings.dedup.num_perm)
    relevance.judge("warm up", "warm up", settings)  # the topic's terms and anchors, compiled


class Processor:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.settings = ctx.settings

    def fetch_page(self, item: Item, turn: Turn | None = None) -> FetchResult:
        """An article page, under the fetch policy and the site's robots.txt and pace
        (``turn``: the request's turn at its site the frontier gave)."""
        politeness = self.ctx.politeness

        def before_request(url: str) -> None:
            politeness.before_page(url, turn)

        started = time.monotonic()
        page = self.ctx.fetcher.get(item.url, content_types=HTML_TYPES, before_request=before_request)
        m = metrics.get()
        if m is not None:
            m.fetch_seconds.observe(time.monotonic() - started)
            m.fetch_bytes.inc(len(page.content))
        return page

    def process(
        self,
        item: Item,
        run_id: str | None = None,
        page: Future[FetchResult] | None = None,
        *,
        force: bool = False,
        heal_round: int = 0,
    ) -> Outcome:
        """Take one item to its final outcome. Raises TransientError to ask for a retry.

        ``page``: its download, started by :mod:`worker.drain`, else it is fetched here.
        ``force``: a retry asked for (``ingest retry``, the sweep healing a failure): an
        item that failed or was off topic is decided again; one queued, a duplicate or a
        seed never is (it is reported as decided before). ``heal_round``: the heal rounds
        this item has had, so that a failure again waits for the next heal delay.
        """
        started = time.monotonic()
        keys = item_keys(item)
        # a drain looked a taken item up a moment ago; one decided since is
        # caught where its decision is written (the decide script, mark)
        prior = self.ctx.index.decisions(keys[:1])[0] if page is None else None
        if prior and not (force and decisions.replaceable(prior)):
            return self.finish(item, run_id, prior_outcome(prior))
        try:
            outcome = self._decide(item, keys, page, force=force)
        except PermanentError as exc:
            if exc.reason in page_check.ACCESS_DENIED:  # the site refused the page itself
                wall = page_check.Wall(exc.reason, str(exc)[:200])
                outcome = self._behind_wall(item, keys, wall, None, force=force)
            else:
                outcome = self.fail(item, exc, run_id=None, force=force, heal_round=heal_round)
        return self.finish(item, run_id, outcome, started=started)

    def _decide(
        self, item: Item, keys: list[bytes], pending: Future[FetchResult] | None, *, force: bool = False
    ) -> Outcome:
        page = pending.result() if pending is not None else self.fetch_page(item)
        if page.content_type not in HTML_TYPES:
            raise NotAnArticle(f"content type {page.content_type!r} is not a page", reason="not_html")
        started = time.monotonic()
        try:
            ext = extract(
                decode_html(page.content, page.encoding),
                url=page.url,
                min_words=self.settings.extract.min_words,
            )
        except NotAnArticle:
            wall = page_check.wall_of(page.content, None, item.feed_words)
            if wall is None:
                raise
            return self._behind_wall(item, keys, wall, page, force=force)
        m = metrics.get()
        if m is not None:
            m.extract_seconds.observe(time.monotonic() - started)
        wall = page_check.wall_of(page.content, ext.text, item.feed_words)
        if wall is not None:
            return self._behind_wall(item, keys, wall, page, force=force, ext=ext)
        return self._judge(item, keys, ext, page.url, force=force)

    def _behind_wall(
        self,
        item: Item,
        keys: list[bytes],
        wall: page_check.Wall,
        page: FetchResult | None,
        *,
        force: bool,
        ext: Extracted | None = None,
    ) -> Outcome:
        """A page that is not the article: the feed's own full text when it has one (the
        message says so), else the item is recorded ``partial`` with the wall's reason."""
        log.info("page_not_the_article", url=item.url, reason=wall.reason, detail=wall.detail)
        if item.feed_text:
            from_feed = Extracted(
                title=(ext.title if ext else None) or item.title,
                authors=ext.authors if ext else [],
                published_at=(ext.published_at if ext else None) or item.published_at,
                language=(ext.language if ext else None) or item.lang or detect_language(item.feed_text),
                text=item.feed_text,
                site_name=ext.site_name if ext else None,
            )
            final_url = page.url if page is not None else item.url
            return self._judge(
                item, keys, from_feed, final_url, force=force, text_source=("feed", wall.reason)
            )
        if not self.ctx.recorder.mark_final(keys, "partial", decisions.partial(wall.reason), replace=force):
            return self._decided_meanwhile(keys, "partial")
        return Outcome("partial", reason=wall.reason, detail={"detail": wall.detail})

    def _judge(
        self,
        item: Item,
        keys: list[bytes],
        ext: Extracted,
        final_url: str,
        *,
        force: bool,
        text_source: tuple[str, str | None] = ("page", None),
    ) -> Outcome:
        """Its date, relevance, then dedup and publication, of an article's text."""
        now = datetime.now(UTC)
        fetched_at = now.isoformat(timespec="seconds")
        source_date = (item.date_source or "feed", item.published_at)
        date = dates.choose([*ext.date_candidates, source_date, ("url", dates.url_date(final_url))], now)
        max_age = self.settings.topic.max_age_days
        if max_age and item.source != "adhoc" and date.when and date.when < now - timedelta(days=max_age):
            if not self.ctx.recorder.mark_final(keys, "stale", decisions.STALE, replace=force):
                return self._decided_meanwhile(keys, "stale")
            return Outcome("stale", detail={"published_at": date.published_at, "source": date.source})
        rel = relevance.judge(ext.text, ext.title or item.title, self.settings, language=ext.language)
        m = metrics.get()
        if m is not None:
            m.relevance.observe(rel.score)
        index = self.ctx.index
        if not rel.on_topic:
            if not self.ctx.recorder.mark_final(keys, "off_topic", decisions.OFF_TOPIC, replace=force):
                return self._decided_meanwhile(keys, "off_topic")
            return Outcome(
                "off_topic", detail={"relevance": rel.score, "mentions": rel.mentions, "why": rel.why}
            )
        prep = index.prepare(ext.text, title=ext.title, story_skip=relevance.compiled(self.settings).words)
        message = build_message(
            item=item,
            item_id=item_id(item),
            final_url=final_url,
            extracted=ext,
            word_count=prep.word_count,
            content_hash=prep.content_hash,
            fetched_at=fetched_at,
            relevance=rel,
            text_source=text_source,
            dates=date,
        )
        started = time.monotonic()
        verdict = index.commit(
            prep, keys[0], message, now=int(time.time()), url=item.url, source=item.source, replace=force
        )
        if m is not None:
            m.dedup_seconds.observe(time.monotonic() - started)
        outcome = self._verdict_outcome(verdict, keys)
        return replace(outcome, forced=force) if outcome.also_mark else outcome

    def _decided_meanwhile(self, keys: list[bytes], ours: str) -> Outcome:
        """The outcome of an item another task decided first: its decision, not ours."""
        prior = self.ctx.index.decisions(keys[:1])[0]
        # None: decided under the GUID only, or expired since: ours stands
        return Outcome(ours) if prior is None else prior_outcome(prior)

    def _verdict_outcome(self, v: Verdict, keys: list[bytes]) -> Outcome:
        if v.status == "seen":  # another worker decided this URL a moment ago
            assert v.prior
            return prior_outcome(v.prior)
        # the GUID too (written by finish), so the next poll skips the item by either key
        if v.status == "queued":
            detail: dict[str, Any] = {"stream_id": v.stream_id, "doc_id": v.doc_id}
            return Outcome("queued", detail=detail, also_mark=(keys[1:], decisions.queued(v.doc_id or 0)))
        nearest = (v.nearest or {}).get("id")
        return Outcome(
            "duplicate",
            detail={"duplicate_of": v.nearest},
            also_mark=(keys[1:], decisions.duplicate(nearest)),
        )

    def fail(
        self,
        item: Item,
        exc: IngestError,
        *,
        run_id: str | None,
        attempts: int = 1,
        force: bool = False,
        heal_round: int = 0,
    ) -> Outcome:
        """Record a final failure (permanent, or transient after its last retry).

        With it, the failed record that ``ingest retry`` and healing read (the item, its
        reason, its heal round) and, when the reason is transient and heal rounds are
        left, when the sweep tries it again (:func:`worker.retries.heal_delay`). A forced
        attempt (``force``) overwrites the item's earlier failed or off-topic decision.
        """
        now = datetime.now(UTC)
        entry = {
            "url": item.url,
            "source": item.source,
            "reason": exc.reason,
            "error": str(exc)[:500],
            "attempts": attempts,
            "at": now.isoformat(timespec="seconds"),
        }
        record = {
            "item": item.to_dict(),
            "reason": exc.reason,
            "attempts": attempts,
            "round": heal_round,
            "at": entry["at"],
        }
        delay = heal_delay(exc.reason, heal_round, self.settings.fetch)
        keys = item_keys(item)
        first = self.ctx.recorder.mark_final(
            keys,
            "failed",
            decisions.failed(exc.reason),
            entry,
            replace=force,
            record=record,
            heal_at=None if delay is None else now.timestamp() + delay,
        )
        if first and not isinstance(exc, PermanentError):  # given up after its retries
            self.ctx.recorder.dead_letter(entry)
        outcome = (
            Outcome("failed", reason=exc.reason, detail={"error": str(exc)[:300]})
            if first
            else self._decided_meanwhile(keys, "failed")
        )
        if run_id:
            self.finish(item, run_id, outcome)
        return outcome

    def finish(
        self, item: Item, run_id: str | None, outcome: Outcome, *, started: float | None = None
    ) -> Outcome:
        """The item's bookkeeping after its decision, in one round trip. ``started``: when
        its decision began (monotonic), for the milliseconds in its log line."""
        key = item_key(item)
        keys = self.ctx.keys
        pipe = self.ctx.redis.pipeline(transaction=False)
        if outcome.also_mark and outcome.also_mark[0]:
            self.ctx.index.mark(*outcome.also_mark, replace=outcome.forced, pipe=pipe)
        self.ctx.recorder.run_item(
            run_id,
            key,
            outcome.outcome,
            pipe=pipe,
            reason=outcome.reason,
            url=item.url,
            prior=outcome.detail.get("prior"),
            error=outcome.detail.get("error"),
        )
        pipe.delete(keys.claim(key))
        pipe.hdel(keys.inflight, key)
        pipe.execute()
        m = metrics.get()
        if m is not None:
            m.articles.labels(outcome.outcome, outcome.reason or "").inc()
        log.info(
            "article_decided",
            id=item_id(item),
            outcome=outcome.outcome,
            reason=outcome.reason,
            url=item.url,
            source=item.source,
            # the decision's own time: with a page in hand (a drain's download), from it on
            ms=round((time.monotonic() - started) * 1000, 1) if started is not None else None,
            schema_version=SCHEMA_VERSION,
        )
        return outcome
