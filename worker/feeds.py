"""Turn a feed document (RSS 0.9x/1.0/2.0, Atom) into the items to ingest."""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import courlan
import feedparser
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


def _published(entry: Any) -> str | None:
    t = entry.get("published_parsed") or entry.get("updated_parsed")
    if not t:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(t), tz=UTC).isoformat()
    except (OverflowError, ValueError, TypeError):
        return None


def parse_feed(body: bytes, *, source: str, base_url: str, max_items: int) -> list[Item]:
    """Items of a feed, in feed order, links checked and canonicalised, at most ``max_items``.

    feedparser is given the bytes we already size-capped, never a URL, so it
    makes no request of its own (nor does it load external entities or DTDs).
    A feed that declares entities is refused (``feed_entities``): no news feed
    needs them, and feedparser would still expand the "safe" ones its
    sanitizer keeps (one 10 KB entity named 2,000 times is 20 MB of title).
    A GUID that the document gives to several different links identifies
    nothing, so those items are keyed by their URL alone.
    """
    # a declared XML type, so feedparser does not flag every feed "bozo" for lacking one
    headers = {"content-location": base_url, "content-type": "application/xml"}
    # checked on the text feedparser will read, whatever encoding (UTF-16, UTF-7 ...) it came in
    body = convert_to_utf8(headers, body, {})
    if b"<!ENTITY" in body:
        raise BadFeed(f"feed from {base_url} declares XML entities; refused", reason="feed_entities")
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
        items.append(
            Item(
                url=link.strip(),
                canonical_url=canon,
                source=source,
                guid=(entry.get("id") or None),
                title=(entry.get("title") or None),
                published_at=_published(entry),
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
