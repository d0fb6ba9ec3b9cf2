"""The resources one worker process holds for its life, built once and shared by its stages.

Redis client and its scripts, the HTTP client, politeness, the frontier, the dedup
index, the outcome recorder and a small thread pool for downloads. Every stage module
(:mod:`worker.handoff`, :mod:`worker.processor`) takes a :class:`Context`; none
keeps state of its own outside Redis, so any number of workers can share the work.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import redis

from worker.dedup import DedupIndex
from worker.errors import ConfigError
from worker.feeds import Item
from worker.fetch import Fetcher
from worker.frontier import Frontier, LeaseKeeper
from worker.keys import Keys
from worker.outcomes import Recorder
from worker.politeness import Politeness
from worker.redisconn import redis_client
from worker.scripts import Scripts
from worker.settings import Settings
from worker.textsig import url_hash

# pages downloaded side by side per worker process (below the HTTP client's 20 connections)
DOWNLOAD_THREADS = 16


def item_keys(item: Item) -> list[bytes]:
    """The index keys of an item: its canonical URL first, then its GUID if any."""
    keys = [url_hash(item.canonical_url)]
    if item.guid:
        keys.append(url_hash(f"guid:{item.source}:{item.guid}"))
    return keys


def item_key(item: Item) -> str:
    """The item's URL key as text: how the in-flight list, claims and runs name it."""
    return item_keys(item)[0].hex()


def item_id(item: Item) -> str:
    """A stable id for an item: the same canonical URL always gives the same id."""
    return hashlib.sha256(item.canonical_url.encode("utf-8")).hexdigest()[:32]


class Context:
    def __init__(self, settings: Settings, client: redis.Redis | None = None):
        if client is None:
            if not settings.redis_url:
                raise ConfigError("REDIS_URL is not set and no embedded Redis is running")
            client = redis_client(settings.redis_url)
        self.settings = settings
        self.redis = client
        self.keys = Keys(settings.redis.key_prefix, settings.redis.stream_key)
        self.scripts = Scripts(client)
        self.fetcher = Fetcher(settings.fetch, settings.allow_private)
        # robots.txt and the per-domain pace, shared with every worker through Redis
        self.politeness = Politeness(settings.fetch, client, self.fetcher, settings.redis.key_prefix)
        self.index = DedupIndex(client, settings.dedup, settings.redis.key_prefix, settings.redis.stream_key)
        self.recorder = Recorder(client, self.keys, self.index)
        # articles waiting for their site's turn (worker/frontier.py)
        self.frontier = Frontier(client, self.keys, settings.fetch, settings.worker.lease_seconds)
        self.leases = LeaseKeeper(self.frontier, every=settings.worker.lease_seconds / 3)
        self._pool: ThreadPoolExecutor | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Threads for downloads (pages, robots.txt), started on first use."""
        if self._pool is None:
            threads = max(DOWNLOAD_THREADS, self.settings.worker.articles_per_task)
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="download")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.fetcher.close()
