"""Google News search RSS (kind ``google_news``), each link decoded to the publisher's URL.

Since mid-2024 an item's link (``news.google.com/rss/articles/<id>``) no longer carries
the publisher's URL, and fetched as given it lands on a JavaScript page. Decoding an id
takes two requests to Google: the article page gives a signature and a timestamp
(``data-n-a-sg``, ``data-n-a-ts``), and the batch endpoint
(``/_/DotsSplashUi/data/batchexecute``, RPC ``Fbv4je``/``garturlreq``) answers the URL,
for several ids at once. Older ids still hold the URL in their base64 payload and
need no request.

Both requests go through our own client (its SSRF guard, caps and timeouts) and wait
for news.google.com's shared pace, like any request to that host; a decoded id is kept
in Redis (``gnews:<id hash>``, :mod:`worker.keys`) for ``DECODED_TTL``, so an item is
decoded once whatever the number of polls, workers or machines. Google answers 429
after a burst: then the poll stops decoding, hands on what it has, and the items not
decoded yet wait for the next poll (the feed's validators are not kept, so it is read
again), while the source backs off. An id that cannot be decoded is counted as
``gnews_undecodable`` and left out; it is asked again after ``UNDECODABLE_TTL``. A poll
decodes for at most half its task's time limit (shared by its languages); what is left
waits for the next poll in the same way, so a backlog is worked off over several polls.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote_plus, urlsplit

from worker.errors import DomainBusy, IngestError, RateLimited
from worker.feeds import canonical_url, is_fetchable
from worker.logs import get_logger
from worker.redisconn import as_str
from worker.sources import Found, Request
from worker.sources import feed as feed_kind

if TYPE_CHECKING:
    from worker.context import Context
    from worker.settings import SourceSettings

log = get_logger(__name__)

ENDPOINT = "https://news.google.com/rss/search"
BATCH_PATH = "/_/DotsSplashUi/data/batchexecute"
BATCH_SIZE = 10  # ids per batchexecute request
DECODED_TTL = 30 * 86400
UNDECODABLE_TTL = 6 * 3600
UNDECODABLE = "!"

# Google News editions: language -> (hl, gl, ceid). Languages it has no edition in
# (Belarusian ...) are searched in the edition of a neighbour that carries them.
EDITIONS: dict[str, tuple[str, str, str]] = {
    "en": ("en-US", "US", "US:en"),
    "ru": ("ru", "RU", "RU:ru"),
    "zh": ("zh-CN", "CN", "CN:zh-Hans"),
    "zh-Hant": ("zh-TW", "TW", "TW:zh-Hant"),
    "uk": ("uk", "UA", "UA:uk"),
    "be": ("ru", "BY", "BY:ru"),
    "pl": ("pl", "PL", "PL:pl"),
    "de": ("de", "DE", "DE:de"),
    "fr": ("fr", "FR", "FR:fr"),
    "es": ("es-419", "US", "US:es-419"),
    "ja": ("ja", "JP", "JP:ja"),
    "it": ("it", "IT", "IT:it"),
    "pt": ("pt-BR", "BR", "BR:pt-419"),
    "lt": ("lt", "LT", "LT:lt"),
    "lv": ("lv", "LV", "LV:lv"),
    "cs": ("cs", "CZ", "CZ:cs"),
    "ko": ("ko", "KR", "KR:ko"),
    "tr": ("tr", "TR", "TR:tr"),
    "ar": ("ar", "EG", "EG:ar"),
    "kk": ("ru", "KZ", "KZ:ru"),
}

_ARTICLE = re.compile(r"^/(?:rss/)?(?:articles|read)/([A-Za-z0-9_-]+)$")
_SIG = re.compile(r'data-n-a-sg="([^"]+)"')
_TS = re.compile(r'data-n-a-ts="([^"]+)"')


def edition(lang: str | None) -> tuple[str, str, str]:
    if not lang:
        return EDITIONS["en"]
    return (
        EDITIONS.get(lang)
        or EDITIONS.get(lang.split("-")[0])
        or (lang, lang.upper(), f"{lang.upper()}:{lang}")
    )


def requests(source: SourceSettings) -> list[Request]:
    base = source.url or ENDPOINT
    out = []
    for lang, query in source.searches:
        hl, gl, ceid = edition(lang)
        sep = "&" if "?" in base else "?"
        out.append(
            Request(f"{base}{sep}q={quote_plus(query)}&hl={hl}&gl={gl}&ceid={quote_plus(ceid)}", lang or "en")
        )
    return out


def article_id(url: str, origin: str | None = None) -> str | None:
    """The id of a Google News article link (on news.google.com, or on ``origin``: the
    search endpoint's, when it is not Google's), or None when ``url`` is not one."""
    parts = urlsplit(url)
    google = (parts.hostname or "") == "news.google.com"
    if not google and f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    m = _ARTICLE.match(parts.path)
    return m.group(1) if m else None


def url_in_id(art_id: str) -> str | None:
    """The publisher's URL carried in an old-style id (base64 of a small protobuf:
    08 13 22, a varint length, the URL), or None when the id needs Google to decode."""
    try:
        raw = base64.urlsafe_b64decode(art_id + "=" * (-len(art_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(b"\x08\x13\x22"):
        return None
    pos, length, shift = 3, 0, 0
    while pos < len(raw):
        byte = raw[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    url = raw[pos : pos + length].decode("utf-8", "replace")
    return url if url.startswith(("http://", "https://")) and is_fetchable(url) else None


def signature(html: str) -> tuple[str, str] | None:
    """The signature and timestamp Google's article page gives for its batch endpoint."""
    sig, ts = _SIG.search(html), _TS.search(html)
    return (sig.group(1), ts.group(1)) if sig and ts else None


def batch_form(ids: list[tuple[str, str, str]]) -> dict[str, str]:
    """The batchexecute form asking for the URLs of ``ids`` ((id, timestamp, signature)),
    each envelope tagged with its index, which the answer repeats."""
    context: list[Any] = [
        ["X", "X", ["X", "X"], None, None, 1, 1, "US:en", None, 1, None, None, None, None, None, 0, 1],
        *("X", "X", 1, [1, 1, 1], 1, 1, None, 0, 0, None, 0),
    ]
    envelopes = []
    for n, (art_id, ts, sig) in enumerate(ids):
        inner = ["garturlreq", context, art_id, int(ts) if ts.isdigit() else ts, sig]
        envelopes.append(["Fbv4je", json.dumps(inner, separators=(",", ":")), None, str(n)])
    return {"f.req": json.dumps([envelopes], separators=(",", ":"))}


def batch_urls(body: str) -> dict[int, str]:
    """index -> publisher URL, from a batchexecute answer (``)]}'`` and then JSON rows,
    possibly in length-prefixed chunks)."""
    out: dict[int, str] = {}
    for rows in _json_chunks(body):
        for row in rows if isinstance(rows, list) else []:
            if not (
                isinstance(row, list) and len(row) >= 3 and row[0] == "wrb.fr" and isinstance(row[2], str)
            ):
                continue
            try:
                payload = json.loads(row[2])
            except ValueError:
                continue
            if not (isinstance(payload, list) and len(payload) > 1 and payload[0] == "garturlres"):
                continue
            tag = next((c for c in reversed(row[3:]) if c is not None), None)
            if isinstance(payload[1], str) and str(tag).isdigit():
                out[int(str(tag))] = payload[1]
    return out


def _json_chunks(body: str) -> Iterator[Any]:
    body = body.removeprefix(")]}'").lstrip()
    dec = json.JSONDecoder()
    pos = 0
    while pos < len(body):
        while pos < len(body) and (body[pos].isspace() or body[pos].isdigit()):
            pos += 1  # chunk lengths
        if pos >= len(body):
            break
        try:
            value, pos = dec.raw_decode(body, pos)
        except ValueError:
            return
        yield value


def poll(ctx: Context, source: SourceSettings, request: Request, state: dict[str, str]) -> Found:
    res = feed_kind.fetch(ctx, request.url, state, min_interval=source.request_interval_seconds)
    if res.not_modified:
        return Found(not_modified=True, validators=feed_kind.validators(res))
    items = feed_kind.parse(ctx, res, source.name)
    found = Found(validators=feed_kind.validators(res), found=len(items))
    # a poll decodes for at most half its task's time limit, shared by its languages: at
    # one request a second to Google, a backlog is worked off over several polls
    budget = ctx.settings.worker.task_soft_time_limit_seconds / 2 / max(1, len(source.searches))
    decoder = Decoder(ctx, request.url, source.request_interval_seconds, deadline=time.monotonic() + budget)
    decoded = decoder.decode([i.url for i in items])
    for item in items:
        target = decoded.get(item.url)
        if article_id(item.url, decoder.origin) is None:
            target = item.url  # already a publisher's link
        if target is None:
            found.waiting += 1
        elif target == UNDECODABLE:
            found.problems["gnews_undecodable"] += 1
        else:
            found.items.append(
                replace(
                    item, url=target, canonical_url=canonical_url(target), via=item.url, lang=request.lang
                )
            )
    if decoder.stopped is not None:
        found.error, found.message = decoder.stopped.reason, str(decoder.stopped)[:300]
        found.retry_after = getattr(decoder.stopped, "retry_after", None)
    if found.waiting:
        found.validators = {}  # read the whole feed again next time: its undecoded items are in it
        log.info("gnews_waiting", source=source.name, waiting=found.waiting, reason=found.error)
    return found


class Decoder:
    """Decodes Google News links for one poll: the cache, then Google, in its pace."""

    def __init__(self, ctx: Context, search_url: str, min_interval: float | None, deadline: float = math.inf):
        self.ctx = ctx
        self.r = ctx.redis
        self.keys = ctx.keys
        parts = urlsplit(search_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        qs = parse_qs(parts.query)
        self.locale = "&".join(f"{k}={quote_plus(qs[k][0])}" for k in ("hl", "gl", "ceid") if k in qs)
        self.min_interval = min_interval
        self.stopped: IngestError | None = None  # Google asked us to slow down
        self.deadline = deadline  # time.monotonic(): no request to Google after it (the rest wait)

    def _cache_key(self, art_id: str) -> str:
        return self.keys.gnews_url(hashlib.sha1(art_id.encode()).hexdigest())

    def decode(self, links: list[str]) -> dict[str, str]:
        """link -> publisher URL (or UNDECODABLE); the links left out were not decoded
        this time (Google asked us to wait)."""
        ids = {link: art_id for link in links if (art_id := article_id(link, self.origin))}
        if not ids:
            return {}
        cached = self.r.mget([self._cache_key(i) for i in ids.values()])
        out: dict[str, str] = {}
        todo: list[tuple[str, str]] = []
        for (link, art_id), hit in zip(ids.items(), cached, strict=True):
            if hit is not None:
                out[link] = as_str(hit)
            elif url := url_in_id(art_id):
                out[link] = url
                self._remember(art_id, url)
            else:
                todo.append((link, art_id))
        signed: list[tuple[str, str, str, str]] = []
        for link, art_id in todo:
            if self.stopped is not None or time.monotonic() > self.deadline:
                break
            sig = self._signature(art_id)
            if sig is None:
                continue
            if sig == UNDECODABLE:
                out[link] = UNDECODABLE
                continue
            signed.append((link, art_id, sig[1], sig[0]))
            if len(signed) == BATCH_SIZE:
                out |= self._batch(signed)
                signed = []
        if signed and self.stopped is None:
            out |= self._batch(signed)
        return out

    def _get(self, url: str, *, form: dict[str, str] | None = None) -> str | None:
        """A request to Google in its pace; None when it asked us to stop."""
        fs = self.ctx.settings.fetch
        try:
            res = self.ctx.fetcher.get(
                url,
                max_bytes=fs.max_feed_bytes,
                accept="text/html,application/json;q=0.9,*/*;q=0.5",
                form=form,
                before_request=lambda u: self.ctx.politeness.throttle(u, min_interval=self.min_interval),
            )
        except (RateLimited, DomainBusy) as exc:
            self.stopped = exc
            return None
        return res.content.decode("utf-8", "replace")

    def _signature(self, art_id: str) -> tuple[str, str] | str | None:
        try:
            html = self._get(
                f"{self.origin}/rss/articles/{art_id}" + (f"?{self.locale}" if self.locale else "")
            )
        except IngestError as exc:  # a 4xx/5xx for this one id: the others go on
            log.info("gnews_undecodable", id=art_id[:60], reason=exc.reason)
            self._remember(art_id, UNDECODABLE)
            return UNDECODABLE
        if html is None:
            return None
        sig = signature(html)
        if sig is None:
            log.info("gnews_undecodable", id=art_id[:60], reason="no_signature")
            self._remember(art_id, UNDECODABLE)
            return UNDECODABLE
        return sig

    def _batch(self, signed: list[tuple[str, str, str, str]]) -> dict[str, str]:
        form = batch_form([(art_id, ts, sig) for _, art_id, ts, sig in signed])
        try:
            body = self._get(self.origin + BATCH_PATH, form=form)
        except IngestError as exc:
            log.warning("gnews_batch_failed", reason=exc.reason, error=str(exc)[:200])
            return {}  # asked again next poll
        if body is None:
            return {}
        urls = batch_urls(body)
        out = {}
        for n, (link, art_id, _, _) in enumerate(signed):
            url = urls.get(n)
            if url is None or not url.startswith(("http://", "https://")) or not is_fetchable(url):
                out[link] = UNDECODABLE
                log.info("gnews_undecodable", id=art_id[:60], reason="no_url_in_answer")
            else:
                out[link] = url
            self._remember(art_id, out[link])
        return out

    def _remember(self, art_id: str, url: str) -> None:
        ttl = UNDECODABLE_TTL if url == UNDECODABLE else DECODED_TTL
        self.r.set(self._cache_key(art_id), url, ex=ttl)
