"""worker.dates: every candidate date kept with its source, the first trustworthy one chosen,
future dates rejected, conflicts flagged; articles older than topic.max_age_days recorded stale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
import trafilatura

from tests.support.webserver import FixtureServer, send
from worker.context import Context, item_keys
from worker.dates import choose, page_candidates, url_date
from worker.feeds import Item, canonical_url
from worker.message import decode
from worker.processor import Processor
from worker.settings import load_settings

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)

PAGE = """<html><head>
<meta property="article:published_time" content="2024-07-09T08:00:00+02:00">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[
  {"@type":"WebPage"},{"@type":"NewsArticle","datePublished":"2024-07-09T06:00:00Z"}]}</script>
</head><body><p>text</p></body></html>"""


def test_the_page_gives_its_json_ld_and_meta_dates() -> None:
    tree = trafilatura.load_html(PAGE)
    assert page_candidates(tree) == [
        ("json_ld", "2024-07-09T06:00:00Z"),
        ("meta", "2024-07-09T08:00:00+02:00"),
    ]


@pytest.mark.parametrize(
    ("url", "date"),
    [
        ("https://x.test/2023/08/17/china-belarus", "2023-08-17"),
        ("https://x.test/news/2024-07-09-drills.html", "2024-07-09"),
        ("https://x.test/a/20230817/story", "2023-08-17"),
        ("https://x.test/id/123456", None),
        ("https://x.test/2023/13/40/x", None),
    ],
)
def test_a_date_in_the_url_path_is_a_candidate(url: str, date: str | None) -> None:
    assert url_date(url) == date


def test_the_pages_own_statement_wins_over_the_feed_and_the_url() -> None:
    d = choose(
        [
            ("url", "2024-07-08"),
            ("feed", "Tue, 09 Jul 2024 10:00:00 +0000"),
            ("json_ld", "2024-07-09T06:00:00Z"),
        ],
        NOW,
    )
    assert (d.source, d.published_at) == ("json_ld", "2024-07-09T06:00:00Z")
    assert [c["source"] for c in d.candidates] == ["json_ld", "feed", "url"]
    assert d.conflict is False


def test_a_date_in_the_future_is_rejected_and_kept_as_evidence() -> None:
    d = choose([("meta", "2031-01-01T00:00:00Z"), ("htmldate", "2024-07-09")], NOW)
    assert (d.source, d.published_at) == ("htmldate", "2024-07-09")
    assert d.rejected == [{"source": "meta", "value": "2031-01-01T00:00:00Z"}]


def test_candidates_days_apart_are_flagged_as_a_conflict() -> None:
    d = choose([("json_ld", "2024-07-09"), ("feed", "2025-01-15T00:00:00Z")], NOW)
    assert d.source == "json_ld" and d.conflict is True


def test_no_readable_date_is_none_not_an_error() -> None:
    d = choose([("meta", "last Tuesday-ish"), ("feed", None)], NOW)
    assert d.published_at is None and d.source is None and d.candidates == []


# ---- in the pipeline ---------------------------------------------------------------------------


@pytest.fixture
def processor(env: dict[str, str], r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Processor]:
    for k, v in env.items():
        if k.startswith(("INGEST_", "REDIS_URL")):
            monkeypatch.setenv(k, v)
    monkeypatch.setenv("INGEST_TOPIC__MAX_AGE_DAYS", "365")
    ctx = Context(load_settings(), r)
    yield Processor(ctx)
    ctx.close()


def _article(web: FixtureServer, path: str, published: str) -> str:
    """An on-topic page whose meta tags say it was published at ``published``."""
    from harness.newsroom import article_html

    html = article_html(7)
    assert "2023-08-17T09:00:00+03:00" in html
    body = html.replace("2023-08-17T09:00:00+03:00", published).encode()
    return web.route(path, lambda req: send(req, 200, body, "text/html; charset=utf-8"))


def test_an_article_from_a_source_older_than_max_age_is_recorded_stale(
    processor: Processor, web: FixtureServer
) -> None:
    url = _article(web, "/dates/old.html", "2023-08-17T09:00:00+03:00")
    item = Item(url=url, canonical_url=canonical_url(url), source="outlet")

    outcome = processor.process(item)

    assert outcome.outcome == "stale" and outcome.detail["published_at"].startswith("2023-08-")
    assert processor.ctx.index.decisions(item_keys(item)[:1]) == ["x"]


def test_an_ad_hoc_url_is_never_stale(processor: Processor, web: FixtureServer) -> None:
    url = _article(web, "/dates/old-adhoc.html", "2023-08-17T09:00:00+03:00")
    item = Item(url=url, canonical_url=canonical_url(url), source="adhoc")

    assert processor.process(item).outcome == "queued"


def test_the_message_carries_the_chosen_date_and_its_candidates(
    processor: Processor, web: FixtureServer
) -> None:
    recent = datetime.now(UTC) - timedelta(days=3)  # within max_age, whenever this runs
    published = recent.strftime("%Y-%m-%dT09:00:00+03:00")
    url = _article(web, recent.strftime("/dates/%Y/%m/%d/recent.html"), published)
    item = Item(url=url, canonical_url=canonical_url(url), source="outlet", published_at=recent.isoformat())

    assert processor.process(item).outcome == "queued"
    [(_, fields)] = processor.ctx.redis.xrange(processor.ctx.settings.redis.stream_key)
    m = decode(fields)
    assert m["published_at"] == published and m["dates"]["chosen"] == "meta"
    sources = [c["source"] for c in m["dates"]["candidates"]]
    assert sources[0] == "meta" and "feed" in sources and "url" in sources


def test_a_sitemaps_date_is_named_for_the_sitemap_and_ranks_below_the_pages_own(
    processor: Processor, web: FixtureServer
) -> None:
    recent = datetime.now(UTC) - timedelta(days=2)
    published = recent.strftime("%Y-%m-%dT09:00:00+03:00")
    url = _article(web, "/dates/from-sitemap.html", published)
    item = Item(
        url=url,
        canonical_url=canonical_url(url),
        source="ledger",
        published_at=(recent - timedelta(hours=5)).isoformat(),
        date_source="sitemap",
    )

    assert processor.process(item).outcome == "queued"
    [(_, fields)] = processor.ctx.redis.xrange(processor.ctx.settings.redis.stream_key)
    m = decode(fields)
    assert m["dates"]["chosen"] == "meta"
    assert [c["source"] for c in m["dates"]["candidates"]][:2] == ["meta", "sitemap"]
