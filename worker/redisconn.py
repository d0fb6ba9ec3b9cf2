"""One way to open Redis connections, and to read what they return."""

from __future__ import annotations

from typing import Any

import redis


def redis_client(url: str) -> redis.Redis:
    """A client that survives a Redis restart: health checks and retried connects."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=15,
        retry_on_timeout=True,
    )


def as_str(value: Any) -> str:
    """A reply value as text (replies are bytes unless decode_responses is set)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
