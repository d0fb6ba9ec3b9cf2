"""Each source kind against a local server speaking its real format (worker/sources/).

Google News (its search RSS and both decode endpoints), Bing News (click-tracking
wrappers), GDELT (JSON article list, plain-text refusals, 429), news sitemaps (found
from robots.txt, indexes, gzip) and a huge RSS feed; polled through
:meth:`worker.handoff.HandOff.poll_source` on a real Redis, as a worker polls them.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from tests.support import hostile
from tests.support.newsapis import GoogleNews, fixture
from tests.support.webserver import FixtureServer, send
from worker.context import Context
from worker.feeds import Item
from worker.frontier import Entry
from worker.handoff import HandOff
from worker.settings import load_settings
from worker.sources import requests_of

MakeCtx = Callable[..., Context]


@pytest.fixture
def make_ctx(env: dict[str, str], r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeCtx]:
    made: list[Context] = []

    def make(*sources: dict[str, Any], **settings: str) -> Context:
        for k, v in env.items():
            if k.startswith(("INGEST_", "REDIS_URL")):
                monkeypatch.setenv(k, v)
        monkeypatch.setenv("INGEST_SOURCES", json.dumps(list(sources)))
        for k, v in settings.items():
            monkeypatch.setenv(k, v)
        ctx = Context(load_settings(), r)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


def poll(ctx: Context, name: str, token: str = "poll-1") -> dict[str, Any]:
    """A scheduled poll of the source, made due first (its interval is tested on its own)."""
    ctx.redis.hdel(ctx.keys.source(name), "next_poll_at")
    return HandOff(ctx).poll_source(name, None, token)


def queued(ctx: Context) -> dict[str, Item]:
    """The items waiting in the frontier, by URL."""
    raw = ctx.redis.hvals(ctx.keys.frontier_entries)
    items = [Entry.loads(v).item for v in raw]
    return {i.url: i for i in items}


# ---- Google News ------------------------------------------------------------------------


@pytest.fixture
def google(web: FixtureServer) -> GoogleNews:
    return GoogleNews(
        web,
        {
            "CBMiAU_yqLNewStyleTwo": web.url("/news/on-topic-2.html"),
            "CBMiAU_yqLNewStyleThree": web.url("/news/on-topic-3.html"),
            "CBMiAU_yqLBroken": None,
        },
        old_url=web.url("/news/on-topic-1.html"),
    )


def google_source(google: GoogleNews, **kw: Any) -> dict[str, Any]:
    return {
        "name": "gnews",
        "kind": "google_news",
        "url": google.search_url,
        "query": "China Belarus military",
    } | kw


def test_google_news_links_are_decoded_to_the_publishers_urls_before_they_are_queued(
    make_ctx: MakeCtx, google: GoogleNews, web: FixtureServer
) -> None:
    ctx = make_ctx(google_source(google))

    summary = poll(ctx, "gnews")

    items = queued(ctx)
    assert sorted(items) == sorted(web.url(f"/news/on-topic-{n}.html") for n in (1, 2, 3))
    two = items[web.url("/news/on-topic-2.html")]
    assert two.via == web.url("/rss/articles/CBMiAU_yqLNewStyleTwo?oc=5")
    assert two.publisher == "https://minsk-wire.example"  # the item's <source url>
    assert (summary["new"], summary.get("error")) == (3, None)


def test_an_old_style_google_id_is_decoded_without_asking_google(
    make_ctx: MakeCtx, google: GoogleNews, web: FixtureServer
) -> None:
    ctx = make_ctx(google_source(google))

    poll(ctx, "gnews")

    assert web.url("/news/on-topic-1.html") in queued(ctx)
    assert web.count(f"/rss/articles/{google.old_id}") == 0
    assert all(google.old_id not in batch for batch in google.batches)


def test_google_ids_are_decoded_in_one_batch_request(make_ctx: MakeCtx, google: GoogleNews) -> None:
    ctx = make_ctx(google_source(google))

    poll(ctx, "gnews")

    assert google.batches == [["CBMiAU_yqLNewStyleTwo", "CBMiAU_yqLNewStyleThree"]]


def test_google_is_asked_no_more_often_than_its_request_interval_while_decoding(
    make_ctx: MakeCtx, google: GoogleNews, web: FixtureServer
) -> None:
    ctx = make_ctx(google_source(google, request_interval_seconds=0.5))

    poll(ctx, "gnews")

    # the search, each new-style id's article page, the batch request: one host, one pace
    gaps = web.gaps(("/rss/", "/_/"))
    assert len(gaps) >= 3 and min(gaps) >= 0.45, gaps  # a loaded machine only makes them longer


def test_decoded_google_ids_are_kept_so_the_next_poll_asks_google_nothing(
    make_ctx: MakeCtx, google: GoogleNews, web: FixtureServer
) -> None:
    ctx = make_ctx(google_source(google))
    poll(ctx, "gnews")
    pages_before = len(web.paths("/rss/articles/"))

    poll(ctx, "gnews", token="poll-2")

    assert len(web.paths("/rss/articles/")) == pages_before
    assert len(google.batches) == 1


def test_a_google_id_that_cannot_be_decoded_is_counted_and_the_rest_of_the_poll_goes_on(
    make_ctx: MakeCtx, google: GoogleNews
) -> None:
    ctx = make_ctx(google_source(google))

    summary = poll(ctx, "gnews")

    assert summary["problems"] == {"gnews_undecodable": 1}
    assert summary["new"] == 3 and "error" not in summary
    assert not any("news/apiclick" in u or "/rss/articles/" in u for u in queued(ctx))


def test_google_429_makes_the_source_back_off_and_the_undecoded_items_wait_for_the_next_poll(
    make_ctx: MakeCtx, google: GoogleNews, web: FixtureServer
) -> None:
    ctx = make_ctx(google_source(google))
    google.throttle = 1

    first = poll(ctx, "gnews")

    assert (first["error"], first["waiting"], first["new"]) == ("http_429", 2, 1)
    assert list(queued(ctx)) == [web.url("/news/on-topic-1.html")]
    status = ctx.redis.hgetall(ctx.keys.source("gnews"))
    assert b"next_poll_after" in status  # Retry-After honoured: the source backs off
    ctx.redis.hdel(ctx.keys.source("gnews"), "next_poll_after")  # ... until that time comes

    second = poll(ctx, "gnews", token="poll-2")

    assert second["new"] == 2 and "error" not in second
    assert sorted(queued(ctx)) == sorted(web.url(f"/news/on-topic-{n}.html") for n in (1, 2, 3))


def test_google_decoding_stops_when_the_polls_time_for_it_is_spent(
    make_ctx: MakeCtx, google: GoogleNews, web: FixtureServer
) -> None:
    from worker.sources.google_news import Decoder

    ctx = make_ctx(google_source(google))
    links = [web.url(f"/rss/articles/{i}?oc=5") for i in (google.old_id, "CBMiAU_yqLNewStyleTwo")]

    decoded = Decoder(ctx, google.search_url, None, deadline=time.monotonic() - 1).decode(links)

    assert decoded == {links[0]: web.url("/news/on-topic-1.html")}  # the old-style id needs no request
    assert web.paths("/rss/articles/") == [] and google.batches == []


def test_a_google_search_per_language_uses_that_editions_parameters(google: GoogleNews) -> None:
    from worker.settings import SourceSettings

    source = SourceSettings(
        name="g", kind="google_news", queries={"en": "China Belarus army", "ru": "Китай Беларусь армия"}
    )

    urls = {r.lang: r.url for r in requests_of(source)}

    assert urls["en"] == (
        "https://news.google.com/rss/search?q=China+Belarus+army&hl=en-US&gl=US&ceid=US%3Aen"
    )
    query = parse_qs(urlsplit(urls["ru"]).query)
    assert (query["q"], query["hl"], query["gl"], query["ceid"]) == (
        ["Китай Беларусь армия"],
        ["ru"],
        ["RU"],
        ["RU:ru"],
    )


# ---- Bing News --------------------------------------------------------------------------


def test_bing_news_links_are_unwrapped_and_bad_wrappers_left_out(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = fixture(web, "bing-news-search.rss")
    web.route("/news/search", lambda req: send(req, 200, body, "application/rss+xml; charset=utf-8"))
    ctx = make_ctx(
        {"name": "bing", "kind": "bing_news", "url": web.url("/news/search"), "query": "China Belarus"}
    )

    summary = poll(ctx, "bing")

    items = queued(ctx)
    assert sorted(items) == [web.url("/news/on-topic-1.html"), web.url("/news/on-topic-3.html")]
    assert items[web.url("/news/on-topic-1.html")].via.startswith(web.url("/news/apiclick.aspx?"))  # type: ignore[union-attr]
    assert summary["problems"] == {"bing_bad_link": 2}  # javascript: and back to Bing


# ---- GDELT ------------------------------------------------------------------------------


def gdelt_source(web: FixtureServer, **kw: Any) -> dict[str, Any]:
    return {
        "name": "gdelt",
        "kind": "gdelt",
        "url": web.url("/api/v2/doc/doc"),
        "query": "(China OR Chinese) Belarus military",
        "request_interval_seconds": 0.01,
    } | kw


def test_gdelt_article_list_becomes_items_with_their_language(make_ctx: MakeCtx, web: FixtureServer) -> None:
    body = fixture(web, "gdelt-artlist.json")
    web.route("/api/v2/doc/doc", lambda req: send(req, 200, body, "application/json; charset=utf-8"))
    ctx = make_ctx(gdelt_source(web))

    summary = poll(ctx, "gdelt")

    items = queued(ctx)
    assert sorted(items) == [web.url("/news/on-topic-1.html"), web.url("/news/on-topic-2.html")]
    assert items[web.url("/news/on-topic-1.html")].lang == "ru"
    assert items[web.url("/news/on-topic-2.html")].published_at == "2023-08-16T11:30:00+00:00"
    assert items[web.url("/news/on-topic-2.html")].date_source == "gdelt"  # a crawl time, said so
    assert summary["new"] == 2


def test_a_gdelt_error_body_is_a_poll_error_carrying_gdelts_message(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = fixture(web, "gdelt-error.txt")
    web.route("/api/v2/doc/doc", lambda req: send(req, 200, body, "text/html; charset=utf-8"))
    ctx = make_ctx(gdelt_source(web))

    summary = poll(ctx, "gdelt")

    assert summary["error"] == "gdelt_error"
    assert "Queries containing OR'd terms must be surrounded by ()" in summary["message"]


def test_gdelt_429_is_a_poll_error_and_the_source_backs_off(make_ctx: MakeCtx, web: FixtureServer) -> None:
    web.route("/api/v2/doc/doc", hostile.status(429, {"Retry-After": "600"}))
    ctx = make_ctx(gdelt_source(web))

    summary = poll(ctx, "gdelt")

    assert summary["error"] == "http_429"
    assert b"next_poll_after" in ctx.redis.hgetall(ctx.keys.source("gdelt"))


def test_gdelt_asks_for_max_age_first_and_then_only_since_the_last_successful_poll(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = fixture(web, "gdelt-artlist.json")
    asked: list[str] = []

    def handler(req: Any) -> None:
        asked.append(parse_qs(urlsplit(req.path).query)["timespan"][0])
        send(req, 200, body, "application/json")

    web.route("/api/v2/doc/doc", handler)
    ctx = make_ctx(gdelt_source(web, max_age_seconds=86400))

    poll(ctx, "gdelt")
    poll(ctx, "gdelt", token="poll-2")

    assert asked == ["1440min", "16min"]  # a day; then the 15 min GDELT's list lags, and this poll's


def test_gdelt_is_asked_no_more_often_than_its_request_interval(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = fixture(web, "gdelt-artlist.json")
    web.route("/api/v2/doc/doc", lambda req: send(req, 200, body, "application/json; charset=utf-8"))
    queries = {"en": "China Belarus", "pl": "Chiny Białoruś", "de": "China Belarus Militär"}
    ctx = make_ctx(gdelt_source(web, queries=queries, request_interval_seconds=0.5))

    poll(ctx, "gdelt")

    gaps = web.gaps(("/api/v2/doc/doc",))
    assert len(gaps) == 2 and min(gaps) >= 0.45, gaps  # a loaded machine only makes them longer


def test_a_gdelt_search_in_another_language_asks_for_that_language(web: FixtureServer) -> None:
    from worker.settings import SourceSettings

    source = SourceSettings(name="g", kind="gdelt", queries={"en": "China Belarus", "pl": "Chiny Białoruś"})

    queries = [parse_qs(urlsplit(r.url).query)["query"][0] for r in requests_of(source)]

    assert queries == ["China Belarus", "Chiny Białoruś sourcelang:polish"]


# ---- news sitemaps ----------------------------------------------------------------------


def sitemap_body(web: FixtureServer) -> bytes:
    now = datetime.now(UTC)
    return fixture(
        web,
        "news-sitemap.xml",
        recent=(now - timedelta(hours=2)).isoformat(timespec="seconds"),
        old=(now - timedelta(days=30)).isoformat(timespec="seconds"),
    )


def test_a_news_sitemap_gives_its_recent_entries_with_title_and_language(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = sitemap_body(web)
    web.route("/news-sitemap.xml", lambda req: send(req, 200, body, "application/xml"))
    ctx = make_ctx({"name": "ledger", "kind": "sitemap", "url": web.url("/news-sitemap.xml")})

    summary = poll(ctx, "ledger")

    items = queued(ctx)
    # the month-old entry and the undated one are not taken
    assert sorted(items) == [web.url("/news/on-topic-1.html"), web.url("/news/on-topic-2.html")]
    first = items[web.url("/news/on-topic-1.html")]
    assert (first.title, first.lang) == ("Министр обороны Китая встретился с Хрениным", "ru")
    assert first.published_at and first.date_source == "sitemap"
    assert summary["found"] == 4 and summary["new"] == 2


def test_news_sitemaps_are_found_from_robots_txt_through_a_gzipped_index(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = sitemap_body(web)
    index = (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{web.url('/sitemaps/news.xml.gz')}</loc></sitemap></sitemapindex>"
    ).encode()
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {web.url('/sitemap-index.xml')}\n".encode()
    web.route("/robots.txt", lambda req: send(req, 200, robots, "text/plain"))
    web.route("/sitemap-index.xml", lambda req: send(req, 200, index, "application/xml"))
    web.route("/sitemaps/news.xml.gz", lambda req: send(req, 200, gzip.compress(body), "application/x-gzip"))
    ctx = make_ctx({"name": "ledger", "kind": "sitemap", "site": web.base})

    poll(ctx, "ledger")

    assert sorted(queued(ctx)) == [web.url("/news/on-topic-1.html"), web.url("/news/on-topic-2.html")]


def test_a_sitemap_index_that_loops_is_read_once_per_document(make_ctx: MakeCtx, web: FixtureServer) -> None:
    def index_of(*children: str) -> bytes:
        locs = "".join(f"<sitemap><loc>{web.url(c)}</loc></sitemap>" for c in children)
        return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</sitemapindex>'.encode()

    a, b = index_of("/b.xml"), index_of("/a.xml", "/news.xml")
    body = sitemap_body(web)
    web.route("/a.xml", lambda req: send(req, 200, a, "application/xml"))
    web.route("/b.xml", lambda req: send(req, 200, b, "application/xml"))
    web.route("/news.xml", lambda req: send(req, 200, body, "application/xml"))
    ctx = make_ctx({"name": "loop", "kind": "sitemap", "url": web.url("/a.xml")})

    summary = poll(ctx, "loop")

    assert (web.count("/a.xml"), web.count("/b.xml"), web.count("/news.xml")) == (1, 1, 1)
    assert summary["new"] == 2


def test_sitemap_index_recursion_stops_at_its_depth_and_count(make_ctx: MakeCtx, web: FixtureServer) -> None:
    def deeper(n: int) -> Callable[[Any], None]:
        locs = "".join(f"<sitemap><loc>{web.url(f'/deep/{n + 1}-{k}.xml')}</loc></sitemap>" for k in range(3))
        body = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</sitemapindex>'.encode()
        return lambda req: send(req, 200, body, "application/xml")

    for n in range(6):
        for k in range(3):
            web.route(f"/deep/{n}-{k}.xml", deeper(n))
    ctx = make_ctx(
        {
            "name": "deep",
            "kind": "sitemap",
            "url": web.url("/deep/0-0.xml"),
            "max_depth": 2,
            "max_sitemaps": 5,
        }
    )

    summary = poll(ctx, "deep")

    assert len(web.paths("/deep/")) == 5
    assert "sitemap_limit" in summary["problems"]
    assert not any(p.startswith("/deep/3-") for p in web.paths("/deep/"))


def test_a_gzipped_sitemap_bomb_is_refused_and_the_other_sitemaps_go_on(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    body = sitemap_body(web)
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{web.url('/bomb.xml.gz')}</loc></sitemap>"
        f"<sitemap><loc>{web.url('/news.xml')}</loc></sitemap></sitemapindex>"
    ).encode()
    bomb = hostile.gzip_bomb_bytes(200 * 1024 * 1024)
    web.route("/index.xml", lambda req: send(req, 200, index, "application/xml"))
    web.route("/bomb.xml.gz", lambda req: send(req, 200, bomb, "application/x-gzip"))
    web.route("/news.xml", lambda req: send(req, 200, body, "application/xml"))
    ctx = make_ctx({"name": "bomb", "kind": "sitemap", "url": web.url("/index.xml")})

    summary = poll(ctx, "bomb")

    assert summary["problems"] == {"sitemap_too_large": 1}
    assert summary["new"] == 2


def test_a_fifty_megabyte_sitemap_is_cut_at_the_cap_and_its_first_entries_read(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    recent = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    entry = f"<url><loc>{web.base}/news/story-{{n}}.html</loc><lastmod>{recent}</lastmod></url>"
    head = '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    body = (head + "".join(entry.format(n=n) for n in range(600_000)) + "</urlset>").encode()
    assert len(body) > 50_000_000
    web.route("/big.xml", lambda req: send(req, 200, body, "application/xml"))
    ctx = make_ctx(
        {"name": "big", "kind": "sitemap", "url": web.url("/big.xml")},
        INGEST_FETCH__MAX_FEED_BYTES="1000000",
        INGEST_FETCH__MAX_ITEMS_PER_POLL="50",
    )

    summary = poll(ctx, "big")

    assert summary["problems"] == {"sitemap_truncated": 1}
    assert summary["new"] == 50 and "error" not in summary


# ---- feeds ------------------------------------------------------------------------------


def test_a_feed_of_ten_thousand_items_gives_its_newest_max_items(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    start = datetime(2023, 8, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>Story {n}</title><link>{web.base}/news/story-{n}.html</link>"
        f"<pubDate>{(start + timedelta(minutes=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>{'Минск и Пекин. ' * 16}</description></item>"
        for n in range(10_000)
    )  # oldest first, as some outlets write them
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    body = f"{head}{items}</channel></rss>"
    data = body.encode()
    assert len(data) > 3_400_000
    web.route("/huge.rss", lambda req: send(req, 200, data, "application/rss+xml"))
    ctx = make_ctx(
        {"name": "huge", "kind": "feed", "url": web.url("/huge.rss")},
        INGEST_FETCH__MAX_ITEMS_PER_POLL="100",
        INGEST_FETCH__MAX_FEED_BYTES="10000000",
    )

    summary = poll(ctx, "huge")

    assert summary["new"] == 100 and "error" not in summary
    assert sorted(queued(ctx)) == sorted(f"{web.base}/news/story-{n}.html" for n in range(9_900, 10_000))


@pytest.mark.parametrize(
    "answer",
    [b"<!doctype html><html><body><h1>Our search is down</h1></body></html>", b"\x00\x01garbage\xff" * 100],
    ids=["html", "garbage"],
)
def test_a_search_that_answers_no_feed_is_a_recorded_error_and_its_other_languages_go_on(
    make_ctx: MakeCtx, web: FixtureServer, answer: bytes
) -> None:
    good = fixture(web, "bing-news-search.rss")

    def handler(req: Any) -> None:
        lang = parse_qs(urlsplit(req.path).query)["setlang"][0]
        send(req, 200, good if lang == "en" else answer, "text/html")

    web.route("/news/search", handler)
    ctx = make_ctx(
        {
            "name": "bing",
            "kind": "bing_news",
            "url": web.url("/news/search"),
            "queries": {"en": "China Belarus", "ru": "Китай Беларусь"},
        }
    )

    summary = poll(ctx, "bing")

    by_lang = {parse_qs(urlsplit(p["feed_url"]).query)["setlang"][0]: p for p in summary["requests"]}
    assert by_lang["ru"]["error"] == "bad_feed"
    assert by_lang["en"]["new"] == 2
    assert "error" not in summary  # one language failing does not fail (nor back off) the source


# ---- how often a source is polled -------------------------------------------------------


def local_feed(web: FixtureServer, **kw: Any) -> dict[str, Any]:
    return {"name": "local", "kind": "feed", "url": web.url("/feeds/topic.rss"), "interval_seconds": 600} | kw


def test_a_source_that_had_new_items_is_polled_sooner_and_one_that_had_none_later(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    ctx = make_ctx(local_feed(web))

    poll(ctx, "local")  # ten new items
    after_news = ctx.redis.hget(ctx.keys.source("local"), "interval_seconds")
    poll(ctx, "local", token="poll-2")  # 304: nothing new
    after_nothing = ctx.redis.hget(ctx.keys.source("local"), "interval_seconds")

    assert (after_news, after_nothing) == (b"300", b"450")


def test_a_sources_interval_stays_within_its_bounds(make_ctx: MakeCtx, web: FixtureServer) -> None:
    ctx = make_ctx(local_feed(web, min_interval_seconds=400, max_interval_seconds=700))

    poll(ctx, "local")
    low = ctx.redis.hget(ctx.keys.source("local"), "interval_seconds")
    for n in range(4):
        poll(ctx, "local", token=f"poll-{n + 2}")
    high = ctx.redis.hget(ctx.keys.source("local"), "interval_seconds")

    assert (low, high) == (b"400", b"700")


def test_a_scheduled_poll_before_the_source_is_due_makes_no_request(
    make_ctx: MakeCtx, web: FixtureServer
) -> None:
    ctx = make_ctx(local_feed(web))
    poll(ctx, "local")
    requests_before = web.count("/feeds/topic.rss")

    summary = HandOff(ctx).poll_source("local", None, "beat-2")  # the beat, 10 minutes early

    assert summary["skipped"] == "not_due"
    assert web.count("/feeds/topic.rss") == requests_before


def test_an_ad_hoc_poll_runs_whether_the_source_is_due_or_not(make_ctx: MakeCtx, web: FixtureServer) -> None:
    ctx = make_ctx(local_feed(web))
    poll(ctx, "local")
    requests_before = web.count("/feeds/topic.rss")

    summary = HandOff(ctx).poll_source("local", "run-1", "adhoc-2")

    assert "skipped" not in summary
    assert web.count("/feeds/topic.rss") == requests_before + 1


def test_a_sources_totals_and_last_success_are_kept_for_status(make_ctx: MakeCtx, web: FixtureServer) -> None:
    ctx = make_ctx(local_feed(web))

    poll(ctx, "local")
    poll(ctx, "local", token="poll-2")

    info = ctx.redis.hgetall(ctx.keys.source("local"))
    assert (info[b"total_polls"], info[b"total_found"], info[b"total_new"]) == (b"2", b"10", b"10")
    assert b"last_success_at" in info
