"""When was an article published? Every candidate date, the one chosen, and why.

Pages and feeds disagree more often than one would hope: a feed stamps the time it
was generated, a CMS puts the date of the last edit in its meta tags, a URL keeps the
date of the first version. So every candidate is kept, with where it came from:

==============  ===========================================================
``json_ld``     the page's schema.org ``datePublished``
``meta``        the page's meta tags (``article:published_time`` and kin)
``feed``        the feed's date for the item (Google News and Bing News items too)
``sitemap``     the news sitemap's ``publication_date`` (or ``lastmod``) for it
``gdelt``       when GDELT saw the article (``seendate``: a crawl time, not the
                publisher's; it ranks below the publisher's own sources)
``htmldate``    htmldate's reading of the whole page (trafilatura's own)
``url``         a date in the URL's path (``/2023/08/17/``)
==============  ===========================================================

The first of these, in that order, that is not in the future wins (a candidate more
than ``FUTURE_SLACK`` ahead of now is rejected: time zones aside, an article from
the future is a wrong clock or a wrong field). Candidates more than
``CONFLICT_DAYS`` apart from the chosen one are flagged as a conflict.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from feedparser.datetimes import _parse_date
from lxml.html import HtmlElement

ORDER = ("json_ld", "meta", "feed", "sitemap", "gdelt", "htmldate", "url")
FUTURE_SLACK = timedelta(days=1)
CONFLICT_DAYS = 2

_META_NAMES = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publication_date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
)
_META_XPATH = (
    "//meta[" + " or ".join(
        f"translate(@{a},'ABCDEFGHIJKLMNOPQRSTUVWXYZ','abcdefghijklmnopqrstuvwxyz')='{n}'"
        for a in ("property", "name", "itemprop")
        for n in _META_NAMES
    ) + "]/@content"
)  # fmt: skip
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|$|[-_])")
_URL_DATE_COMPACT = re.compile(r"/((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:/|$|[-_])")


def parse(value: str | None) -> datetime | None:
    """An ISO 8601 or RFC 822 date (or date-time) as an aware UTC datetime; None if unreadable."""
    if not value or not isinstance(value, str):
        return None
    v = value.strip()
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        t = _parse_date(v)
        if not t:
            return None
        return datetime.fromtimestamp(calendar.timegm(t), tz=UTC)
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _json_ld_dates(tree: HtmlElement) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            v = node.get("datePublished")
            if isinstance(v, str):
                out.append(v)
            for k in ("@graph", "mainEntity", "mainEntityOfPage"):
                walk(node.get(k))
        elif isinstance(node, list):
            for n in node[:20]:
                walk(n)

    for script in tree.xpath('//script[@type="application/ld+json"]')[:10]:
        try:
            walk(json.loads(script.text_content()[:200_000]))
        except (ValueError, RecursionError):
            continue
    return out


def page_candidates(tree: HtmlElement) -> list[tuple[str, str]]:
    """The page's own statements of its date: JSON-LD first, then meta tags."""
    cands = [("json_ld", v) for v in _json_ld_dates(tree)[:3]]
    cands += [("meta", str(v)) for v in tree.xpath(_META_XPATH)[:3]]
    return cands


def url_date(url: str) -> str | None:
    path = url.split("?", 1)[0]
    m = _URL_DATE.search(path) or _URL_DATE_COMPACT.search(path)
    if not m:
        return None
    try:
        return datetime(int(m[1]), int(m[2]), int(m[3])).date().isoformat()
    except ValueError:
        return None


@dataclass
class Dates:
    published_at: str | None  # as the winning candidate gave it
    source: str | None  # which candidate won
    candidates: list[dict[str, str]] = field(default_factory=list)  # every readable one, in ORDER
    rejected: list[dict[str, str]] = field(default_factory=list)  # in the future
    conflict: bool = False

    @property
    def when(self) -> datetime | None:
        return parse(self.published_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "chosen": self.source,
            "candidates": self.candidates,
            "rejected_future": self.rejected,
            "conflict": self.conflict,
        }


def choose(cands: list[tuple[str, str | None]], now: datetime | None = None) -> Dates:
    """The publication date from the candidates (source, value), with its provenance."""
    now = now or datetime.now(UTC)
    readable: list[tuple[str, str, datetime]] = []
    seen: set[tuple[str, str]] = set()
    for source, value in sorted(cands, key=lambda c: ORDER.index(c[0]) if c[0] in ORDER else len(ORDER)):
        d = parse(value)
        if d is None or value is None or (source, value) in seen:
            continue
        seen.add((source, value))
        readable.append((source, value, d))
    future = [(s, v) for s, v, d in readable if d > now + FUTURE_SLACK]
    ok = [(s, v, d) for s, v, d in readable if d <= now + FUTURE_SLACK]
    out = Dates(
        published_at=ok[0][1] if ok else None,
        source=ok[0][0] if ok else None,
        candidates=[{"source": s, "value": v} for s, v, _ in ok],
        rejected=[{"source": s, "value": v} for s, v in future],
    )
    if ok:
        chosen = ok[0][2]
        out.conflict = any(abs((d - chosen).total_seconds()) > CONFLICT_DAYS * 86400 for _, _, d in ok[1:])
    return out
