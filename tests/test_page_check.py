"""A page that is not the article (a bot challenge, a consent wall, a paywall teaser) is recorded
``partial`` with its reason and not queued as if complete; when the feed carries the full text,
that text is queued and the message says so."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from harness.newsroom import article_paragraphs
from tests.conftest import Service
from tests.support.webserver import FixtureServer, send
from worker.context import Context, item_keys
from worker.extract import decode_html, extract
from worker.feeds import Item, canonical_url, parse_feed
from worker.message import decode
from worker.page_check import text_size, wall_of
from worker.processor import Processor
from worker.settings import load_settings

WALLS = Path(__file__).resolve().parent / "fixtures" / "walls"
SITE = Path(__file__).resolve().parent / "fixtures" / "site"


def _wall(name: str, feed_words: int | None = None) -> str | None:
    body = (WALLS / name).read_bytes()
    try:
        text: str | None = extract(decode_html(body, "utf-8"), min_words=1).text
    except Exception:
        text = None
    w = wall_of(body, text, feed_words)
    return w.reason if w else None


# ---- the signs -----------------------------------------------------------------------------------


def test_a_cloudflare_challenge_is_a_bot_challenge() -> None:
    assert _wall("cloudflare-challenge.html") == "bot_challenge"


def test_a_consent_page_is_a_consent_wall() -> None:
    assert _wall("consent-wall.html") == "consent_wall"


def test_a_page_that_says_it_is_not_free_with_a_short_text_is_a_paywall() -> None:
    assert _wall("paywall-teaser.html") == "paywall"


def test_a_page_far_shorter_than_the_feeds_own_text_is_a_teaser() -> None:
    short = (
        "<html><body><article><p>"
        + "Chinese and Belarusian troops began drills. " * 8
        + "</p></article></body></html>"
    )
    assert wall_of(short.encode(), extract(short, min_words=1).text, feed_words=400).reason == "teaser"  # type: ignore[union-attr]


def test_a_whole_article_is_no_wall_even_beside_a_feed_summary() -> None:
    body = (SITE / "on-topic-1.html").read_bytes()
    text = extract(decode_html(body, "utf-8")).text
    assert wall_of(body, text, feed_words=120) is None


def test_chinese_text_is_sized_by_its_characters() -> None:
    assert text_size("中国与白俄罗斯举行联合军事演习") == 7
    assert text_size("two words") == 2


# ---- the feed's own text -----------------------------------------------------------------------


def _rss(base: str, path: str, *, content: str = "", summary: str = "") -> bytes:
    parts = f"<description>{html.escape(summary)}</description>" if summary else ""
    if content:
        parts += f"<content:encoded><![CDATA[{content}]]></content:encoded>"
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"<link>{base}/</link><description>d</description><item><title>Chinese troops land in Belarus</title>"
        f"<link>{base}{path}</link>{parts}</item></channel></rss>"
    ).encode()


FULL = "".join(f"<p>{html.escape(p)}</p>" for p in article_paragraphs(3, 400))


def test_a_feed_item_with_its_whole_article_carries_that_text() -> None:
    [item] = parse_feed(
        _rss("http://x.test", "/a", content=FULL), source="s", base_url="http://x.test/", max_items=5
    )
    assert item.feed_text is not None and text_size(item.feed_text) >= 300
    assert item.feed_text.count("\n") >= 3  # one paragraph per line
    assert item.feed_words == text_size(item.feed_text)


def test_a_feed_item_with_a_summary_carries_its_size_only() -> None:
    summary = "Chinese troops arrived in Belarus for joint drills near Brest. " * 3
    [item] = parse_feed(
        _rss("http://x.test", "/a", summary=summary), source="s", base_url="http://x.test/", max_items=5
    )
    assert item.feed_text is None and item.feed_words == 30


# ---- the processor, over real HTTP and Redis ----------------------------------------------------


@pytest.fixture
def processor(env: dict[str, str], r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Processor]:
    for k, v in env.items():
        if k.startswith(("INGEST_", "REDIS_URL")):
            monkeypatch.setenv(k, v)
    ctx = Context(load_settings(), r)
    yield Processor(ctx)
    ctx.close()


def _serve(web: FixtureServer, path: str, name: str, status: int = 200) -> Item:
    body = (WALLS / name).read_bytes()
    url = web.route(path, lambda req: send(req, status, body, "text/html; charset=utf-8"))
    return Item(url=url, canonical_url=canonical_url(url), source="test")


def _stream(processor: Processor) -> list[dict]:  # type: ignore[type-arg]
    s = processor.ctx.settings.redis.stream_key
    return [decode(f) for _, f in processor.ctx.redis.xrange(s)]


def test_a_challenge_page_is_recorded_partial_and_not_queued(
    processor: Processor, web: FixtureServer
) -> None:
    item = _serve(web, "/walls/challenge.html", "cloudflare-challenge.html")

    outcome = processor.process(item)

    assert (outcome.outcome, outcome.reason) == ("partial", "bot_challenge")
    assert processor.ctx.index.decisions(item_keys(item)[:1]) == ["p:bot_challenge"]
    assert _stream(processor) == []


@pytest.mark.parametrize("status", [401, 402, 403, 451])
def test_a_refused_page_is_recorded_partial_with_its_status(
    processor: Processor, web: FixtureServer, status: int
) -> None:
    item = _serve(web, f"/walls/refused-{status}.html", "cloudflare-challenge.html", status=status)

    outcome = processor.process(item)

    assert (outcome.outcome, outcome.reason) == ("partial", f"http_{status}")
    assert processor.ctx.index.decisions(item_keys(item)[:1]) == [f"p:http_{status}"]


def test_a_paywalled_page_whose_feed_has_the_whole_text_is_queued_from_the_feed(
    processor: Processor, web: FixtureServer
) -> None:
    page = _serve(web, "/walls/paywall.html", "paywall-teaser.html")
    [item] = parse_feed(
        _rss(web.base, "/walls/paywall.html", content=FULL), source="test", base_url=web.url("/"), max_items=5
    )
    assert item.url == page.url

    outcome = processor.process(item)

    assert outcome.outcome == "queued"
    [message] = _stream(processor)
    assert message["text_source"] == "feed" and message["page_problem"] == "paywall"
    assert message["text"] == item.feed_text


def test_a_whole_page_is_queued_from_the_page(processor: Processor, web: FixtureServer) -> None:
    url = web.url("/news/on-topic-1.html")
    item = Item(url=url, canonical_url=canonical_url(url), source="test", feed_words=80)

    assert processor.process(item).outcome == "queued"
    [message] = _stream(processor)
    assert message["text_source"] == "page" and message["page_problem"] is None


def test_a_partial_article_counts_in_the_outcomes(processor: Processor, web: FixtureServer) -> None:
    item = _serve(web, "/walls/consent.html", "consent-wall.html")

    processor.process(item)

    assert processor.ctx.redis.hget(processor.ctx.keys.stats, "partial") == b"1"


def test_fetch_wait_lists_each_wall_with_its_reason_and_ends_with_failures(
    service: Service, web: FixtureServer
) -> None:
    service.start_worker()
    url = _serve(web, "/walls/consent-run.html", "consent-wall.html").url

    res = service.ingest("fetch", "--url", url, "--wait", "--json", check=False)

    summary = json.loads(res.stdout)
    assert (summary["partial"], summary["queued"], summary["failed"]) == (1, 0, 0)
    assert summary["partials"] == [{"url": url, "reason": "consent_wall"}]
    assert res.returncode == 3  # complete, with pages that were not the article


def test_fetch_wait_in_words_names_the_wall(service: Service, web: FixtureServer) -> None:
    service.start_worker()
    url = _serve(web, "/walls/challenge-run.html", "cloudflare-challenge.html").url

    res = service.ingest("fetch", "--url", url, "--wait", check=False)

    assert f"partial {url}: bot_challenge" in res.stdout, res.stdout
