"""Hostile feed documents: entity attacks, external entities, thousands of items, reused GUIDs.

``parse_feed`` refuses any feed that declares XML entities; the feedparser
tests below show that feedparser on its own never reads a local file or makes
a request for an external entity or DTD, whatever we let through.
"""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from tests.support import hostile
from tests.support.webserver import FixtureServer
from worker.errors import BadFeed
from worker.feeds import Item, parse_feed

BASE = "http://127.0.0.1:8000"


def parse(body: bytes, max_items: int = 500) -> list[Item]:
    return parse_feed(body, source="test", base_url=f"{BASE}/feed.rss", max_items=max_items)


def rss(items: str, prolog: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}\n<rss version="2.0"><channel><title>t</title>'
        f"<link>{BASE}/</link><description>d</description>{items}</channel></rss>"
    )


def item(link: str, title: str = "t", guid: str | None = None) -> str:
    g = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return f"<item><title>{title}</title><link>{link}</link>{g}</item>"


LAUGHS = (
    '<!DOCTYPE rss [\n<!ENTITY l0 "lol">\n'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">\n' for i in range(1, 10))
    + "]>"
)
# the kind feedparser's sanitizer keeps ("safe": no '&' inside) and still expands, 2,000 times over
LINEAR = '<!DOCTYPE rss [\n<!ENTITY big "' + "x" * 10_000 + '">\n]>'

ENTITY_ATTACKS = {
    "billion-laughs": rss(item(f"{BASE}/a", "&l9;"), LAUGHS),
    "linear-expansion": rss(item(f"{BASE}/a", "&big;" * 2000), LINEAR),
    "xxe-local-file": rss(
        item(f"{BASE}/a", "&x;"), '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
    ),
    "xxe-url": rss(item(f"{BASE}/a", "&x;"), f'<!DOCTYPE rss [<!ENTITY x SYSTEM "{BASE}/x.dtd">]>'),
    "parameter-entity": rss(item(f"{BASE}/a"), f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{BASE}/p.dtd"> %p;]>'),
}


@pytest.mark.parametrize("doc", ENTITY_ATTACKS.values(), ids=ENTITY_ATTACKS.keys())
def test_feed_declaring_entities_is_refused_as_feed_entities_without_expanding_them(doc: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(BadFeed) as exc:
            parse(doc.encode())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert exc.value.reason == "feed_entities"
    assert peak < 5_000_000


@pytest.mark.parametrize("encoding", ["utf-16", "utf-7", "utf-32"])
def test_entity_declarations_are_found_whatever_the_feeds_encoding(encoding: str) -> None:
    doc = ENTITY_ATTACKS["linear-expansion"].replace('encoding="utf-8"', f'encoding="{encoding}"')

    with pytest.raises(BadFeed) as exc:
        parse(doc.encode(encoding))

    assert exc.value.reason == "feed_entities"


def test_feedparser_never_reads_a_local_file_named_by_an_external_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    token = f"SECRET-{uuid.uuid4().hex}"
    secret.write_text(token)
    # the comment hides the declaration from feedparser's own DOCTYPE scrubbing: expat sees it
    doc = rss(
        item(f"{BASE}/a", "before &x; after"),
        f'<!-- <a --><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>',
    )

    parsed = feedparser.parse(doc.encode())

    assert token not in repr(parsed)
    assert parsed.entries[0].link == f"{BASE}/a"


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        yield server


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE rss SYSTEM "{base}/ext.dtd">',
        '<!-- <a --><!DOCTYPE rss [<!ENTITY % p SYSTEM "{base}/ext.dtd"> %p;]>',
        '<!-- <a --><!DOCTYPE rss [<!ENTITY x SYSTEM "{base}/ext.dtd">]>',
    ],
    ids=["external-dtd", "parameter-entity", "general-entity"],
)
def test_feedparser_never_requests_an_external_dtd_or_entity(site: FixtureServer, prolog: str) -> None:
    calls: list[int] = []
    site.route(
        "/ext.dtd", hostile.count_calls(hostile.page(b'<!ENTITY x "LEAKED">', "application/xml-dtd"), calls)
    )
    doc = rss(item(f"{BASE}/a", "t &x;"), prolog.format(base=site.base))

    # a fetch by the parser would be synchronous (expat waits for the entity's content), and the
    # server counts a request before it answers: any request has been counted when parse() returns
    parsed = feedparser.parse(doc.encode())

    assert calls == []
    assert "LEAKED" not in repr(parsed)


def test_feed_with_thousands_of_items_gives_the_first_max_items() -> None:
    doc = rss("".join(item(f"{BASE}/n/{i}", guid=f"g{i}") for i in range(2000)))

    items = parse(doc.encode(), max_items=20)

    assert [i.url for i in items] == [f"{BASE}/n/{i}" for i in range(20)]


def test_guid_given_to_several_different_links_is_dropped_from_those_items() -> None:
    doc = rss(item(f"{BASE}/a", guid="same") + item(f"{BASE}/b", guid="same") + item(f"{BASE}/c", guid="own"))

    items = parse(doc.encode())

    assert [(i.url, i.guid) for i in items] == [
        (f"{BASE}/a", None),
        (f"{BASE}/b", None),
        (f"{BASE}/c", "own"),
    ]


def test_same_link_repeated_under_one_guid_is_one_item_that_keeps_its_guid() -> None:
    doc = rss(item(f"{BASE}/a", guid="g") + item(f"{BASE}/a", guid="g"))

    assert [(i.url, i.guid) for i in parse(doc.encode())] == [(f"{BASE}/a", "g")]


def test_feed_cut_off_mid_item_gives_the_items_before_the_cut() -> None:
    doc = rss(item(f"{BASE}/1") + item(f"{BASE}/2")).split("</channel>")[0] + "<item><title>thr"

    assert [i.url for i in parse(doc.encode())] == [f"{BASE}/1", f"{BASE}/2"]


def test_deeply_nested_markup_in_a_feed_does_not_crash_the_parser() -> None:
    nested = "<div>" * 20_000 + "x" + "</div>" * 20_000
    doc = rss(item(f"{BASE}/1") + f"<item><link>{BASE}/2</link><description>{nested}</description></item>")

    assert [i.url for i in parse(doc.encode())] == [f"{BASE}/1", f"{BASE}/2"]
