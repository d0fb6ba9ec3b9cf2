"""How many excerpts of a quarter of an article the index catches, with and without sentence anchors.

    .venv/bin/python -m bench.excerpt_recall [--redis redis://127.0.0.1:6379/0] [--articles 20]

Each round indexes one synthetic article (harness/newsroom.py) under a throw-away key
prefix, checks the article's first quarter, and deletes its keys. With
``sentence_anchors = 0`` only the LSH bands can find the candidate.
"""

from __future__ import annotations

import argparse
import time
import uuid

import redis

from harness.newsroom import article_paragraphs
from worker.dedup import DedupIndex
from worker.settings import DedupSettings
from worker.textsig import url_hash


def caught(r: redis.Redis, anchors: int, articles: int) -> int:
    settings = DedupSettings(sentence_anchors=anchors)
    n_caught = 0
    for n in range(articles):
        prefix = f"bench-excerpt:{uuid.uuid4().hex[:8]}:"
        idx = DedupIndex(r, settings, prefix, prefix + "articles")
        paras = article_paragraphs(1000 + n, 900)
        text = "\n".join(paras)
        idx.commit(idx.prepare(text), url_hash(prefix), {"id": n}, now=int(time.time()), url="u", source="b")
        excerpt = "\n".join(paras[: max(2, len(paras) // 4)])
        n_caught += idx.check(idx.prepare(excerpt), url_hash(prefix + "x")).status == "duplicate"
        for key in r.scan_iter(match=prefix + "*"):
            r.delete(key)
    return n_caught


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--articles", type=int, default=20)
    args = ap.parse_args()
    r = redis.Redis.from_url(args.redis)
    for anchors in (12, 0):
        got = caught(r, anchors, args.articles)
        print(f"sentence_anchors={anchors:2}: {got} of {args.articles} quarter-excerpts caught")


if __name__ == "__main__":
    main()
