"""Safe HTTP fetching for feeds and article pages.

Every request goes through one policy (one client per worker process):

* only ``http``/``https``;
* the address actually connected to must be public: the check runs inside the
  connection itself, after DNS, so a name that resolves to 127.0.0.1 (or a
  redirect hop towards one) is refused; ``INGEST_ALLOW_PRIVATE`` host:port pairs
  are the only exemption;
* redirects are followed by hand, each hop checked (and handed to the caller's
  ``before_request`` hook: robots.txt, the per-domain pace), at most ``max_redirects``;
* connect/read timeouts, and a total deadline per request that every socket
  read and write obeys, so a server dripping one byte at a time (in the headers
  or the body) cannot hold a worker past it;
* the content type is checked on the headers, before any of the body is read;
* we ask for ``gzip, deflate`` only and inflate the raw bytes ourselves in
  bounded steps: both the bytes received and the bytes inflated stop at the cap,
  so a gzip bomb never inflates more than ``max_body_bytes`` in memory;
* conditional GET (ETag / Last-Modified) for feeds.

Errors are raised as :mod:`worker.errors` classes whose ``reason`` is recorded.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
import typing
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore
import httpx

from worker.errors import (
    NotAnArticle,
    PermanentError,
    PolicyRefused,
    RateLimited,
    TooLarge,
    TransientError,
)
from worker.settings import FetchSettings

# the only codings we ask for, and so the only ones we accept
ACCEPT_ENCODING = "gzip, deflate"
# at most this many bytes are inflated in one step, whatever a network chunk holds
INFLATE_STEP_BYTES = 64 * 1024

# the total deadline of the request running in this thread, read by every socket operation
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("fetch_deadline", default=None)


@dataclass(frozen=True)
class FetchResult:
    url: str  # final URL after redirects
    status: int
    content: bytes
    content_type: str
    encoding: str | None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressPolicy:
    """Which addresses we may connect to."""

    def __init__(self, allow_private: list[str]):
        self.allow = {a.lower() for a in allow_private}

    def allowed(self, host: str, ip: str, port: int) -> bool:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
        if isinstance(addr, ipaddress.IPv6Address):
            # an IPv4 address carried inside IPv6 (mapped, 6to4, NAT64) is judged as that IPv4 address
            if addr in _NAT64:
                addr = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
            else:
                addr = addr.ipv4_mapped or addr.sixtofour or addr
        if addr.is_global and not addr.is_multicast:
            return True
        return f"{host.lower()}:{port}" in self.allow or f"{ip}:{port}" in self.allow

    def check_host(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return the addresses we may use, or raise PolicyRefused."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise TransientError(f"cannot resolve {host}: {exc}", reason="dns") from exc
        ips = list(dict.fromkeys(str(i[4][0]) for i in infos))
        ok = [ip for ip in ips if self.allowed(host, ip, port)]
        if not ok:
            raise PolicyRefused(
                f"{host}:{port} resolves to a non-public address ({', '.join(ips)})",
                reason="private_address",
            )
        return ok


def _within_deadline(timeout: float | None, exc: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the request's total deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc("the request's total deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write also ends at the request's total deadline.

    Per-read timeouts alone do not stop a server that sends one byte just
    before each read would time out; clamping each read to the time left does.
    """

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy allows, checked after resolution."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for ip in self.policy.check_host(host, port):
            try:
                stream = super().connect_tcp(
                    ip,
                    port,
                    _within_deadline(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, policy: AddressPolicy, limits: httpx.Limits):
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )


_REDIRECTS = {301, 302, 303, 307, 308}


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Fetcher:
    """One per worker process: holds the connection pool and the policy."""

    def __init__(self, settings: FetchSettings, allow_private: list[str]):
        self.s = settings
        self.policy = AddressPolicy(allow_private)
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_seconds,
            read=settings.read_timeout_seconds,
            write=settings.read_timeout_seconds,
            pool=settings.connect_timeout_seconds,
        )
        self.client = httpx.Client(
            transport=_GuardedTransport(self.policy, httpx.Limits(max_connections=20)),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.user_agent_header, "Accept-Encoding": ACCEPT_ENCODING},
        )

    def close(self) -> None:
        self.client.close()

    def get(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        content_types: Collection[str] | None = None,
        truncate: bool = False,
        before_request: Callable[[str], None] | None = None,
        form: dict[str, str] | None = None,
    ) -> FetchResult:
        """GET ``url`` under the policy; raise a classified IngestError on failure.

        ``content_types``: the media types wanted; any other is refused as
        ``not_html`` from the headers alone. ``truncate``: return the first
        ``max_bytes`` of a longer body instead of refusing it (robots.txt).
        ``before_request`` is called with every URL about to be requested,
        the first and each redirect hop, and may raise to stop the fetch.
        ``form``: POST these fields (url-encoded) instead; a redirect after it is a GET.
        """
        cap = max_bytes or self.s.max_body_bytes
        deadline = time.monotonic() + self.s.total_timeout_seconds
        token = _deadline.set(deadline)
        try:
            return self._get(
                url, cap, deadline, etag, last_modified, accept, content_types, truncate, before_request, form
            )
        finally:
            _deadline.reset(token)

    def _get(
        self,
        url: str,
        cap: int,
        deadline: float,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        content_types: Collection[str] | None,
        truncate: bool,
        before_request: Callable[[str], None] | None,
        form: dict[str, str] | None = None,
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _hop in range(self.s.max_redirects + 1):
            check_scheme(current)
            if before_request is not None:
                # time spent on our own politeness (robots.txt, the domain's pace) is not the server's
                started = time.monotonic()
                before_request(current)
                deadline += time.monotonic() - started
                _deadline.set(deadline)
            if time.monotonic() >= deadline:
                raise TransientError(f"{url} took longer than the total deadline", reason="deadline")
            try:
                method = "POST" if form is not None else "GET"
                with self.client.stream(method, current, headers=headers, data=form) as resp:
                    if resp.status_code in _REDIRECTS:
                        form = None
                        loc = resp.headers.get("location")
                        if not loc:
                            raise PermanentError(
                                f"redirect without Location from {current}", reason="bad_redirect"
                            )
                        current = str(resp.url.join(loc))
                        continue
                    _raise_for_status(resp)
                    content_type = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    if (
                        content_types is not None
                        and resp.status_code != 304
                        and content_type not in content_types
                    ):
                        # decided on the headers: the body of a PDF or an image is never downloaded
                        raise NotAnArticle(
                            f"content type {content_type!r} of {resp.url} is not a page", reason="not_html"
                        )
                    body = _read_body(resp, cap, deadline, truncate)
                    return FetchResult(
                        url=str(resp.url),
                        status=resp.status_code,
                        content=body,
                        content_type=content_type,
                        encoding=resp.charset_encoding,
                        etag=resp.headers.get("etag"),
                        last_modified=resp.headers.get("last-modified"),
                    )
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline - 0.05:
                    raise TransientError(
                        f"{current} took longer than the total deadline", reason="deadline"
                    ) from exc
                raise TransientError(
                    f"timeout fetching {current}: {type(exc).__name__}", reason="timeout"
                ) from exc
            except httpx.TransportError as exc:
                raise TransientError(f"network error fetching {current}: {exc}", reason="network") from exc
            except httpx.InvalidURL as exc:
                raise PolicyRefused(f"invalid URL {current!r}: {exc}", reason="bad_url") from exc
        raise PermanentError(
            f"more than {self.s.max_redirects} redirects from {url}", reason="too_many_redirects"
        )


def check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PolicyRefused(f"only http(s) URLs are fetched, not {url[:80]!r}", reason="bad_scheme")


def _raise_for_status(resp: httpx.Response) -> None:
    code = resp.status_code
    if code < 400 or code == 304:
        return
    if code in (429, 503):
        raise RateLimited(
            f"HTTP {code} from {resp.url}",
            retry_after=retry_after_seconds(resp.headers.get("retry-after")),
            reason=f"http_{code}",
        )
    if code >= 500 or code == 408:
        raise TransientError(f"HTTP {code} from {resp.url}", reason=f"http_{code}")
    raise PermanentError(f"HTTP {code} from {resp.url}", reason=f"http_{code}")


class _Inflater:
    """gzip/deflate decoding that never inflates more than ``limit`` bytes per step.

    ``zlib``'s ``max_length`` leaves the rest of the input in ``unconsumed_tail``,
    so a small network chunk of a gzip bomb costs at most one step of memory;
    the caller stops asking as soon as its cap is passed.
    """

    def __init__(self, coding: str):
        self.gzip = coding == "gzip"
        self._d = self._new()
        self._started = False
        self._done = False

    def _new(self) -> typing.Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes, limit: Callable[[], int]) -> Iterator[bytes]:
        """Inflate ``data``, yielding pieces no longer than ``limit()`` (asked before each step)."""
        while not self._done:
            step = max(1, min(INFLATE_STEP_BYTES, limit()))
            try:
                out = self._d.decompress(data, step)
            except zlib.error as exc:
                if not self.gzip and not self._started:  # "deflate" sent as a raw stream
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise PermanentError(
                    f"corrupt compressed body: {exc}", reason="bad_content_encoding"
                ) from exc
            self._started = True
            if out:
                yield out
            data = self._d.unconsumed_tail
            if self._d.eof:
                rest = self._d.unused_data
                if self.gzip and rest[:2] == b"\x1f\x8b":  # another gzip member follows
                    self._d = self._new()
                    data = rest
                else:  # bytes after the end of the stream are ignored, as browsers do
                    self._done = True
            elif not data and len(out) < step:
                return  # input used up and nothing pending; a full step may have more to drain


# compressions we did not ask for and do not decode; other unknown tokens ("none", "utf-8") are ignored
_UNDECODABLE = {"br", "zstd", "compress", "x-compress", "exi", "pack200-gzip", "dcb", "dcz"}


def _codings(resp: httpx.Response) -> list[str]:
    """The body's content coding: none or one of ours; anything else is refused."""
    value = resp.headers.get("content-encoding", "")
    tokens = [c.strip().lower() for c in value.split(",") if c.strip()]
    codings = [
        "gzip" if c == "x-gzip" else c
        for c in tokens
        if c in ("gzip", "x-gzip", "deflate") or c in _UNDECODABLE
    ]
    if len(codings) > 1 or (codings and codings[0] not in ("gzip", "deflate")):
        raise PermanentError(
            f"{resp.url} sent Content-Encoding {value!r}; only one of {ACCEPT_ENCODING} was accepted",
            reason="unsupported_content_encoding",
        )
    return codings


def _read_body(resp: httpx.Response, cap: int, deadline: float, truncate: bool) -> bytes:
    """The decoded body, at most ``cap`` bytes received and ``cap`` bytes inflated."""
    codings = _codings(resp)
    declared = resp.headers.get("content-length")
    if not truncate and declared and declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"{resp.url} declares {declared} bytes, over the {cap}-byte cap")
    inflater = _Inflater(codings[0]) if codings else None
    chunks: list[bytes] = []
    size = 0
    received = 0

    def room() -> int:  # one byte past the cap is enough to know it is passed
        return cap - size + 1

    for raw in resp.iter_raw():
        received += len(raw)
        pieces: typing.Iterable[bytes] = inflater.feed(raw, room) if inflater else (raw,)
        for piece in pieces:
            if time.monotonic() > deadline:
                raise TransientError(f"{resp.url} took longer than the total deadline", reason="deadline")
            size += len(piece)
            if size > cap:
                if truncate:
                    chunks.append(piece[: len(piece) - (size - cap)])
                    return b"".join(chunks)
                raise TooLarge(f"{resp.url} body passes the {cap}-byte cap")
            chunks.append(piece)
        if received > cap:  # compressed input that inflates to little: still capped
            if truncate:
                return b"".join(chunks)
            raise TooLarge(f"{resp.url} sent more than {cap} bytes")
        if time.monotonic() > deadline:
            raise TransientError(f"{resp.url} took longer than the total deadline", reason="deadline")
    return b"".join(chunks)
