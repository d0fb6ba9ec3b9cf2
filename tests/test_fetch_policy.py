"""The HTTP policy of worker.fetch.Fetcher, checked against a real server on loopback.

Every test talks to :class:`tests.support.webserver.FixtureServer`; the server's
request log tells whether a refused request really never left the process.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.webserver import FixtureServer, Hit, send
from worker.embedded_redis import free_port
from worker.errors import PermanentError, PolicyRefused, RateLimited, TooLarge, TransientError
from worker.fetch import Fetcher
from worker.settings import FetchSettings

PAGE = "/news/on-topic-1.html"


def make_fetcher(web: FixtureServer, settings: FetchSettings | None = None) -> Fetcher:
    return Fetcher(settings or FetchSettings(), allow_private=[web.hostport])


@pytest.fixture
def fetcher(web: FixtureServer) -> Iterator[Fetcher]:
    f = make_fetcher(web)
    yield f
    f.close()


def hits(server: FixtureServer, path: str, at_least: int = 0, settle: float = 0.2) -> list[Hit]:
    """The server's log for ``path`` once it has settled.

    The server logs a request after its response is sent, so the client can be
    done before the log is: wait for ``at_least`` logged entries (30 s at most),
    then a moment more so that a request that should not have happened has time
    to show up (one later than that would be missed, never wrongly counted).
    """

    def logged() -> list[Hit]:
        return [h for h in server.hits if h.path == path]

    deadline = time.monotonic() + 30
    while len(logged()) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(settle)
    return logged()


def redirect_to(location: str, status: int = 302) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(req: BaseHTTPRequestHandler) -> None:
        send(req, status, b"", None, {"Location": location})

    return handler


# ---- what is allowed ---------------------------------------------------------------


def test_allowed_local_page_is_fetched_with_its_content_and_type(
    fetcher: Fetcher, web: FixtureServer
) -> None:
    res = fetcher.get(web.url(PAGE))

    assert res.status == 200
    assert res.content.startswith(b"<!DOCTYPE html") or b"<html" in res.content[:500]
    assert b"Khrenin" in res.content
    assert res.content_type == "text/html"
    assert res.encoding == "utf-8"
    assert res.url == web.url(PAGE)


def test_request_carries_configured_user_agent_and_contact_url(web: FixtureServer) -> None:
    settings = FetchSettings(user_agent="spec-agent/9.9", contact_url="https://contact.example.test/bot")
    f = make_fetcher(web, settings)
    try:
        f.get(web.url(PAGE))
    finally:
        f.close()

    ua = hits(web, PAGE, at_least=1)[0].headers["User-Agent"]
    assert "spec-agent/9.9" in ua
    assert "https://contact.example.test/bot" in ua


def test_redirect_within_allowed_server_is_followed_to_the_final_url(
    fetcher: Fetcher, web: FixtureServer
) -> None:
    start = web.route("/moved", redirect_to(PAGE, 301))

    res = fetcher.get(start)

    assert res.status == 200
    assert res.url == web.url(PAGE)
    assert len(hits(web, PAGE, at_least=1)) == 1
    assert len(hits(web, "/moved", at_least=1, settle=0)) == 1


def test_conditional_get_with_the_feeds_etag_returns_not_modified(
    fetcher: Fetcher, web: FixtureServer
) -> None:
    first = fetcher.get(web.url("/feeds/topic.rss"))
    assert first.status == 200 and first.etag

    second = fetcher.get(web.url("/feeds/topic.rss"), etag=first.etag)

    assert second.status == 304
    assert second.not_modified
    assert second.content == b""
    assert hits(web, "/feeds/topic.rss", at_least=2)[1].headers.get("If-None-Match") == first.etag


# ---- the address policy ------------------------------------------------------------


def test_local_address_not_in_allow_list_is_refused_before_any_request(web: FixtureServer) -> None:
    f = Fetcher(FetchSettings(), allow_private=[])
    try:
        with pytest.raises(PolicyRefused) as exc:
            f.get(web.url(PAGE))
    finally:
        f.close()

    assert exc.value.reason == "private_address"
    assert hits(web, PAGE) == []


def test_allow_list_entry_for_another_port_does_not_open_this_one(web: FixtureServer) -> None:
    f = Fetcher(FetchSettings(), allow_private=[f"127.0.0.1:{web.port + 1}"])
    try:
        with pytest.raises(PolicyRefused) as exc:
            f.get(web.url(PAGE))
    finally:
        f.close()

    assert exc.value.reason == "private_address"
    assert hits(web, PAGE) == []


def test_redirect_from_allowed_server_to_unlisted_local_port_is_refused(
    fetcher: Fetcher, web: FixtureServer
) -> None:
    with FixtureServer() as other:
        start = web.route("/hop", redirect_to(other.url(PAGE)))

        with pytest.raises(PolicyRefused) as exc:
            fetcher.get(start)

        assert exc.value.reason == "private_address"
        assert len(hits(web, "/hop", at_least=1)) == 1
        assert other.hits == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/file.txt", "file:///etc/passwd", "gopher://127.0.0.1:70/"])
def test_non_http_scheme_is_refused_as_bad_scheme(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(PolicyRefused) as exc:
        fetcher.get(url)

    assert exc.value.reason == "bad_scheme"


def test_redirect_to_a_file_url_is_refused_as_bad_scheme(fetcher: Fetcher, web: FixtureServer) -> None:
    start = web.route("/to-file", redirect_to("file:///etc/passwd"))

    with pytest.raises(PolicyRefused) as exc:
        fetcher.get(start)

    assert exc.value.reason == "bad_scheme"


def test_redirect_loop_stops_after_max_redirects(web: FixtureServer) -> None:
    loop = web.route("/loop", redirect_to("/loop"))
    f = make_fetcher(web, FetchSettings(max_redirects=3))
    try:
        with pytest.raises(PermanentError) as exc:
            f.get(loop)
    finally:
        f.close()

    assert exc.value.reason == "too_many_redirects"
    assert len(hits(web, "/loop", at_least=4)) == 4  # the first request and three redirects, no more


# ---- size caps ---------------------------------------------------------------------


def test_body_over_max_body_bytes_is_too_large(web: FixtureServer) -> None:
    big = web.route("/big", lambda req: send(req, 200, b"x" * 5000, "text/html"))
    f = make_fetcher(web, FetchSettings(max_body_bytes=2048))
    try:
        with pytest.raises(TooLarge) as exc:
            f.get(big)
    finally:
        f.close()

    assert exc.value.reason == "too_large"


def test_body_within_max_body_bytes_is_accepted(web: FixtureServer) -> None:
    small = web.route("/small", lambda req: send(req, 200, b"x" * 2048, "text/html"))
    f = make_fetcher(web, FetchSettings(max_body_bytes=2048))
    try:
        assert len(f.get(small).content) == 2048
    finally:
        f.close()


def test_compressed_body_is_capped_on_its_decompressed_size(web: FixtureServer) -> None:
    bomb = gzip.compress(b"a" * 200_000)
    assert len(bomb) < 2048
    url = web.route("/bomb", lambda req: send(req, 200, bomb, "text/html", {"Content-Encoding": "gzip"}))
    f = make_fetcher(web, FetchSettings(max_body_bytes=2048))
    try:
        with pytest.raises(TooLarge):
            f.get(url)
    finally:
        f.close()


def test_body_trickling_in_past_the_total_deadline_is_a_transient_deadline_error(
    web: FixtureServer,
) -> None:
    def trickle(req: BaseHTTPRequestHandler) -> None:  # 600 bytes over 30 s, unless the client leaves
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Length", "600")
        req.end_headers()
        try:
            for _ in range(600):
                req.wfile.write(b"x")
                req.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass

    url = web.route("/trickle", trickle)
    f = make_fetcher(web, FetchSettings(total_timeout_seconds=0.5, read_timeout_seconds=5))
    started = time.monotonic()
    try:
        with pytest.raises(TransientError) as exc:
            f.get(url)
    finally:
        f.close()

    assert exc.value.reason == "deadline"
    # a bound on hanging, not a measurement: the body would take 30 s to arrive
    assert time.monotonic() - started < 20


# ---- HTTP status classes -----------------------------------------------------------


def test_404_is_permanent_with_reason_http_404(fetcher: Fetcher, web: FixtureServer) -> None:
    with pytest.raises(PermanentError) as exc:
        fetcher.get(web.url("/news/does-not-exist.html"))

    assert exc.value.reason == "http_404"
    assert not isinstance(exc.value, TransientError)


def test_500_is_transient(fetcher: Fetcher, web: FixtureServer) -> None:
    url = web.route("/boom", lambda req: send(req, 500, b"", "text/plain"))

    with pytest.raises(TransientError) as exc:
        fetcher.get(url)

    assert exc.value.reason == "http_500"
    assert not isinstance(exc.value, PermanentError)


def test_429_with_retry_after_is_rate_limited_for_that_many_seconds(
    fetcher: Fetcher, web: FixtureServer
) -> None:
    url = web.route("/slow-down", lambda req: send(req, 429, b"", "text/plain", {"Retry-After": "7"}))

    with pytest.raises(RateLimited) as exc:
        fetcher.get(url)

    assert exc.value.retry_after == 7
    assert exc.value.reason == "http_429"


def test_connection_refused_is_a_transient_network_error() -> None:
    port = free_port()  # nothing listens there; allowed, so the policy is not what stops us
    f = Fetcher(FetchSettings(), allow_private=[f"127.0.0.1:{port}"])
    try:
        with pytest.raises(TransientError) as exc:
            f.get(f"http://127.0.0.1:{port}/")
    finally:
        f.close()

    assert exc.value.reason == "network"
