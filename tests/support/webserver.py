"""A real HTTP server on loopback that serves our fixtures and any hostile case a test adds.

Pages under ``tests/fixtures/site`` are served at ``/news/<file>``, feeds under
``tests/fixtures/feeds`` at ``/feeds/<file>`` with ``{base}`` replaced by the
server's own base URL and a strong ETag (a conditional request gets 304).
Every request is logged, so tests can tell what was downloaded and how often.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    status: int
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    # the listen backlog (socketserver's default is 5): a worker opens up to 16 connections
    # at once per pool process; past the backlog the kernel drops a connection attempt and the
    # client sends it again a second later (32 at once here: a third waited 1-1.8 s), so how
    # long a page took hung on how fast this process accepted them
    request_queue_size = 128


class FixtureServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: list[Hit] = []  # finished requests, with their status
        self.arrivals: list[str] = []  # request paths as they arrive
        self.arrived_at: list[float] = []  # time.monotonic() of each, in the same order
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # routes read the body themselves (Content-Length)
                self.do_GET(method="POST")

            def do_GET(self, method: str = "GET") -> None:
                path = urlsplit(self.path).path
                with server._lock:
                    server.arrivals.append(path)
                    server.arrived_at.append(time.monotonic())
                status_holder: list[int] = []
                orig = self.send_response

                def send_response(code: int, message: str | None = None) -> None:
                    status_holder.append(code)
                    orig(code, message)

                self.send_response = send_response  # type: ignore[method-assign]
                try:
                    handler = server.routes.get(path) or server._static
                    handler(self)
                finally:
                    with server._lock:
                        server.hits.append(
                            Hit(method, path, status_holder[0] if status_holder else 0, dict(self.headers))
                        )

        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.hostport = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def count(self, path: str) -> int:
        """Requests for ``path`` so far (counted when they arrive)."""
        with self._lock:
            return self.arrivals.count(path)

    def paths(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [p for p in self.arrivals if p.startswith(prefix)]

    def gaps(self, prefixes: tuple[str, ...]) -> list[float]:
        """Seconds between consecutive arrivals of requests whose path starts with one of
        ``prefixes``."""
        with self._lock:
            times = [t for p, t in zip(self.arrivals, self.arrived_at, strict=True) if p.startswith(prefixes)]
        return [b - a for a, b in itertools.pairwise(times)]

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def _static(self, req: BaseHTTPRequestHandler) -> None:
        path = urlsplit(req.path).path
        if path.startswith("/news/"):
            f, ctype = FIXTURES / "site" / path.removeprefix("/news/"), "text/html; charset=utf-8"
        elif path.startswith("/feeds/"):
            f = FIXTURES / "feeds" / path.removeprefix("/feeds/")
            ctype = "application/atom+xml" if f.suffix == ".atom" else "application/rss+xml"
        else:
            f, ctype = Path("/nonexistent"), ""
        if ".." in path or not f.is_file():
            send(req, 404, b"not found", "text/plain")
            return
        body = f.read_bytes()
        if path.startswith("/feeds/"):
            body = body.replace(b"{base}", self.base.encode())
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if req.headers.get("If-None-Match") == etag:
            send(req, 304, b"", None, {"ETag": etag})
            return
        send(req, 200, body, ctype, {"ETag": etag})


def send(
    req: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    ctype: str | None,
    headers: dict[str, str] | None = None,
) -> None:
    req.send_response(status)
    if ctype:
        req.send_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.send_header(k, v)
    if status != 304:
        req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    if status != 304:
        req.wfile.write(body)


def serve_stories(
    web: FixtureServer,
    n: int,
    delay: float = 0.0,
    first: int = 0,
    respond: Callable[[bytes], Handler] | None = None,
) -> set[str]:
    """n generated on-topic articles and a feed of them at /feeds/gen.rss; returns their URLs.

    Each page waits ``delay`` seconds before it answers (a slow site); ``respond``
    makes the handler of a page from its body, for tests that answer their own way.
    """
    from harness.newsroom import article_html, rss

    def plain(body: bytes) -> Handler:
        def handler(req: BaseHTTPRequestHandler) -> None:
            if delay:
                time.sleep(delay)
            send(req, 200, body, "text/html; charset=utf-8")

        return handler

    paths = []
    for i in range(first, first + n):
        paths.append(f"/gen/story-{i}.html")
        web.route(paths[-1], (respond or plain)(article_html(i).encode()))
    feed = rss(web.base, paths).encode()
    web.route("/feeds/gen.rss", lambda req: send(req, 200, feed, "application/rss+xml"))
    return {web.url(p) for p in paths}
