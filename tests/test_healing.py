"""Failures that heal: a transient failure is tried again by the sweep, a permanent one is
not; a person can retry anything (``ingest retry``, ``ingest fetch --url --force``).

The heal delays are 1 s and the sweep runs every second here; every wait below is for an
event (a request reaching the server, a counter in Redis), bounded only by a failure message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from harness.newsroom import article_html
from tests.conftest import ROOT, Service, stream_docs
from tests.support import hostile
from tests.support.webserver import FixtureServer
from worker.dedup import DedupIndex
from worker.feeds import canonical_url
from worker.keys import Keys
from worker.settings import DedupSettings
from worker.textsig import url_hash

# every bound below is a failure message, not a measurement
BOUND_SECONDS = 120
OFF_TOPIC_HTML = (ROOT / "tests" / "fixtures" / "site" / "off-topic-1.html").read_bytes()


@pytest.fixture
def healing(service: Service) -> Service:
    """No Celery retries (a failure is final at once), heal after 1 s, a sweep each second."""
    service.env.update(
        {
            "INGEST_FETCH__MAX_RETRIES": "0",
            "INGEST_FETCH__HEAL_AFTER_SECONDS": "[1]",
            "INGEST_WORKER__SWEEP_SECONDS": "1",
            "INGEST_WORKER__HEARTBEAT_SECONDS": "0.5",
            "INGEST_WORKER__DEAD_AFTER_SECONDS": "2",
        }
    )
    return service


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"not within {BOUND_SECONDS} s: {what}"
        time.sleep(0.1)


def _stats(r: redis.Redis, prefix: str) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in r.hgetall(Keys(prefix).stats).items()}


def _sweeps(r: redis.Redis, prefix: str) -> int:
    return int(r.hget(Keys(prefix).sweep, "runs") or 0)


def _wait_for_sweeps(r: redis.Redis, prefix: str, n: int) -> None:
    """Until ``n`` more sweeps have run (each of them would have healed what was due)."""
    target = _sweeps(r, prefix) + n
    _wait_until(lambda: _sweeps(r, prefix) >= target, f"{n} more sweeps")


def _failed_record(r: redis.Redis, prefix: str, url: str) -> dict[str, Any] | None:
    index = DedupIndex(r, DedupSettings(), prefix, f"{prefix}articles")
    return index.failed_record(url_hash(canonical_url(url)))


def _retry(service: Service, *args: str) -> dict[str, Any]:
    res = service.ingest("retry", *args, "--wait", "--json", "--timeout", str(BOUND_SECONDS), check=False)
    assert res.returncode in (0, 3), res.stderr  # complete, or complete with failures
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_a_503_failure_heals_by_itself_and_is_queued_once(
    healing: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    flaky = hostile.Sequence(hostile.status(503), hostile.page(article_html(0).encode()))
    url = web.route("/heal/story.html", flaky)
    healing.start_worker()

    first = healing.fetch_wait("--url", url)
    assert (first["failed"], first["failures"][0]["reason"]) == (1, "http_503")

    _wait_until(lambda: _stats(r, prefix).get("queued") == 1, "the failed page queued with no command typed")
    _wait_for_sweeps(r, prefix, 3)
    assert _stats(r, prefix) == {"queued": 1, "failed": 0}
    assert [d["url"] for d in stream_docs(r, f"{prefix}articles")] == [url]
    assert flaky.calls == 2
    assert _failed_record(r, prefix, url) is None and r.zcard(Keys(prefix).heal) == 0


def test_a_404_is_kept_failed_and_not_tried_again_while_a_503_heals(
    healing: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    gone = web.route("/heal/gone.html", hostile.status(404))
    flaky = hostile.Sequence(hostile.status(503), hostile.page(article_html(1).encode()))
    healed = web.route("/heal/story.html", flaky)
    healing.start_worker()

    first = healing.fetch_wait("--url", gone, "--url", healed)
    assert first["failed"] == 2

    _wait_until(lambda: _stats(r, prefix).get("queued") == 1, "the 503 page healed")
    _wait_for_sweeps(r, prefix, 3)
    assert web.count("/heal/gone.html") == 1
    record = _failed_record(r, prefix, gone)
    assert record is not None and record["reason"] == "http_404"
    assert _stats(r, prefix) == {"queued": 1, "failed": 1}


def test_a_failure_after_its_last_heal_round_stays_failed(
    healing: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    url = web.route("/heal/down.html", hostile.status(503))
    healing.start_worker()

    healing.fetch_wait("--url", url)
    _wait_until(
        lambda: (_failed_record(r, prefix, url) or {}).get("round") == 1, "the failure healed once, in vain"
    )
    _wait_for_sweeps(r, prefix, 3)
    assert web.count("/heal/down.html") == 2  # the first attempt and one heal round ([1])
    assert r.zcard(Keys(prefix).heal) == 0
    assert _stats(r, prefix) == {"failed": 1}
    assert (_failed_record(r, prefix, url) or {}).get("reason") == "http_503"


def test_ingest_retry_url_queues_a_404_page_that_now_answers(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    url = web.route(
        "/heal/back.html", hostile.Sequence(hostile.status(404), hostile.page(article_html(2).encode()))
    )
    service.start_worker()
    assert service.fetch_wait("--url", url)["failed"] == 1

    summary = _retry(service, url)

    assert summary["complete"] and (summary["queued"], summary["failed"]) == (1, 0)
    assert _stats(r, prefix) == {"queued": 1, "failed": 0}
    assert [d["url"] for d in stream_docs(r, f"{prefix}articles")] == [url]


def test_ingest_retry_reason_retries_exactly_the_items_failed_for_that_reason(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    def back_after(code: int, n: int) -> hostile.Sequence:
        return hostile.Sequence(hostile.status(code), hostile.page(article_html(n).encode()))

    urls = {
        "/heal/a.html": back_after(410, 3),
        "/heal/b.html": back_after(410, 4),
        "/heal/c.html": back_after(404, 5),
    }
    for path, handler in urls.items():
        web.route(path, handler)
    service.start_worker()
    args = [a for path in urls for a in ("--url", web.url(path))]
    assert service.fetch_wait(*args)["failed"] == 3

    summary = _retry(service, "--reason", "http_410")

    assert summary["complete"] and (summary["found"], summary["queued"]) == (2, 2)
    assert [urls[p].calls for p in urls] == [2, 2, 1]
    assert sorted(d["url"] for d in stream_docs(r, f"{prefix}articles")) == [
        web.url("/heal/a.html"),
        web.url("/heal/b.html"),
    ]
    assert _stats(r, prefix) == {"queued": 2, "failed": 1}


def test_ingest_retry_reason_with_no_such_failure_says_so(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    res = service.ingest("retry", "--reason", "http_410")

    assert "nothing to retry" in res.stdout


def test_fetch_force_decides_an_off_topic_page_again(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    url = web.route(
        "/heal/topic.html",
        hostile.Sequence(hostile.page(OFF_TOPIC_HTML), hostile.page(article_html(6).encode())),
    )
    service.start_worker()
    assert service.fetch_wait("--url", url)["off_topic"] == 1

    summary = service.fetch_wait("--url", url, "--force")

    assert (summary["queued"], summary["already_seen"]) == (1, 0)
    assert _stats(r, prefix) == {"queued": 1, "off_topic": 0}


def test_fetch_force_on_a_queued_page_queues_nothing_twice(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    url = web.route("/heal/queued.html", hostile.page(article_html(7).encode()))
    service.start_worker()
    assert service.fetch_wait("--url", url)["queued"] == 1

    summary = service.fetch_wait("--url", url, "--force")

    assert (summary["already_seen"], summary["queued"]) == (1, 0)
    assert [d["url"] for d in stream_docs(r, f"{prefix}articles")] == [url]
    assert web.count("/heal/queued.html") == 1
    assert _stats(r, prefix) == {"queued": 1}
