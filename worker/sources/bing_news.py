"""Bing News search RSS (kind ``bing_news``; undocumented: ``/news/search?q=…&format=rss``).

Its item links are click-tracking wrappers, ``bing.com/news/apiclick.aspx?…&url=<the
publisher's URL, percent-encoded>&…``: each is unwrapped before it is deduplicated or
fetched. A wrapper whose target is not http(s), or points back at Bing, is left out
(``bing_bad_link``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote_plus, urlsplit

from worker.feeds import canonical_url, is_fetchable
from worker.sources import Found, Request
from worker.sources import feed as feed_kind

if TYPE_CHECKING:
    from worker.context import Context
    from worker.settings import SourceSettings

ENDPOINT = "https://www.bing.com/news/search"

# language -> Bing market
MARKETS = {
    "en": "en-US",
    "ru": "ru-RU",
    "zh": "zh-CN",
    "uk": "uk-UA",
    "be": "ru-RU",
    "pl": "pl-PL",
    "de": "de-DE",
    "fr": "fr-FR",
    "es": "es-ES",
    "ja": "ja-JP",
    "it": "it-IT",
    "pt": "pt-BR",
    "ko": "ko-KR",
    "tr": "tr-TR",
}


def requests(source: SourceSettings) -> list[Request]:
    base = source.url or ENDPOINT
    sep = "&" if "?" in base else "?"
    out = []
    for lang, query in source.searches:
        lang = lang or "en"
        mkt = MARKETS.get(lang) or MARKETS.get(lang.split("-")[0]) or lang
        out.append(Request(f"{base}{sep}q={quote_plus(query)}&format=rss&mkt={mkt}&setlang={lang}", lang))
    return out


def _is_bing(host: str | None) -> bool:
    host = (host or "").lower().rstrip(".")
    return host == "bing.com" or host.endswith(".bing.com")


def unwrap(link: str, origin: str | None = None) -> str | None:
    """The publisher's URL of a Bing link (a link that is no wrapper is returned as is),
    or None when the wrapper points nowhere we may go."""
    parts = urlsplit(link)
    ours = _is_bing(parts.hostname) or f"{parts.scheme}://{parts.netloc}" == origin
    if not (ours and parts.path.lower().endswith("/apiclick.aspx")):
        return None if _is_bing(parts.hostname) else link
    target = (parse_qs(parts.query).get("url") or [""])[0].strip()
    if not is_fetchable(target) or _is_bing(urlsplit(target).hostname):
        return None
    return target


def poll(ctx: Context, source: SourceSettings, request: Request, state: dict[str, str]) -> Found:
    res = feed_kind.fetch(ctx, request.url, state, min_interval=source.request_interval_seconds)
    if res.not_modified:
        return Found(not_modified=True, validators=feed_kind.validators(res))
    items = feed_kind.parse(ctx, res, source.name)
    parts = urlsplit(request.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    found = Found(validators=feed_kind.validators(res), found=len(items))
    seen = set()
    for item in items:
        target = unwrap(item.url, origin)
        if target is None:
            found.problems["bing_bad_link"] += 1
            continue
        canon = canonical_url(target)
        if canon in seen:
            continue
        seen.add(canon)
        via = item.url if target != item.url else None
        found.items.append(replace(item, url=target, canonical_url=canon, via=via, lang=request.lang))
    return found
