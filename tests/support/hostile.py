"""Hostile HTTP behaviours, as route handlers for :class:`tests.support.webserver.FixtureServer`.

Each function returns a handler a test mounts with ``web.route(path, handler)``.
Every handler ends by itself (a time limit, or the client hanging up), so no
server thread outlives its test for long, and none keeps more than one chunk
of its body in memory.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler

from tests.support.webserver import Handler, send

_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, OSError)


def page(
    body: bytes, ctype: str = "text/html; charset=utf-8", headers: dict[str, str] | None = None
) -> Handler:
    return lambda req: send(req, 200, body, ctype, headers)


def status(code: int, headers: dict[str, str] | None = None) -> Handler:
    return lambda req: send(req, code, f"HTTP {code}".encode(), "text/plain", headers)


def redirect(location: str, code: int = 302) -> Handler:
    return lambda req: send(req, code, b"", None, {"Location": location})


def _close_after(req: BaseHTTPRequestHandler) -> None:
    req.close_connection = True


def drip_body(interval: float = 0.2, limit_seconds: float = 30.0) -> Handler:
    """A 200 page whose body comes one byte per ``interval``, without end."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        _close_after(req)
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Connection", "close")
        req.end_headers()
        req.wfile.write(b"<html><body>")
        end = time.monotonic() + limit_seconds
        try:
            while time.monotonic() < end:
                req.wfile.write(b"x")
                req.wfile.flush()
                time.sleep(interval)
        except _GONE:
            pass

    return handler


def drip_headers(interval: float = 0.2, limit_seconds: float = 30.0) -> Handler:
    """A status line, then one header byte per ``interval``: the headers never end."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        _close_after(req)
        end = time.monotonic() + limit_seconds
        try:
            req.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while time.monotonic() < end:
                req.wfile.write(b"a")
                req.wfile.flush()
                time.sleep(interval)
        except _GONE:
            pass

    return handler


def endless_chunked(chunk_bytes: int = 64 * 1024, limit_seconds: float = 30.0) -> Handler:
    """A chunked HTML body that never ends: the same chunk again and again."""
    chunk = b"%x\r\n" % chunk_bytes + b"<p>" + b"a" * (chunk_bytes - 3) + b"\r\n"

    def handler(req: BaseHTTPRequestHandler) -> None:
        _close_after(req)
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        end = time.monotonic() + limit_seconds
        try:
            while time.monotonic() < end:
                req.wfile.write(chunk)
        except _GONE:
            pass

    return handler


def declared_huge(size: int = 50 * 1024 * 1024, limit_seconds: float = 30.0) -> Handler:
    """A page that declares (and starts to send) ``size`` bytes, 64 KB at a time."""
    block = b"a" * 65536

    def handler(req: BaseHTTPRequestHandler) -> None:
        _close_after(req)
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Length", str(size))
        req.end_headers()
        end, sent = time.monotonic() + limit_seconds, 0
        try:
            while sent < size and time.monotonic() < end:
                req.wfile.write(block)
                sent += len(block)
        except _GONE:
            pass

    return handler


@lru_cache(maxsize=2)
def gzip_bomb_bytes(inflated_bytes: int = 100 * 1024 * 1024) -> bytes:
    """``inflated_bytes`` of zeros, gzipped (about a thousandth of the size)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [comp.compress(block) for _ in range(inflated_bytes // len(block))]
    parts.append(comp.flush())
    return b"".join(parts)


def gzip_bomb(inflated_bytes: int = 100 * 1024 * 1024, ctype: str = "text/html") -> Handler:
    body = gzip_bomb_bytes(inflated_bytes)
    return page(body, ctype, {"Content-Encoding": "gzip"})


def gzipped(body: bytes, ctype: str = "text/html; charset=utf-8") -> Handler:
    return page(gzip.compress(body), ctype, {"Content-Encoding": "gzip"})


def reset_mid_body() -> Handler:
    """Headers promising 10,000 bytes, 100 of them, then a TCP reset."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        _close_after(req)
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Length", "10000")
        req.end_headers()
        req.wfile.write(b"<html>" + b"a" * 94)
        req.wfile.flush()
        req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        req.connection.close()

    return handler


@dataclass
class HeldBody:
    """Sends headers, then holds the body back until the client hangs up (or ``hold_seconds``).

    ``client_left_first`` tells whether the client closed the connection
    before any byte of the body was sent: it decided on the headers alone.
    """

    ctype: str
    size: int = 10 * 1024 * 1024
    # a bound for a failing client only (one that goes on reading): a client that decides on the
    # headers hangs up at once, and must not be judged "did not leave" because it was slow to
    hold_seconds: float = 30.0
    client_left_first: list[bool] = field(default_factory=list)

    def __call__(self, req: BaseHTTPRequestHandler) -> None:
        _close_after(req)
        req.send_response(200)
        req.send_header("Content-Type", self.ctype)
        req.send_header("Content-Length", str(self.size))
        req.end_headers()
        req.wfile.flush()
        req.connection.settimeout(self.hold_seconds)
        try:
            left = req.connection.recv(1) == b""
        except _GONE:
            left = False
        self.client_left_first.append(left)
        if not left:
            with contextlib.suppress(*_GONE):
                req.wfile.write(b"%PDF-1.7\n" + b"0" * 1024)


class Sequence:
    """Answers successive requests with successive handlers; the last one repeats."""

    def __init__(self, *handlers: Handler):
        self.handlers = handlers
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, req: BaseHTTPRequestHandler) -> None:
        with self._lock:
            handler = self.handlers[min(self.calls, len(self.handlers) - 1)]
            self.calls += 1
        handler(req)


class Clock:
    """Records when each request arrived (before answering it), per path."""

    def __init__(self) -> None:
        self.times: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def timed(self, handler: Handler) -> Handler:
        def wrapped(req: BaseHTTPRequestHandler) -> None:
            with self._lock:
                self.times.append((time.monotonic(), req.path))
            handler(req)

        return wrapped

    def arrivals(self, path_prefix: str = "") -> list[float]:
        with self._lock:
            return sorted(t for t, p in self.times if p.startswith(path_prefix))


def count_calls(handler: Handler, counter: list[int]) -> Handler:
    """``handler``, appending to ``counter`` before it answers (the server's own log comes after)."""

    def wrapped(req: BaseHTTPRequestHandler) -> None:
        counter.append(1)
        handler(req)

    return wrapped
