"""News sitemaps (kind ``sitemap``): given by ``url``, or found from ``site``'s robots.txt.

Many outlets list their newest articles as ``<news:news>`` entries (publication name and
language, publication_date, title, keywords). ultimate-sitemap-parser parses each
document (expat; it refuses DTDs and entities); we fetch them ourselves, so every
request has our SSRF guard, caps, timeouts and the host's pace, and a gzipped sitemap
is inflated only up to ``fetch.max_feed_bytes``; a longer document is cut there and
the entries before the cut are read (``sitemap_truncated``).

An index is followed down ``max_depth`` levels, newest children first (by their
``<lastmod>``), ``max_sitemaps`` documents at most per poll, each once (an index that
loops ends). Only entries dated after the last successful poll (less an hour), or
within ``max_age_seconds``, are taken, newest first; undated entries are not (a site's
whole archive would flood in). A child sitemap that fails is counted and the others
go on; the source's own document failing fails the request.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from usp.objects.sitemap import AbstractIndexSitemap, InvalidSitemap
from usp.tree import sitemap_from_str

from worker.errors import BadFeed, IngestError, TooLarge
from worker.feeds import Item, canonical_url, is_fetchable
from worker.logs import get_logger
from worker.sources import Found, Request
from worker.sources import feed as feed_kind

if TYPE_CHECKING:
    from worker.context import Context
    from worker.settings import SourceSettings

log = get_logger(__name__)
logging.getLogger("usp").setLevel(logging.ERROR)  # it warns about every odd entry

ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.8, */*;q=0.5"
KNOWN_PATHS = ("/news-sitemap.xml", "/sitemap_news.xml", "/sitemap-news.xml", "/sitemap.xml")
OVERLAP_SECONDS = 3600
_CHILD = re.compile(
    rb"<sitemap>\s*<loc>\s*([^<]+?)\s*</loc>(?:\s*<lastmod>\s*([^<]+?)\s*</lastmod>)?", re.S | re.I
)


def requests(source: SourceSettings) -> list[Request]:
    return [Request(source.url or source.site or "", source.lang)]


def _when(value: str | bytes | None) -> float | None:
    if not value:
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def inflate(body: bytes, cap: int, url: str) -> bytes:
    """A gzipped sitemap's XML, at most ``cap`` bytes (a bomb is refused, not inflated)."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, cap + 1)
    except zlib.error as exc:
        raise BadFeed(f"sitemap {url} is not valid gzip: {exc}", reason="bad_gzip") from exc
    if len(out) > cap:
        raise TooLarge(f"sitemap {url} inflates past {cap} bytes", reason="too_large")
    return out


def cutoff(state: dict[str, str], max_age_seconds: int, now: float) -> float:
    oldest = now - max_age_seconds
    if state.get("last_success"):
        return max(oldest, float(state["last_success"]) - OVERLAP_SECONDS)
    return oldest


def roots(ctx: Context, source: SourceSettings) -> list[str]:
    """The sitemaps to start from: ``url``, or those ``site``'s robots.txt lists (or the
    usual news sitemap paths when it lists none)."""
    if source.url:
        return [source.url]
    assert source.site
    listed = list(ctx.politeness.robots(source.site).sitemaps)
    site = source.site.rstrip("/")
    return [u for u in listed if is_fetchable(u)] or [site + p for p in KNOWN_PATHS]


def poll(ctx: Context, source: SourceSettings, request: Request, state: dict[str, str]) -> Found:
    now = time.time()
    since = cutoff(state, source.max_age_seconds, now)
    cap = ctx.settings.fetch.max_feed_bytes
    found = Found()
    dated: list[tuple[float, Item]] = []
    seen_urls: set[str] = set()
    visited: set[str] = set()
    start = roots(ctx, source)
    guessed = not source.url and start[0].endswith(KNOWN_PATHS)
    queue: list[tuple[int, str]] = [(0, u) for u in start]
    fetched = 0
    problems: Counter[str] = Counter()
    while queue and fetched < source.max_sitemaps:
        depth, url = queue.pop(0)
        key = canonical_url(url)
        if key in visited:
            continue
        visited.add(key)
        fetched += 1
        try:
            res = feed_kind.fetch(ctx, url, {}, accept=ACCEPT, min_interval=source.request_interval_seconds)
            body = inflate(res.content, cap, url)
        except IngestError as exc:
            if depth == 0 and not guessed and len(start) == 1:
                raise
            problems[f"sitemap_{exc.reason}"] += 1
            log.info("sitemap_failed", source=source.name, url=url, reason=exc.reason)
            continue
        if len(res.content) >= cap:  # cut at the cap: the entries before the cut are read
            problems["sitemap_truncated"] += 1
            log.warning("sitemap_truncated", source=source.name, url=url, max_bytes=cap)
        doc = sitemap_from_str(body.decode("utf-8", "replace"))
        if isinstance(doc, InvalidSitemap):
            if depth == 0 and not guessed and len(start) == 1:
                raise BadFeed(f"{url} is not a sitemap: {doc.reason}"[:300], reason="bad_sitemap")
            problems["bad_sitemap"] += 1
            continue
        if isinstance(doc, AbstractIndexSitemap):
            if depth >= source.max_depth:
                problems["sitemap_too_deep"] += 1
                continue
            children = []
            for m in _CHILD.finditer(body):
                child = m.group(1).decode("utf-8", "replace").strip()
                when = _when(m.group(2))
                if is_fetchable(child) and (when is None or when >= since):
                    children.append((when if when is not None else float("-inf"), child))
            children.sort(key=lambda c: c[0], reverse=True)
            queue += [(depth + 1, c) for _, c in children]
            continue
        for page in doc.all_pages():
            found.found += 1
            story = page.news_story
            when_dt = (story.publish_date if story else None) or page.last_modified
            if when_dt is None:
                continue
            when = (when_dt if when_dt.tzinfo else when_dt.replace(tzinfo=UTC)).timestamp()
            if when < since or not is_fetchable(page.url):
                continue
            canon = canonical_url(page.url)
            if canon in seen_urls:
                continue
            seen_urls.add(canon)
            lang = (story.publication_language if story else None) or request.lang
            dated.append(
                (
                    when,
                    Item(
                        url=page.url,
                        canonical_url=canon,
                        source=source.name,
                        title=(story.title if story else None) or None,
                        published_at=datetime.fromtimestamp(when, UTC).isoformat(),
                        date_source="sitemap",
                        lang=lang.split("-")[0].lower() if lang else None,
                    ),
                )
            )
    if queue:
        problems["sitemap_limit"] += 1
        log.info("sitemap_limit", source=source.name, fetched=fetched, left=len(queue))
    dated.sort(key=lambda d: d[0], reverse=True)
    found.items = [item for _, item in dated[: ctx.settings.fetch.max_items_per_poll]]
    found.problems = problems
    return found
