"""Precision and recall of the relevance judgement on the labelled suite, per language.

    .venv/bin/python -m bench.relevance_report [--misses] [--json PATH]

The suite is ``tests/fixtures/relevance/<lang>.jsonl`` (authored by us: on-topic articles
and hard negatives of every kind the topic excludes), judged with the topic of
``config/ingest.toml`` and the seeds of ``seeds/``. Also prints the judgement's cost per
article (a ratio against normalising the same text, measured in the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from worker import relevance
from worker.settings import Settings, load_settings
from worker.textsig import normalize

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests" / "fixtures" / "relevance"


def load_suite() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(SUITE.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                cases.append(json.loads(line))
    return cases


def _settings() -> Settings:
    """The shipped topic and seeds, whatever INGEST_CONFIG says."""
    os.environ["INGEST_CONFIG"] = str(ROOT / "config" / "ingest.toml")
    return load_settings()


def judge_all(cases: list[dict[str, Any]]) -> list[tuple[dict[str, Any], relevance.Relevance]]:
    settings = _settings()
    return [(c, relevance.judge(c["text"], c["title"], settings, language=c["lang"])) for c in cases]


def scores(judged: list[tuple[dict[str, Any], relevance.Relevance]]) -> dict[str, dict[str, float]]:
    by: dict[str, dict[str, int]] = defaultdict(lambda: {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
    for c, r in judged:
        for key in (c["lang"], "all"):
            on = c["label"] == "on"
            by[key]["tp" if on and r.on_topic else "fn" if on else "fp" if r.on_topic else "tn"] += 1
    out = {}
    for key, n in by.items():
        p = n["tp"] / (n["tp"] + n["fp"]) if n["tp"] + n["fp"] else 1.0
        rc = n["tp"] / (n["tp"] + n["fn"]) if n["tp"] + n["fn"] else 1.0
        out[key] = {"precision": round(p, 3), "recall": round(rc, 3), **n}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--misses", action="store_true", help="print every wrong judgement with its reason")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    cases = load_suite()
    judged = judge_all(cases)
    table = scores(judged)
    print(f"{'lang':6} {'cases':>5} {'precision':>9} {'recall':>7}  tp fp fn tn")
    for key in sorted(table, key=lambda k: (k == "all", k)):
        t = table[key]
        n = t["tp"] + t["fp"] + t["fn"] + t["tn"]
        print(
            f"{key:6} {n:5} {t['precision']:9.3f} {t['recall']:7.3f}  {t['tp']} {t['fp']} {t['fn']} {t['tn']}"
        )
    if args.misses:
        for c, r in judged:
            if r.on_topic != (c["label"] == "on"):
                print(f"\n{c['id']} ({c['kind']}): score {r.score} {r.parts}\n  {r.why}\n  {c['title']}")
    # cost: the judgement against normalising the same text (the pipeline's cheapest pass)
    settings = _settings()
    texts = [(c["text"], c["title"]) for c in cases]
    t0 = time.perf_counter()
    for _ in range(5):
        for text, title in texts:
            normalize(f"{title} {text}")
    base = (time.perf_counter() - t0) / (5 * len(texts))
    t0 = time.perf_counter()
    for _ in range(5):
        for text, title in texts:
            relevance.judge(text, title, settings)
    cost = (time.perf_counter() - t0) / (5 * len(texts))
    ratio = cost / base
    ms, base_ms = cost * 1000, base * 1000
    print(f"\ncost per article: {ms:.3f} ms ({ratio:.1f}x normalising the same text: {base_ms:.3f} ms)")
    if args.json:
        args.json.write_text(json.dumps({"per_language": table, "ms_per_article": cost * 1000}, indent=1))


if __name__ == "__main__":
    main()
