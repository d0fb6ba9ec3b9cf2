"""Safe HTTP fetching for feeds and article pages.

Every request goes through one policy (one client per worker process):

* only ``http``/``https``;
* the address actually connected to must be public: the check runs inside the
  connection itself, after DNS, so a name that resolves to 127.0.0.1 (or a
  redirect hop towards one) is refused; ``INGEST_ALLOW_PRIVATE`` host:port pairs
  are the only exemption;
* redirects are followed by hand, each hop checked, at most ``max_redirects``;
* bodies are streamed and cut at a byte cap counted on the *decoded* bytes;
* connect/read timeouts and a total deadline per request;
* conditional GET (ETag / Last-Modified) for feeds.

Errors are raised as :mod:`worker.errors` classes whose ``reason`` is recorded.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import typing
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpcore
import httpx

from worker.errors import PermanentError, PolicyRefused, RateLimited, TooLarge, TransientError
from worker.settings import FetchSettings


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


class AddressPolicy:
    """Which addresses we may connect to."""

    def __init__(self, allow_private: list[str]):
        self.allow = {a.lower() for a in allow_private}

    def allowed(self, host: str, ip: str, port: int) -> bool:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
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
                return super().connect_tcp(ip, port, timeout, local_address, socket_options)
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
            headers={"User-Agent": settings.user_agent_header},
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
    ) -> FetchResult:
        """GET ``url`` under the policy; raise a classified IngestError on failure."""
        cap = max_bytes or self.s.max_body_bytes
        deadline = time.monotonic() + self.s.total_timeout_seconds
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _hop in range(self.s.max_redirects + 1):
            check_scheme(current)
            try:
                with self.client.stream("GET", current, headers=headers) as resp:
                    if resp.status_code in _REDIRECTS:
                        loc = resp.headers.get("location")
                        if not loc:
                            raise PermanentError(
                                f"redirect without Location from {current}", reason="bad_redirect"
                            )
                        current = str(resp.url.join(loc))
                        continue
                    _raise_for_status(resp)
                    body = _read_capped(resp, cap, deadline)
                    return FetchResult(
                        url=str(resp.url),
                        status=resp.status_code,
                        content=body,
                        content_type=resp.headers.get("content-type", "").split(";")[0].strip().lower(),
                        encoding=resp.charset_encoding,
                        etag=resp.headers.get("etag"),
                        last_modified=resp.headers.get("last-modified"),
                    )
            except httpx.TimeoutException as exc:
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


def _read_capped(resp: httpx.Response, cap: int, deadline: float) -> bytes:
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise TooLarge(f"{resp.url} declares {declared} bytes, over the {cap}-byte cap")
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_bytes():  # decoded: the cap counts decompressed bytes
        size += len(chunk)
        if size > cap:
            raise TooLarge(f"{resp.url} body passes the {cap}-byte cap")
        if time.monotonic() > deadline:
            raise TransientError(f"{resp.url} took longer than the total deadline", reason="deadline")
        chunks.append(chunk)
    return b"".join(chunks)
