"""worker.fetch under hostile servers: caps, decompression, deadlines, content types, hooks.

Every case is a real server on loopback (:mod:`tests.support.hostile`); memory
is measured with tracemalloc, which sees every buffer zlib and the client
allocate in this process.
"""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import hostile
from tests.support.webserver import FixtureServer, Handler
from worker.errors import NotAnArticle, PermanentError, PolicyRefused, TooLarge, TransientError
from worker.extract import HTML_TYPES
from worker.fetch import AddressPolicy, Fetcher
from worker.settings import FetchSettings

CAP = 1_000_000
HTML = b"<html><body><p>" + "Minsk and Beijing – caf\u00e9 talks. ".encode() * 400 + b"</p></body></html>"


def make(site: FixtureServer, **overrides: Any) -> Fetcher:
    return Fetcher(FetchSettings(max_body_bytes=CAP, **overrides), allow_private=[site.hostport])


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    """One server for the module (each test mounts its own paths): no per-test shutdown wait."""
    with FixtureServer() as server:
        server.httpd.handle_error = lambda *_: None  # type: ignore[method-assign]  # clients hang up on purpose
        yield server


@pytest.fixture
def fetcher(site: FixtureServer) -> Iterator[Fetcher]:
    f = make(site)
    yield f
    f.close()


# ---- decompression ----------------------------------------------------------------


def test_gzip_bomb_is_too_large_and_never_inflated_past_the_cap(
    fetcher: Fetcher, site: FixtureServer
) -> None:
    url = site.route("/bomb", hostile.gzip_bomb(100 * 1024 * 1024))  # ~100 KB on the wire

    tracemalloc.start()
    try:
        with pytest.raises(TooLarge) as exc:
            fetcher.get(url)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert exc.value.reason == "too_large"
    # 100 MB inflated would show; the cap (1 MB) plus one step and the client's buffers is all there is
    assert peak < 4 * CAP, f"peak {peak / 1e6:.1f} MB while refusing a 100 MB gzip bomb"


def test_gzipped_page_is_inflated_to_its_original_bytes(fetcher: Fetcher, site: FixtureServer) -> None:
    url = site.route("/gz", hostile.gzipped(HTML))

    assert fetcher.get(url).content == HTML


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib-wrapped", "raw-deflate"])
def test_deflated_page_is_inflated_in_either_deflate_form(
    fetcher: Fetcher, site: FixtureServer, wbits: int
) -> None:
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = comp.compress(HTML) + comp.flush()
    url = site.route("/deflate", hostile.page(body, "text/html", {"Content-Encoding": "deflate"}))

    assert fetcher.get(url).content == HTML


def test_concatenated_gzip_members_are_all_inflated(fetcher: Fetcher, site: FixtureServer) -> None:
    url = site.route(
        "/two",
        hostile.page(
            gzip.compress(HTML) + gzip.compress(b"<p>end</p>"), "text/html", {"Content-Encoding": "gzip"}
        ),
    )

    assert fetcher.get(url).content == HTML + b"<p>end</p>"


def test_corrupt_gzip_body_is_a_permanent_bad_content_encoding(fetcher: Fetcher, site: FixtureServer) -> None:
    url = site.route(
        "/corrupt",
        hostile.page(
            b"\x1f\x8b\x08\x00" + b"not gzip at all" * 50, "text/html", {"Content-Encoding": "gzip"}
        ),
    )

    with pytest.raises(PermanentError) as exc:
        fetcher.get(url)

    assert exc.value.reason == "bad_content_encoding"


@pytest.mark.parametrize("coding", ["br", "gzip, gzip", "compress"])
def test_content_encoding_we_did_not_ask_for_is_refused(
    fetcher: Fetcher, site: FixtureServer, coding: str
) -> None:
    url = site.route("/odd", hostile.page(b"\x00" * 100, "text/html", {"Content-Encoding": coding}))

    with pytest.raises(PermanentError) as exc:
        fetcher.get(url)

    assert exc.value.reason == "unsupported_content_encoding"


@pytest.mark.parametrize("coding", ["identity", "none", "utf-8"])
def test_content_encoding_that_names_no_compression_is_read_as_is(
    fetcher: Fetcher, site: FixtureServer, coding: str
) -> None:
    url = site.route("/plain", hostile.page(HTML, "text/html", {"Content-Encoding": coding}))

    assert fetcher.get(url).content == HTML


def test_requests_ask_only_for_gzip_and_deflate(fetcher: Fetcher, site: FixtureServer) -> None:
    seen: list[str] = []
    url = site.route(
        "/ae", lambda req: (seen.append(req.headers["Accept-Encoding"]), hostile.page(HTML)(req))
    )

    fetcher.get(url)

    assert seen == ["gzip, deflate"]


# ---- size caps while streaming ------------------------------------------------------


def test_endless_chunked_body_is_cut_at_the_cap(fetcher: Fetcher, site: FixtureServer) -> None:
    url = site.route("/endless", hostile.endless_chunked())

    with pytest.raises(TooLarge) as exc:
        fetcher.get(url)

    assert exc.value.reason == "too_large"


def test_declared_50_mb_page_is_refused_without_reading_it_into_memory(
    fetcher: Fetcher, site: FixtureServer
) -> None:
    url = site.route("/huge", hostile.declared_huge(50 * 1024 * 1024))

    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetcher.get(url)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 2 * CAP


def test_truncating_fetch_returns_the_first_cap_bytes_of_a_longer_body(
    fetcher: Fetcher, site: FixtureServer
) -> None:
    url = site.route("/long", hostile.page(b"a" * 5000 + b"b" * 5000, "text/plain"))

    res = fetcher.get(url, max_bytes=5000, truncate=True)

    assert res.content == b"a" * 5000


# ---- time ---------------------------------------------------------------------------


@pytest.mark.parametrize("drip", [hostile.drip_body, hostile.drip_headers], ids=["body", "headers"])
def test_server_dripping_a_byte_at_a_time_is_stopped_by_the_total_deadline(
    site: FixtureServer, drip: Callable[[float], Handler]
) -> None:
    # the server keeps sending (for 30 s) and the read timeout is far above the total deadline:
    # each read is cut to what is left of the deadline, so only the deadline can end this, however
    # long a gap between two bytes is on a loaded machine
    url = site.route("/drip", drip(0.1))
    f = make(site, read_timeout_seconds=60.0, total_timeout_seconds=1.5)
    started = time.monotonic()
    try:
        with pytest.raises(TransientError) as exc:
            f.get(url)
    finally:
        f.close()

    assert exc.value.reason == "deadline"
    # a bound on hanging, not a measurement: the drip itself goes on for 30 s
    assert time.monotonic() - started < 20


def test_time_spent_in_before_request_is_not_counted_against_the_deadline(site: FixtureServer) -> None:
    url = site.route("/ok", hostile.page(HTML))
    f = make(site, total_timeout_seconds=2.0)
    try:
        # the deadline is set before the hook is called: sleeping the whole total timeout in
        # the hook passes it for certain, and the request itself still has 2 s, plenty on loopback
        res = f.get(url, before_request=lambda _u: time.sleep(2.0))
    finally:
        f.close()

    assert res.status == 200


def test_connection_reset_in_the_middle_of_the_body_is_a_transient_network_error(
    fetcher: Fetcher, site: FixtureServer
) -> None:
    url = site.route("/reset", hostile.reset_mid_body())

    with pytest.raises(TransientError) as exc:
        fetcher.get(url)

    assert exc.value.reason == "network"


# ---- content types ----------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["application/pdf", "image/png", "application/octet-stream"])
def test_non_html_page_is_refused_on_its_headers_before_any_body_is_sent(
    site: FixtureServer, ctype: str
) -> None:
    held = hostile.HeldBody(ctype)
    url = site.route("/file", held)
    f = make(site, read_timeout_seconds=1.0)  # reading the held body would end in a timeout instead
    try:
        with pytest.raises(NotAnArticle) as exc:
            f.get(url, content_types=HTML_TYPES)
    finally:
        f.close()

    assert exc.value.reason == "not_html"
    deadline = time.monotonic() + held.hold_seconds + 5  # the handler records its verdict by then
    while not held.client_left_first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert held.client_left_first == [True]


def test_html_with_a_charset_parameter_is_accepted_as_html(fetcher: Fetcher, site: FixtureServer) -> None:
    url = site.route("/page", hostile.page(HTML, "Text/HTML; charset=UTF-8"))

    res = fetcher.get(url, content_types=HTML_TYPES)

    assert (res.content_type, res.encoding) == ("text/html", "utf-8")


# ---- the before_request hook and redirects -------------------------------------------


def test_before_request_sees_the_first_url_and_every_redirect_hop(
    fetcher: Fetcher, site: FixtureServer
) -> None:
    site.route("/final", hostile.page(HTML))
    site.route("/hop2", hostile.redirect("/final", 301))
    start = site.route("/hop1", hostile.redirect(site.url("/hop2")))
    seen: list[str] = []

    fetcher.get(start, before_request=seen.append)

    assert seen == [site.url("/hop1"), site.url("/hop2"), site.url("/final")]


def test_before_request_raising_stops_the_fetch_before_the_request_is_sent(
    fetcher: Fetcher, site: FixtureServer
) -> None:
    calls: list[int] = []
    url = site.route("/never", hostile.count_calls(hostile.page(HTML), calls))

    def refuse(u: str) -> None:
        raise PolicyRefused(f"no {u}", reason="robots_disallowed")

    with pytest.raises(PolicyRefused):
        fetcher.get(url, before_request=refuse)

    assert calls == []


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:6379/"]
)
def test_redirect_from_an_allowed_page_to_an_internal_service_is_refused(
    fetcher: Fetcher, site: FixtureServer, target: str
) -> None:
    start = site.route("/innocent", hostile.redirect(target))

    with pytest.raises(PolicyRefused) as exc:
        fetcher.get(start)

    assert exc.value.reason == "private_address"


# ---- which addresses are public ----------------------------------------------------------

REFUSED = [
    "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:7f00:1::1",
]  # fmt: skip
PUBLIC = ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("ip", REFUSED)
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(ip: str) -> None:
    assert not AddressPolicy([]).allowed("host.example", ip, 80)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_are_allowed(ip: str) -> None:
    assert AddressPolicy([]).allowed("host.example", ip, 80)


def test_a_name_that_resolves_to_loopback_is_refused_on_the_resolved_address(site: FixtureServer) -> None:
    calls: list[int] = []
    site.route("/by-name", hostile.count_calls(hostile.page(HTML), calls))
    f = Fetcher(FetchSettings(), allow_private=[])
    try:
        with pytest.raises(PolicyRefused) as exc:
            f.get(f"http://localhost:{site.port}/by-name")
    finally:
        f.close()

    assert exc.value.reason == "private_address"
    assert calls == []
