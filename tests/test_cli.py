"""The ``ingest`` command as a user runs it: status, tail and fetch against a real worker.

The read-only commands (``status``, ``tail``) are checked against one service that
has ingested the RSS fixture once, shared by this module's tests: starting a worker
and ingesting the feed is the slow part, and none of those tests changes the state.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests import conftest
from tests.conftest import ROOT, Service
from tests.support.webserver import FixtureServer, send


def service_env(redis_url: str, prefix: str, web: FixtureServer, tmp_path: Path) -> dict[str, str]:
    """The environment conftest's ``env`` fixture gives a test's service, built once for a module."""
    build = conftest.env.__wrapped__  # the fixture's own function, so both stay the same
    env: dict[str, str] = build(redis_server_url=redis_url, prefix=prefix, web=web, tmp_path=tmp_path)
    return env


@dataclass
class Running:
    """A worker with its own key prefix and fixture server, shared by a module's tests."""

    service: Service
    web: FixtureServer
    r: redis.Redis
    prefix: str

    @property
    def stream(self) -> str:
        return f"{self.prefix}articles"

    def stream_ids(self) -> list[str]:
        return [sid.decode() for sid, _ in self.r.xrange(self.stream)]

    def stream_docs(self) -> list[dict[str, Any]]:
        return [json.loads(f[b"article"]) for _, f in self.r.xrange(self.stream)]


@contextmanager
def running_service(redis_url: str, tmp: Path) -> Iterator[Running]:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    r = redis.Redis.from_url(redis_url)
    with FixtureServer() as web:
        service = Service(service_env(redis_url, prefix, web, tmp), tmp)
        try:
            service.start_worker()
            yield Running(service, web, r, prefix)
        finally:
            service.stop()
            keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                r.delete(*keys)
            r.close()


@pytest.fixture(scope="module")
def ingested(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A service that has ingested /feeds/topic.rss once."""
    with running_service(redis_server_url, tmp_path_factory.mktemp("feed")) as svc:
        summary = svc.service.fetch_wait("--feed", svc.web.url("/feeds/topic.rss"))
        assert summary["complete"], summary
        yield svc


@dataclass
class Refetched:
    running: Running
    page: str
    first: dict[str, Any]
    again: dict[str, Any]
    downloads_after_first: int


@pytest.fixture(scope="module")
def refetched(redis_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refetched]:
    """A service that was sent the same article URL twice, waiting for each run."""
    with running_service(redis_server_url, tmp_path_factory.mktemp("url")) as svc:
        page = svc.web.url("/news/on-topic-4.html")
        first = svc.service.fetch_wait("--url", page)
        downloads = svc.web.count("/news/on-topic-4.html")
        again = svc.service.fetch_wait("--url", page)
        yield Refetched(svc, page, first, again, downloads)


@pytest.fixture(scope="module")
def status(ingested: Running) -> dict[str, Any]:
    return json.loads(ingested.service.ingest("status", "--json").stdout)  # type: ignore[no-any-return]


# ---- ingest status --------------------------------------------------------------------


def test_status_json_reports_the_stream_length(status: dict[str, Any], ingested: Running) -> None:
    assert status["stream"]["key"] == ingested.stream
    assert status["stream"]["length"] == 5


def test_status_json_counts_each_outcome_once(status: dict[str, Any]) -> None:
    assert status["outcomes"] == {
        "queued": 5,
        "duplicate": 3,
        "off_topic": 1,
        "stale": 0,
        "partial": 0,
        "failed": 1,
    }


def test_status_json_reports_the_seeds_in_the_index(status: dict[str, Any]) -> None:
    assert status["index"]["seeds"] == 2
    assert status["index"]["urls_decided"] >= 10


def test_status_json_lists_the_no_text_page_in_recent_failures(
    status: dict[str, Any], ingested: Running
) -> None:
    failures = status["recent_failures"]

    assert [(f["url"], f["reason"]) for f in failures] == [
        (ingested.web.url("/news/no-text.html"), "no_text")
    ]
    assert failures[0]["source"] == "adhoc"


def test_status_json_shows_empty_broker_queues_and_no_dead_letters_once_all_is_decided(
    status: dict[str, Any],
) -> None:
    assert set(status["broker_queues"].values()) == {0}
    assert status["dead_letters"] == 0


def test_status_text_mentions_stream_outcomes_seeds_and_failures(ingested: Running) -> None:
    out = ingested.service.ingest("status").stdout

    assert f"stream {ingested.stream}: 5 articles" in out
    assert "outcomes: queued=5 duplicate=3 off_topic=1 stale=0 partial=0 failed=1" in out
    assert "(2 seeds)" in out
    assert f"no_text: {ingested.web.url('/news/no-text.html')}" in out


def test_status_counts_read_as_what_they_count(ingested: Running) -> None:
    out = ingested.service.ingest("status").stdout

    assert "URLs and GUIDs decided (an article counts once for each)" in out
    copies = re.findall(r"^  #\d+: (\d+) (cop(?:y|ies)), latest ", out, re.M)
    assert copies and all((n == "1") == (word == "copy") for n, word in copies), out


# ---- ingest tail ----------------------------------------------------------------------


def test_tail_prints_the_newest_articles_with_title_and_url(ingested: Running) -> None:
    out = ingested.service.ingest("tail", "-n", "2").stdout
    newest = [json.loads(f[b"article"]) for _, f in ingested.r.xrevrange(ingested.stream, count=2)][::-1]

    url_lines = [line.strip() for line in out.splitlines() if line.startswith("    http")]
    assert url_lines == [d["url"] for d in newest]
    for doc in newest:
        assert doc["title"] in out


def test_tail_json_prints_one_document_per_line_oldest_of_the_newest_first(ingested: Running) -> None:
    out = ingested.service.ingest("tail", "-n", "3", "--json").stdout

    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) == 3
    assert [d["stream_id"] for d in docs] == ingested.stream_ids()[-3:]
    assert all(d["url"].startswith(ingested.web.base) for d in docs)


def test_tail_asking_for_more_than_the_stream_holds_prints_all_of_it(ingested: Running) -> None:
    out = ingested.service.ingest("tail", "-n", "50", "--json").stdout

    assert [json.loads(line)["stream_id"] for line in out.splitlines()] == ingested.stream_ids()


# ---- ingest fetch: arguments ------------------------------------------------------------


def test_fetch_without_feed_url_or_all_exits_with_usage(service: Service) -> None:
    res = service.ingest("fetch", check=False)

    assert res.returncode == 2
    assert "Usage:" in res.stderr
    assert "give --feed URL, --url URL, --query TEXT or --all" in res.stderr


def test_fetch_of_a_javascript_url_is_rejected_and_sends_nothing(
    service: Service, r: redis.Redis, prefix: str
) -> None:
    res = service.ingest("fetch", "--url", "javascript:alert(1)", check=False)

    assert res.returncode == 2
    assert "--url" in res.stderr and "not an http(s) URL" in res.stderr
    assert "Traceback" not in res.stderr
    assert list(r.scan_iter(match=f"{prefix}*")) == []


def test_fetch_with_one_bad_argument_sends_nothing_at_all(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    res = service.ingest(
        "fetch", "--url", web.url("/news/on-topic-4.html"), "--feed", "file:///etc/passwd", check=False
    )

    assert res.returncode == 2
    assert r.llen(f"{prefix}celery:ingest.articles") == 0


# ---- ingest fetch --url ------------------------------------------------------------------


def test_fetch_of_one_article_url_queues_that_article(refetched: Refetched) -> None:
    first = refetched.first

    assert first["complete"]
    assert (first["found"], first["new"], first["already_seen"]) == (1, 1, 0)
    assert (first["queued"], first["duplicate"], first["off_topic"], first["failed"]) == (1, 0, 0, 0)
    assert refetched.downloads_after_first == 1


def test_second_fetch_of_the_same_url_neither_downloads_nor_queues_it_again(refetched: Refetched) -> None:
    assert refetched.again["complete"] and refetched.again["found"] == 1
    assert refetched.running.web.count("/news/on-topic-4.html") == 1
    assert [d["url"] for d in refetched.running.stream_docs()] == [refetched.page]


def test_second_fetch_of_the_same_url_reports_it_already_seen(refetched: Refetched) -> None:
    again = refetched.again

    assert (again["found"], again["already_seen"], again["new"], again["queued"]) == (1, 1, 0, 0)


def test_fetch_text_summary_names_the_counts(refetched: Refetched) -> None:
    svc = refetched.running

    res = svc.service.ingest("fetch", "--url", svc.web.url("/news/off-topic-1.html"), "--wait")

    assert res.stdout.startswith(
        "complete: found=1 new=1 already_seen=0 queued=0 duplicate=0 off_topic=1 stale=0 partial=0 failed=0"
    )


def test_fetch_wait_exits_3_when_the_run_completed_with_failures(
    service: Service, web: FixtureServer
) -> None:
    service.start_worker()
    res = service.ingest(
        "fetch", "--url", web.url("/news/gone.html"), "--wait", "--timeout", "60", check=False
    )

    assert res.returncode == 3, res.stderr
    assert "failed=1" in res.stdout and "failed " in res.stdout


def test_fetch_wait_exits_1_when_it_times_out(service: Service, web: FixtureServer) -> None:
    # no worker runs: nothing is ever decided
    res = service.ingest(
        "fetch", "--url", web.url("/news/on-topic-4.html"), "--wait", "--timeout", "2", check=False
    )

    assert res.returncode == 1
    assert res.stdout.startswith("INCOMPLETE (timed out)")
    assert "waiting " in res.stderr and "1 article not yet decided" in res.stderr  # progress off a terminal
    assert "polls done" not in res.stderr  # a --url run sends no poll


def test_fetch_without_wait_only_reports_the_run_it_sent(service: Service, web: FixtureServer) -> None:
    res = service.ingest("fetch", "--url", web.url("/news/on-topic-4.html"))

    assert res.stdout.startswith("sent run ")
    assert len(res.stdout.split()[-1]) == 32


def test_ingest_help_lists_the_commands() -> None:
    from tests.conftest import INGEST

    res = subprocess.run([INGEST, "--help"], capture_output=True, text=True, timeout=60)

    assert res.returncode == 0
    for cmd in ("run", "worker", "beat", "fetch", "status", "tail"):
        assert f"  {cmd} " in res.stdout


def _redis_unreachable(tmp_path: Path) -> dict[str, str]:
    """This shell's environment with no setting of ours, and a Redis URL nothing answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "REDIS_URL"))}
    return env | {"REDIS_URL": "redis://127.0.0.1:1/0", "INGEST_DATA_DIR": str(tmp_path)}


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["fetch", "--all"],
        ["tail"],
        ["retry", "http://x.test/a"],
        ["consume", "--group", "g", "--count", "1"],
        ["check"],
        ["explain", str(ROOT / "tests" / "fixtures" / "site" / "on-topic-1.html")],
    ],
    ids=lambda c: c[0],
)
def test_every_command_says_one_line_when_redis_is_unreachable(command: list[str], tmp_path: Path) -> None:
    from tests.conftest import INGEST

    env = _redis_unreachable(tmp_path)
    res = subprocess.run([INGEST, *command], env=env, capture_output=True, text=True, timeout=60)

    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith("ingest: error: cannot reach")
    assert "Traceback" not in res.stderr + res.stdout


def test_sources_lists_this_shells_config_and_says_why_when_redis_is_unreachable(tmp_path: Path) -> None:
    from tests.conftest import INGEST

    env = _redis_unreachable(tmp_path)
    res = subprocess.run([INGEST, "sources", "--json"], env=env, capture_output=True, text=True, timeout=60)

    assert res.returncode == 0, res.stderr
    assert "this shell's config" in res.stderr and "Redis unreachable" in res.stderr
    assert json.loads(res.stdout)


def test_debug_adds_the_traceback_to_the_one_line_error(tmp_path: Path) -> None:
    from tests.conftest import INGEST

    env = _redis_unreachable(tmp_path)
    res = subprocess.run([INGEST, "--debug", "status"], env=env, capture_output=True, text=True, timeout=60)

    assert res.returncode == 2
    assert "Traceback (most recent call last)" in res.stderr
    assert res.stderr.rstrip().splitlines()[-1].startswith("ingest: error: cannot reach")


PROGRESS = re.compile(r"waiting \d+s: (\d+/\d+ polls done, )?\d+ articles? not yet decided(; .+)?")


def test_fetch_wait_off_a_terminal_says_what_it_waits_for_on_stderr_in_plain_lines(
    service: Service, web: FixtureServer
) -> None:
    service.start_worker()

    res = service.ingest("fetch", "--url", web.url("/news/on-topic-3.html"), "--wait", "--json")

    lines = res.stderr.splitlines()
    assert lines and all(PROGRESS.fullmatch(line) for line in lines), res.stderr
    assert "\r" not in res.stderr
    assert json.loads(res.stdout)["queued"] == 1  # stdout stays the summary alone


def _fetch_wait_on_a_terminal(
    service: Service, url: str, columns: int | None = None
) -> tuple[subprocess.CompletedProcess[bytes], str]:
    """``fetch --url URL --wait --json`` with stderr on a pseudo-terminal (``columns`` wide):
    the run, and what the terminal was sent."""
    from tests.conftest import INGEST

    leader, follower = pty.openpty()
    if columns:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        res = subprocess.run(
            [INGEST, "fetch", "--url", url, "--wait", "--json"],
            env=service.env,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=150,
        )
        os.close(follower)
        shown = b""
        while select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all of it was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    return res, shown.decode()


def test_fetch_wait_on_a_terminal_updates_one_progress_line_in_place(
    service: Service, web: FixtureServer
) -> None:
    service.start_worker()

    res, text = _fetch_wait_on_a_terminal(service, web.url("/news/on-topic-4.html"))

    assert res.returncode == 0 and json.loads(res.stdout)["queued"] == 1
    assert text.startswith("\rwaiting ") and PROGRESS.search(text), text
    assert text.endswith("\n") and text.count("\n") == 1, text  # one line, rewritten, then ended


def test_fetch_wait_on_a_narrow_terminal_cuts_its_progress_line_to_the_width(
    service: Service, web: FixtureServer
) -> None:
    service.start_worker()

    res, text = _fetch_wait_on_a_terminal(service, web.url("/news/on-topic-4.html"), columns=30)

    assert res.returncode == 0
    shown = [part for part in text.rstrip("\n").split("\r") if part]
    assert shown and all(len(part) == 29 for part in shown), shown  # never wraps to a second row
    assert shown[0].startswith("waiting 0s: 1 article not") and shown[0].endswith("…"), shown


def _progress(**counts: Any) -> Any:
    from worker.cli import RunProgress

    state = {"polls": 0, "expected_polls": 0, "pending": 1, "waited": 12.4} | counts
    return RunProgress(None, None, "run", **state)  # type: ignore[arg-type]


def test_fetch_wait_progress_counts_polls_only_when_the_run_sent_some() -> None:
    from worker.cli import format_progress

    assert format_progress(_progress(), [], 0.0) == "waiting 12s: 1 article not yet decided"
    line = format_progress(_progress(polls=2, expected_polls=3, pending=40), [], 0.0)
    assert line == "waiting 12s: 2/3 polls done, 40 articles not yet decided"


def test_fetch_wait_progress_counts_many_retries_by_reason() -> None:
    from worker.cli import format_progress

    notes = [{"url": f"http://a.example/{i}", "reason": r, "attempt": 2, "attempts": 5, "at": 0.0}
             for i, r in enumerate(["http_503", "http_503", "dns"])]  # fmt: skip
    line = format_progress(_progress(pending=9), notes, 0.0)
    assert line.endswith("; 3 retrying (http_503 2, dns 1)") and "a.example" not in line, line


def test_fetch_wait_progress_says_which_article_is_retried_why_and_when(
    service: Service, web: FixtureServer, r: redis.Redis, prefix: str
) -> None:
    from worker.cli import RunProgress, format_progress
    from worker.keys import Keys

    url = web.route("/news/overloaded.html", lambda req: send(req, 503, b"busy", "text/plain"))
    service.start_worker(env={"INGEST_FETCH__RETRY_BACKOFF_SECONDS": "60"})  # its retry waits
    run_id = service.ingest("fetch", "--url", url).stdout.split()[-1]
    keys = Keys(prefix)
    deadline = time.monotonic() + 120
    while not r.hlen(keys.run_retrying(run_id)):  # the first attempt is over
        assert time.monotonic() < deadline, service.logs()[-2000:]
        time.sleep(0.2)

    state = RunProgress(r, keys, run_id, 0, 0, int(r.scard(keys.run_pending(run_id))), 3.0)
    line = format_progress(state, state.retrying(), time.time())

    said = rf"; retrying {re.escape(url)} \(http_503, attempt 2 of 3, in \d+s\)"
    assert re.fullmatch("waiting 3s: 1 article not yet decided" + said, line), line


def test_fetch_wait_names_the_cause_of_each_failure(service: Service, web: FixtureServer) -> None:
    url = web.route("/news/overloaded.html", lambda req: send(req, 503, b"busy", "text/plain"))
    service.start_worker()

    res = service.ingest("fetch", "--url", url, "--wait", "--timeout", "120", check=False)

    assert res.returncode == 3, res.stdout + res.stderr
    assert re.search(rf"failed {re.escape(url)}: http_503 \(.*503.*\)", res.stdout), res.stdout
