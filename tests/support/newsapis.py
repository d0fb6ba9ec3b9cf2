"""The search services' endpoints, as they answer, on the tests' loopback server.

Each serves an authored fixture of its real format (``tests/fixtures/sources``):
Google News' search RSS, its article page (the signature and timestamp its decoder
needs) and its batch endpoint; Bing News' RSS with click-tracking wrappers; GDELT's
JSON article list and its plain-text refusals; news sitemaps.
"""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, quote

from tests.support.webserver import FixtureServer, send

SOURCES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


def fixture(web: FixtureServer, name: str, **subs: str) -> bytes:
    text = (SOURCES / name).read_text("utf-8").replace("{base}", web.base)
    text = text.replace("{enc_base}", quote(web.base, safe="").lower())
    for k, v in subs.items():
        text = text.replace("{" + k + "}", v)
    return text.encode()


def old_style_id(url: str) -> str:
    """A Google News id of before mid-2024: the publisher's URL in a small protobuf."""
    raw = url.encode()
    return (
        base64.urlsafe_b64encode(b"\x08\x13\x22" + bytes([len(raw)]) + raw + b"\xd2\x01\x00")
        .decode()
        .rstrip("=")
    )


class GoogleNews:
    """``/rss/search`` (the fixture), ``/rss/articles/<id>`` and the batch endpoint.

    ``targets``: id -> the publisher's URL; an id mapped to None gets an article page
    without a signature (Google's answer for an id it does not know). ``throttle``: the
    next this-many batch requests are answered 429 with Retry-After.
    """

    BATCH = "/_/DotsSplashUi/data/batchexecute"

    def __init__(self, web: FixtureServer, targets: dict[str, str | None], old_url: str):
        self.web = web
        self.targets = targets
        self.throttle = 0
        self.batches: list[list[str]] = []  # the ids each batch request asked for
        self.old_id = old_style_id(old_url)
        body = fixture(web, "google-news-search.rss", old_id=self.old_id)
        web.route("/rss/search", lambda req: send(req, 200, body, "application/rss+xml; charset=utf-8"))
        for art_id in targets:
            web.route(f"/rss/articles/{art_id}", self._page(art_id))
        web.route(self.BATCH, self._batch)
        self.search_url = web.url("/rss/search")

    def _page(self, art_id: str):  # type: ignore[no-untyped-def]
        def handler(req: BaseHTTPRequestHandler) -> None:
            if self.targets[art_id] is None:
                attrs = ""
            else:
                attrs = f' data-n-a-sg="SIG-{art_id}" data-n-a-ts="1692180000" data-n-a-id="{art_id}"'
            html = (
                "<!doctype html><html><head><title>Google News</title></head><body>"
                f'<c-wiz jsrenderer="ZqfqAb" jsshadow jsdata="deferred-i1"><div jscontroller="aLI87"'
                f' jsaction="rcuQ6b:npT2md"{attrs}></div></c-wiz>'
                "<script>window.location = 'https://news.google.com/';</script></body></html>"
            )
            send(req, 200, html.encode(), "text/html; charset=utf-8")

        return handler

    def _batch(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        form = parse_qs(req.rfile.read(length).decode())
        envelopes = json.loads(form["f.req"][0])[0]
        asked = [json.loads(env[1])[2] for env in envelopes]
        self.batches.append(asked)
        if self.throttle > 0:
            self.throttle -= 1
            send(req, 429, b"Too Many Requests", "text/html", {"Retry-After": "3600"})
            return
        rows: list[list[object]] = []
        for env in envelopes:
            inner = json.loads(env[1])
            art_id, sig, tag = inner[2], inner[4], env[3]
            url = self.targets.get(art_id)
            if url and sig == f"SIG-{art_id}":
                rows.append(["wrb.fr", "Fbv4je", json.dumps(["garturlres", url, 1]), None, None, None, tag])
            else:
                rows.append(["wrb.fr", "Fbv4je", None, None, None, [3], tag])
        chunk = json.dumps(rows)
        tail = json.dumps([["di", 57], ["af.httprm", 56, "-7391", 3]])
        body = f")]}}'\n\n{len(chunk)}\n{chunk}\n{len(tail)}\n{tail}\n"
        send(req, 200, body.encode(), "application/json; charset=utf-8")
