"""A simulated newsroom on loopback: several outlets, each with its own address, feed and pages.

    .venv/bin/python -m bench.newsroom_server [--articles 1000] [--feeds 10] [--latency 0.05-0.3]

Outlet ``k`` is served at ``http://127.0.0.<k+1>:<port>`` (every address of
127.0.0.0/8 is loopback on Linux), so each outlet is a site of its own, as on the
web: per-site politeness (ours, and trafilatura's per-domain download rounds)
works as it would on real outlets. Outlets alternate RSS (``/feed.rss``) and
Atom (``/feed.atom``) feeds. Each outlet also serves ``/robots.txt`` (allow all).

The pages come from :mod:`tests.support.newsroom`: originals (on topic, ~800
words), syndicated near-duplicates of an original on *another* outlet (another
template, a dateline, ~2% of words edited, the last paragraph cut), and
off-topic pages (no topic word at all). What a run should decide is therefore
known: one queued per original, one duplicate per copy, one off_topic per
off-topic page.

Every request waits a latency drawn from the ``--latency`` range before it is
answered; the draw is a function of the URL, so every client sees the same
latency for the same URL. Pages are sent gzip-compressed to clients that ask
(both ours and trafilatura's do), as real servers do; feeds carry an ETag and
answer a matching conditional request with 304. The server counts what it
serves by kind, so a benchmark can tell downloads from conditional answers.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.newsroom import (
    OFFTOPIC_TITLES,
    article_paragraphs,
    atom,
    news_page,
    offtopic_paragraphs,
    rss,
    syndicated_paragraphs,
)
from tests.support.webserver import send

ROBOTS = b"User-agent: *\nAllow: /\n"


def outlet_host(k: int) -> str:
    """Outlet k's loopback address: 127.0.0.1, 127.0.0.2, ... (127.0.1.1 after 250 of them)."""
    return f"127.0.{k // 250}.{k % 250 + 1}"


@dataclass(frozen=True)
class Story:
    """One article page of the newsroom and what the service should decide about it."""

    kind: str  # original | syndicated | offtopic
    n: int  # article number; a syndicated story carries its original's number
    outlet: int
    path: str

    @property
    def expected(self) -> str:
        return {"original": "queued", "syndicated": "duplicate", "offtopic": "off_topic"}[self.kind]

    def html(self) -> str:
        if self.kind == "original":
            title = f"Report {self.n}: China and Belarus widen military ties"
            return news_page(article_paragraphs(self.n), n=self.n, title=title, outlet=self.outlet)
        if self.kind == "syndicated":
            title = f"China and Belarus deepen defence links, report {self.n} says"
            paras = syndicated_paragraphs(self.n, copy=self.outlet)
            return news_page(paras, n=self.n, title=title, outlet=self.outlet)
        title = f"{OFFTOPIC_TITLES[self.n % len(OFFTOPIC_TITLES)]} ({self.n})"
        return news_page(offtopic_paragraphs(self.n), n=self.n, title=title, outlet=self.outlet)


def plan_stories(
    count: int, outlets: int, dup_share: float, offtopic_share: float, first: int = 0, seed: int = 1
) -> list[Story]:
    """``count`` stories numbered from ``first``: originals, copies of some of them, off-topic pages.

    Originals are spread round-robin over the outlets; each copy goes to another
    outlet than its original's; the feed order is shuffled (seeded), so copies
    and off-topic pages are mixed in with the rest.
    """
    dups = round(count * dup_share)
    off = round(count * offtopic_share)
    originals = count - dups - off
    if originals < 1 or (dups and not originals):
        raise ValueError("dup_share + offtopic_share must leave at least one original")
    stories = [
        Story("original", first + i, i % outlets, f"/news/2023/08/report-{first + i}.html")
        for i in range(originals)
    ]
    for j in range(dups):
        orig = stories[(j * max(1, originals // max(1, dups))) % originals]
        outlet = (orig.outlet + 1 + j % max(1, outlets - 1)) % outlets if outlets > 1 else orig.outlet
        stories.append(Story("syndicated", orig.n, outlet, f"/wire/{orig.n}-{outlet}.html"))
    for k in range(off):
        m = first + originals + k
        stories.append(Story("offtopic", m, m % outlets, f"/local/2023/08/{m}.html"))
    random.Random(f"{seed}-{first}-{count}").shuffle(stories)
    return stories


@dataclass
class _Page:
    raw: bytes
    gz: bytes


class NewsroomServer:
    """``outlets`` threaded HTTP servers on one port, one per loopback address, one shared state."""

    def __init__(self, outlets: int, latency: tuple[float, float] = (0.05, 0.3), seed: int = 1):
        self.outlets = outlets
        self.latency = latency
        self.seed = seed
        self.hosts = [outlet_host(k) for k in range(outlets)]
        self._lock = threading.Lock()
        self._pages: dict[tuple[int, str], _Page] = {}
        self._feeds: dict[int, tuple[bytes, str, str]] = {}  # outlet -> body, etag, last-modified
        self.counts: Counter[str] = Counter()
        self.page_paths: Counter[str] = Counter()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.port = self._bind_all()

    # ---- addresses -------------------------------------------------------------------
    def _bind_all(self) -> int:
        handler = self._handler_class()
        for _attempt in range(50):
            with socket.socket() as s:
                s.bind((self.hosts[0], 0))
                port = int(s.getsockname()[1])
            servers: list[ThreadingHTTPServer] = []
            try:
                for k, host in enumerate(self.hosts):
                    srv = ThreadingHTTPServer((host, port), handler)
                    srv.daemon_threads = True
                    srv.outlet = k  # type: ignore[attr-defined]
                    srv.request_queue_size = 128  # type: ignore[misc]
                    servers.append(srv)
            except OSError:
                for srv in servers:
                    srv.server_close()
                continue
            self._servers = servers
            return port
        raise RuntimeError("no port free on every outlet address")

    def base(self, outlet: int) -> str:
        return f"http://{self.hosts[outlet]}:{self.port}"

    def feed_path(self, outlet: int) -> str:
        return "/feed.rss" if outlet % 2 == 0 else "/feed.atom"

    def feed_url(self, outlet: int) -> str:
        return self.base(outlet) + self.feed_path(outlet)

    def url(self, story: Story) -> str:
        return self.base(story.outlet) + story.path

    @property
    def hostports(self) -> list[str]:
        return [f"{h}:{self.port}" for h in self.hosts]

    # ---- content -----------------------------------------------------------------------
    def publish(self, stories: list[Story], *, also_listed: list[Story] | None = None) -> dict[str, str]:
        """Serve ``stories`` and put them in their outlets' feeds; returns url -> html.

        ``also_listed`` (earlier stories, still served) stay in the feeds after the
        new ones, as real feeds keep their latest items; pages not in either list
        are dropped, so memory stays bounded over many editions.
        """
        rendered = {self.url(s): s.html() for s in stories}
        pages = {
            (s.outlet, s.path): _Page(raw := rendered[self.url(s)].encode(), gzip.compress(raw, 6))
            for s in stories
        }
        listed = [*stories, *(also_listed or [])]
        with self._lock:
            keep = {(s.outlet, s.path) for s in also_listed or []}
            self._pages = {k: v for k, v in self._pages.items() if k in keep} | pages
            stamp = formatdate(time.time(), usegmt=True)
            for k in range(self.outlets):
                paths = [s.path for s in listed if s.outlet == k]
                title = f"Outlet {k}"
                body = (rss if k % 2 == 0 else atom)(self.base(k), paths, title).encode()
                self._feeds[k] = (body, '"' + hashlib.sha1(body).hexdigest() + '"', stamp)
        return rendered

    def take_counts(self) -> dict[str, int]:
        """What was served since the last call, by kind; resets the counts."""
        with self._lock:
            out = dict(self.counts)
            self.counts.clear()
            self.page_paths.clear()
            return out

    def delay(self, outlet: int, path: str) -> float:
        lo, hi = self.latency
        return random.Random(f"{self.seed}:{outlet}:{path}").uniform(lo, hi) if hi > 0 else 0.0

    # ---- serving -----------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        room = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outlet: int = self.server.outlet  # type: ignore[attr-defined]
                path = urlsplit(self.path).path
                time.sleep(room.delay(outlet, path))
                kind, status, body, headers = room._answer(outlet, path, self.headers)
                with room._lock:
                    room.counts[kind] += 1
                    room.counts["bytes_sent"] += len(body)
                    if kind == "page":
                        room.page_paths[path] += 1
                send(self, status, body, None, headers)

        return _Handler

    def _answer(self, outlet: int, path: str, req: Message) -> tuple[str, int, bytes, dict[str, str]]:
        get = req.get
        if path == "/robots.txt":
            return "robots", 200, ROBOTS, {"Content-Type": "text/plain"}
        if path == self.feed_path(outlet):
            with self._lock:
                body, etag, modified = self._feeds.get(outlet, (b"", '""', ""))
            ctype = "application/rss+xml" if path.endswith(".rss") else "application/atom+xml"
            headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": ctype}
            if get("If-None-Match") == etag or (
                get("If-None-Match") is None and get("If-Modified-Since") == modified
            ):
                return "feed_304", 304, b"", headers
            return "feed_200", 200, body, headers
        with self._lock:
            page = self._pages.get((outlet, path))
        if page is None:
            return "not_found", 404, b"not found", {"Content-Type": "text/plain"}
        headers = {"Content-Type": "text/html; charset=utf-8"}
        if "gzip" in (get("Accept-Encoding") or ""):
            headers["Content-Encoding"] = "gzip"
            return "page", 200, page.gz, headers
        return "page", 200, page.raw, headers

    # ---- life --------------------------------------------------------------------------
    def __enter__(self) -> NewsroomServer:
        for srv in self._servers:
            t = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()


def parse_range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition("-")
    return float(lo), float(hi or lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--feeds", type=int, default=10)
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument("--offtopic-share", type=float, default=0.1)
    ap.add_argument("--latency", default="0.05-0.3", help="seconds, a range: each request waits a draw")
    args = ap.parse_args()
    stories = plan_stories(args.articles, args.feeds, args.dup_share, args.offtopic_share)
    with NewsroomServer(args.feeds, parse_range(args.latency)) as room:
        room.publish(stories)
        for k in range(args.feeds):
            print(room.feed_url(k))
        print(f"INGEST_ALLOW_PRIVATE={','.join(room.hostports)}  (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
