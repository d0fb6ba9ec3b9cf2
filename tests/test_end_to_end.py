"""The whole service on real parts: a feed served over HTTP, a real worker, real Redis."""

from __future__ import annotations

import time
from collections import Counter

import jsonschema
import psutil
import redis

from tests.conftest import Service, stream_docs
from tests.support.webserver import FixtureServer
from worker.message import load_schema
from worker.settings import cpu_cores

ON_TOPIC = [f"/news/on-topic-{i}.html" for i in range(2, 6)]


def test_feed_ends_with_exactly_the_expected_articles_on_the_stream(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.start_worker()
    summary = service.fetch_wait("--feed", web.url("/feeds/topic.rss"))

    assert summary["complete"]
    assert (summary["found"], summary["new"]) == (10, 10)
    assert (summary["queued"], summary["duplicate"], summary["off_topic"], summary["failed"]) == (5, 3, 1, 1)
    assert summary["failures"] == [
        {
            "url": web.url("/news/no-text.html"),
            "reason": "no_text",
            "error": "no article text found (0 words)",
        }
    ]

    docs = stream_docs(r, f"{prefix}articles")
    paths = Counter(d["canonical_url"].removeprefix(web.base) for d in docs)
    # on-topic-1 and exact-repeat carry the same text: whichever came first is queued, once
    originals = paths.pop("/news/on-topic-1.html", 0) + paths.pop("/news/exact-repeat.html", 0)
    assert originals == 1
    assert paths == Counter(ON_TOPIC)


def test_stream_messages_follow_the_published_schema(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.start_worker()
    service.fetch_wait("--feed", web.url("/feeds/topic.rss"))
    schema = load_schema()
    docs = stream_docs(r, f"{prefix}articles")
    assert docs
    for doc in docs:
        jsonschema.validate(doc, schema)
    on2 = next(d for d in docs if d["canonical_url"].endswith("/news/on-topic-2.html"))
    assert on2["canonical_url"] == web.url("/news/on-topic-2.html")  # utm_* stripped
    assert "utm_source" in on2["url"]
    assert on2["title"] and on2["published_at"].startswith("2023-08-17")
    assert on2["language"] == "en" and on2["word_count"] > 300 and on2["source"] == "adhoc"


def test_republished_seed_is_recorded_as_duplicate_of_that_seed(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.start_worker()
    service.fetch_wait("--url", web.url("/news/republished-seed.html"))
    res = service.ingest("status", "--json")
    assert '"duplicate": 1' in res.stdout
    assert r.hget(f"{prefix}seeds", 1) == b"000_663d425c6dff775c"
    copies = r.lrange(f"{prefix}copies:1", 0, -1)
    assert len(copies) == 1 and b"republished-seed.html" in copies[0]
    assert r.xlen(f"{prefix}articles") == 0


def test_second_fetch_of_same_feed_queues_nothing_and_downloads_no_article(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.start_worker()
    service.fetch_wait("--feed", web.url("/feeds/topic.rss"))
    length = r.xlen(f"{prefix}articles")
    pages = len(web.paths("/news/"))
    assert pages == 10

    again = service.fetch_wait("--feed", web.url("/feeds/topic.rss"))

    assert again["complete"] and again["queued"] == 0 and again["new"] == 0
    assert again["polls"][0]["not_modified"] is True  # conditional GET answered 304
    assert r.xlen(f"{prefix}articles") == length
    assert len(web.paths("/news/")) == pages


def test_items_seen_in_another_feed_are_skipped_without_fetching(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    service.start_worker()
    service.fetch_wait("--feed", web.url("/feeds/topic.rss"))
    atom = service.fetch_wait("--feed", web.url("/feeds/topic.atom"))

    # on-topic-2 and -3 are already decided (by canonical URL); only off-topic-2 is new
    assert (atom["found"], atom["already_seen"], atom["new"], atom["off_topic"]) == (3, 2, 1, 1)
    assert web.count("/news/on-topic-2.html") == 1
    assert web.count("/news/on-topic-3.html") == 1


def test_worker_warms_up_once_in_its_main_process_before_its_pool_takes_work(
    service: Service, web: FixtureServer
) -> None:
    service.start_worker()  # prefork, two children (INGEST_WORKER__CONCURRENCY)
    summary = service.fetch_wait("--url", web.url("/news/on-topic-2.html"))

    assert summary["queued"] == 1
    logs = service.logs()
    assert logs.count("event=warmed_up") == 1  # not once per child: they inherit it
    assert logs.index("event=warmed_up") < logs.index("event=article_decided")


def test_worker_with_the_default_concurrency_runs_two_processes_per_core(
    service: Service, env: dict[str, str]
) -> None:
    del env["INGEST_WORKER__CONCURRENCY"]  # the shipped configuration's value: 0
    proc = service.start_worker()
    deadline = time.monotonic() + 60
    while "alive" not in service.ingest("check", check=False).stdout and time.monotonic() < deadline:
        time.sleep(0.5)

    children = psutil.Process(proc.pid).children()

    assert len(children) == 2 * cpu_cores()
