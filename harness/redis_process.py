"""A redis-server of a test's own (own port, own folder, AOF on), that the test can stop and restart."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from worker.embedded_redis import find_redis_server, free_port, server_command


class RedisProcess:
    def __init__(self, directory: Path, binary: str | None = None, *, appendonly: bool = True):
        self.binary = binary or find_redis_server()
        self.appendonly = appendonly
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        args = server_command(self.binary, self.port, self.dir, appendonly=self.appendonly)
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        """A clean stop (SIGTERM): Redis flushes its append-only file and exits."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
