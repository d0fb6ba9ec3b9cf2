"""The compose command installed here, for the tests that run it (with or without an engine)."""

from __future__ import annotations

import shutil
import subprocess


def compose_command() -> list[str] | None:
    """``docker compose`` (v2) when it answers, else ``docker-compose`` (v1), else None."""
    if shutil.which("docker"):
        res = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if res.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None
