"""A simulated newsroom on loopback: several outlets, each with its own address, feed and pages.

    .venv/bin/python -m bench.newsroom_server [--articles 1000] [--feeds 10] [--latency 0.05-0.3]

Outlet ``k`` is served at ``http://127.0.0.<k+1>:<port>`` (every address of
127.0.0.0/8 is loopback on Linux), so each outlet is a site of its own, as on the
web: per-site politeness (ours, and trafilatura's per-domain download rounds)
works as it would on real outlets. Outlets alternate RSS (``/feed.rss``) and
Atom (``/feed.atom``) feeds. Each outlet also serves ``/robots.txt`` (allow all).

The pages come from :mod:`harness.newsroom`: originals (on topic, ~800
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
import asyncio
import gzip
import hashlib
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit

from harness import templates as varied_templates
from harness.newsroom import (
    OFFTOPIC_TITLES,
    article_paragraphs,
    atom,
    news_page,
    offtopic_paragraphs,
    rss,
    syndicated_paragraphs,
)

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

    def text(self) -> tuple[str, list[str]]:
        """The story's title and paragraphs, before any template."""
        if self.kind == "original":
            return f"Report {self.n}: China and Belarus widen military ties", article_paragraphs(self.n)
        if self.kind == "syndicated":
            title = f"China and Belarus deepen defence links, report {self.n} says"
            return title, syndicated_paragraphs(self.n, copy=self.outlet)
        title = f"{OFFTOPIC_TITLES[self.n % len(OFFTOPIC_TITLES)]} ({self.n})"
        return title, offtopic_paragraphs(self.n)

    def html(self) -> str:
        title, paras = self.text()
        return news_page(paras, n=self.n, title=title, outlet=self.outlet)

    def varied(self) -> tuple[bytes, str, str]:
        """The page in its outlet's varied template (:mod:`harness.templates`, outlet k uses
        template k % 20): its bytes in the template's charset, the Content-Type, the text."""
        title, paras = self.text()
        return varied_templates.render_page(
            paras, n=self.n, title=title, outlet=self.outlet, topical=self.kind != "offtopic"
        )


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
    content_type: str = "text/html; charset=utf-8"


class NewsroomServer:
    """``outlets`` listening sockets on one port, one per loopback address, served by one
    asyncio loop in a thread of its own.

    The simulated web shares the machine's cores with what it serves, which the real
    web does not: an event loop answers a request in a fraction of the CPU that a
    thread per connection with :mod:`http.server`'s header parsing took (~0.5 ms a
    request, measured by the benchmark as ``newsroom_cpu_seconds``).
    """

    def __init__(
        self,
        outlets: int,
        latency: tuple[float, float] = (0.05, 0.3),
        seed: int = 1,
        *,
        templates: str = "classic",
        crawl_delay: float | None = None,
    ):
        """``templates``: ``classic`` (:func:`harness.newsroom.news_page`, every page UTF-8)
        or ``varied`` (:mod:`harness.templates`: twenty outlet shapes, outlet k in template
        k % 20, some pages in GBK, windows-1251, Shift_JIS, ISO-8859-2 or Big5, served with
        the charset in the Content-Type or, for some, declared in the page only).
        ``crawl_delay``: every robots.txt also says ``Crawl-delay: <crawl_delay>``."""
        if templates not in ("classic", "varied"):
            raise ValueError(f"templates must be 'classic' or 'varied', not {templates!r}")
        self.outlets = outlets
        self.latency = latency
        self.seed = seed
        self.templates = templates
        self.crawl_delay = crawl_delay
        delay = f"Crawl-delay: {crawl_delay:g}\n".encode() if crawl_delay is not None else b""
        self.robots = ROBOTS + delay
        # (arrival time.monotonic(), outlet, kind) of every request since take_requests()
        self.requests: list[tuple[float, int, str]] = []
        self.hosts = [outlet_host(k) for k in range(outlets)]
        self._lock = threading.Lock()
        self._pages: dict[tuple[int, str], _Page] = {}
        self._feeds: dict[int, tuple[bytes, str, str]] = {}  # outlet -> body, etag, last-modified
        self.counts: Counter[str] = Counter()
        self.page_paths: Counter[str] = Counter()
        self._sockets: list[socket.socket] = []
        self._servers: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = self._bind_all()

    # ---- addresses -------------------------------------------------------------------
    def _bind_all(self) -> int:
        for _attempt in range(50):
            with socket.socket() as s:
                s.bind((self.hosts[0], 0))
                port = int(s.getsockname()[1])
            socks: list[socket.socket] = []
            try:
                for host in self.hosts:
                    sock = socket.socket()
                    socks.append(sock)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind((host, port))
                    sock.listen(512)
            except OSError:
                for sock in socks:
                    sock.close()
                continue
            self._sockets = socks
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
        pages: dict[tuple[int, str], _Page] = {}
        rendered: dict[str, str] = {}
        for s in stories:
            if self.templates == "varied":
                raw, ctype, text = s.varied()
            else:
                text = s.html()
                raw, ctype = text.encode(), "text/html; charset=utf-8"
            rendered[self.url(s)] = text
            pages[(s.outlet, s.path)] = _Page(raw, gzip.compress(raw, 6), ctype)
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

    def bodies(self, stories: list[Story]) -> dict[str, tuple[bytes, str]]:
        """url -> (the page's bytes as served uncompressed, its Content-Type), of published stories."""
        with self._lock:
            return {
                self.url(s): (p.raw, p.content_type)
                for s in stories
                if (p := self._pages.get((s.outlet, s.path))) is not None
            }

    def page_counts(self) -> dict[str, int]:
        """How often each page path was served since the last take_counts() (not reset)."""
        with self._lock:
            return dict(self.page_paths)

    def take_requests(self) -> list[tuple[float, int, str]]:
        """(arrival time.monotonic(), outlet, kind) of every request since the last call; resets."""
        with self._lock:
            out, self.requests = self.requests, []
            return out

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
    async def _serve(self, outlet: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP/1.1 GETs on one connection, kept alive until the client closes it."""
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, version = [*request_line.split(" "), "", ""][:3]
                headers = {}
                for line in lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                path = urlsplit(target).path
                arrived = time.monotonic()
                await asyncio.sleep(self.delay(outlet, path))
                if method != "GET":
                    kind, status, body, extra = "bad_method", 405, b"", dict[str, str]()
                else:
                    kind, status, body, extra = self._answer(outlet, path, headers)
                with self._lock:
                    self.requests.append((arrived, outlet, kind))
                    self.counts[kind] += 1
                    self.counts["bytes_sent"] += len(body)
                    if kind == "page":
                        self.page_paths[path] += 1
                close = version != "HTTP/1.1" or headers.get("connection", "").lower() == "close"
                out = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}", f"Date: {formatdate(usegmt=True)}"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                if status != 304:
                    out.append(f"Content-Length: {len(body)}")
                if close:
                    out.append("Connection: close")
                writer.write(
                    ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + (body if status != 304 else b"")
                )
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.CancelledError):  # the client went, or the newsroom stops
            return
        finally:
            writer.close()

    def _answer(self, outlet: int, path: str, req: dict[str, str]) -> tuple[str, int, bytes, dict[str, str]]:
        """What an outlet answers; ``req``: the request's headers, names in lower case."""
        get = req.get
        if path == "/robots.txt":
            return "robots", 200, self.robots, {"Content-Type": "text/plain"}
        if path == self.feed_path(outlet):
            with self._lock:
                body, etag, modified = self._feeds.get(outlet, (b"", '""', ""))
            ctype = "application/rss+xml" if path.endswith(".rss") else "application/atom+xml"
            headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": ctype}
            if get("if-none-match") == etag or (
                get("if-none-match") is None and get("if-modified-since") == modified
            ):
                return "feed_304", 304, b"", headers
            return "feed_200", 200, body, headers
        with self._lock:
            page = self._pages.get((outlet, path))
        if page is None:
            return "not_found", 404, b"not found", {"Content-Type": "text/plain"}
        headers = {"Content-Type": page.content_type}
        if "gzip" in (get("accept-encoding") or ""):
            headers["Content-Encoding"] = "gzip"
            return "page", 200, page.gz, headers
        return "page", 200, page.raw, headers

    # ---- life --------------------------------------------------------------------------
    def __enter__(self) -> NewsroomServer:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def serving(outlet: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
            return lambda reader, writer: self._serve(outlet, reader, writer)

        async def start() -> None:
            for k, sock in enumerate(self._sockets):
                self._servers.append(await asyncio.start_server(serving(k), sock=sock, limit=64 * 1024))
            started.set()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="newsroom", daemon=True)
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError("the newsroom did not start")
        return self

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        for sock in self._sockets:
            sock.close()


_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 405: "Method Not Allowed"}


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
    ap.add_argument("--templates", default="classic", choices=["classic", "varied"])
    ap.add_argument("--crawl-delay", type=float, default=None, help="Crawl-delay in every robots.txt")
    args = ap.parse_args()
    stories = plan_stories(args.articles, args.feeds, args.dup_share, args.offtopic_share)
    with NewsroomServer(
        args.feeds, parse_range(args.latency), templates=args.templates, crawl_delay=args.crawl_delay
    ) as room:
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
