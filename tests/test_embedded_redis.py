"""worker.embedded_redis: the real redis-server ``ingest run`` starts when no REDIS_URL is given."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from worker.embedded_redis import URL_FILE, EmbeddedRedis, running_url
from worker.errors import ConfigError


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client() -> Iterator[Callable[[str], redis.Redis]]:
    """Open clients to a server under test; all are closed at the end."""
    opened: list[redis.Redis] = []

    def connect(url: str) -> redis.Redis:
        c = redis.Redis.from_url(url, socket_connect_timeout=2)
        opened.append(c)
        return c

    yield connect
    for c in opened:
        c.close()


Connect = Callable[[str], redis.Redis]


def test_start_returns_a_loopback_url_that_answers_ping(embedded: EmbeddedRedis, client: Connect) -> None:
    url = embedded.start()

    assert url.startswith("redis://127.0.0.1:")
    assert client(url).ping() is True


def test_start_writes_the_url_to_redis_url_in_the_data_dir(embedded: EmbeddedRedis, tmp_path: Path) -> None:
    url = embedded.start()

    assert (tmp_path / URL_FILE).read_text().strip() == url
    assert running_url(tmp_path) == url


def test_server_runs_with_append_only_persistence_in_the_data_dir(
    embedded: EmbeddedRedis, tmp_path: Path, client: Connect
) -> None:
    c = client(embedded.start())

    assert c.config_get("appendonly") == {"appendonly": "yes"}
    assert Path(c.config_get("dir")["dir"]).resolve() == (tmp_path / "redis").resolve()


def test_data_survives_a_stop_and_a_new_start_on_the_same_data_dir(tmp_path: Path, client: Connect) -> None:
    first = EmbeddedRedis(tmp_path)
    try:
        c = client(first.start())
        c.set("ingest:test:key", "kept")
        c.xadd("ingest:test:stream", {"n": "1"})
    finally:
        first.stop()
    assert not (tmp_path / "redis" / "dump.rdb").exists()  # no snapshot: what comes back is the AOF's

    second = EmbeddedRedis(tmp_path)
    try:
        c = client(second.start())
        assert c.get("ingest:test:key") == b"kept"
        assert c.xlen("ingest:test:stream") == 1
    finally:
        second.stop()


def test_data_survives_a_killed_server(tmp_path: Path, client: Connect) -> None:
    first = EmbeddedRedis(tmp_path)
    try:
        c = client(first.start())
        c.set("ingest:test:key", "kept")
        assert first.proc is not None
        first.proc.kill()
        first.proc.wait()
    finally:
        first.stop()

    second = EmbeddedRedis(tmp_path)
    try:
        assert client(second.start()).get("ingest:test:key") == b"kept"
    finally:
        second.stop()


def test_stop_removes_the_url_file_and_the_server(tmp_path: Path, client: Connect) -> None:
    server = EmbeddedRedis(tmp_path)
    try:
        url = server.start()
    finally:
        server.stop()

    assert not (tmp_path / URL_FILE).exists()
    assert running_url(tmp_path) is None
    with pytest.raises(redis.ConnectionError):
        client(url).ping()
    assert server.proc is not None and server.proc.poll() is not None


def test_second_server_on_a_running_data_dir_is_refused(
    embedded: EmbeddedRedis, tmp_path: Path, client: Connect
) -> None:
    url = embedded.start()
    second = EmbeddedRedis(tmp_path)

    with pytest.raises(ConfigError) as exc:
        second.start()

    assert "already running" in str(exc.value)
    assert second.proc is None  # no second process was started
    assert client(url).ping() is True
    assert running_url(tmp_path) == url


def test_stale_url_file_from_a_dead_server_does_not_block_a_start(
    embedded: EmbeddedRedis, tmp_path: Path, client: Connect
) -> None:
    dead = EmbeddedRedis(tmp_path)  # a free port nobody listens on
    (tmp_path / URL_FILE).write_text(dead.url + "\n")

    url = embedded.start()

    assert client(url).ping() is True
    assert (tmp_path / URL_FILE).read_text().strip() == url


def test_stop_of_a_refused_second_server_leaves_the_running_ones_url_file(
    embedded: EmbeddedRedis, tmp_path: Path
) -> None:
    url = embedded.start()
    second = EmbeddedRedis(tmp_path)
    with pytest.raises(ConfigError):
        second.start()

    second.stop()

    assert running_url(tmp_path) == url
