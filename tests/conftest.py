"""Shared test fixtures: a real Redis, real worker processes, a real local HTTP server.

* Redis: ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``; ``scripts/test``
  starts a server when none answers). Each test gets a key prefix of its own and
  every key under it is deleted afterwards; nothing else on the server is touched.
* Workers: ``ingest worker`` started as a subprocess, as a user would, with the
  default configuration and the test's overrides in its environment.
* HTTP: :class:`tests.support.webserver.FixtureServer` on 127.0.0.1, allowed
  through the SSRF guard by ``INGEST_ALLOW_PRIVATE`` and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from harness.processes import stop_process_groups
from tests.support.webserver import FixtureServer

ROOT = Path(__file__).resolve().parent.parent
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
INGEST = str(Path(sys.executable).with_name("ingest"))


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis at {TEST_REDIS_URL} ({exc}); run the tests with scripts/test")
    return TEST_REDIS_URL


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def r(redis_server_url: str, prefix: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server_url)
    yield client
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    client.close()


@pytest.fixture
def web() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        yield server


@pytest.fixture
def env(redis_server_url: str, prefix: str, web: FixtureServer, tmp_path: Path) -> dict[str, str]:
    """The environment a test's service processes run with."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "REDIS_URL"))}
    e.update(
        {
            "INGEST_CONFIG": str(ROOT / "config" / "ingest.toml"),
            "REDIS_URL": redis_server_url,
            "INGEST_REDIS__KEY_PREFIX": prefix,
            "INGEST_REDIS__STREAM_KEY": f"{prefix}articles",
            "INGEST_ALLOW_PRIVATE": web.hostport,
            "INGEST_DATA_DIR": str(tmp_path / "data"),
            "INGEST_SOURCES": json.dumps(
                [
                    {
                        "name": "local-rss",
                        "kind": "feed",
                        "url": web.url("/feeds/topic.rss"),
                        "interval_seconds": 3600,
                    }
                ]
            ),
            "INGEST_FETCH__MAX_RETRIES": "2",
            "INGEST_FETCH__RETRY_BACKOFF_SECONDS": "0.2",
            "INGEST_FETCH__CONNECT_TIMEOUT_SECONDS": "2",
            "INGEST_FETCH__READ_TIMEOUT_SECONDS": "3",
            "INGEST_FETCH__TOTAL_TIMEOUT_SECONDS": "6",
            # every page is on 127.0.0.1, one site: its pace and its one request at a time are
            # tested on their own (test_politeness, test_frontier*)
            "INGEST_FETCH__PER_DOMAIN_REQUESTS_PER_SECOND": "1000",
            "INGEST_FETCH__PER_DOMAIN_CONCURRENCY": "8",
            "INGEST_WORKER__CONCURRENCY": "2",
            "INGEST_LOG_LEVEL": "INFO",
        }
    )
    return e


class Service:
    """Worker processes started for one test, stopped (and checked) at its end."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start_worker(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``ingest worker`` with ``extra`` arguments; ``env``: variables for this process only."""
        with open(self.log_dir / f"worker-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [INGEST, "worker", *extra],
                env=self.env | (env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def start_beat(self) -> subprocess.Popen[bytes]:
        """``ingest beat``, the scheduler (its log is read with the workers')."""
        with open(self.log_dir / f"worker-{len(self.procs)}-beat.log", "wb") as log:
            proc = subprocess.Popen(
                [INGEST, "beat"], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def ingest(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([INGEST, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(
                f"ingest {' '.join(args)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
            )
        return res

    def fetch_wait(self, *args: str, timeout: float = 120) -> dict[str, Any]:
        """The run's summary; the command ends 0 (complete) or 3 (complete with failures)."""
        res = self.ingest(
            "fetch", *args, "--wait", "--json", "--timeout", str(timeout), timeout=timeout + 30, check=False
        )
        if res.returncode not in (0, 3):
            raise AssertionError(
                f"ingest fetch {' '.join(args)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
            )
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop(self) -> None:
        stop_process_groups(self.procs, grace=20)


@pytest.fixture
def service(env: dict[str, str], r: redis.Redis, tmp_path: Path) -> Iterator[Service]:
    svc = Service(env, tmp_path)
    yield svc
    svc.stop()


def stream_docs(r: redis.Redis, key: str) -> list[dict[str, Any]]:
    return [json.loads(f[b"article"]) for _, f in r.xrange(key)]
