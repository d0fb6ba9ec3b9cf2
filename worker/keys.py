"""Every Redis key of the service, in one place: one method per key.

All keys live under the deployment's prefix (``redis.key_prefix``, default
``ingest:``) except the stream, whose key is a setting of its own. A reader who
wants the whole Redis layout reads this module; no other module spells a key.

The decide script (``lua/decide.lua``) builds the dedup index's keys itself from
the same prefix, because a script must not reach keys it was not told about
in a clustered Redis and we run on a standalone one; :class:`Keys` lists those
names too (``urls``, ``syndicated``, ``copies``, ``docs_count``, ``seeds``,
``records``, ``source``; and ``failed`` and ``heal``, from which a forced attempt that succeeds
removes the item), and the script's header says the same.

====================================  =======  ==========================================
key                                   type     what
====================================  =======  ==========================================
``e<N>:urls``                         hash     url/GUID key -> decision (``worker.decisions``)
``e<N>:lsh:*``, ``e<N>:txt:*``        strings  LSH and exact-text bucket tables (decide.lua)
``e<N>:syndicated``                   zset     doc id -> copies found in epoch N
``e<N>:stories``                      zset     story id -> articles queued in it in epoch N
``e<N>:snt:*``, ``e<N>:sty:*``        tables   sentence anchors, story keys (lua/decide.lua)
``story:<id // 1024>``                string   4-byte story id of each article
``e<N>:failed``                       hash     url key -> failed item (retry, heal)
``sig:<shard>``, ``seedrec``          string   fixed-size index records (decide.lua)
``docs:n``, ``seeds``                 string   document counter; seed name -> doc id
``copies:<doc id>``                   list     where a document's copies were found
``stats``                             hash     outcome -> count (each item counted once)
``failures``                          list     the newest final failures (JSON)
``deadletter``                        stream   items given up on after their retries
``consumer-deadletter``               stream   entries the reference consumer parked
``heal``                              zset     url key -> when a failed item is tried again
``inflight``                          hash     url key -> item handed to a task, not decided
``polls``                             hash     task id -> an ad-hoc poll sent, not finished yet
``claim:<url key>``                   string   a poll task's claim on a new item
``lock:poll:<source>``                string   the poll task running for a source
``source:<name>``                     hash     a source's last poll, totals (total_queued:
                                               decide.lua), interval, failures, backoff
``feed:<url hash>``                   hash     a source request's validators, last success
``gnews:<id hash>``                   string   a Google News id's publisher URL (or "!")
``run:<id>:items|pending|polls``      hash...  an ad-hoc run's outcomes, for ``--wait``
``robots:<origin>``                   string   a site's robots.txt (or why it is unreachable)
``lock:robots:<origin>``              string   the process fetching a site's robots.txt now
``pace:<domain>``                     string   a domain's next free request slot (ms)
``frontier:*``                        various  articles waiting for their site's turn
                                               (the frontier's own table: worker/frontier.py)
``workers``                           zset     worker id -> last heartbeat (ms)
``worker:<id>``                       string   a live worker's heartbeat: what it holds (TTL)
``lock:sweep``                        string   the worker running the sweep now
``sweep``                             hash     sweeps run, messages restored, items resent
``celery:*``                          various  the broker (kombu's Redis transport)
====================================  =======  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "ingest:"
    stream: str = "ingest:articles"

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ---- dedup index (also built by lua/decide.lua from the prefix) ----------------------
    def urls(self, epoch: str) -> str:
        return self._k(f"e{epoch}", "urls")

    def syndicated(self, epoch: str) -> str:
        return self._k(f"e{epoch}", "syndicated")

    @property
    def service(self) -> str:
        """string: the running service's effective settings (secret-free) and sources, as
        JSON, written by each worker at start-up (worker/service_record.py)."""
        return self._k("service")

    def stories(self, epoch: str) -> str:
        """zset: story id -> articles queued in it in epoch N (written by lua/decide.lua)."""
        return self._k(f"e{epoch}", "stories")

    def failed(self, epoch: str) -> str:
        return self._k(f"e{epoch}", "failed")

    def copies(self, doc_id: int | str) -> str:
        return self._k("copies", str(doc_id))

    @property
    def docs_count(self) -> str:
        return self._k("docs", "n")

    @property
    def seeds(self) -> str:
        return self._k("seeds")

    # ---- outcomes ---------------------------------------------------------------------
    @property
    def stats(self) -> str:
        return self._k("stats")

    @property
    def failures(self) -> str:
        return self._k("failures")

    @property
    def deadletter(self) -> str:
        return self._k("deadletter")

    @property
    def consumer_deadletter(self) -> str:
        return self._k("consumer-deadletter")

    @property
    def heal(self) -> str:
        return self._k("heal")

    # ---- hand-off ---------------------------------------------------------------------
    @property
    def inflight(self) -> str:
        return self._k("inflight")

    @property
    def polls(self) -> str:
        return self._k("polls")

    def claim(self, item_key: str) -> str:
        return self._k("claim", item_key)

    def poll_lock(self, source: str) -> str:
        return self._k("lock", "poll", source)

    def source(self, name: str) -> str:
        return self._k("source", name)

    def feed(self, url_hash_hex: str) -> str:
        return self._k("feed", url_hash_hex)

    def gnews_url(self, id_hash_hex: str) -> str:
        return self._k("gnews", id_hash_hex)

    def run_items(self, run_id: str) -> str:
        return self._k("run", run_id, "items")

    def run_pending(self, run_id: str) -> str:
        return self._k("run", run_id, "pending")

    def run_polls(self, run_id: str) -> str:
        return self._k("run", run_id, "polls")

    def run_retrying(self, run_id: str) -> str:
        """An undecided item's last retry (why, which attempt, when next): what --wait shows."""
        return self._k("run", run_id, "retrying")

    # ---- politeness -------------------------------------------------------------------
    def robots(self, origin: str) -> str:
        return self._k("robots", origin)

    def robots_lock(self, origin: str) -> str:
        return self._k("lock", "robots", origin)

    def pace(self, domain: str) -> str:
        return self._k("pace", domain)

    # ---- the frontier (worker/frontier.py; its scripts build frontier:q:<site> and
    # pace:<site> from the prefix) --------------------------------------------------------
    @property
    def frontier_sites(self) -> str:
        return self._k("frontier", "sites")

    def frontier_queue(self, site: str) -> str:
        return self._k("frontier", "q", site)

    def frontier_runs(self, item_key: str) -> str:
        return self._k("frontier", "runs", item_key)

    @property
    def frontier_entries(self) -> str:
        return self._k("frontier", "entries")

    @property
    def frontier_leases(self) -> str:
        return self._k("frontier", "leases")

    @property
    def frontier_leased(self) -> str:
        return self._k("frontier", "leased")

    @property
    def frontier_active(self) -> str:
        return self._k("frontier", "active")

    @property
    def frontier_delay(self) -> str:
        return self._k("frontier", "delay")

    # ---- liveness ---------------------------------------------------------------------
    @property
    def workers(self) -> str:
        return self._k("workers")

    def worker(self, worker_id: str) -> str:
        return self._k("worker", worker_id)

    @property
    def sweep_lock(self) -> str:
        return self._k("lock", "sweep")

    @property
    def sweep(self) -> str:
        return self._k("sweep")

    # ---- broker -----------------------------------------------------------------------
    @property
    def broker_prefix(self) -> str:
        """kombu's ``global_keyprefix``: every broker key starts with it."""
        return self._k("celery") + ":"

    def broker_queue(self, queue: str) -> str:
        return self.broker_prefix + queue

    @property
    def broker_unacked(self) -> str:
        """kombu's hash of delivered, unacknowledged messages (delivery tag -> message)."""
        return self.broker_prefix + "unacked"

    @property
    def broker_unacked_index(self) -> str:
        """kombu's zset of delivery tag -> delivery time (its visibility timeout reads it)."""
        return self.broker_prefix + "unacked_index"
