"""The article processor in one process (no Celery): how an article's outcome is decided and reported.

An article a drain took is looked up once, before its download starts; a decision
another task writes while the page downloads must still win over ours.
"""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest
import redis

from tests.support.webserver import FixtureServer
from worker.context import Context, item_keys
from worker.feeds import Item, canonical_url
from worker.message import decode, load_schema
from worker.processor import Processor
from worker.settings import load_settings


@pytest.fixture
def processor(env: dict[str, str], r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Processor]:
    for k, v in env.items():
        if k.startswith(("INGEST_", "REDIS_URL")):
            monkeypatch.setenv(k, v)
    ctx = Context(load_settings(), r)
    yield Processor(ctx)
    ctx.close()


def _item(web: FixtureServer, path: str) -> Item:
    url = web.url(path)
    return Item(url=url, canonical_url=canonical_url(url), source="test")


def test_an_off_topic_article_whose_page_was_downloaded_ahead_is_recorded_off_topic(
    processor: Processor, web: FixtureServer
) -> None:
    item = _item(web, "/news/off-topic-1.html")
    page = processor.ctx.pool.submit(processor.fetch_page, item)  # as a drain starts it

    outcome = processor.process(item, page=page)

    assert outcome.outcome == "off_topic"
    assert processor.ctx.index.decisions(item_keys(item)[:1]) == ["o"]


@pytest.mark.parametrize(
    ("path", "prior", "outcome"),
    [
        ("/news/off-topic-1.html", "q:7", "queued"),  # would be off_topic
        ("/news/gone.html", "d:3", "duplicate"),  # 404: would be failed
    ],
)
def test_article_decided_by_another_task_meanwhile_reports_that_decision(
    processor: Processor, web: FixtureServer, path: str, prior: str, outcome: str
) -> None:
    item = _item(web, path)
    page = processor.ctx.pool.submit(processor.fetch_page, item)  # as a drain starts it
    processor.ctx.index.mark(item_keys(item)[:1], prior)  # another task decided it while the page downloaded

    result = processor.process(item, page=page)

    assert (result.outcome, result.detail) == (outcome, {"prior": prior})
    assert processor.ctx.index.decisions(item_keys(item)[:1]) == [prior]


def test_failed_article_is_recorded_failed_when_nothing_else_decided_it(
    processor: Processor, web: FixtureServer
) -> None:
    item = _item(web, "/news/gone.html")
    page = processor.ctx.pool.submit(processor.fetch_page, item)  # as a drain starts it

    outcome = processor.process(item, page=page)

    assert (outcome.outcome, outcome.reason) == ("failed", "http_404")
    assert processor.ctx.index.decisions(item_keys(item)[:1]) == ["f:http_404"]


def test_an_article_found_through_an_aggregator_names_the_aggregators_link_and_the_publisher(
    processor: Processor, web: FixtureServer
) -> None:
    url = web.url("/news/on-topic-3.html")
    via = "https://news.google.com/rss/articles/CBMiExample?oc=5"
    item = Item(url=url, canonical_url=canonical_url(url), source="g", via=via, publisher=web.url("/"))

    assert processor.process(item).outcome == "queued"

    [(_, fields)] = processor.ctx.redis.xrange(processor.ctx.settings.redis.stream_key)
    m = decode(fields)
    assert (m["url"], m["via"], m["publisher"]) == (url, via, web.url("/"))
    jsonschema.validate(m, load_schema())
