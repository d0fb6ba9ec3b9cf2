"""The dedup index in Redis: seeds, duplicates recorded against originals, retention, copies."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest
import redis

from worker import dedup
from worker.dedup import DedupIndex
from worker.message import load_schema
from worker.seeds import load_seeds
from worker.settings import DedupSettings
from worker.textsig import url_hash

ROOT = Path(__file__).resolve().parent.parent
SEED_000 = (ROOT / "seeds" / "000_663d425c6dff775c.txt").read_text()
FIXTURES = ROOT / "tests" / "fixtures" / "dedup"


def _index(r: redis.Redis, prefix: str, **settings: object) -> DedupIndex:
    return DedupIndex(r, DedupSettings(**settings), prefix, f"{prefix}articles")  # type: ignore[arg-type]


def _commit(idx: DedupIndex, text: str, url: str, now: int | None = None):  # type: ignore[no-untyped-def]
    return idx.commit(
        idx.prepare(text), url_hash(url), {"id": url}, now=now or int(time.time()), url=url, source="test"
    )


def _article(n: int) -> str:
    """A distinct ~300-word text: sentences built from a counter, shared by no other n."""
    return " ".join(f"Report {n} paragraph {i} notes item {n * 1000 + i} in the ledger." for i in range(40))


def test_loading_seeds_twice_changes_nothing(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    first = load_seeds(idx, ROOT / "seeds")
    snapshot = {k: r.dump(k) for k in r.scan_iter(match=f"{prefix}*")}
    second = load_seeds(idx, ROOT / "seeds")
    third = load_seeds(idx, ROOT / "seeds")
    assert set(first.values()) == {"seeded"}
    assert set(second.values()) == set(third.values()) == {"seen"}
    assert {k: r.dump(k) for k in r.scan_iter(match=f"{prefix}*")} == snapshot


def test_a_duplicate_is_recorded_against_the_article_it_copies(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    original = _commit(idx, _article(1), "https://a.example/1")
    copy = _commit(idx, "MINSK, Aug 17 (Xinhua) -- " + _article(1), "https://b.example/copy")
    assert (original.status, copy.status) == ("queued", "duplicate")
    assert copy.nearest and copy.nearest["id"] == original.doc_id
    [entry] = idx.copies(original.doc_id or 0)
    assert entry["url"] == "https://b.example/copy" and entry["source"] == "test"
    assert r.xlen(f"{prefix}articles") == 1


def test_the_same_url_twice_is_seen_not_queued_again(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    first = _commit(idx, _article(2), "https://a.example/2")
    again = _commit(idx, _article(2), "https://a.example/2")
    assert again.status == "seen" and again.prior == f"q:{first.doc_id}"
    assert r.xlen(f"{prefix}articles") == 1


def test_stream_message_carries_nearest_seed_and_its_similarity(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    load_seeds(idx, ROOT / "seeds")
    text = sorted((FIXTURES / "negatives").glob("follow_up-*.txt"))[0].read_text()
    v = _commit(idx, text, "https://a.example/neg")
    assert v.status == "queued"
    [(_, fields)] = r.xrange(f"{prefix}articles")
    dedup = json.loads(fields[b"article"])["dedup"]
    assert dedup["nearest_seed"]["kind"] == "seed"
    assert dedup["nearest_seed"]["name"] in {"000_663d425c6dff775c", "004_06fa49a5c750834e"}
    assert 0 <= dedup["nearest_seed"]["similarity"] < 0.5


def test_short_texts_match_only_when_their_normalised_text_is_equal(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    brief = (
        "Belarus and China will hold joint drills next year, the defence ministry in Minsk said on Friday."
    )
    assert _commit(idx, brief, "https://a.example/brief").status == "queued"
    respelled = brief.replace("said", "\u201csaid\u201d").replace(" ", "  ")
    assert _commit(idx, respelled, "https://b.example/brief").status == "duplicate"
    edited = brief.replace("next year", "in the spring")
    assert _commit(idx, edited, "https://c.example/brief").status == "queued"


def test_articles_leave_the_index_after_retention_but_seeds_stay(r: redis.Redis, prefix: str) -> None:
    # an epoch of 1 s and a retention of 1 s: keys expire 2-3 s after they are written
    idx = _index(r, prefix, retention_days=1 / 86400, epoch_days=1 / 86400)
    load_seeds(idx, ROOT / "seeds")
    _commit(idx, _article(3), "https://a.example/3")
    assert idx.check(idx.prepare(_article(3)), url_hash("https://x.example/")).status == "duplicate"
    time.sleep(3.5)
    assert idx.check(idx.prepare(_article(3)), url_hash("https://x.example/")).status == "new"
    assert idx.check(idx.prepare(SEED_000), url_hash("https://x.example/")).status == "duplicate"
    assert not list(r.scan_iter(match=f"{prefix}e[0-9]*"))


def test_copy_messages_are_published_when_enabled(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix, publish_copies=True)
    original = _commit(idx, _article(4), "https://a.example/4")
    _commit(idx, _article(4) + " Reporting by a wire service.", "https://b.example/4")
    entries = r.xrange(f"{prefix}articles")
    assert [list(f) for _, f in entries] == [[b"article"], [b"copy"]]
    copy = json.loads(entries[1][1][b"copy"])
    jsonschema.validate(copy, load_schema(kind="copy"))
    assert copy["of"]["id"] == original.doc_id and copy["url"] == "https://b.example/4"


def test_no_copy_messages_by_default(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    _commit(idx, _article(5), "https://a.example/5")
    _commit(idx, _article(5) + " Reporting by a wire service.", "https://b.example/5")
    assert r.xlen(f"{prefix}articles") == 1


def test_index_tables_grow_and_still_find_every_article(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix, lsh_base_buckets=16)  # tiny tables: forces several doublings
    texts = [_article(100 + n) for n in range(150)]
    for n, t in enumerate(texts):
        assert _commit(idx, t, f"https://a.example/{n}").status == "queued"
    meta = next(iter(r.scan_iter(match=f"{prefix}e[0-9]*:lsh:m")))
    assert int(r.hget(meta, "g") or 0) >= 5  # 16 -> 256+ buckets for 3,300 band entries
    for n, t in enumerate(texts):
        v = idx.check(idx.prepare("BREAKING: " + t), url_hash(f"https://copy.example/{n}"))
        assert v.status == "duplicate" and v.nearest and v.nearest["id"] == n + 1


def test_large_tables_are_split_over_several_keys(
    r: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup, "TABLE_SHARD_BUCKETS", 8)  # a key per 8 buckets, instead of 2^20
    idx = _index(r, prefix, lsh_base_buckets=16)
    texts = [_article(300 + n) for n in range(60)]
    for n, t in enumerate(texts):
        assert _commit(idx, t, f"https://a.example/{n}").status == "queued"
    meta = next(iter(r.scan_iter(match=f"{prefix}e[0-9]*:lsh:m")))
    g, size = int(r.hget(meta, "g") or 0), int(r.hget(meta, "S") or 0)
    shards = sorted(r.scan_iter(match=f"{prefix}e[0-9]*:lsh:{g}.*"))
    assert len(shards) == size // 8 and all(r.strlen(k) == 8 * 64 for k in shards)
    for n, t in enumerate(texts):
        v = idx.check(idx.prepare("UPDATED: " + t), url_hash(f"https://copy.example/{n}"))
        assert v.status == "duplicate" and v.nearest and v.nearest["id"] == n + 1


def test_a_forced_commit_never_decides_a_queued_url_again(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    first = _commit(idx, _article(1), "https://a.example/1")

    again = idx.commit(
        idx.prepare(_article(2)), url_hash("https://a.example/1"), {"id": "x"},
        now=int(time.time()), url="https://a.example/1", source="test", replace=True,
    )  # fmt: skip

    assert (first.status, again.status, again.prior) == ("queued", "seen", f"q:{first.doc_id}")
    assert r.xlen(f"{prefix}articles") == 1


def test_a_forced_commit_decides_a_failed_url_again_and_counts_it_once(r: redis.Redis, prefix: str) -> None:
    idx = _index(r, prefix)
    key = url_hash("https://a.example/1")
    record = {"reason": "http_503"}
    idx.mark([key], "f:http_503", outcome="failed", first_only=True, record=record, heal_at=1.0)

    again = idx.commit(
        idx.prepare(_article(1)), key, {"id": "x"},
        now=int(time.time()), url="https://a.example/1", source="test", replace=True,
    )  # fmt: skip

    assert again.status == "queued" and idx.decisions([key]) == [f"q:{again.doc_id}"]
    assert r.hgetall(idx.keys.stats) == {b"queued": b"1", b"failed": b"0"}
    assert idx.failed_record(key) is None and r.zcard(idx.keys.heal) == 0
