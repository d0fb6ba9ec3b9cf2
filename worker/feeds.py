"""Turn a feed document (RSS 0.9x/1.0/2.0, Atom) into the items to ingest."""

from __future__ import annotations

import calendar
import html
import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import courlan
import feedparser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8

from worker.errors import BadFeed
from worker.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Item:
    """One article a source points at; what a process task receives."""

    url: str
    canonical_url: str
    source: str
    guid: str | None = None
    title: str | None = None
    published_at: str | None = None
    # where published_at comes from (worker/dates.py): None for a feed's own date,
    # "sitemap" for a news sitemap's, "gdelt" for the time GDELT saw the article
    date_source: str | None = None
    # where it was found, when not at the publisher: the aggregator's link (Google News,
    # Bing News), the publisher's site the aggregator names (``<source url>``), and the
    # language the source was asked in or gives (sitemaps, GDELT)
    via: str | None = None
    publisher: str | None = None
    lang: str | None = None
    # the size (worker.page_check.text_size) of the feed's own text for the item, its
    # summary or content:encoded; and that text itself when it is a whole article
    # (FULL_TEXT_WORDS or more), used when the page turns out to be a wall
    feed_words: int | None = None
    feed_text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Item:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def canonical_url(url: str) -> str:
    """The URL that identifies an article: normalised, tracking parameters and fragment removed."""
    try:
        norm = courlan.normalize_url(url.strip(), strict=False)
    except (ValueError, AttributeError):
        norm = url.strip()
    parts = urlsplit(norm)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def is_fetchable(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)


FULL_TEXT_WORDS = 150
FEED_TEXT_MAX_CHARS = 100_000
_BLOCK_END = re.compile(r"</(?:p|div|h[1-6]|li|blockquote)\s*>|<br\s*/?>", re.I)
_TAG = re.compile(r"<[^>]*>")


def _plain(html_text: str) -> str:
    """A feed's (sanitised) HTML as plain text, one paragraph per line."""
    text = html.unescape(_TAG.sub(" ", _BLOCK_END.sub("\n", html_text)))
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _feed_text(entry: Any) -> tuple[int | None, str | None]:
    """(size of the item's own text in the feed, that text when it is a whole article)."""
    from worker.page_check import text_size

    content = " ".join(c.get("value", "") for c in entry.get("content") or [] if isinstance(c, dict))
    full = _plain(content) if content else ""
    summary = _plain(entry.get("summary") or "")
    words = max(text_size(full), text_size(summary))
    if not words:
        return None, None
    return words, (full[:FEED_TEXT_MAX_CHARS] if text_size(full) >= FULL_TEXT_WORDS else None)


def _published(entry: Any) -> str | None:
    t = entry.get("published_parsed") or entry.get("updated_parsed")
    if not t:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(t), tz=UTC).isoformat()
    except (OverflowError, ValueError, TypeError):
        return None


# a feed longer than this is cut to its newest items before feedparser reads it (see trim_feed)
TRIM_ABOVE_BYTES = 256 * 1024
_ITEM = re.compile(rb"<(item|entry)[\s>].*?</\1\s*>", re.S)
_DATE = re.compile(rb"<(?:pubDate|published|updated|dc:date)(?:\s[^>]*)?>\s*([^<]{6,80}?)\s*</", re.S)


def trim_feed(body: bytes, max_items: int) -> tuple[bytes, int]:
    """The feed cut to its newest ``max_items`` items, and how many were dropped.

    feedparser reads about 0.25 MB/s, so a feed of 10,000 items (3.4 MB) would hold a
    worker for 14 s to give items we do not take. The items are found with one regular
    expression over the bytes and ordered by their own date (undated ones after, in feed
    order); the document is rebuilt around the ones kept, and a body cut short by the
    download cap is closed after its last whole item. ``body`` is UTF-8 (as feedparser
    will read it).
    """
    spans = [(m.start(), m.end()) for m in _ITEM.finditer(body)]
    if not spans:
        return body, 0
    head, tail = body[: spans[0][0]], body[spans[-1][1] :]
    closed = any(t in tail for t in (b"</rss", b"</feed", b"</rdf:RDF", b"</channel"))
    if len(spans) <= max_items and closed:
        return body, 0
    if not closed:
        tail = (
            b"</feed>" if b"<feed" in head else b"</rdf:RDF>" if b"<rdf:RDF" in head else b"</channel></rss>"
        )

    def when(span: tuple[int, int]) -> float:
        m = _DATE.search(body, span[0], span[1])
        if not m:
            return float("-inf")
        t = _parse_date(m.group(1).decode("utf-8", "replace"))
        return float(calendar.timegm(t)) if t else float("-inf")

    kept = sorted(sorted(spans, key=when, reverse=True)[:max_items])
    return head + b"".join(body[a:b] for a, b in kept) + tail, len(spans) - len(kept)


def parse_feed(body: bytes, *, source: str, base_url: str, max_items: int) -> list[Item]:
    """Items of a feed, in feed order, links checked and canonicalised, at most ``max_items``.

    feedparser is given the bytes we already size-capped, never a URL, so it
    makes no request of its own (nor does it load external entities or DTDs).
    A feed that declares entities is refused (``feed_entities``): no news feed
    needs them, and feedparser would still expand the "safe" ones its
    sanitizer keeps (one 10 KB entity named 2,000 times is 20 MB of title).
    A GUID that the document gives to several different links identifies
    nothing, so those items are keyed by their URL alone. A long feed is first cut
    to its newest ``max_items`` (:func:`trim_feed`).
    """
    # a declared XML type, so feedparser does not flag every feed "bozo" for lacking one
    headers = {"content-location": base_url, "content-type": "application/xml"}
    # checked on the text feedparser will read, whatever encoding (UTF-16, UTF-7 ...) it came in
    body = convert_to_utf8(headers, body, {})
    if b"<!ENTITY" in body:
        raise BadFeed(f"feed from {base_url} declares XML entities; refused", reason="feed_entities")
    if len(body) > TRIM_ABOVE_BYTES:
        body, dropped = trim_feed(body, max_items)
        if dropped:
            log.warning("feed_trimmed", source=source, url=base_url, kept=max_items, dropped=dropped)
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise BadFeed(f"feed from {base_url} cannot be parsed: {parsed.get('bozo_exception')!s}"[:300])
    if parsed.bozo:
        log.warning("feed_malformed", source=source, url=base_url, error=str(parsed.bozo_exception)[:200])
    items: list[Item] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        link = entry.get("link") or ""
        if not link and entry.get("id", "").startswith(("http://", "https://")):
            link = entry["id"]
        if not is_fetchable(link):
            continue  # javascript:, data:, file: and the like are dropped here
        canon = canonical_url(link)
        if canon in seen:
            continue
        seen.add(canon)
        publisher = (entry.get("source") or {}).get("href") or None
        feed_words, feed_text = _feed_text(entry)
        items.append(
            Item(
                url=link.strip(),
                canonical_url=canon,
                source=source,
                guid=(entry.get("id") or None),
                title=(entry.get("title") or None),
                published_at=_published(entry),
                publisher=publisher if publisher and is_fetchable(publisher) else None,
                feed_words=feed_words,
                feed_text=feed_text,
            )
        )
        if len(items) >= max_items:
            log.warning("feed_truncated", source=source, url=base_url, max_items=max_items)
            break
    reused = {g for g, n in Counter(i.guid for i in items if i.guid).items() if n > 1}
    if reused:
        log.warning("feed_guid_reused", source=source, url=base_url, guids=len(reused))
        items = [replace(i, guid=None) if i.guid in reused else i for i in items]
    return items
