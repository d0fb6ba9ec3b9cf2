"""The frontier with real workers: a site's turn costs no worker slot, and a dead taker loses nothing.

Verdicts do not depend on the machine's speed: a site's next turn is made 600 s
away (its robots.txt Crawl-delay), far past the 120 s any wait here may take, and
is then brought forward by the test; a kill lands while a page is held at a gate
the test opens.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import redis

from harness.newsroom import article_html
from tests.conftest import Service, stream_docs
from tests.support import hostile
from tests.support.webserver import FixtureServer, send
from worker.keys import Keys
from worker.politeness import domain_of

BOUND_SECONDS = 120
CRAWL_DELAY = 600  # far past BOUND_SECONDS


def _wait_until(check: Callable[[], bool], what: str, timeout: float = BOUND_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def _page(n: int) -> Callable[[BaseHTTPRequestHandler], None]:
    body = article_html(n).encode()

    def handler(req: BaseHTTPRequestHandler) -> None:
        send(req, 200, body, "text/html; charset=utf-8")

    return handler


def _robots_by_host(slow_host: str, crawl_delay: int) -> Callable[[BaseHTTPRequestHandler], None]:
    """One server, two sites: ``slow_host`` asks for a Crawl-delay, the other for none."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        host = (req.headers.get("Host") or "").split(":")[0]
        body = f"User-agent: *\nCrawl-delay: {crawl_delay}\n" if host == slow_host else "User-agent: *\n"
        send(req, 200, body.encode(), "text/plain")

    return handler


def test_a_one_slot_worker_decides_other_sites_while_a_site_waits_for_its_turn(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # "localhost" and "127.0.0.1" are two sites on one server; localhost asks for 600 s, so
    # its second article's turn is far past anything the other site's articles need, on
    # any machine (the bound below is 120 s)
    web.route("/robots.txt", _robots_by_host("localhost", CRAWL_DELAY))
    service.env |= {
        "INGEST_FETCH__MAX_CRAWL_DELAY_SECONDS": str(CRAWL_DELAY),
        "INGEST_FETCH__MAX_DELAY_SECONDS": str(CRAWL_DELAY),
        # a request may wait up to 60 s for its turn where something waits at all
        # (robots.txt, feeds): an article must not, it waits in the frontier
        "INGEST_FETCH__RATE_LIMIT_MAX_WAIT_SECONDS": "60",
    }
    slow = [f"http://localhost:{web.port}/slow/{n}.html" for n in range(2)]
    fast = [web.url(f"/fast/{n}.html") for n in range(4)]
    for n, url in enumerate(slow + fast):
        web.route(url.split(str(web.port), 1)[1], _page(n))
    service.start_worker("--concurrency", "1")

    service.ingest("fetch", *[a for u in slow + fast for a in ("--url", u)])

    stream = f"{prefix}articles"
    _wait_until(lambda: r.xlen(stream) >= 5, "the first slow article and the 4 fast ones queued")
    # the second slow article waits in the frontier for a turn Crawl-delay after the first,
    # and the worker's only slot went on to the other site meanwhile
    assert web.count("/slow/1.html") == 0
    queued = {d["url"] for d in stream_docs(r, stream)}
    assert queued == {slow[0], *fast}
    keys = Keys(prefix)
    assert int(r.hlen(keys.frontier_entries)) == 1
    site = domain_of(slow[1])
    sec, _ = r.time()
    turn_ms = int(r.get(keys.pace(site)) or 0)
    assert turn_ms >= (sec + CRAWL_DELAY - BOUND_SECONDS - 10) * 1000
    # its turn comes (brought forward here rather than waited for): it is fetched and queued
    sec, _ = r.time()
    r.set(keys.pace(site), sec * 1000)
    r.zadd(keys.frontier_sites, {site: sec * 1000})
    _wait_until(lambda: r.xlen(stream) >= 6, "the second slow article queued in its turn")
    assert web.count("/slow/1.html") == 1


def test_requests_to_one_site_go_one_at_a_time_in_the_order_handed_on(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    in_flight = 0
    most = 0
    lock = threading.Lock()
    order: list[str] = []

    def tracked(n: int) -> Callable[[BaseHTTPRequestHandler], None]:
        body = article_html(n).encode()

        def handler(req: BaseHTTPRequestHandler) -> None:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
                order.append(req.path)
            time.sleep(0.05)  # overlap is possible if anything sends two at once
            with lock:
                in_flight -= 1
            send(req, 200, body, "text/html; charset=utf-8")

        return handler

    urls = [web.route(f"/one/{n}.html", tracked(n)) for n in range(8)]
    service.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "1"  # the default
    service.start_worker("--concurrency", "2")
    service.start_worker("--concurrency", "2")

    summary = service.fetch_wait(*[a for u in urls for a in ("--url", u)])

    assert summary["complete"] and summary["queued"] == 8
    assert most == 1
    assert order == [f"/one/{n}.html" for n in range(8)]


def test_an_article_whose_worker_died_holding_its_sites_turn_is_decided_once_by_another(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.env.update(
        {
            "INGEST_WORKER__HEARTBEAT_SECONDS": "1",
            "INGEST_WORKER__DEAD_AFTER_SECONDS": "4",
            "INGEST_WORKER__SWEEP_SECONDS": "1",
            # long enough that a live taker's renewal is never late on a busy machine; the
            # dead worker's lease is made to run out by the test below
            "INGEST_WORKER__LEASE_SECONDS": "60",
            "INGEST_FETCH__READ_TIMEOUT_SECONDS": "60",
            "INGEST_FETCH__TOTAL_TIMEOUT_SECONDS": "90",
        }
    )
    gate = threading.Event()
    calls: list[int] = []
    body = article_html(1).encode()

    def held_once(req: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        if len(calls) == 1:
            gate.wait(BOUND_SECONDS)  # the first request hangs until the test is over
        send(req, 200, body, "text/html; charset=utf-8")

    url = web.route("/held.html", held_once)
    others = [web.url(f"/after/{n}.html") for n in range(3)]
    for n, u in enumerate(others):
        web.route(u.split(str(web.port), 1)[1], _page(10 + n))
    victim = service.start_worker("--concurrency", "1")
    try:
        service.ingest("fetch", *[a for u in [url, *others] for a in ("--url", u)])
        _wait_until(lambda: len(calls) == 1, "the victim's request reaches the site")

        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        # its lease runs out now (instead of in 60 s): the only leases are the dead worker's
        leases = Keys(prefix).frontier_leases
        r.zadd(leases, dict.fromkeys(r.zrange(leases, 0, -1), 0))
        service.start_worker("--concurrency", "1")

        stream = f"{prefix}articles"
        _wait_until(lambda: r.xlen(stream) >= 4, "all 4 articles queued")
        _wait_until(lambda: r.hlen(f"{prefix}inflight") == 0, "nothing left in flight")
        urls = Counter(d["url"] for d in stream_docs(r, stream))
        assert set(urls) == {url, *others}
        assert max(urls.values()) == 1
        assert len(calls) == 2  # the dead worker's request, and the one after its lease ran out
        assert r.hlen(f"{prefix}frontier:entries") == 0
        assert "event=frontier_requeued" in service.logs()
    finally:
        gate.set()


def test_a_site_that_answers_429_is_asked_nothing_until_its_retry_after_has_passed(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    clock = hostile.Clock()
    web.route("/robots.txt", hostile.status(404))
    first = web.route(
        "/limited/0.html",
        clock.timed(hostile.Sequence(hostile.status(429, {"Retry-After": "3"}), _page(0))),
    )
    rest = [web.route(f"/limited/{n}.html", clock.timed(_page(n))) for n in range(1, 4)]
    # one request in flight (the default; the suite allows 8): a request that went before
    # the 429 came back could not have known of it
    service.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "1"
    service.start_worker("--concurrency", "2")

    summary = service.fetch_wait(*[a for u in [first, *rest] for a in ("--url", u)])

    assert summary["complete"] and summary["queued"] == 4
    arrivals = clock.arrivals("/limited/")
    assert len(arrivals) == 5
    # the 429 slows the whole site, not only its article: every later request to it comes
    # at least 3 s after the 429 (load can only delay them)
    assert all(t - arrivals[0] >= 3.0 for t in arrivals[1:]), [round(t - arrivals[0], 3) for t in arrivals]


def test_a_page_that_redirects_within_its_site_is_fetched_in_the_sites_pace(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # http -> https, /amp/ -> /: the hop is a second request to the site, in its next turn
    service.env["INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND"] = "2"
    service.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "1"
    clock = hostile.Clock()
    web.route("/robots.txt", clock.timed(hostile.status(404)))
    old = web.route("/old/story.html", clock.timed(hostile.redirect(web.url("/new/story.html"))))
    web.route("/new/story.html", clock.timed(_page(3)))
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--url", old)

    assert summary["complete"] and summary["queued"] == 1
    [robots, first, hop] = clock.arrivals()
    assert (
        first - robots >= 0.49 and hop - first >= 0.49
    )  # load can only delay them (each counts from the last send)


def test_status_shows_the_articles_waiting_in_the_frontier(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    urls = [web.url(f"/waiting/{n}.html") for n in range(3)]
    service.ingest("fetch", *[a for u in urls for a in ("--url", u)])  # no worker runs

    status = json.loads(service.ingest("status", "--json").stdout)

    assert status["frontier"] == {"waiting": 3, "leased": 0, "sites": 1}
    assert "frontier: 3 articles waiting for their site's turn" in service.ingest("status").stdout
