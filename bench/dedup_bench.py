"""Dedup benchmark: decision time and Redis memory per article at 10k, 100k and 1M articles.

    .venv/bin/python -m bench.dedup_bench [--sizes 10000,100000,1000000] [--queries 1000]

Starts its own redis-server on a free loopback port (so memory and command
statistics are ours alone), indexes deterministic synthetic articles built from
the words of the seeds and our fixture pages, and at each size measures:

* signature time per article (numpy MinHash, in this process);
* Redis time per decision: ``usec_per_call`` of the decide script from
  ``INFO commandstats`` (server-side), and the wall time of one call (with RTT);
* Redis memory per indexed article (``used_memory`` growth / articles, stream excluded).

In the same run, the baseline users would pick instead: datasketch ``MinHash``
(``update_batch``) + ``MinHashLSH`` with Redis storage, at ``--baseline-size``
articles; the table gives our figures as ratios of the baseline's.
Results are printed and written to ``bench/results/dedup-<time>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import shutil
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import redis

from harness.redis_process import RedisProcess
from worker.dedup import SENTENCE_QUERIES, DedupIndex, Prepared
from worker.settings import DedupSettings
from worker.textsig import Signature, sample_order, shingles_of_token_hashes, signature_of_shingles, url_hash

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SCRIPT_CMD = "evalsha"


# ---- synthetic articles -----------------------------------------------------------
def vocabulary() -> np.ndarray:
    """crc32 hashes of the distinct words of the seeds and fixture pages (our own text)."""
    text = " ".join(p.read_text("utf-8") for p in (ROOT / "seeds").glob("*.txt"))
    text += " ".join(p.read_text("utf-8") for p in (ROOT / "tests" / "fixtures" / "site").glob("*.html"))
    words = sorted({w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)})
    return np.array([zlib.crc32(w.encode()) for w in words], dtype=np.uint64)


class Corpus:
    """Article n is always the same token sequence: 400-900 words, Zipf-like word choice."""

    def __init__(self, vocab: np.ndarray, seed: int = 7):
        self.vocab = vocab
        self.seed = seed
        ranks = np.arange(1, vocab.size + 1, dtype=np.float64)
        self.p = (1 / ranks) / (1 / ranks).sum()

    def tokens(self, n: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, n))
        length = int(rng.integers(400, 900))
        return self.vocab[rng.choice(self.vocab.size, size=length, p=self.p)]

    def article(self, n: int) -> tuple[np.ndarray, list[bytes], list[bytes]]:
        """Article n: its tokens, its sentence keys (sentences of 8-18 words) and its story
        keys (the 8 smallest of ~15 names drawn from 200,000, Zipf-like: popular names
        recur across articles, as they do in the news)."""
        tok = self.tokens(n)
        return tok, self.sentences(tok, n), self.names(n)

    def sentences(self, tok: np.ndarray, n: int, upto: int | None = None) -> list[bytes]:
        rng = np.random.default_rng((self.seed, n, 1))
        keys, a = [], 0
        while a < tok.size and (upto is None or a < upto):
            b = a + int(rng.integers(8, 19))
            if b <= tok.size:
                keys.append(hashlib.blake2b(tok[a:b].tobytes(), digest_size=8).digest())
            a = b
        return keys

    def names(self, n: int) -> list[bytes]:
        rng = np.random.default_rng((self.seed, n, 2))
        ranks = np.minimum(rng.zipf(1.3, size=15), 200_000)
        return sorted({hashlib.blake2b(int(r).to_bytes(4, "little"), digest_size=8).digest() for r in ranks})[
            :8
        ]

    def near_copy(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[bytes], list[bytes]]:
        """A republication of article n: a dateline added, ~2% of words changed, the last 10%
        dropped; its sentences are the original's, changed where a word changed."""
        t = self.tokens(n).copy()
        idx = rng.choice(t.size, size=t.size // 50, replace=False)
        t[idx] = t[rng.permutation(idx)]
        sents = self.sentences(t, n, upto=int(t.size * 0.9))
        copy = np.concatenate([np.array([11, 22, 33, 44], dtype=np.uint64), t[: int(t.size * 0.9)]])
        return copy, sents, self.names(n)


def prepared(art: tuple[np.ndarray, list[bytes], list[bytes]], s: DedupSettings) -> Prepared:
    tok, sentences, story = art
    sig: Signature = signature_of_shingles(shingles_of_token_hashes(tok, s.shingle_words), s.num_perm)
    digest = hashlib.sha256(tok.tobytes()).hexdigest()
    keys = sorted(set(sentences), key=sample_order)
    return Prepared(
        "",
        int(tok.size),
        digest,
        sig,
        int(tok.size) < s.short_text_words,
        sentence_count=len(keys),
        sentence_queries=tuple(keys[:SENTENCE_QUERIES]),
        sentence_anchors=tuple(keys[: s.sentence_anchors]),
        story_keys=tuple(story),
    )


# ---- a private redis-server -------------------------------------------------------
class Server:
    """A redis-server of the benchmark's own: no persistence, so memory is the index's alone."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dedup-bench-"))
        self.redis = RedisProcess(self.dir, appendonly=False).start()
        self.port = self.redis.port
        self.client = redis.Redis(port=self.port)
        self.version = self.client.info("server")["redis_version"]

    def used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def script_stats(self) -> tuple[int, int]:
        stats = self.client.info("commandstats").get(f"cmdstat_{SCRIPT_CMD}", {})
        return int(stats.get("calls", 0)), int(stats.get("usec", 0))

    def stop(self) -> None:
        self.client.close()
        self.redis.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- ours -------------------------------------------------------------------------
def load(idx: DedupIndex, corpus: Corpus, start: int, stop: int, batch: int = 200) -> dict[str, float]:
    """Index articles [start, stop) with the real decide script, pipelined."""
    sig_s = 0.0
    t0 = time.perf_counter()
    now = int(time.time())
    for lo in range(start, stop, batch):
        pipe = idx.r.pipeline(transaction=False)
        for n in range(lo, min(stop, lo + batch)):
            t = time.perf_counter()
            prep = prepared(corpus.article(n), idx.s)
            sig_s += time.perf_counter() - t
            args = idx.script_args("commit", prep, url_hash(f"https://bench.example/{n}"), now=now,
                                   message={"id": n}, url="", source="bench")  # fmt: skip
            idx.run_script(args, client=pipe)
        pipe.execute()
    return {"seconds": time.perf_counter() - t0, "signature_seconds": sig_s}


def measure_decisions(
    server: Server, idx: DedupIndex, corpus: Corpus, size: int, queries: int
) -> dict[str, Any]:
    """Half near-copies of indexed articles, half unseen articles: read-only decisions."""
    rng = np.random.default_rng(size)
    preps = []
    for q in range(queries):
        if q % 2:
            preps.append(prepared(corpus.near_copy(int(rng.integers(0, size)), rng), idx.s))
        else:
            preps.append(prepared(corpus.article(10_000_000 + q), idx.s))
    t = time.perf_counter()
    for q in range(queries):  # signature cost alone, timed apart from Redis
        tok = corpus.tokens(10_000_000 + q)
        signature_of_shingles(shingles_of_token_hashes(tok, idx.s.shingle_words), idx.s.num_perm)
    sig_ms = (time.perf_counter() - t) / queries * 1000
    calls0, usec0 = server.script_stats()
    walls = []
    dup_found = 0
    now = int(time.time())
    for q, prep in enumerate(preps):
        t = time.perf_counter()
        v = idx.parse_reply(idx.run_script(idx.script_args("check", prep, url_hash(f"q{q}"), now=now)))
        walls.append(time.perf_counter() - t)
        dup_found += (v.status == "duplicate") == bool(q % 2)
    calls1, usec1 = server.script_stats()
    return {
        "signature_ms": sig_ms,
        "redis_ms_server": (usec1 - usec0) / max(1, calls1 - calls0) / 1000,
        "decision_wall_ms_p50": float(np.percentile(walls, 50) * 1000),
        "decision_wall_ms_p99": float(np.percentile(walls, 99) * 1000),
        "correct_verdicts": dup_found / queries,
    }


def run_ours(sizes: list[int], queries: int, corpus: Corpus) -> list[dict[str, Any]]:
    server = Server()
    try:
        s = DedupSettings()
        idx = DedupIndex(server.client, s, "b:", "b:articles")
        base_mem = server.used_memory()
        rows = []
        done = 0
        for size in sizes:
            calls0, usec0 = server.script_stats()
            stats = load(idx, corpus, done, size)
            calls1, usec1 = server.script_stats()
            done = size
            server.client.delete("b:articles")  # the stream is the output, not the index
            mem = server.used_memory() - base_mem
            row = {
                "impl": "ours",
                "articles": size,
                "bytes_per_article": mem / size,
                "insert_redis_ms_server": (usec1 - usec0) / max(1, calls1 - calls0) / 1000,
                "load_seconds": stats["seconds"],
                **measure_decisions(server, idx, corpus, size, queries),
            }
            rows.append(row)
            print(f"  ours {size:>9,}: {json.dumps({k: round(v, 4) for k, v in row.items() if k != 'impl'})}")
        return rows
    finally:
        server.stop()


# ---- the baseline: datasketch MinHash + MinHashLSH on Redis ----------------------------
def run_datasketch(size: int, queries: int, corpus: Corpus) -> dict[str, Any]:
    from datasketch import MinHash, MinHashLSH

    server = Server()
    try:
        s = DedupSettings()
        lsh = MinHashLSH(
            threshold=s.jaccard_threshold,
            num_perm=s.num_perm,
            storage_config={
                "type": "redis",
                "basename": b"ds",
                "redis": {"host": "127.0.0.1", "port": server.port},
            },
        )
        base_mem = server.used_memory()

        def minhash(tok: np.ndarray) -> MinHash:
            m = MinHash(num_perm=s.num_perm)
            sh = shingles_of_token_hashes(tok, s.shingle_words)
            m.update_batch([int(x).to_bytes(4, "little") for x in sh])
            return m

        t0 = time.perf_counter()
        with lsh.insertion_session() as session:
            for n in range(size):
                session.insert(f"doc{n}", minhash(corpus.tokens(n)))
        load_s = time.perf_counter() - t0
        mem = server.used_memory() - base_mem
        rng = np.random.default_rng(size)
        toks = [
            corpus.near_copy(int(rng.integers(0, size)), rng)[0] if q % 2 else corpus.tokens(10_000_000 + q)
            for q in range(queries)
        ]
        t = time.perf_counter()
        sigs = [minhash(tok) for tok in toks]
        sig_ms = (time.perf_counter() - t) / queries * 1000
        walls = []
        for m in sigs:
            t = time.perf_counter()
            lsh.query(m)
            walls.append(time.perf_counter() - t)
        return {
            "impl": "datasketch",
            "articles": size,
            "bytes_per_article": mem / size,
            "load_seconds": load_s,
            "signature_ms": sig_ms,
            "decision_wall_ms_p50": float(np.percentile(walls, 50) * 1000),
            "decision_wall_ms_p99": float(np.percentile(walls, 99) * 1000),
        }
    finally:
        server.stop()


def table(ours: list[dict[str, Any]], base: dict[str, Any]) -> str:
    head = (
        f"{'impl':<11}{'articles':>10}{'sig ms':>9}{'redis ms':>10}{'wall p50':>10}{'wall p99':>10}"
        f"{'B/article':>11}{'x base sig':>11}{'x base wall':>12}{'x base mem':>11}{'correct':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in [*ours, base]:
        ratio = r is not base
        lines.append(
            f"{r['impl']:<11}{r['articles']:>10,}{r['signature_ms']:>9.3f}"
            f"{r.get('redis_ms_server', float('nan')):>10.3f}{r['decision_wall_ms_p50']:>10.3f}"
            f"{r['decision_wall_ms_p99']:>10.3f}{r['bytes_per_article']:>11.0f}"
            + (
                f"{r['signature_ms'] / base['signature_ms']:>11.2f}"
                f"{r['decision_wall_ms_p50'] / base['decision_wall_ms_p50']:>12.2f}"
                f"{r['bytes_per_article'] / base['bytes_per_article']:>11.2f}"
                f"{r['correct_verdicts']:>9.3f}"
                if ratio
                else f"{'1.00':>11}{'1.00':>12}{'1.00':>11}{'-':>9}"
            )
        )
    first, last = ours[0], ours[-1]
    lines.append(
        f"decision (redis, server side) at {last['articles']:,} vs {first['articles']:,}: "
        f"{last['redis_ms_server'] / first['redis_ms_server']:.2f}x; "
        f"wall p50: {last['decision_wall_ms_p50'] / first['decision_wall_ms_p50']:.2f}x"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--baseline-size", type=int, default=10000)
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    corpus = Corpus(vocabulary())
    print(
        f"dedup benchmark: sizes {sizes}, {args.queries} decisions each, baseline at {args.baseline_size:,}"
    )
    base = run_datasketch(args.baseline_size, args.queries, corpus)
    figures = {k: round(v, 4) for k, v in base.items() if k != "impl"}
    print(f"  datasketch {args.baseline_size:>9,}: {json.dumps(figures)}")
    ours = run_ours(sizes, args.queries, corpus)
    out = table(ours, base)
    print()
    print(out)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    result = {
        "benchmark": "dedup",
        "when": stamp,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "settings": DedupSettings().model_dump(),
        "ours": ours,
        "baseline": base,
        "table": out,
    }
    for name in (f"dedup-{stamp}.json", "dedup-latest.json"):
        (RESULTS / name).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {RESULTS / f'dedup-{stamp}.json'}")


if __name__ == "__main__":
    main()
