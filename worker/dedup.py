"""The dedup index in Redis: canonical URLs, exact text hashes, MinHash-LSH.

The index lives in Redis alone, so every worker on every machine shares it.
The decision and the publication are one server-side script
(``lua/decide.lua``): either an article is new, indexed and on the stream, or
it is a duplicate and recorded against the article it copies; nothing in between.

The layout of the keys is described at the top of the script. Articles are
indexed in epochs whose keys Redis expires by itself after the retention
period; seeds are indexed apart and never expire.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from worker.keys import Keys
from worker.redisconn import as_str
from worker.scripts import Scripts
from worker.settings import DedupSettings
from worker.stories import story_keys
from worker.textsig import (
    Signature,
    content_hash,
    normalize,
    sample_order,
    sentence_keys,
    signature,
    url_hash,
)

RECORD_SHARD = 1024
# buckets of 64 bytes in one key of a bucket table: 64 MB (a Redis string stops at 512 MB)
TABLE_SHARD_BUCKETS = 1 << 20
MAX_REPORTED_CANDIDATES = 5
# a text's sentences looked up in the index (its smallest keys: the same sample on both sides)
SENTENCE_QUERIES = 32
# ids read per sentence key: a sentence in many articles (an outlet's sign-off) is no evidence
SENTENCE_IDS_PER_KEY = 8
# final failures kept in the "failures" list for ingest status
RECENT_FAILURES = 100
SEED_EPOCH = "seed"


@dataclass(frozen=True)
class Epochs:
    """Which index epochs are alive at a moment, and when the current one's keys expire."""

    current: int
    live: list[str]  # "seed" first, then the current epoch, then older ones
    expire_at: int

    @classmethod
    def at(cls, now: float, settings: DedupSettings) -> Epochs:
        length = settings.epoch_days * 86400
        retention = settings.retention_days * 86400
        current = int(now // length)
        oldest = int((now - retention) // length)
        live = [SEED_EPOCH] + [str(e) for e in range(current, oldest - 1, -1)]
        return cls(current, live, int((current + 1) * length + retention) + 1)


@dataclass(frozen=True)
class Prepared:
    """A text made ready for the index: computed once, off Redis."""

    normalized: str
    word_count: int
    content_hash: str
    signature: Signature
    short: bool
    # prose sentences (worker.textsig.sentence_keys): how many, the ones looked up (the
    # smallest keys, at most SENTENCE_QUERIES) and the ones indexed (the smallest
    # dedup.sentence_anchors): a uniform sample, so a copy of a third of an article
    # shares some of the article's anchors
    sentence_count: int = 0
    sentence_queries: tuple[bytes, ...] = ()
    sentence_anchors: tuple[bytes, ...] = ()
    # names and numbers (worker.stories): which story the article joins
    story_keys: tuple[bytes, ...] = ()


@dataclass
class Verdict:
    """What the index said about one text."""

    status: str  # new | duplicate | seen | queued | seeded
    nearest: dict[str, Any] | None = None
    nearest_seed: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    prior: str | None = None  # for "seen": the earlier decision
    quotes: dict[str, Any] | None = None  # an indexed article this new text quotes in full
    story: dict[str, Any] | None = None  # check: the story it would join ({id, related})
    doc_id: int | None = None
    stream_id: str | None = None


class DedupIndex:
    def __init__(self, client: redis.Redis, settings: DedupSettings, prefix: str, stream_key: str):
        self.r = client
        self.s = settings
        self.keys = Keys(prefix, stream_key)
        self.record_size = settings.num_perm + 32
        self.scripts = Scripts(client)

    def prepare(
        self, text: str, *, title: str | None = None, story_skip: frozenset[str] = frozenset()
    ) -> Prepared:
        """``title`` and ``story_skip`` (folded words every article of the topic holds) for
        its story keys."""
        return self.prepare_normalized(normalize(text), raw=text, title=title, story_skip=story_skip)

    def prepare_normalized(
        self,
        norm: str,
        raw: str | None = None,
        *,
        title: str | None = None,
        story_skip: frozenset[str] = frozenset(),
    ) -> Prepared:
        """:meth:`prepare` of a text already through :func:`~worker.textsig.normalize`;
        ``raw``: the text itself, for its sentences and story keys (none without it)."""
        n_words = norm.count(" ") + 1 if norm else 0
        sig = signature(norm, k=self.s.shingle_words, num_perm=self.s.num_perm)
        sentences = sorted(sentence_keys(raw), key=sample_order) if raw else []
        return Prepared(
            normalized=norm,
            word_count=n_words,
            content_hash=content_hash(norm),
            signature=sig,
            short=n_words < self.s.short_text_words,
            sentence_count=len(sentences),
            sentence_queries=tuple(sentences[:SENTENCE_QUERIES]),
            sentence_anchors=tuple(sentences[: self.s.sentence_anchors]),
            story_keys=tuple(story_keys(raw, title, story_skip)) if raw else (),
        )

    def script_args(
        self,
        mode: str,
        prep: Prepared,
        url_key: bytes,
        *,
        now: int,
        message: dict[str, Any] | None = None,
        seed_name: str = "",
        url: str = "",
        source: str = "",
        replace: bool = False,
    ) -> list[Any]:
        """The arguments of the decide script (see its header); public for batch loaders."""
        epochs = Epochs.at(now, self.s)
        head = ""
        if message is not None:
            body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
            head = body[:-1] + ',"dedup":'
        bands = prep.signature.band_hashes(self.s.lsh_bands, self.s.lsh_rows)
        header = {
            "mode": mode,
            "prefix": self.keys.prefix,
            "shingles": prep.signature.shingles,
            "short": prep.short,
            "j_thr": self.s.jaccard_threshold,
            "c_thr": self.s.containment_threshold,
            "now": now,
            "epochs": epochs.live,
            "expire_at": epochs.expire_at,
            "stream": self.keys.stream,
            "seed_name": seed_name,
            "url": url,
            "source": source,
            "max_report": MAX_REPORTED_CANDIDATES,
            "rec_size": self.record_size,
            "shard_size": RECORD_SHARD,
            "base": self.s.lsh_base_buckets,
            "publish_copies": self.s.publish_copies,
            "shard_buckets": TABLE_SHARD_BUCKETS,
            "nbands": len(bands),
            "replace": replace,
            "member": url_key.hex(),
            "nsents": prep.sentence_count,
            "nq": len(prep.sentence_queries),
            "nanch": len(prep.sentence_anchors),
            "s_thr": self.s.sentence_containment_threshold,
            "c_near": self.s.corroborated_containment_margin,
            "anchors_k": self.s.sentence_anchors,
            "per_key": SENTENCE_IDS_PER_KEY,
            "nst": len(prep.story_keys),
            "story_df": self.s.story_max_df,
            "story_min": self.s.story_min_shared,
            "story_window": int(self.s.story_window_days * 86400),
        }
        return [
            json.dumps(header, separators=(",", ":")),
            url_key,
            bytes.fromhex(prep.content_hash[:16]),
            prep.signature.stored(),
            head,
            *bands,
            *prep.sentence_queries,
            *prep.sentence_anchors,
            *prep.story_keys,
        ]

    def run_script(self, args: list[Any], client: Any = None) -> Any:
        """Run the decide script, on ``client`` (e.g. a pipeline) if given."""
        return self.scripts.decide(keys=[], args=args, client=client)

    def _run(self, mode: str, prep: Prepared, url_key: bytes, *, now: int, **kw: Any) -> Verdict:
        return self.parse_reply(self.run_script(self.script_args(mode, prep, url_key, now=now, **kw)))

    @staticmethod
    def parse_reply(res: Any) -> Verdict:
        """A Verdict from the decide script's reply."""
        status = as_str(res[0])
        if status == "seen":
            return Verdict("seen", prior=res[1].decode())
        detail = json.loads(res[1])
        v = Verdict(
            status,
            nearest=detail.get("nearest") or None,
            nearest_seed=detail.get("nearest_seed") or None,
            candidates=detail.get("candidates") or [],
            quotes=detail.get("quotes") or None,
            story=detail.get("story") or None,
        )
        if len(res) > 2:
            v.doc_id = int(res[2])
            v.stream_id = res[3].decode() if res[3] else None
        return v

    def check(self, prep: Prepared, url_key: bytes, *, now: int | None = None) -> Verdict:
        """The verdict against the current index, changing nothing."""
        return self._run("check", prep, url_key, now=int(time.time()) if now is None else now)

    def commit(
        self,
        prep: Prepared,
        url_key: bytes,
        message: dict[str, Any],
        *,
        now: int,
        url: str,
        source: str,
        replace: bool = False,
    ) -> Verdict:
        """Decide and, when new, index and publish ``message`` in one atomic step.

        ``replace``: a forced attempt; a failed or off-topic decision of the URL is decided
        again (in the same step), a queued, duplicate or seed one is reported as seen.
        """
        return self._run(
            "commit", prep, url_key, now=now, message=message, url=url, source=source, replace=replace
        )

    def add_seed(self, name: str, text: str, *, now: int) -> Verdict:
        """Index a seed article (idempotent: a seed already there is reported as seen)."""
        prep = self.prepare(text)
        return self._run("seed", prep, url_hash(f"seed:{name}"), now=now, seed_name=name)

    # decisions that never reach the script: off-topic and failed items, GUIDs
    def url_hashes(self, now: float | None = None) -> tuple[str, list[str], int]:
        """(hash to write decisions to, hashes to read them from, expiry of the first)."""
        ep = Epochs.at(time.time() if now is None else now, self.s)
        keys = [self.keys.urls(e) for e in ep.live]
        return keys[1], keys, ep.expire_at

    def failed_hashes(self, now: float | None = None) -> tuple[str, list[str]]:
        """(hash to write failed records to, every live epoch's failed hash)."""
        ep = Epochs.at(time.time() if now is None else now, self.s)
        keys = [self.keys.failed(e) for e in ep.live if e != SEED_EPOCH]
        return keys[0], keys

    def mark(
        self,
        url_keys: list[bytes],
        decision: str,
        *,
        outcome: str = "",
        failure: dict[str, Any] | None = None,
        first_only: bool = False,
        replace: bool = False,
        record: dict[str, Any] | None = None,
        heal_at: float | None = None,
        pipe: Any = None,
    ) -> bool:
        """Record ``decision`` (:mod:`worker.decisions`) for URL/GUID keys, keeping earlier ones.

        ``first_only``: write nothing when the first key (the URL) is decided in any live
        epoch; the return value says whether it was written (always True on ``pipe``).
        ``replace``: a forced attempt, which overwrites a replaceable earlier decision
        (failed, off topic; never queued, duplicate or seed: nothing is queued twice) and,
        with ``first_only``, moves that outcome's counter down, so each item counts once.
        ``outcome`` moves that counter of ``stats``; ``failure`` goes to the newest failures.
        ``record``: the failed item, kept (in its epoch) for ``ingest retry`` and healing,
        tried again by the sweep at ``heal_at`` (None: never by itself); a decision that is
        not a failure written with ``replace`` removes the item's failed records and heal
        entry. All in one script, so a failure and its heal entry are never half-written.
        Queued on ``pipe`` when given (the caller executes it), else sent at once.
        """
        write, read, expire_at = self.url_hashes()
        failed_write, failed_read = self.failed_hashes()
        header = {
            "expire_at": expire_at,
            "trim": RECENT_FAILURES - 1,
            "decision": decision,
            "outcome": outcome,
            "failure": json.dumps(failure, ensure_ascii=False) if failure else "",
            "check": first_only,
            "replace": replace,
            "nurls": len(read),
            "member": url_keys[0].hex(),
            "record": json.dumps(record, ensure_ascii=False) if record else "",
            "heal_at": heal_at or 0,
            "clear": replace and first_only and not decision.startswith("f:"),
        }
        keys = [write, self.keys.stats, self.keys.failures, self.keys.heal, failed_write, *read, *failed_read]
        res = self.scripts.mark(keys=keys, args=[json.dumps(header), *url_keys], client=pipe)
        return True if pipe is not None else bool(res)

    def failed_record(self, url_key: bytes) -> dict[str, Any] | None:
        """The failed record of an item (:meth:`mark`'s ``record``), None if it has none."""
        _, hashes = self.failed_hashes()
        pipe = self.r.pipeline(transaction=False)
        for key in hashes:
            pipe.hget(key, url_key.hex())
        for raw in pipe.execute():
            if raw is not None:
                return json.loads(raw)
        return None

    def decisions(self, url_keys: list[bytes]) -> list[str | None]:
        """The recorded decision of each URL/GUID key, None where there is none."""
        if not url_keys:
            return []
        _, keys, _ = self.url_hashes()
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, url_keys)
        found: list[str | None] = [None] * len(url_keys)
        for vals in pipe.execute():
            for i, v in enumerate(vals):
                if found[i] is None and v is not None:
                    found[i] = as_str(v)
        return found

    def copies(self, doc_id: int, limit: int = 20) -> list[dict[str, Any]]:
        raw = self.r.lrange(self.keys.copies(doc_id), -limit, -1)
        return [json.loads(x) for x in raw]
