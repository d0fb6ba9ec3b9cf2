"""Fault injection for one test: an article page whose extraction never ends.

Why this exists: ``tests/test_crash_safety.py`` proves that an article which
outlives the task's soft time limit on every attempt ends in the dead letters
without blocking the others. It used to serve a huge page (40,000 paragraphs)
and count on its extraction being slow; on a quiet machine extraction
sometimes finished inside the limit and the page was counted off_topic (4 runs
in 7 failed). A slow page only makes the verdict depend on the machine's
speed; a page that can never finish does not.

How: the test puts this directory on the ``ingest worker`` process's
``PYTHONPATH`` and names a marker in ``NEVER_ENDING_EXTRACT_MARKER``. Python
imports ``sitecustomize`` at start-up, before any of the worker's code, so
:func:`worker.extract.extract` is replaced here before any module takes a
reference to it (``from worker.extract import extract``, in whatever module the
pipeline lives); the prefork pool's processes inherit the replacement. Any
``worker.*`` module already holding the original is switched over as well. A
page containing the marker then never returns: it sleeps in short steps, so
Celery's soft time limit signal interrupts it just as it would a real
extraction. Every other page is extracted as usual; the worker, its pool,
Redis and HTTP stay real. Each start writes ``STARTED`` to the process's
stderr (the worker's log), so the test can check that the hang it relies on
is this one.

Only that test sets the variable; without it, importing this module fails
loudly (Python prints "Error in sitecustomize" and goes on).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from typing import Any

STARTED = "fault injection: extraction of a never-ending page started"


def _install() -> None:
    marker = os.environ["NEVER_ENDING_EXTRACT_MARKER"]
    import worker.extract as module

    original = module.extract

    @functools.wraps(original)
    def extract(html: str, *args: Any, **kwargs: Any) -> Any:
        if marker in html:
            os.write(2, f"{STARTED} (pid {os.getpid()})\n".encode())
            while True:  # ended only by a signal's exception (the soft time limit)
                time.sleep(0.05)
        return original(html, *args, **kwargs)

    module.extract = extract
    for name, mod in list(sys.modules.items()):
        if name.startswith("worker.") and getattr(mod, "extract", None) is original:
            mod.extract = extract


_install()
