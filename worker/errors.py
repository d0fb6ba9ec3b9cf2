"""The service's exceptions; their class says whether a failure is retried.

::

    IngestError
    ├── ConfigError          bad settings: stop at start-up with the message
    ├── Deferred             not a failure: do it later, no attempt counted
    │   └── DomainBusy       our own per-domain pace has no slot soon enough
    ├── TransientError       may succeed later: retried with backoff
    │   └── RateLimited      the site asked us to wait (429/503 Retry-After)
    └── PermanentError       will fail again: recorded once, never retried
        ├── PolicyRefused    our own rules refuse it (private address, scheme, robots.txt)
        ├── TooLarge         the body or its decompressed form passes a cap
        ├── NotAnArticle     no usable article text (empty page, PDF, image, ...)
        └── BadFeed          the feed cannot be parsed at all

What each one leads to is decided in one place, :func:`worker.retries.next_step`.
Every error carries a short machine-readable ``reason`` (``timeout``,
``http_404``, ``private_address`` ...) that is what ``ingest status`` counts.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every error the service raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ConfigError(IngestError):
    reason = "config"


class TransientError(IngestError):
    reason = "transient"


class Deferred(IngestError):
    reason = "deferred"

    def __init__(self, message: str, *, retry_after: float | None = None, reason: str | None = None):
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class DomainBusy(Deferred):
    reason = "domain_busy"


class RateLimited(TransientError):
    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, reason: str | None = None):
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class PermanentError(IngestError):
    reason = "permanent"


class PolicyRefused(PermanentError):
    reason = "refused"


class TooLarge(PermanentError):
    reason = "too_large"


class NotAnArticle(PermanentError):
    reason = "no_text"


class BadFeed(PermanentError):
    reason = "bad_feed"
