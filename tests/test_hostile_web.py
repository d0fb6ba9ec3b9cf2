"""The proof: one local server with every hostile case, the real worker against all of them at once.

Every case must end in its expected recorded reason, the worker and each of
its pool processes must stay alive (same PIDs, answering ``ingest check``),
their memory must stay bounded (RSS and peak RSS measured with psutil and
``/proc``, before and after), and the well-formed articles served alongside
must all be queued.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from tests.conftest import Service, stream_docs
from tests.support import hostile
from tests.support.webserver import FixtureServer, Handler

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MB = 1024 * 1024
CAP = 1_000_000

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
EVIL_DTD = b'<!ENTITY leak "LEAKED">'


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def latin1_mislabelled() -> Handler:
    body = fixture("hostile/academy-visit.html").encode("cp1252")
    return hostile.page(body, "text/html; charset=utf-8")


def utf8_with_stray_bytes() -> Handler:
    body = fixture("hostile/border-exercise.html").encode("utf-8")
    cut = body.index(b"Security analysts")
    return hostile.page(body[:cut] + b"\xff\xfe" + body[cut:], "text/html; charset=utf-8")


def deep_nesting() -> Handler:
    return hostile.page(b"<html><body>" + b"<div>" * 100_000 + b"<p>Minsk Beijing drills</p>")


# ---- the article pages: path -> (handler, the reason its item must end with) --------------

ARTICLES: dict[str, tuple[Callable[[], Handler], str]] = {
    "/h/to-redis.html": (lambda: hostile.redirect("http://127.0.0.1:6379/"), "private_address"),
    "/h/to-metadata.html": (
        lambda: hostile.redirect("http://169.254.169.254/latest/meta-data/"),
        "private_address",
    ),
    "/h/to-file.html": (lambda: hostile.redirect("file:///etc/passwd"), "bad_scheme"),
    "/h/loop.html": (lambda: hostile.redirect("/h/loop.html"), "too_many_redirects"),
    "/h/50mb.html": (lambda: hostile.declared_huge(50 * MB), "too_large"),
    "/h/endless.html": (hostile.endless_chunked, "too_large"),
    "/h/gzip-bomb.html": (lambda: hostile.gzip_bomb(100 * MB), "too_large"),
    "/h/bad-gzip.html": (
        lambda: hostile.page(b"\x1f\x8b\x08\x00garbage" * 20, "text/html", {"Content-Encoding": "gzip"}),
        "bad_content_encoding",
    ),
    "/h/brotli.html": (
        lambda: hostile.page(b"\x0b\x02\x80hi", "text/html", {"Content-Encoding": "br"}),
        "unsupported_content_encoding",
    ),
    "/h/drip-body.html": (lambda: hostile.drip_body(0.2), "deadline"),
    "/h/drip-headers.html": (lambda: hostile.drip_headers(0.2), "deadline"),
    "/h/reset.html": (hostile.reset_mid_body, "network"),
    "/h/error.html": (lambda: hostile.status(500), "http_500"),
    "/h/gone.html": (lambda: hostile.status(410), "http_410"),
    "/h/report.pdf": (lambda: hostile.HeldBody("application/pdf"), "not_html"),
    "/h/photo.png": (lambda: hostile.HeldBody("image/png"), "not_html"),
    "/private/secret.html": (
        lambda: hostile.page(fixture("site/on-topic-1.html").encode()),
        "robots_disallowed",
    ),
    "/h/deep.html": (deep_nesting, "no_text"),
    "/h/binary.html": (lambda: hostile.page(bytes(range(256)) * 200, "text/html"), "no_text"),
}
# transient reasons: retried (max_retries = 1 here), then dead-lettered
DEAD_LETTERED = {"/h/drip-body.html", "/h/drip-headers.html", "/h/reset.html", "/h/error.html"}

WELL_FORMED = {
    "/h/latin1-mislabelled.html": latin1_mislabelled,
    "/h/stray-bytes.html": utf8_with_stray_bytes,
}


def rss(items: list[tuple[str, str | None]], prolog: str = "") -> bytes:
    body = "".join(
        f"<item><title>item</title><link>{link}</link>"
        + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
        + "</item>"
        for link, guid in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}\n<rss version="2.0"><channel>'
        f"<title>t</title><link>http://x/</link><description>d</description>{body}</channel></rss>"
    ).encode()


@dataclass
class HostileSite:
    web: FixtureServer
    handlers: dict[str, Any] = field(default_factory=dict)
    feeds: dict[str, str | None] = field(default_factory=dict)  # feed path -> expected poll error
    found: dict[str, int] = field(default_factory=dict)  # feed path -> items found
    calls: dict[str, list[int]] = field(default_factory=dict)

    def mount(self, path: str, handler: Handler) -> str:
        self.calls[path] = []
        self.handlers[path] = handler
        return self.web.route(path, hostile.count_calls(handler, self.calls[path]))

    def feed(self, path: str, handler: Handler, *, error: str | None = None, found: int = 0) -> None:
        self.mount(path, handler)
        self.feeds[path] = error
        self.found[path] = found


def build_site(web: FixtureServer) -> HostileSite:
    site = HostileSite(web)
    u = web.url
    site.mount("/robots.txt", hostile.page(ROBOTS, "text/plain"))
    site.mount("/h/evil.dtd", hostile.page(EVIL_DTD, "application/xml-dtd"))
    for path, (make, _reason) in ARTICLES.items():
        site.mount(path, make())
    for path, make_page in WELL_FORMED.items():
        site.mount(path, make_page())
    for i in range(5000):
        web.route(f"/many/{i}", hostile.status(410))

    main = [*ARTICLES, *WELL_FORMED, "/news/on-topic-2.html", "/news/on-topic-3.html"]
    site.feed("/feeds/hostile.rss", hostile.page(rss([(u(p), None) for p in main])), found=len(main))
    unsafe = ["javascript:alert(1)", "data:text/html,<script>x</script>", "file:///etc/passwd"]
    site.feed(
        "/feeds/unsafe-links.rss",
        hostile.page(rss([(link, None) for link in unsafe] + [(u("/news/on-topic-1.html"), None)])),
        found=1,
    )
    shared_guid = [
        ("/news/on-topic-4.html", "g"),
        ("/news/on-topic-5.html", "g"),
        ("/news/on-topic-4.html", "g"),
    ]
    site.feed("/feeds/shared-guid.rss", hostile.page(rss([(u(p), g) for p, g in shared_guid])), found=2)
    site.feed(
        "/feeds/5000-items.rss",
        hostile.page(rss([(u(f"/many/{i}"), f"m{i}") for i in range(5000)])),
        found=30,
    )
    laughs = (
        '<!DOCTYPE rss [<!ENTITY a "lol">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{f"&{chr(97 + i)};" * 10}">' for i in range(9))
        + "]>"
    )
    site.feed(
        "/feeds/billion-laughs.rss",
        hostile.page(rss([(u("/news/x.html"), None)], laughs)),
        error="feed_entities",
    )
    xxe = f'<!DOCTYPE rss [<!ENTITY f SYSTEM "file:///etc/hostname"><!ENTITY h SYSTEM "{u("/h/evil.dtd")}">]>'
    site.feed("/feeds/xxe.rss", hostile.page(rss([(u("/news/y.html"), None)], xxe)), error="feed_entities")
    site.feed(
        "/feeds/external-dtd.rss",
        hostile.page(
            rss([(u("/news/off-topic-1.html"), None)], f'<!DOCTYPE rss SYSTEM "{u("/h/evil.dtd")}">')
        ),
        found=1,
    )
    truncated = rss([(u("/news/off-topic-2.html"), None), (u("/news/no-text.html"), None)])
    site.feed("/feeds/truncated.rss", hostile.page(truncated.split(b"</channel>")[0] + b"<item><ti"), found=2)
    site.feed(
        "/feeds/garbage.rss",
        hostile.page(b"\x00\x01<<< not & xml >>>" * 50, "application/rss+xml"),
        error="bad_feed",
    )
    site.feed("/feeds/oversized.rss", hostile.page(b"<rss>" + b" " * (2 * CAP)), error="too_large")
    site.feed("/feeds/dripping.rss", hostile.drip_body(0.2), error="deadline")
    site.feed("/feeds/gzip-bomb.rss", hostile.gzip_bomb(100 * MB, "application/rss+xml"), error="too_large")
    return site


# ---- measuring the worker -------------------------------------------------------------------


def tree(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


def peak_rss(p: psutil.Process) -> int:
    """The process's high-water mark of resident memory (``VmHWM``), in bytes."""
    for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@dataclass(frozen=True)
class Memory:
    main: int
    pids: frozenset[int]
    rss: int  # summed over the tree
    rsses: dict[int, int]
    peaks: dict[int, int]

    @classmethod
    def of(cls, proc: psutil.Process) -> Memory:
        procs = tree(proc)
        rsses = {p.pid: p.memory_info().rss for p in procs}
        return cls(
            proc.pid, frozenset(rsses), sum(rsses.values()), rsses, {p.pid: peak_rss(p) for p in procs}
        )

    def growth(self, after: Memory, of: str) -> dict[int, int]:
        """Per process, how far ``after`` went above a warm process: its own figure before, or
        for a pool child the largest child's (which child the warm-up's articles reach is
        the scheduler's choice, and a child loads extraction's ~35 MB the first time)."""
        before, now = (self.peaks, after.peaks) if of == "peak" else (self.rsses, after.rsses)
        warm_child = max((v for pid, v in before.items() if pid != self.main), default=0)
        return {
            pid: now[pid] - (before[pid] if pid == self.main else max(before[pid], warm_child))
            for pid in self.pids
        }


@pytest.fixture
def hostile_env(env: dict[str, str]) -> dict[str, str]:
    env |= {
        "INGEST_FETCH__MAX_BODY_BYTES": str(CAP),
        "INGEST_FETCH__MAX_FEED_BYTES": str(CAP),
        # connect and read timeouts far above the total deadline: every socket wait is cut to
        # what is left of the deadline, so a stall of any length (a drip, a loaded machine)
        # ends as "deadline", never as "timeout"; no case here expects "timeout"
        "INGEST_FETCH__CONNECT_TIMEOUT_SECONDS": "60",
        "INGEST_FETCH__READ_TIMEOUT_SECONDS": "60",
        "INGEST_FETCH__TOTAL_TIMEOUT_SECONDS": "2",
        "INGEST_FETCH__MAX_RETRIES": "1",
        "INGEST_FETCH__MAX_ITEMS_PER_POLL": "30",
    }
    return env


def test_worker_survives_every_hostile_case_with_bounded_memory_and_queues_the_good_articles(
    service: Service, hostile_env: dict[str, str], web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    web.httpd.handle_error = lambda *_: None  # type: ignore[method-assign]  # clients hang up on purpose
    site = build_site(web)
    worker = psutil.Process(service.start_worker().pid)
    # warm-up, so the baseline includes what each pool process loads once: extraction, dedup, and
    # the fallback extractor's stop lists (tiny pages) -- about 35 MB the first time a process uses it
    warm = ["/news/seed-004-repost.html", "/news/republished-seed.html"]
    for i in range(8):
        warm.append(f"/warm/{i}.html")
        web.route(warm[-1], hostile.page(f"<html><body><p>Short note {i}.</p></body></html>".encode()))
    service.fetch_wait(*[a for p in warm for a in ("--url", web.url(p))])
    time.sleep(0.5)
    before = Memory.of(worker)

    feeds = [a for path in site.feeds for a in ("--feed", web.url(path))]
    started = time.monotonic()
    summary = service.fetch_wait(*feeds, timeout=120)
    elapsed = time.monotonic() - started
    after = Memory.of(worker)

    growth = before.growth(after, "peak")
    print(
        f"\nhostile run: {elapsed:.1f}s; worker tree RSS {before.rss / MB:.1f} MB -> {after.rss / MB:.1f} MB;"
        f" peak RSS per process (MB) before {[round(v / MB, 1) for v in before.peaks.values()]}"
        f" after {[round(v / MB, 1) for v in after.peaks.values()]}"
    )

    # -- every case ended in its recorded reason --------------------------------------------
    assert summary["complete"], summary
    polls = {p["feed_url"].removeprefix(web.base): p for p in summary["polls"]}
    assert {path: polls[path].get("error") for path in site.feeds} == site.feeds
    assert {path: polls[path]["found"] for path in site.found} == site.found
    failures = {f["url"].removeprefix(web.base): f["reason"] for f in summary["failures"]}
    expected = {path: reason for path, (_make, reason) in ARTICLES.items()}
    expected |= {f"/many/{i}": "http_410" for i in range(30)} | {"/news/no-text.html": "no_text"}
    assert failures == expected

    # -- transient ones were retried and dead-lettered, permanent ones asked once -----------------
    letters = [json.loads(f[b"entry"]) for _id, f in r.xrange(f"{prefix}deadletter")]
    assert {(e["url"].removeprefix(web.base), e["reason"], e["attempts"]) for e in letters} == {
        (path, ARTICLES[path][1], 2) for path in DEAD_LETTERED
    }
    assert len(site.calls["/h/error.html"]) == 2 and len(site.calls["/h/gone.html"]) == 1
    assert len(site.calls["/h/loop.html"]) == 6  # the first request and max_redirects (5) hops

    # -- refused things were never downloaded ---------------------------------------------------
    assert site.calls["/private/secret.html"] == []
    assert site.calls["/h/evil.dtd"] == []
    held = [site.handlers["/h/report.pdf"], site.handlers["/h/photo.png"]]
    deadline = time.monotonic() + hostile.HeldBody.hold_seconds + 5  # each handler has its verdict by then
    while not all(h.client_left_first for h in held) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [h.client_left_first for h in held] == [[True], [True]]

    # -- the well-formed articles are all queued, the badly encoded ones decoded right ------------
    docs = {d["canonical_url"].removeprefix(web.base): d for d in stream_docs(r, f"{prefix}articles")}
    good = {*WELL_FORMED, *(f"/news/on-topic-{i}.html" for i in range(1, 6))}
    assert set(docs) == good and summary["queued"] == len(good)
    assert "café" in docs["/h/latin1-mislabelled.html"]["text"]
    assert "naïve" in docs["/h/latin1-mislabelled.html"]["text"]
    assert "Мінск вітае сяброў" in docs["/h/stray-bytes.html"]["text"]
    assert (summary["off_topic"], summary["duplicate"]) == (2, 0)

    # -- the worker is alive, no pool process died, memory stayed bounded ---------------------------
    assert worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
    assert after.pids == before.pids
    assert "alive" in service.ingest("check").stdout
    # a 100 MB gzip bomb and a 50 MB page went through: neither shows in any process's peak
    assert max(growth.values()) < 30 * MB, growth
    assert sum(max(0, g) for g in before.growth(after, "rss").values()) < 40 * MB
