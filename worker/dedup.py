"""The dedup index in Redis: canonical URLs, exact text hashes, MinHash-LSH.

The index lives in Redis alone, so every worker on every machine shares it.
The decision and the publication are one server-side script
(``lua/decide.lua``): either an article is new, indexed and on the stream, or
it is a duplicate and recorded against the article it copies; nothing in between.

Layout (all under the key prefix):

* ``urls``      hash  url/guid hash -> decision (``q:<id>`` queued, ``s:<id>`` seed,
                      ``d:<id>`` duplicate of id, ``o`` off-topic, ``f:<reason>`` failed)
* ``texts``     hash  normalised-text hash -> doc id
* ``sig:<n>``   string of fixed-size records (signature, shingle count, kind, time,
                      stream id), doc id ``i`` at ``(i % shard) * record`` of ``sig:<i // shard>``
* ``lsh:<band>:<shard>`` hash  band hash -> packed doc ids
* ``seeds``     hash  doc id -> seed name
* ``copies:<id>`` list of the later copies of doc ``id`` ("also published by")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import redis

from worker.redisconn import as_str
from worker.settings import DedupSettings
from worker.textsig import Signature, content_hash, normalize, signature, url_hash

RECORD_SHARD = 4096
MAX_REPORTED_CANDIDATES = 5


@dataclass(frozen=True)
class Prepared:
    """A text made ready for the index: computed once, off Redis."""

    normalized: str
    word_count: int
    content_hash: str
    signature: Signature
    short: bool


@dataclass
class Verdict:
    """What the index said about one text."""

    status: str  # new | duplicate | seen | queued | seeded
    nearest: dict[str, Any] | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    prior: str | None = None  # for "seen": the earlier decision
    doc_id: int | None = None
    stream_id: str | None = None

    @property
    def duplicate_of(self) -> dict[str, Any] | None:
        return self.nearest if self.status == "duplicate" else None


class DedupIndex:
    def __init__(self, client: redis.Redis, settings: DedupSettings, prefix: str, stream_key: str):
        self.r = client
        self.s = settings
        self.prefix = prefix
        self.stream_key = stream_key
        self.record_size = 2 * settings.num_perm + 24
        lua = resources.files("worker").joinpath("lua/decide.lua").read_text("utf-8")
        self._decide = client.register_script(lua)

    def prepare(self, text: str) -> Prepared:
        norm = normalize(text)
        n_words = norm.count(" ") + 1 if norm else 0
        sig = signature(norm, k=self.s.shingle_words, num_perm=self.s.num_perm)
        return Prepared(
            normalized=norm,
            word_count=n_words,
            content_hash=content_hash(norm),
            signature=sig,
            short=n_words < self.s.short_text_words,
        )

    def _band_args(self, sig: Signature) -> tuple[list[str], list[bytes]]:
        keys, fields = [], []
        bits = self.s.lsh_shard_bits
        for band, h in enumerate(sig.band_hashes(self.s.lsh_bands, self.s.lsh_rows)):
            shard = int.from_bytes(h[:4], "big") >> (32 - bits) if bits else 0
            keys.append(f"{self.prefix}lsh:{band}:{shard}")
            fields.append(h)
        return keys, fields

    def _run(
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
    ) -> Verdict:
        keys, fields = self._band_args(prep.signature)
        head = ""
        if message is not None:
            body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
            head = body[:-1] + ',"dedup":'
        args: list[Any] = [
            mode,
            self.prefix,
            url_key,
            bytes.fromhex(prep.content_hash[:16]),
            prep.signature.stored(),
            prep.signature.shingles,
            "1" if prep.short else "0",
            self.s.jaccard_threshold,
            self.s.containment_threshold,
            len(keys),
            *keys,
            *fields,
            now,
            self.stream_key,
            head,
            seed_name,
            url,
            source,
            MAX_REPORTED_CANDIDATES,
            self.record_size,
            RECORD_SHARD,
        ]
        res = self._decide(keys=[], args=args)
        status = res[0].decode()
        if status == "seen":
            return Verdict("seen", prior=res[1].decode())
        detail = json.loads(res[1])
        v = Verdict(
            status,
            nearest=detail.get("nearest") or None,
            candidates=detail.get("candidates") or [],
        )
        if len(res) > 2:
            v.doc_id = int(res[2])
            v.stream_id = res[3].decode() if res[3] else None
        return v

    def check(self, prep: Prepared, url_key: bytes) -> Verdict:
        """The verdict against the current index, changing nothing."""
        return self._run("check", prep, url_key, now=0)

    def commit(
        self, prep: Prepared, url_key: bytes, message: dict[str, Any], *, now: int, url: str, source: str
    ) -> Verdict:
        """Decide and, when new, index and publish ``message`` in one atomic step."""
        return self._run("commit", prep, url_key, now=now, message=message, url=url, source=source)

    def add_seed(self, name: str, text: str, *, now: int) -> Verdict:
        """Index a seed article (idempotent: a seed already there is reported as seen)."""
        prep = self.prepare(text)
        return self._run("seed", prep, url_hash(f"seed:{name}"), now=now, seed_name=name)

    # decisions that never reach the script: off-topic and failed items
    def mark(self, url_keys: list[bytes], decision: str) -> None:
        """Record a final decision for URLs/GUIDs, keeping any earlier one."""
        pipe = self.r.pipeline(transaction=False)
        for k in url_keys:
            pipe.hsetnx(f"{self.prefix}urls", k, decision)
        pipe.execute()

    def decisions(self, url_keys: list[bytes]) -> list[str | None]:
        """The recorded decision of each URL/GUID key, None where there is none."""
        if not url_keys:
            return []
        vals = self.r.hmget(f"{self.prefix}urls", url_keys)
        return [as_str(v) if v is not None else None for v in vals]

    def copies(self, doc_id: int, limit: int = 20) -> list[dict[str, Any]]:
        raw = self.r.lrange(f"{self.prefix}copies:{doc_id}", -limit, -1)
        return [json.loads(x) for x in raw]

    def seed_names(self) -> dict[int, str]:
        return {int(k): as_str(v) for k, v in self.r.hgetall(f"{self.prefix}seeds").items()}
