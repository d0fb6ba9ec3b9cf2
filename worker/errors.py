"""The service's exceptions; their class says whether a failure is retried.

::

    IngestError
    ├── ConfigError          bad settings: stop at start-up with the message
    ├── TransientError       may succeed later: retried with backoff
    │   └── RateLimited      the site asked us to wait (429/503 Retry-After)
    │       └── DomainBusy   our own per-domain pace: try later, not counted as an attempt
    └── PermanentError       will fail again: recorded once, never retried
        ├── PolicyRefused    our own rules refuse it (private address, scheme, robots.txt)
        ├── TooLarge         the body or its decompressed form passes a cap
        ├── NotAnArticle     no usable article text (empty page, PDF, image, ...)
        └── BadFeed          the feed cannot be parsed at all

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


class RateLimited(TransientError):
    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, reason: str | None = None):
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class DomainBusy(RateLimited):
    reason = "domain_busy"


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
