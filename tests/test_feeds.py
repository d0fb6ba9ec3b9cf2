"""worker.feeds: feed documents to items, and the canonical URL that identifies an article."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from worker.errors import BadFeed
from worker.feeds import Item, canonical_url, parse_feed

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
BASE = "http://127.0.0.1:8000"


def fixture_feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes().replace(b"{base}", BASE.encode())


def parse(body: bytes, max_items: int = 500) -> list[Item]:
    return parse_feed(body, source="test", base_url=f"{BASE}/feeds/test.rss", max_items=max_items)


def rss(*links: str) -> bytes:
    items = "".join(
        f'<item><title>Item {i}</title><link>{link}</link><guid isPermaLink="false">g{i}</guid></item>'
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>t</title><link>{BASE}/</link><description>d</description>{items}</channel></rss>"
    ).encode()


# ---- the fixture feeds ------------------------------------------------------------------


def test_rss_fixture_gives_its_ten_items_in_feed_order() -> None:
    items = parse(fixture_feed("topic.rss"))

    assert [i.url.removeprefix(BASE) for i in items] == [
        "/news/on-topic-1.html",
        "/news/on-topic-2.html?utm_source=rss&utm_medium=feed",
        "/news/on-topic-3.html",
        "/news/on-topic-4.html",
        "/news/on-topic-5.html",
        "/news/republished-seed.html",
        "/news/exact-repeat.html",
        "/news/no-text.html",
        "/news/off-topic-1.html",
        "/news/seed-004-repost.html",
    ]


def test_rss_items_carry_guid_title_published_at_and_source() -> None:
    first = parse(fixture_feed("topic.rss"))[0]

    assert first.guid == "eastern-ledger:el-230817-014"
    assert first.title == (
        "Chinese defence chief Li Shangfu holds talks with Belarus counterpart Khrenin in Minsk"
    )
    assert first.published_at == "2023-08-17T06:40:00+00:00"
    assert first.source == "test"


def test_every_rss_item_has_a_unique_guid_and_a_utc_date() -> None:
    items = parse(fixture_feed("topic.rss"))

    assert len({i.guid for i in items}) == 10
    assert all(i.title for i in items)
    assert all(i.published_at and i.published_at.startswith("2023-08-17T") for i in items)
    assert all(i.published_at and i.published_at.endswith("+00:00") for i in items)


def test_atom_fixture_gives_its_three_entries_with_urn_ids() -> None:
    items = parse(fixture_feed("topic.atom"))

    assert [i.canonical_url for i in items] == [
        f"{BASE}/news/off-topic-2.html",
        f"{BASE}/news/on-topic-2.html",
        f"{BASE}/news/on-topic-3.html",
    ]
    assert items[0].guid == "urn:uuid:0b8e4a52-2f7d-4a61-8c55-3e1d9f0a7c01"
    assert items[0].published_at == "2023-08-17T05:15:00+00:00"


def test_same_article_in_rss_and_atom_has_the_same_canonical_url() -> None:
    rss_urls = {i.canonical_url for i in parse(fixture_feed("topic.rss"))}
    atom_urls = {i.canonical_url for i in parse(fixture_feed("topic.atom"))}

    assert rss_urls & atom_urls == {f"{BASE}/news/on-topic-2.html", f"{BASE}/news/on-topic-3.html"}


def test_relative_links_are_resolved_against_the_feeds_url() -> None:
    items = parse(rss("/news/relative.html", "other.html"))

    assert [i.url for i in items] == [f"{BASE}/news/relative.html", f"{BASE}/feeds/other.html"]


def test_item_round_trips_through_its_task_dict() -> None:
    item = parse(fixture_feed("topic.rss"))[1]

    assert Item.from_dict(item.to_dict()) == item


# ---- canonical URL --------------------------------------------------------------------


def test_canonical_url_strips_utm_parameters_and_keeps_the_link_as_given() -> None:
    on2 = parse(fixture_feed("topic.rss"))[1]

    assert on2.canonical_url == f"{BASE}/news/on-topic-2.html"
    assert on2.url == f"{BASE}/news/on-topic-2.html?utm_source=rss&utm_medium=feed"


def test_canonical_url_keeps_other_query_parameters() -> None:
    url = "https://news.example/story?id=123&utm_source=x&utm_campaign=y"

    assert canonical_url(url) == "https://news.example/story?id=123"


def test_canonical_url_drops_the_fragment() -> None:
    assert canonical_url("https://news.example/story?id=123#comments") == "https://news.example/story?id=123"


def test_canonical_url_lowercases_the_host_and_drops_the_default_port() -> None:
    assert canonical_url("HTTPS://News.Example:443/Story") == "https://news.example/Story"


def test_canonical_url_of_a_bare_host_has_a_root_path() -> None:
    assert canonical_url("https://news.example") == "https://news.example/"


def test_canonical_url_ignores_surrounding_whitespace() -> None:
    assert canonical_url("  https://news.example/a \n") == "https://news.example/a"


# ---- links that are dropped or merged ---------------------------------------------------


@pytest.mark.parametrize(
    "bad_link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "ftp://x.example/a"]
)
def test_non_http_links_are_dropped(bad_link: str) -> None:
    body = rss(
        f"{BASE}/news/a.html", bad_link.replace("&", "&amp;").replace("<", "&lt;"), f"{BASE}/news/b.html"
    )

    items = parse(body)

    assert [i.url for i in items] == [f"{BASE}/news/a.html", f"{BASE}/news/b.html"]


def test_duplicate_links_within_one_feed_collapse_to_the_first_item() -> None:
    body = rss(
        f"{BASE}/news/a.html",
        f"{BASE}/news/a.html?utm_source=twitter",
        f"{BASE}/news/b.html",
        f"{BASE}/news/a.html#top",
    )

    items = parse(body)

    assert [i.canonical_url for i in items] == [f"{BASE}/news/a.html", f"{BASE}/news/b.html"]
    assert items[0].guid == "g0"


def test_max_items_caps_the_items_returned() -> None:
    items = parse(fixture_feed("topic.rss"), max_items=4)

    assert len(items) == 4
    assert items[-1].canonical_url == f"{BASE}/news/on-topic-4.html"


def test_max_items_counts_only_kept_items() -> None:
    body = rss("javascript:void(0)", f"{BASE}/news/a.html", f"{BASE}/news/a.html", f"{BASE}/news/b.html")

    assert [i.canonical_url for i in parse(body, max_items=2)] == [
        f"{BASE}/news/a.html",
        f"{BASE}/news/b.html",
    ]


# ---- what is not a feed ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"\x00\x01garbage", b"just some plain text, not a feed at all", b'{"items": []}'],
    ids=["binary", "plain-text", "json"],
)
def test_body_that_is_not_a_feed_raises_bad_feed(body: bytes) -> None:
    with pytest.raises(BadFeed) as exc:
        parse(body)

    assert exc.value.reason == "bad_feed"
    assert f"{BASE}/feeds/test.rss" in str(exc.value)


def test_well_formed_feed_without_items_gives_no_items() -> None:
    assert parse(rss()) == []


def test_well_formed_feed_logs_no_malformed_warning() -> None:
    with capture_logs() as logs:
        parse(fixture_feed("topic.rss"))

    assert [e for e in logs if e["event"] == "feed_malformed"] == []


def test_empty_body_raises_bad_feed() -> None:
    with pytest.raises(BadFeed):
        parse(b"")
