"""Stopping the process groups a test or benchmark started (a worker and its pool children)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable


def stop_process_groups(procs: Iterable[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM each group (a warm shutdown), then SIGKILL what has not exited after ``grace`` s.

    Each process must have been started with ``start_new_session=True`` (its own group).
    """
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
