"""Story pairs: another outlet's independent report of the same event (a paraphrase) and a wire
update a day later must join the base article's story without being judged copies of it.
A Russian outlet's report of the same event is measured, not required (names change script).

The texts are ``tests/fixtures/stories/<base>.{paraphrase,update,ru}.txt``, written for this
suite from the dedup suite's bases; the topic's words are left out of the story keys as the
service does (``relevance.compiled(settings).words``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import redis

from tests.test_dedup_copies import settings
from tests.test_dedup_quality import BASES
from worker import relevance
from worker.dedup import DedupIndex
from worker.settings import load_settings
from worker.textsig import url_hash

ROOT = Path(__file__).resolve().parent.parent
STORIES = ROOT / "tests" / "fixtures" / "stories"
KINDS = ("paraphrase", "update")


def stem(name: str) -> str:
    return Path(name).name.removesuffix(".txt")


PAIRS = [(n, k) for n in sorted(BASES) for k in KINDS if (STORIES / f"{stem(n)}.{k}.txt").is_file()]


@pytest.fixture(scope="module")
def topic_words() -> frozenset[str]:
    old = os.environ.get("INGEST_CONFIG")
    os.environ["INGEST_CONFIG"] = str(ROOT / "config" / "ingest.toml")
    try:
        return relevance.compiled(load_settings()).words
    finally:
        if old is None:
            del os.environ["INGEST_CONFIG"]
        else:
            os.environ["INGEST_CONFIG"] = old


def _queue(idx: DedupIndex, name: str, text: str, skip: frozenset[str]) -> tuple[str, dict]:  # type: ignore[type-arg]
    url = f"https://story-pairs.invalid/{name}"
    title = text.strip().split("\n", 1)[0]
    v = idx.commit(
        idx.prepare(text, title=title, story_skip=skip), url_hash(url), {"id": name}, now=int(time.time()),
        url=url, source="t",
    )  # fmt: skip
    if v.status != "queued":
        return v.status, {}
    [(_, fields)] = idx.r.xrange(idx.keys.stream, v.stream_id, v.stream_id)
    return v.status, json.loads(fields[b"article"])["story"]


def test_the_suite_has_a_pair_of_each_kind_for_most_bases() -> None:
    assert len(PAIRS) >= 2 * (len(BASES) - 1), PAIRS


@pytest.mark.parametrize(("name", "kind"), PAIRS, ids=[f"{k}-{stem(n)}" for n, k in PAIRS])
def test_a_report_of_the_same_event_joins_the_story_and_is_no_copy(
    r: redis.Redis, prefix: str, topic_words: frozenset[str], name: str, kind: str
) -> None:
    idx = DedupIndex(r, settings(), prefix, f"{prefix}articles")
    status, base_story = _queue(idx, "base", BASES[name].path.read_text("utf-8"), topic_words)
    assert status == "queued"
    status, story = _queue(idx, kind, (STORIES / f"{stem(name)}.{kind}.txt").read_text("utf-8"), topic_words)

    assert status == "queued", "a report of the same event is no copy"
    assert story["id"] == base_story["id"], story


def test_reports_in_another_language_are_measured(
    r: redis.Redis, prefix: str, topic_words: frozenset[str]
) -> None:
    """Across scripts only numbers are shared: how many Russian reports join the English story
    is printed (pytest -s), and none may be judged a copy."""
    linked = total = 0
    for n in sorted(BASES):
        ru = STORIES / f"{stem(n)}.ru.txt"
        if not ru.is_file():
            continue
        idx = DedupIndex(r, settings(), f"{prefix}{stem(n)}:", f"{prefix}{stem(n)}:articles")
        _, base_story = _queue(idx, "base", BASES[n].path.read_text("utf-8"), topic_words)
        status, story = _queue(idx, "ru", ru.read_text("utf-8"), topic_words)
        assert status == "queued"
        total += 1
        linked += story.get("id") == base_story["id"]
    print(f"\nRussian reports joining the English story: {linked} of {total}")
    assert total >= 3
