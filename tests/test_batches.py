"""A poll hands its new articles to workers several to a task message; each keeps its own fate."""

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
from tests.support.webserver import FixtureServer, send, serve_stories


def _batches(logs: str) -> list[dict[str, int]]:
    """The ``batch_done`` lines of the workers' logs, as counts."""
    out = []
    for line in logs.splitlines():
        if "event=batch_done" in line:
            out.append({k: int(v) for k, v in re.findall(r"(\w+)=(\d+)(?:\s|$)", line)})
    return out


def test_a_poll_sends_its_articles_in_messages_of_articles_per_task(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    expected = serve_stories(web, 20)
    service.env["INGEST_WORKER__ARTICLES_PER_TASK"] = "8"
    service.start_worker()

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 20
    assert {d["url"] for d in stream_docs(r, f"{prefix}articles")} == expected
    batches = _batches(service.logs())
    assert sorted(b["articles"] for b in batches) == [4, 8, 8]
    assert sum(b.get("queued", 0) for b in batches) == 20


def test_articles_per_task_1_sends_every_article_in_a_message_of_its_own(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    serve_stories(web, 5)
    service.env["INGEST_WORKER__ARTICLES_PER_TASK"] = "1"
    service.start_worker()

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 5
    assert [b["articles"] for b in _batches(service.logs())] == [1] * 5


def test_an_article_that_fails_once_retries_alone_while_its_batch_goes_on(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    expected = serve_stories(web, 6)
    flaky = hostile.Sequence(hostile.status(503), hostile.page(article_html(2).encode()))
    web.route("/gen/story-2.html", flaky)
    service.start_worker()

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 6 and summary["failed"] == 0
    assert flaky.calls == 2
    [batch] = _batches(service.logs())
    assert (batch["articles"], batch["queued"], batch["retry"]) == (6, 5, 1)
    docs = stream_docs(r, f"{prefix}articles")
    assert {d["url"] for d in docs} == expected and len(docs) == 6


def test_a_batch_past_half_its_time_limit_hands_the_rest_on_and_loses_none(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # a site that serves one page at a time, 0.5 s each: the 8 pages of a batch arrive
    # over 4 s, past half the 6 s soft limit
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
    batches = _batches(service.logs())
    assert len(batches) > 1 and batches[0].get("handed_on", 0) > 0
    assert sum(b["articles"] - b.get("handed_on", 0) for b in batches) == 8
    assert "TimeLimitExceeded" not in service.logs()


def test_a_batch_downloads_its_pages_side_by_side(
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
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 8
    assert [b["articles"] for b in _batches(service.logs())] == [8]  # one task, one thread
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
    assert [b["articles"] for b in _batches(service.logs())] == [8]  # all 8 pages side by side
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


def test_the_robots_txt_of_a_feeds_own_site_is_fetched_while_the_feed_downloads(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    serve_stories(web, 4)
    feed = web.routes["/feeds/gen.rss"]
    asked_meanwhile: list[bool] = []

    def slow_feed(req: BaseHTTPRequestHandler) -> None:
        # the feed is held back until robots.txt has been asked for, 4 s at most (inside the
        # feed's 6 s total deadline): asked meanwhile, or only after the feed, whatever the load
        deadline = time.monotonic() + 4
        while web.count("/robots.txt") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        asked_meanwhile.append(web.count("/robots.txt") == 1)
        feed(req)

    web.route("/feeds/gen.rss", slow_feed)
    service.start_worker("--concurrency", "1")

    summary = service.fetch_wait("--feed", web.url("/feeds/gen.rss"))

    assert summary["complete"] and summary["queued"] == 4
    assert asked_meanwhile == [True]  # one round trip less before the first page
    assert web.count("/robots.txt") == 1
