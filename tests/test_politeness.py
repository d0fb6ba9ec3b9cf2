"""Politeness: robots.txt, the per-domain pace shared through Redis, retries, dead letters, feed backoff.

The first tests drive :class:`worker.politeness.Politeness` directly against a
real server and a real Redis; the last ones run real ``ingest worker``
processes, because what they specify (spacing across processes, Celery
retries, deferral, the scheduler's skip) only exists there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import Service
from tests.support import hostile
from tests.support.webserver import FixtureServer
from worker.errors import DomainBusy, PolicyRefused, TransientError
from worker.fetch import Fetcher
from worker.politeness import FeedBackoff, Politeness
from worker.settings import FetchSettings

ARTICLE = (Path(__file__).resolve().parent / "fixtures" / "site" / "on-topic-1.html").read_bytes()
DISALLOW_PRIVATE = b"User-agent: *\nDisallow: /private/\n"


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        server.httpd.handle_error = lambda *_: None  # type: ignore[method-assign]
        yield server


class Polite:
    """A Fetcher and its Politeness, as one worker process holds them."""

    def __init__(self, r: redis.Redis, prefix: str, allow: list[str], **overrides: Any):
        settings = FetchSettings(**{"per_domain_requests_per_second": 1000.0, **overrides})
        self.fetcher = Fetcher(settings, allow_private=allow)
        self.politeness = Politeness(settings, r, self.fetcher, prefix)

    def page(self, url: str) -> int:
        return self.fetcher.get(url, before_request=self.politeness.before_page).status


@pytest.fixture
def polite(r: redis.Redis, prefix: str, site: FixtureServer) -> Iterator[Polite]:
    p = Polite(r, prefix, [site.hostport])
    yield p
    p.fetcher.close()


def serve_robots(site: FixtureServer, handler: hostile.Handler) -> list[int]:
    calls: list[int] = []
    site.route("/robots.txt", hostile.count_calls(handler, calls))
    return calls


def serve_page(site: FixtureServer, path: str) -> list[int]:
    calls: list[int] = []
    site.route(path, hostile.count_calls(hostile.page(ARTICLE), calls))
    return calls


# ---- robots.txt ----------------------------------------------------------------------


def test_page_disallowed_by_robots_is_refused_as_robots_disallowed_and_never_requested(
    polite: Polite, site: FixtureServer
) -> None:
    serve_robots(site, hostile.page(DISALLOW_PRIVATE, "text/plain"))
    calls = serve_page(site, "/private/a.html")

    with pytest.raises(PolicyRefused) as exc:
        polite.page(site.url("/private/a.html"))

    assert exc.value.reason == "robots_disallowed"
    assert calls == []


def test_page_robots_allows_is_fetched(polite: Polite, site: FixtureServer) -> None:
    serve_robots(site, hostile.page(DISALLOW_PRIVATE, "text/plain"))
    calls = serve_page(site, "/public/a.html")

    assert polite.page(site.url("/public/a.html")) == 200
    assert calls == [1]


def test_robots_txt_is_fetched_once_and_shared_by_workers_through_redis_with_a_ttl(
    r: redis.Redis, prefix: str, polite: Polite, site: FixtureServer
) -> None:
    robots = serve_robots(site, hostile.page(DISALLOW_PRIVATE, "text/plain"))
    serve_page(site, "/public/b.html")
    other = Polite(r, prefix, [site.hostport])  # another worker process
    try:
        polite.page(site.url("/public/b.html"))
        other.page(site.url("/public/b.html"))
        polite.page(site.url("/public/b.html"))
    finally:
        other.fetcher.close()

    assert robots == [1]
    assert 0 < r.ttl(f"{prefix}robots:{site.base}") <= FetchSettings().robots_cache_seconds


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        (b"User-agent: news-ingest-worker\nDisallow: /\n\nUser-agent: *\nAllow: /\n", False),
        (b"User-agent: otherbot\nDisallow: /\n", True),
    ],
    ids=["our-group-disallows", "another-bots-group-disallows"],
)
def test_robots_group_for_our_product_token_is_the_one_that_applies(
    polite: Polite, site: FixtureServer, robots: bytes, allowed: bool
) -> None:
    serve_robots(site, hostile.page(robots, "text/plain"))
    serve_page(site, "/any.html")

    if allowed:
        assert polite.page(site.url("/any.html")) == 200
    else:
        with pytest.raises(PolicyRefused):
            polite.page(site.url("/any.html"))


def test_missing_robots_txt_allows_every_page(polite: Polite, site: FixtureServer) -> None:
    serve_robots(site, hostile.status(404))
    serve_page(site, "/private/c.html")

    assert polite.page(site.url("/private/c.html")) == 200


def test_robots_txt_answering_500_holds_the_sites_pages_as_transient_robots_unreachable(
    r: redis.Redis, prefix: str, polite: Polite, site: FixtureServer
) -> None:
    robots = serve_robots(site, hostile.status(500))
    page = serve_page(site, "/d.html")

    for _ in range(2):
        with pytest.raises(TransientError) as exc:
            polite.page(site.url("/d.html"))
        assert exc.value.reason == "robots_unreachable"

    assert page == []
    assert robots == [1]  # the answer is kept for robots_error_cache_seconds, not asked again
    assert 0 < r.ttl(f"{prefix}robots:{site.base}") <= FetchSettings().robots_error_cache_seconds


def test_new_robots_txt_in_redis_is_obeyed_at_once_though_rules_are_parsed_once_per_process(
    polite: Polite, r: redis.Redis, prefix: str, site: FixtureServer
) -> None:
    serve_robots(site, hostile.page(b"User-agent: *\nAllow: /\n", "text/plain"))
    calls = serve_page(site, "/news/i.html")
    assert polite.page(site.url("/news/i.html")) == 200

    # another worker fetched the site's robots.txt again, and it changed
    r.set(f"{prefix}robots:{site.base}", b"R" + DISALLOW_PRIVATE.replace(b"/private/", b"/news/"))

    with pytest.raises(PolicyRefused):
        polite.page(site.url("/news/i.html"))
    assert calls == [1]


def test_respect_robots_false_never_asks_for_robots_txt(
    r: redis.Redis, prefix: str, site: FixtureServer
) -> None:
    robots = serve_robots(site, hostile.page(b"User-agent: *\nDisallow: /\n", "text/plain"))
    serve_page(site, "/e.html")
    p = Polite(r, prefix, [site.hostport], respect_robots=False)
    try:
        assert p.page(site.url("/e.html")) == 200
    finally:
        p.fetcher.close()

    assert robots == []


def test_robots_request_carries_our_user_agent_and_contact_url(polite: Polite, site: FixtureServer) -> None:
    agents: list[str] = []

    def robots(req: Any) -> None:
        agents.append(req.headers["User-Agent"])
        hostile.status(404)(req)

    site.route("/robots.txt", robots)
    serve_page(site, "/f.html")

    polite.page(site.url("/f.html"))

    assert agents == [FetchSettings().user_agent_header]


def test_redirect_hop_to_another_site_is_checked_against_that_sites_robots(
    r: redis.Redis, prefix: str, site: FixtureServer
) -> None:
    serve_robots(site, hostile.status(404))
    with FixtureServer() as other:
        other.route("/robots.txt", hostile.page(DISALLOW_PRIVATE, "text/plain"))
        target = serve_page(other, "/private/g.html")
        start = site.route("/to-other", hostile.redirect(other.url("/private/g.html")))
        p = Polite(r, prefix, [site.hostport, other.hostport])
        try:
            with pytest.raises(PolicyRefused) as exc:
                p.page(start)
        finally:
            p.fetcher.close()

    assert exc.value.reason == "robots_disallowed"
    assert target == []


def test_crawl_delay_for_us_spaces_requests_to_the_domain(
    r: redis.Redis, prefix: str, site: FixtureServer
) -> None:
    clock = hostile.Clock()
    serve_robots(site, hostile.page(b"User-agent: *\nCrawl-delay: 1\n", "text/plain"))
    site.route("/h.html", clock.timed(hostile.page(ARTICLE)))
    p = Polite(r, prefix, [site.hostport])
    try:
        p.page(site.url("/h.html"))
        p.page(site.url("/h.html"))
    finally:
        p.fetcher.close()

    first, second = clock.arrivals("/h.html")
    assert second - first >= 0.95


# ---- the per-domain pace -------------------------------------------------------------


def test_request_whose_turn_is_further_than_max_wait_raises_domain_busy_and_reserves_nothing(
    r: redis.Redis, prefix: str
) -> None:
    settings = FetchSettings(per_domain_requests_per_second=0.2, rate_limit_max_wait_seconds=1.0)
    fetcher = Fetcher(settings, allow_private=[])
    pace = Politeness(settings, r, fetcher, prefix)
    try:
        pace.throttle("http://news.example.org/a")  # takes the free slot at once
        with pytest.raises(DomainBusy) as first:
            pace.throttle("http://www.example.org/b")  # same registered domain
        with pytest.raises(DomainBusy) as second:
            pace.throttle("http://example.org/c")
        pace.throttle("http://other.example.net/d")  # another domain has its own pace
    finally:
        fetcher.close()

    assert first.value.reason == "domain_busy"
    assert 3.5 < (first.value.retry_after or 0) <= 5.0
    # the refused requests reserved nothing: the wait did not grow
    assert (second.value.retry_after or 0) <= (first.value.retry_after or 0)


# ---- feed backoff (the state; the scheduler's use of it is tested with a worker below) ------


def backoff(r: redis.Redis, prefix: str, max_seconds: int = 86_400) -> FeedBackoff:
    return FeedBackoff(r, prefix, max_seconds)


def test_one_failed_poll_does_not_back_off(r: redis.Redis, prefix: str) -> None:
    b = backoff(r, prefix)
    b.record("src", 600, "http_500")

    assert b.remaining("src", 600) == 0


def test_consecutive_failed_polls_double_the_wait_up_to_the_cap(r: redis.Redis, prefix: str) -> None:
    b = backoff(r, prefix, max_seconds=3000)
    waits = []
    for _ in range(4):
        b.record("src", 600, "timeout")
        waits.append(b.remaining("src", 600))

    assert waits[0] == 0
    assert [round(w, -1) for w in waits[1:]] == [1200, 2400, 3000]


def test_successful_poll_ends_the_backoff(r: redis.Redis, prefix: str) -> None:
    b = backoff(r, prefix)
    for _ in range(3):
        b.record("src", 600, "bad_feed")
    b.record("src", 600, None)

    assert b.remaining("src", 600) == 0
    assert r.hget(f"{prefix}source:src", "failures") == b"0"


def test_domain_busy_is_not_a_feed_failure(r: redis.Redis, prefix: str) -> None:
    b = backoff(r, prefix)
    for _ in range(3):
        b.record("src", 600, "domain_busy")

    assert b.remaining("src", 600) == 0
    assert not r.hget(f"{prefix}source:src", "failures")


# ---- with real workers -------------------------------------------------------------------


def test_requests_from_two_workers_to_one_domain_are_spaced_by_the_shared_limit(
    service: Service, env: dict[str, str], web: FixtureServer
) -> None:
    env["INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND"] = "2"
    clock = hostile.Clock()
    web.route("/robots.txt", clock.timed(hostile.status(404)))
    urls = [web.route(f"/paced/{i}", clock.timed(hostile.status(410))) for i in range(6)]
    service.start_worker()
    service.start_worker()
    started = time.monotonic()  # before any request to the domain reserves its slot

    summary = service.fetch_wait(*[a for u in urls for a in ("--url", u)])

    assert summary["complete"] and summary["failed"] == 6
    assert len(clock.arrivals("/paced/")) == 6
    arrivals = clock.arrivals()  # robots.txt too: two workers may both ask for it before it is cached
    # slots are 0.5 s apart from the first, which comes after `started`, and no request
    # leaves before its slot: the k-th arrival cannot come before started + k * 0.5 s.
    # A busy machine can only delay a request, never bring one forward.
    early = [(k, round(t - started, 3)) for k, t in enumerate(arrivals) if t - started < k * 0.5 - 0.01]
    assert not early, early


def test_page_whose_domain_is_busy_is_deferred_without_using_an_attempt(
    service: Service, env: dict[str, str], web: FixtureServer
) -> None:
    env |= {
        # robots.txt takes the first page's turn: the page is deferred unless robots.txt took
        # longer than 5 s to answer (on any machine, far from it)
        "INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND": "0.2",
        "INGEST_FETCH__RATE_LIMIT_MAX_WAIT_SECONDS": "0",
        "INGEST_FETCH__MAX_RETRIES": "0",  # a deferral counted as an attempt would give up at once
    }
    web.route("/robots.txt", hostile.status(404))
    calls: list[int] = []
    urls = [web.route(f"/busy/{i}", hostile.count_calls(hostile.status(410), calls)) for i in range(3)]
    service.start_worker()

    summary = service.fetch_wait(*[a for u in urls for a in ("--url", u)])

    assert summary["complete"]
    assert [f["reason"] for f in summary["failures"]] == ["http_410"] * 3
    assert len(calls) == 3
    assert "deferred" in service.logs()


def test_503_with_retry_after_is_retried_no_sooner_than_it_asks_and_then_queued(
    service: Service, web: FixtureServer
) -> None:
    clock = hostile.Clock()
    url = web.route(
        "/busy-then-fine.html",
        clock.timed(hostile.Sequence(hostile.status(503, {"Retry-After": "2"}), hostile.page(ARTICLE))),
    )
    service.start_worker()

    summary = service.fetch_wait("--url", url)

    assert summary["queued"] == 1
    first, second = clock.arrivals("/busy-then-fine.html")
    assert second - first >= 2.0


def test_transient_failure_after_its_last_retry_is_dead_lettered_and_shown_by_status(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    calls: list[int] = []
    url = web.route("/always-500.html", hostile.count_calls(hostile.status(500), calls))
    service.start_worker()

    summary = service.fetch_wait("--url", url)

    assert summary["failures"] == [{"url": url, "reason": "http_500", "error": f"HTTP 500 from {url}"}]
    assert len(calls) == 3  # max_retries = 2 in the test environment
    [(_id, fields)] = r.xrange(f"{prefix}deadletter")
    entry = json.loads(fields[b"entry"])
    assert (entry["url"], entry["source"], entry["reason"], entry["attempts"]) == (
        url,
        "adhoc",
        "http_500",
        3,
    )
    status = json.loads(service.ingest("status", "--json").stdout)
    assert status["dead_letters"] == 1 and status["recent_dead_letters"][0]["url"] == url
    assert f"http_500 after 3 attempts: {url} (adhoc)" in service.ingest("status").stdout


def test_source_that_keeps_failing_is_skipped_while_it_backs_off_and_status_shows_it(
    service: Service, env: dict[str, str], web: FixtureServer
) -> None:
    calls: list[int] = []
    feed = web.route("/failing.rss", hostile.count_calls(hostile.status(500), calls))
    env["INGEST_SOURCES"] = json.dumps([{"name": "flaky", "url": feed, "interval_seconds": 3600}])
    service.start_worker()

    polls = [service.fetch_wait("--all")["polls"][0] for _ in range(3)]

    assert [p.get("error") or p.get("skipped") for p in polls] == ["http_500", "http_500", "backoff"]
    assert len(calls) == 2
    flaky = json.loads(service.ingest("status", "--json").stdout)["sources"]["flaky"]
    assert flaky["failures"] == 2 and flaky["next_poll_after"]
    assert f"failures=2 next poll after {flaky['next_poll_after']}" in service.ingest("status").stdout
