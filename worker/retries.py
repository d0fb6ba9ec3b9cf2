"""Every retry rule of the service: what happens to an article after an error.

:func:`next_step` is the one decision the tasks call after an attempt fails:

* **defer** — :class:`~worker.errors.Deferred` (our own per-site pace): back first in
  its site's queue of the frontier, for the site's next turn; no attempt is counted.
* **retry** — a transient error (timeouts, network, DNS, 5xx, 429, ``deadline``,
  ``robots_unreachable``, an unexpected exception): back in its site's queue after exponential
  backoff with full jitter (a site's ``Retry-After`` wins when longer), at most
  ``fetch.max_retries`` times.
* **give up** — a permanent error, or a transient one after its last retry: recorded
  as ``failed`` with its reason; the transient ones also go to the dead letters.

A failure given up on is not forever when its reason is transient: it **heals**,
tried again by the sweep after ``fetch.heal_after_seconds`` (1 h, 6 h, 24 h by
default), one step per round, then left alone. :func:`heal_delay` says when.
Permanent reasons (404/410, ``not_html``, ``no_text``, ``robots_disallowed``,
``private_address`` ...) never heal by themselves; ``ingest retry`` retries
anything that failed, on a person's word.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from worker.errors import Deferred, IngestError, PermanentError, RateLimited, TransientError
from worker.settings import FetchSettings

# the reasons a failure may heal from; anything else is permanent
TRANSIENT_REASONS = frozenset(
    {
        "timeout",
        "deadline",
        "network",
        "dns",
        "robots_unreachable",
        "rate_limited",
        "internal_error",
        "transient",
        "http_408",
        "http_425",
        "http_429",
        "http_500",
        "http_502",
        "http_503",
        "http_504",
    }
)
# longest wait for one retry, and for a site's Retry-After
MAX_BACKOFF_SECONDS = 600.0
MAX_RETRY_AFTER_SECONDS = 3600.0


def is_transient(reason: str) -> bool:
    """Can a failure with this reason succeed later? (5xx, 429, timeouts, network ...)."""
    return reason in TRANSIENT_REASONS or (reason.startswith("http_5") and reason[5:].isdigit())


@dataclass(frozen=True)
class Step:
    action: Literal["defer", "retry", "give_up"]
    error: IngestError
    countdown: float = 0.0


def as_ingest_error(exc: BaseException, *, timed_out: bool = False) -> IngestError:
    """An unexpected exception as a transient error (a bug or a poison input: retried,
    then given up): ``timeout`` when the task's time limit struck, else ``internal_error``."""
    if isinstance(exc, IngestError):
        return exc
    reason = "timeout" if timed_out else "internal_error"
    return TransientError(f"{type(exc).__name__}: {exc}", reason=reason)


def backoff_seconds(retries: int, exc: IngestError | None = None, base: float = 5.0) -> float:
    """Exponential backoff with full jitter; a site's Retry-After wins when longer."""
    delay = random.uniform(base / 2, min(MAX_BACKOFF_SECONDS, base * 2**retries))
    if isinstance(exc, RateLimited) and exc.retry_after:
        delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def next_step(exc: BaseException, retries: int, fetch: FetchSettings, *, timed_out: bool = False) -> Step:
    """What to do with an article whose attempt number ``retries`` (0 = first) raised ``exc``."""
    err = as_ingest_error(exc, timed_out=timed_out)
    if isinstance(err, Deferred):
        return Step("defer", err, (err.retry_after or 1.0) * random.uniform(1.0, 1.5))
    if isinstance(err, PermanentError) or retries >= fetch.max_retries:
        return Step("give_up", err)
    return Step("retry", err, backoff_seconds(retries, err, fetch.retry_backoff_seconds))


def heal_delay(reason: str, round_: int, fetch: FetchSettings) -> float | None:
    """Seconds until a failed item is tried again, after ``round_`` heal rounds (0 = none
    yet); None when it is not to be tried again by itself."""
    if not is_transient(reason) or round_ >= len(fetch.heal_after_seconds):
        return None
    return float(fetch.heal_after_seconds[round_])
