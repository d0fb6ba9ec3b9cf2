"""A worker process takes several articles from the frontier at once; each keeps its own fate."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import redis

from harness.newsroom import article_html
from tests.conftest import Service, stream_docs
from tests.support import hostile
from tests.support.webserver import FixtureServer, Handler, send, serve_stories


def _drains(logs: str) -> list[dict[str, int]]:
    """The ``drain_done`` lines of the workers' logs, as counts."""
    out = []
    for line in logs.splitlines():
        if "event=drain_done" in line:
            out.append({k: int(v) for k, v in re.findall(r"(\w+)=(\d+)(?:\s|$)", line)})
    return out


def _tracked(body: bytes, state: dict[str, int], lock: threading.Lock) -> Handler:
    """A page that counts the requests in flight at once (``state["most"]``)."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)  # requests sent side by side overlap here
        with lock:
            state["now"] -= 1
        send(req, 200, body, "text/html; charset=utf-8")

    return handler


def test_a_process_has_at_most_articles_per_task_pages_in_flight(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    state = {"now": 0, "most": 0}
    lock = threading.Lock()
    expected = serve_stories(web, 20, respond=lambda body: _tracked(body, state, lock))
    service.env["INGEST_WORKER__ARTICLES_PER_TASK"] = "4"
    service.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "20"  # the site would take them all
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 20
    assert {d["url"] for d in stream_docs(r, f"{prefix}articles")} == expected
    assert 1 <= state["most"] <= 4


def test_articles_per_task_1_fetches_one_page_at_a_time(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    state = {"now": 0, "most": 0}
    lock = threading.Lock()
    serve_stories(web, 5, respond=lambda body: _tracked(body, state, lock))
    service.env["INGEST_WORKER__ARTICLES_PER_TASK"] = "1"
    service.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "5"
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 5
    assert state["most"] == 1


def test_an_article_that_fails_once_retries_alone_while_the_others_go_on(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    expected = serve_stories(web, 6)
    flaky = hostile.Sequence(hostile.status(503), hostile.page(article_html(2).encode()))
    web.route("/gen/story-2.html", flaky)
    service.start_worker()

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 6 and summary["failed"] == 0
    assert flaky.calls == 2
    drains = _drains(service.logs())
    assert sum(d.get("retry", 0) for d in drains) == 1
    assert sum(d.get("queued", 0) for d in drains) == 6
    docs = stream_docs(r, f"{prefix}articles")
    assert {d["url"] for d in docs} == expected and len(docs) == 6


def test_a_drain_past_half_its_time_limit_takes_no_more_and_loses_none(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # a site that serves one page at a time, 0.5 s each: the 8 pages arrive over 4 s,
    # past half the 6 s soft limit
    one_at_a_time = threading.Lock()

    def slow(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
        def handler(req: BaseHTTPRequestHandler) -> None:
            with one_at_a_time:
                time.sleep(0.5)
                send(req, 200, body, "text/html; charset=utf-8")

        return handler

    expected = serve_stories(web, 8, respond=slow)
    service.env.update(
        {
            "INGEST_WORKER__TASK_SOFT_TIME_LIMIT_SECONDS": "6",
            "INGEST_WORKER__TASK_TIME_LIMIT_SECONDS": "12",
        }
    )
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 8 and summary["failed"] == 0
    docs = stream_docs(r, f"{prefix}articles")
    assert sorted(d["url"] for d in docs) == sorted(expected)  # each once
    drains = [d for d in _drains(service.logs()) if d.get("queued")]
    assert len(drains) > 1  # the first stopped taking; the next drain went on
    assert sum(d["queued"] for d in drains) == 8
    assert "TimeLimitExceeded" not in service.logs()


def test_a_process_downloads_its_pages_side_by_side(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # every page is held back until all 8 have been asked for (or 10 s pass): only
    # downloads started side by side get past the gate without the timeout
    gate = threading.Event()
    arrived: list[str] = []

    def held(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
        def handler(req: BaseHTTPRequestHandler) -> None:
            arrived.append(req.path)
            if len(arrived) >= 8:
                gate.set()
            gate.wait(10)
            send(req, 200, body, "text/html; charset=utf-8")

        return handler

    expected = serve_stories(web, 8, respond=held)
    service.env["INGEST_FETCH__PER_DOMAIN_CONCURRENCY"] = "8"
    # a page held at the gate must not time out and go again meanwhile (the suite's 3 s)
    service.env["INGEST_FETCH__READ_TIMEOUT_SECONDS"] = "60"
    service.env["INGEST_FETCH__TOTAL_TIMEOUT_SECONDS"] = "90"
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 8
    assert gate.is_set() and sorted(web.url(p) for p in arrived) == sorted(
        expected
    )  # opened by the 8th request


def test_the_pending_set_of_a_run_holds_its_articles_until_each_is_decided(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # `ingest fetch --wait` watches this set's size instead of re-reading every item
    serve_stories(web, 3)
    urls = [web.url(f"/gen/story-{i}.html") for i in range(3)]
    sent = service.ingest("fetch", *[a for u in urls for a in ("--url", u)])
    run_id = sent.stdout.split()[-1]
    assert r.scard(f"{prefix}run:{run_id}:pending") == 3  # no worker yet

    service.start_worker()
    summary = service.fetch_wait("--url", urls[0])  # another run, to know when the worker is done

    assert summary["complete"]
    deadline = time.monotonic() + 30
    while r.scard(f"{prefix}run:{run_id}:pending") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert r.scard(f"{prefix}run:{run_id}:pending") == 0
    assert r.xlen(f"{prefix}articles") == 3


def test_a_batch_on_a_site_not_seen_before_downloads_its_robots_txt_once(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    serve_stories(web, 8)
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 8
    assert web.count("/robots.txt") == 1


def _slow_robots(web: FixtureServer, status: int = 200, delay: float = 0.5) -> None:
    def handler(req: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)  # every task that missed it in Redis would be asking meanwhile
        send(req, status, b"User-agent: *\nAllow: /\n", "text/plain")

    web.route("/robots.txt", handler)


def test_a_poll_fetches_the_robots_txt_of_a_new_site_once_for_all_the_processes_taking_its_articles(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    serve_stories(web, 12)
    _slow_robots(web)
    service.env["INGEST_WORKER__ARTICLES_PER_TASK"] = "2"
    service.start_worker("--concurrency", "3")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 12
    assert web.count("/robots.txt") == 1
    arrivals = web.paths()
    assert arrivals.index("/robots.txt") < min(i for i, p in enumerate(arrivals) if p.startswith("/gen/"))


def test_a_robots_txt_that_fails_while_the_poll_fetches_it_still_lets_the_poll_hand_its_articles_on(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    serve_stories(web, 4)
    _slow_robots(web, status=500, delay=0)
    service.env["INGEST_FETCH__MAX_RETRIES"] = "0"
    service.start_worker("--concurrency", "2")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["new"] == 4
    assert summary["failed"] == 4  # what the site's answer means for its pages (RFC 9309)
    assert {f["reason"] for f in summary["failures"]} == {"robots_unreachable"}
    assert web.count("/robots.txt") == 1  # the answer is kept, not asked for again by each page


def test_a_poll_hands_its_articles_on_without_waiting_for_the_sites_robots_txt(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # robots.txt is fetched in the first article's turn at its site, by a drain; a poll
    # that waited for it would hold a worker slot meanwhile
    serve_stories(web, 4)
    gate = threading.Event()

    def held_robots(req: BaseHTTPRequestHandler) -> None:
        gate.wait(60)
        send(req, 404, b"", "text/plain")

    web.route("/robots.txt", held_robots)
    service.start_worker("--concurrency", "2")

    run_id = service.ingest("fetch", "--feed", web.url("/feeds/gen.rss")).stdout.split()[-1]
    deadline = time.monotonic() + 60
    while not r.hlen(f"{prefix}run:{run_id}:polls") and time.monotonic() < deadline:
        time.sleep(0.05)
    polled_while_robots_held = not gate.is_set() and r.hlen(f"{prefix}run:{run_id}:polls") == 1
    gate.set()

    assert polled_while_robots_held
    deadline = time.monotonic() + 60
    while r.xlen(f"{prefix}articles") < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.xlen(f"{prefix}articles") == 4
    assert web.count("/robots.txt") == 1
