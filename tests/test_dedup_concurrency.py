"""Two workers handling copies of one story at the same moment queue exactly one of them."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

import redis

from tests.conftest import Service, stream_docs
from tests.support.webserver import FIXTURES, FixtureServer, send

STORIES = ["on-topic-1", "on-topic-3", "on-topic-5"]
COPIES = 8


def _copy_page(story: str, k: int) -> bytes:
    """Copy k of a story: other outlet boilerplate; every other copy also edits the text."""
    html = (FIXTURES / "site" / f"{story}.html").read_text()
    html = html.replace("<body", f'<body data-copy="{k}"', 1)
    html = html.replace("</title>", f" | Syndicated copy {k}</title>", 1)
    if k % 2:  # a near-duplicate, not an exact one: a wire dateline before the first paragraph
        html = html.replace("<p>", f"<p>MINSK, Aug {10 + k} (Wire {k}) -- ", 1)
    return html.encode()


def test_many_copies_from_many_workers_queue_exactly_one_per_story(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    release = threading.Event()
    arrived: list[str] = []

    def page(story: str, k: int):  # type: ignore[no-untyped-def]
        body = _copy_page(story, k)

        def handler(req: BaseHTTPRequestHandler) -> None:
            arrived.append(req.path)
            release.wait(2)  # hold pages until many are asked for, so decisions collide
            send(req, 200, body, "text/html; charset=utf-8")

        return handler

    items = []
    for story in STORIES:
        for k in range(COPIES):
            url = web.route(f"/copies/{story}-{k}.html", page(story, k))
            items.append(f"<item><title>{story} {k}</title><link>{url}</link><guid>{story}-{k}</guid></item>")
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>{"".join(items)}</channel></rss>'
    )
    web.route("/feeds/copies.rss", lambda req: send(req, 200, feed.encode(), "application/rss+xml"))

    for _ in range(3):
        service.start_worker("--concurrency", "4", "--pool", "threads")

    def open_the_gate() -> None:
        while len(arrived) < 10:  # 3 workers x 4 threads fetch at once
            time.sleep(0.02)
        release.set()

    threading.Thread(target=open_the_gate, daemon=True).start()
    summary = service.fetch_wait("--feed", web.url("/feeds/copies.rss"))

    assert summary["complete"], json.dumps(summary)
    assert (summary["queued"], summary["duplicate"]) == (len(STORIES), len(STORIES) * (COPIES - 1))
    stories = Counter(
        d["url"].rsplit("/", 1)[1].rsplit("-", 1)[0] for d in stream_docs(r, f"{prefix}articles")
    )
    assert stories == Counter(STORIES)
