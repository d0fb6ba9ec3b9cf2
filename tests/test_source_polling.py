"""Sources polled by the running service: the first round at the scheduler's start, an
ad-hoc search across the search kinds, and what ``ingest status`` and ``ingest sources``
show; real worker and beat processes, local servers speaking each source's format."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis

from tests.conftest import Service
from tests.support.newsapis import GoogleNews, fixture
from tests.support.webserver import FixtureServer, send

BOUND_SECONDS = 90  # an upper bound for events that take a second or two; never a timing check


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"not within {BOUND_SECONDS}s: {what}"
        time.sleep(0.2)


def test_the_scheduler_polls_every_source_when_it_starts_not_one_interval_later(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    # the env's one source, local-rss, has an interval of an hour
    service.start_worker()
    service.start_beat()

    _wait_until(lambda: r.hget(f"{prefix}source:local-rss", "last_poll_at") is not None, "the first poll")

    assert web.count("/feeds/topic.rss") == 1


def _search_services(web: FixtureServer) -> tuple[GoogleNews, list[dict[str, str]]]:
    google = GoogleNews(
        web,
        {"CBMiAU_yqLNewStyleTwo": web.url("/news/on-topic-2.html"), "CBMiAU_yqLNewStyleThree": None},
        old_url=web.url("/news/on-topic-1.html"),
    )
    bing = fixture(web, "bing-news-search.rss")
    web.route("/news/search", lambda req: send(req, 200, bing, "application/rss+xml"))
    gdelt_asked: list[dict[str, str]] = []
    gdelt = fixture(web, "gdelt-artlist.json")

    def gdelt_handler(req: Any) -> None:
        gdelt_asked.append({k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()})
        send(req, 200, gdelt, "application/json")

    web.route("/api/v2/doc/doc", gdelt_handler)
    return google, gdelt_asked


def test_an_ad_hoc_query_searches_every_search_kind_and_decides_what_they_found(
    service: Service, web: FixtureServer
) -> None:
    google, gdelt_asked = _search_services(web)
    service.env["INGEST_SOURCES"] = json.dumps(
        [
            {"name": "g", "kind": "google_news", "url": google.search_url, "query": "x", "enabled": False},
            {"name": "b", "kind": "bing_news", "url": web.url("/news/search"), "query": "x", "enabled": 0},
            {
                "name": "d",
                "kind": "gdelt",
                "url": web.url("/api/v2/doc/doc"),
                "query": "x",
                "request_interval_seconds": 0.01,
                "enabled": False,
            },
        ]
    )
    service.start_worker()

    summary = service.fetch_wait("--query", "Китай Беларусь армия", "--lang", "ru")

    assert summary["complete"]
    assert len(summary["polls"]) == 3
    assert gdelt_asked[0]["query"] == "Китай Беларусь армия sourcelang:russian"
    # google: the old-style id and one decoded (one undecodable); bing: on-topic 1 and 3; gdelt:
    # on-topic 1 and 2: three articles, each fetched once, at the publisher's URL
    decided = sum(summary[k] for k in ("queued", "duplicate", "off_topic", "failed"))
    assert decided == 3
    assert [web.count(f"/news/on-topic-{n}.html") for n in (1, 2, 3)] == [1, 1, 1]


def test_status_shows_each_sources_last_poll_totals_and_interval(service: Service) -> None:
    service.start_worker()
    service.fetch_wait("--all")

    status = json.loads(service.ingest("status", "--json").stdout)

    src = status["sources"]["local-rss"]
    assert (src["last_status"], src["total_polls"], src["total_found"], src["total_new"]) == ("ok", 1, 10, 10)
    assert src["total_queued"] == 5
    assert src["last_success_at"] and src["interval_now"] == "1800"  # halved: it had news
    text = service.ingest("status").stdout
    assert "totals polls=1 found=10 new=10 queued=5" in text


def test_sources_lists_the_urls_each_poll_requests(service: Service) -> None:
    service.env["INGEST_SOURCES"] = json.dumps(
        [{"name": "g", "kind": "google_news", "queries": {"en": "China Belarus", "pl": "Chiny Białoruś"}}]
    )

    listed = json.loads(service.ingest("sources", "--json").stdout)

    assert [r["url"] for r in listed[0]["requests"]] == [
        "https://news.google.com/rss/search?q=China+Belarus&hl=en-US&gl=US&ceid=US%3Aen",
        "https://news.google.com/rss/search?q=Chiny+Bia%C5%82oru%C5%9B&hl=pl&gl=PL&ceid=PL%3Apl",
    ]


def _start_a_worker_with_a_source_of_its_own(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    """A worker polling ``svc-feed``, which the shell's config (conftest's ``local-rss``) lacks."""
    theirs = [
        {"name": "svc-feed", "kind": "feed", "url": web.url("/feeds/topic.rss"), "interval_seconds": 3600}
    ]
    service.start_worker(env={"INGEST_SOURCES": json.dumps(theirs)})
    _wait_until(lambda: r.get(f"{prefix}service") is not None, "the worker's record of its settings")


def test_sources_and_fetch_all_use_what_the_running_service_polls_not_the_shells_config(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _start_a_worker_with_a_source_of_its_own(service, web, r, prefix)

    res = service.ingest("sources", "--json")
    assert [s["name"] for s in json.loads(res.stdout)] == ["svc-feed"]
    assert "the running service" in res.stderr

    summary = service.fetch_wait("--all")
    assert [p["feed_url"] for p in summary["polls"]] == [web.url("/feeds/topic.rss")]
    assert r.hget(f"{prefix}source:svc-feed", "last_poll_at") is not None


def test_commands_using_the_services_sources_say_where_the_shells_config_differs(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _start_a_worker_with_a_source_of_its_own(service, web, r, prefix)

    res = service.ingest("sources")  # the shell's config has conftest's local-rss

    assert "only in this shell's config: local-rss" in res.stderr, res.stderr
    assert "only in the service's: svc-feed" in res.stderr, res.stderr


def test_status_lists_the_running_services_sources_not_the_shells(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    _start_a_worker_with_a_source_of_its_own(service, web, r, prefix)

    st = json.loads(service.ingest("status", "--json").stdout)

    assert list(st["sources"]) == ["svc-feed"]
    assert st["sources_of"].startswith("the running service")
    assert "sources of the running service" in service.ingest("status").stdout


def test_without_a_running_service_sources_says_it_lists_the_shells_config(service: Service) -> None:
    res = service.ingest("sources", "--json")
    assert json.loads(res.stdout) and "no running service found" in res.stderr


def test_a_source_that_answers_slowly_holds_back_no_other_source(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    """Each source is its own poll task: while one feed is held at the server, another
    source's articles are polled, fetched and queued (no timing: the held feed is released
    only after, or at the bound)."""
    held, asked = threading.Event(), threading.Event()
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'

    def slow_feed(req: Any) -> None:
        asked.set()
        held.wait(BOUND_SECONDS + 30)
        send(req, 200, empty, "application/rss+xml")

    web.route("/feeds/slow.rss", slow_feed)
    service.env["INGEST_SOURCES"] = json.dumps(
        [
            {"name": "slow", "url": web.url("/feeds/slow.rss")},
            {"name": "fast", "url": web.url("/feeds/topic.rss")},
        ]
    )
    service.env["INGEST_FETCH__READ_TIMEOUT_SECONDS"] = "300"  # the held feed is not given up meanwhile
    service.env["INGEST_FETCH__TOTAL_TIMEOUT_SECONDS"] = "300"
    service.start_worker()
    try:
        service.ingest("fetch", "--all")

        _wait_until(
            lambda: asked.is_set() and r.xlen(f"{prefix}articles") == 5, "the fast source's 5 articles"
        )

        assert not held.is_set()
    finally:
        held.set()
