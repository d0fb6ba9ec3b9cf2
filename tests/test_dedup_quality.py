"""The labelled dedup suite: republications must be caught, different articles must not be.

The cases are the texts in ``tests/fixtures/dedup`` as listed in its ``labels.toml``: positives
(a base republished with other boilerplate, headline, typos, a dateline, truncated, ...) must be
judged duplicates of their base; negatives (the other seed, other outlets' articles sharing one
quote, later stories by the same outlet, unrelated articles) must be judged new.

Every test builds its own index in the real Redis, under the test's own key prefix, with the
``[dedup]`` settings of ``config/ingest.toml``: the bases the case names (default: all bases),
seeds through ``add_seed`` and the other bases through ``commit``. The case itself is then only
``check``-ed (read-only), so the aggregate test checks all cases against one index per distinct
set of bases.

``tests/dedup_baseline.json`` pins the floors of precision and recall over the whole suite.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from worker.dedup import DedupIndex, Verdict
from worker.settings import DedupSettings
from worker.textsig import url_hash

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "fixtures" / "dedup"
SEEDS = ROOT / "seeds"
BASELINE = ROOT / "tests" / "dedup_baseline.json"
URL = "https://dedup-suite.invalid/"


@dataclass(frozen=True)
class Base:
    name: str
    seed: bool

    @property
    def path(self) -> Path:
        return SEEDS / f"{self.name}.txt" if self.seed else DATA / self.name


@dataclass(frozen=True)
class Case:
    id: str
    path: Path
    label: str  # duplicate | new
    kind: str
    base: str | None
    index: tuple[str, ...]  # the bases in the index when the case is checked

    @property
    def positive(self) -> bool:
        return self.label == "duplicate"


def _load() -> tuple[dict[str, Base], list[Case]]:
    data = tomllib.loads((DATA / "labels.toml").read_text("utf-8"))
    bases = {b["name"]: Base(b["name"], bool(b.get("seed", False))) for b in data["base"]}
    cases = [
        Case(
            id=c.get("id") or Path(c["file"]).stem,
            path=(DATA / c["file"]).resolve(),
            label=c["label"],
            kind=c["kind"],
            base=c.get("base"),
            index=tuple(c.get("index") or bases),
        )
        for c in data["case"]
    ]
    return bases, cases


BASES, CASES = _load()
POSITIVES = [pytest.param(c, id=c.id) for c in CASES if c.positive]
NEGATIVES = [pytest.param(c, id=c.id) for c in CASES if not c.positive]


def dedup_settings() -> DedupSettings:
    """The service's configured dedup settings (config/ingest.toml), not the code defaults."""
    config = tomllib.loads((ROOT / "config" / "ingest.toml").read_text("utf-8"))
    return DedupSettings(**config.get("dedup", {}))


def build_index(r: redis.Redis, prefix: str, names: tuple[str, ...]) -> tuple[DedupIndex, dict[int, str]]:
    """An index holding the named bases; returns it and doc id -> base name."""
    idx = DedupIndex(r, dedup_settings(), prefix, f"{prefix}articles")
    now = int(time.time())
    doc_base: dict[int, str] = {}
    for name in names:
        base = BASES[name]
        text = base.path.read_text("utf-8")
        if base.seed:
            v = idx.add_seed(name, text, now=now)
            assert v.status == "seeded", f"seed {name} was not indexed: {v.status} {v.nearest}"
        else:
            url = URL + name
            v = idx.commit(idx.prepare(text), url_hash(url), {"id": name}, now=now, url=url, source="suite")
            assert v.status == "queued", f"base {name} was not indexed: {v.status} {v.nearest}"
        assert v.doc_id is not None
        doc_base[v.doc_id] = name
    return idx, doc_base


def check(idx: DedupIndex, case: Case) -> Verdict:
    text = case.path.read_text("utf-8")
    return idx.check(idx.prepare(text), url_hash(URL + "case/" + case.id))


def describe(v: Verdict, doc_base: dict[int, str]) -> str:
    n = v.nearest
    if not n:
        return f"{v.status}, no candidate"
    name = n.get("name") or doc_base.get(n.get("id", -1), f"doc {n.get('id')}")
    return (
        f"{v.status}: nearest {name} similarity={n.get('similarity', 0):.3f} "
        f"containment={n.get('containment', 0):.3f} match={n.get('match')}"
    )


# --- the suite itself -----------------------------------------------------------------------------


def test_suite_is_well_formed() -> None:
    listed = {c.path for c in CASES}
    on_disk = {p.resolve() for p in DATA.glob("positives/*.txt")} | {
        p.resolve() for p in DATA.glob("negatives/*.txt")
    }
    assert on_disk - listed == set(), "texts not listed in labels.toml"
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    for b in BASES.values():
        assert b.path.is_file(), b.path
    for c in CASES:
        assert c.path.is_file(), c.path
        assert c.label in ("duplicate", "new"), c.id
        assert set(c.index) <= set(BASES), c.id
        if c.positive:
            assert c.base in c.index, f"{c.id}: its base {c.base} must be in the index"
    per_kind = Counter(c.kind for c in CASES if c.positive and c.kind != "short_exact")
    bases_per_kind = {k: {c.base for c in CASES if c.kind == k} for k in per_kind}
    assert all(len(b) >= 2 for b in bases_per_kind.values()), bases_per_kind


# --- one behaviour per case -----------------------------------------------------------------------


@pytest.mark.parametrize("case", POSITIVES)
def test_positive_is_caught(r: redis.Redis, prefix: str, case: Case) -> None:
    idx, doc_base = build_index(r, prefix, case.index)
    v = check(idx, case)
    assert v.status == "duplicate", f"{case.id} ({case.kind} of {case.base}): {describe(v, doc_base)}"


@pytest.mark.parametrize("case", POSITIVES)
def test_positive_names_its_base(r: redis.Redis, prefix: str, case: Case) -> None:
    idx, doc_base = build_index(r, prefix, case.index)
    v = check(idx, case)
    assert v.nearest, f"{case.id}: no nearest candidate at all"
    assert case.base is not None
    if BASES[case.base].seed:
        assert (v.nearest.get("kind"), v.nearest.get("name")) == ("seed", case.base), describe(v, doc_base)
    else:
        assert v.nearest.get("kind") == "article", describe(v, doc_base)
        assert doc_base.get(v.nearest["id"]) == case.base, describe(v, doc_base)


@pytest.mark.parametrize("case", NEGATIVES)
def test_negative_is_new(r: redis.Redis, prefix: str, case: Case) -> None:
    idx, doc_base = build_index(r, prefix, case.index)
    v = check(idx, case)
    assert v.status == "new", f"{case.id} ({case.kind}): {describe(v, doc_base)}"


# --- the gate -------------------------------------------------------------------------------------


def judge_all(r: redis.Redis, prefix: str) -> list[tuple[Case, Verdict, dict[int, str]]]:
    """Every case checked; one index per distinct set of bases, each under its own sub-prefix."""
    built: dict[tuple[str, ...], tuple[DedupIndex, dict[int, str]]] = {}
    out = []
    for case in CASES:
        key = tuple(sorted(case.index))
        if key not in built:
            built[key] = build_index(r, f"{prefix}{len(built)}:", key)
        idx, doc_base = built[key]
        out.append((case, check(idx, case), doc_base))
    return out


def test_precision_and_recall_meet_the_floor(r: redis.Redis, prefix: str) -> None:
    floor: dict[str, Any] = json.loads(BASELINE.read_text("utf-8"))
    results = judge_all(r, prefix)
    tp = sum(1 for c, v, _ in results if c.positive and v.status == "duplicate")
    fp = sum(1 for c, v, _ in results if not c.positive and v.status == "duplicate")
    fn = sum(1 for c, v, _ in results if c.positive and v.status != "duplicate")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    wrong = [
        f"  {c.id} [{c.kind}] expected {c.label}, got {describe(v, b)}"
        for c, v, b in results
        if (v.status == "duplicate") != c.positive
    ]
    assert precision >= floor["precision"] and recall >= floor["recall"], (
        f"precision {precision:.3f} (floor {floor['precision']}), recall {recall:.3f} "
        f"(floor {floor['recall']}) over {len(results)} cases; misjudged:\n" + "\n".join(wrong)
    )
