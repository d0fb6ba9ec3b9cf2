"""The GDELT DOC 2.0 API's article list (kind ``gdelt``), as JSON.

``/api/v2/doc/doc?query=…&mode=artlist&format=json&maxrecords=250&timespan=…``:
each article gives url, title, seendate, domain, language and sourcecountry. GDELT
answers a query it refuses with HTTP 200 and a plain-text sentence ("Queries containing
OR'd terms must be surrounded by ()", "The specified phrase is too short" ...): that
is a poll error (``gdelt_error``) carrying GDELT's own words. It caps a list at 250
records, so each poll asks only for what appeared since the last successful one
(``timespan``, in minutes, from the request's state), or ``max_age_seconds`` the
first time. GDELT asks for one request every 5 s: ``request_interval_seconds``
(default 5 here) is its own pace, on top of the host's shared one.

GDELT searches the machine translation of every language it monitors; an entry of
``queries`` in a language other than English restricts that request to articles in
that language (``sourcelang:``), unless its query already says which.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from worker.errors import BadFeed
from worker.feeds import Item, canonical_url, is_fetchable
from worker.sources import Found, Request
from worker.sources import feed as feed_kind

if TYPE_CHECKING:
    from worker.context import Context
    from worker.settings import SourceSettings

ENDPOINT = "https://api.gdeltproject.org/api/v2/doc/doc"
MAX_RECORDS = 250
REQUEST_INTERVAL = 5.0
MIN_TIMESPAN_MINUTES = 15  # GDELT's shortest
MAX_TIMESPAN_MINUTES = 90 * 1440  # its longest: three months
OVERLAP_MINUTES = 15  # asked again: GDELT adds articles a little after it saw them

# language code -> GDELT's sourcelang name
SOURCELANG = {
    "en": "english",
    "ru": "russian",
    "zh": "chinese",
    "uk": "ukrainian",
    "be": "belarusian",
    "pl": "polish",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "ja": "japanese",
    "it": "italian",
    "pt": "portuguese",
    "lt": "lithuanian",
    "lv": "latvian",
    "cs": "czech",
    "ko": "korean",
    "tr": "turkish",
    "ar": "arabic",
    "kk": "kazakh",
}
# GDELT's language names -> codes (the "language" of an article)
LANG_CODE = {name: code for code, name in SOURCELANG.items()}


def _query(lang: str | None, query: str) -> str:
    if lang and lang != "en" and "sourcelang:" not in query.lower():
        name = SOURCELANG.get(lang.split("-")[0])
        if name:
            return f"{query} sourcelang:{name}"
    return query


def requests(source: SourceSettings) -> list[Request]:
    base = source.url or ENDPOINT
    sep = "&" if "?" in base else "?"
    return [
        Request(
            f"{base}{sep}query={quote_plus(_query(lang, q))}&mode=artlist&format=json"
            f"&maxrecords={MAX_RECORDS}&sort=datedesc",
            lang,
        )
        for lang, q in source.searches
    ]


def timespan_minutes(state: dict[str, str], max_age_seconds: int, now: float | None = None) -> int:
    """Minutes back to ask for: since the last success (with an overlap), else ``max_age``."""
    now = time.time() if now is None else now
    since = float(state["last_success"]) if state.get("last_success") else None
    if since is None or now - since > max_age_seconds:
        minutes = max_age_seconds / 60
    else:
        minutes = (now - since) / 60 + OVERLAP_MINUTES
    return int(min(MAX_TIMESPAN_MINUTES, max(MIN_TIMESPAN_MINUTES, math.ceil(minutes))))


def _seen(value: Any) -> str | None:
    try:
        return datetime.strptime(str(value), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def parse(body: bytes, *, source: str, base_url: str, max_items: int) -> list[Item]:
    """The items of a GDELT JSON article list; GDELT's plain-text refusal raises BadFeed."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        message = " ".join(text.split())[:300] or "an empty answer"
        raise BadFeed(f"GDELT refused the query: {message}", reason="gdelt_error") from None
    if not isinstance(doc, dict):
        raise BadFeed(
            f"GDELT answered JSON that is not an article list from {base_url}", reason="gdelt_error"
        )
    items: list[Item] = []
    seen = set()
    for art in doc.get("articles") or []:
        url = str(art.get("url") or "").strip() if isinstance(art, dict) else ""
        if not is_fetchable(url):
            continue
        canon = canonical_url(url)
        if canon in seen:
            continue
        seen.add(canon)
        lang = LANG_CODE.get(str(art.get("language") or "").lower())
        items.append(
            Item(
                url=url,
                canonical_url=canon,
                source=source,
                title=str(art.get("title") or "") or None,
                published_at=_seen(art.get("seendate")),
                date_source="gdelt",
                publisher=None,
                lang=lang,
            )
        )
        if len(items) >= max_items:
            break
    return items


def poll(ctx: Context, source: SourceSettings, request: Request, state: dict[str, str]) -> Found:
    minutes = timespan_minutes(state, source.max_age_seconds)
    url = f"{request.url}&timespan={minutes}min"
    interval = source.request_interval_seconds or REQUEST_INTERVAL
    # a source's requests in several languages wait their turns at GDELT in this poll
    wait = max(ctx.settings.fetch.rate_limit_max_wait_seconds, interval * len(source.searches) + 5)
    res = feed_kind.fetch(ctx, url, {}, accept="application/json", min_interval=interval, max_wait=wait)
    items = parse(
        res.content, source=source.name, base_url=url, max_items=ctx.settings.fetch.max_items_per_poll
    )
    return Found(items=items, found=len(items))
