"""RSS/Atom feeds (kind ``feed``), and any search engine's RSS (kind ``search``, ``{query}``
in ``url``): a conditional GET, then :func:`worker.feeds.parse_feed`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from worker.errors import BadFeed, TooLarge
from worker.feeds import Item, parse_feed
from worker.fetch import FetchResult
from worker.sources import Found, Request

if TYPE_CHECKING:
    from worker.context import Context
    from worker.settings import SourceSettings

ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


def requests(source: SourceSettings) -> list[Request]:
    assert source.url
    if source.kind == "search":
        return [Request(source.url.replace("{query}", quote_plus(q)), lang) for lang, q in source.searches]
    return [Request(source.url, source.lang)]


def fetch(
    ctx: Context,
    url: str,
    state: dict[str, str],
    *,
    accept: str = ACCEPT,
    min_interval: float | None = None,
    max_wait: float | None = None,
) -> FetchResult:
    """GET a source's document, conditionally (the validators in ``state``), in its
    host's pace. A body longer than ``fetch.max_feed_bytes`` is cut there, not refused:
    the newest items of a huge feed are still taken (:func:`worker.feeds.trim_feed`)."""

    def before_request(u: str) -> None:
        ctx.politeness.throttle(u, min_interval=min_interval, max_wait=max_wait)

    return ctx.fetcher.get(
        url,
        max_bytes=ctx.settings.fetch.max_feed_bytes,
        etag=state.get("etag"),
        last_modified=state.get("last_modified"),
        accept=accept,
        truncate=True,
        before_request=before_request,
    )


def validators(res: FetchResult) -> dict[str, str]:
    return {k: v for k, v in (("etag", res.etag), ("last_modified", res.last_modified)) if v}


def parse(ctx: Context, res: FetchResult, name: str) -> list[Item]:
    """The feed's items; a feed cut at ``fetch.max_feed_bytes`` that holds no whole item
    before the cut is refused as ``too_large`` (not as a broken feed)."""
    fs = ctx.settings.fetch
    try:
        return parse_feed(res.content, source=name, base_url=res.url, max_items=fs.max_items_per_poll)
    except BadFeed as exc:
        if len(res.content) >= fs.max_feed_bytes:
            raise TooLarge(
                f"feed {res.url} is larger than {fs.max_feed_bytes} bytes, with no whole item before that",
                reason="too_large",
            ) from exc
        raise


def poll(ctx: Context, source: SourceSettings, request: Request, state: dict[str, str]) -> Found:
    return poll_url(ctx, source.name, request.url, state, lang=request.lang)


def poll_url(ctx: Context, name: str, url: str, state: dict[str, str], *, lang: str | None = None) -> Found:
    """One feed at ``url`` (also an ad-hoc ``ingest fetch --feed``)."""
    res = fetch(ctx, url, state)
    if res.not_modified:
        return Found(not_modified=True, validators=validators(res))
    items = parse(ctx, res, name)
    if lang:
        items = [replace(i, lang=lang) for i in items]
    return Found(items=items, validators=validators(res), found=len(items))
