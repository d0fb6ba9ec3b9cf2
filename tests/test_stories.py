"""Stories: articles about the same event share a story id, linked, not dropped; articles about
other events of the same topic start stories of their own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import Service
from tests.test_dedup_copies import settings
from worker.dedup import DedupIndex
from worker.stories import salient_tokens, story_keys
from worker.textsig import sample_order, url_hash

TOPIC = frozenset({"china", "chines", "belarus", "minsk", "beijing", "lukashenk", "pla"})

DRILL_WIRE = (
    "Chinese troops arrived in Belarus on Monday for the joint exercise Eagle Assault, to be "
    "held near Brest until July 19.\n"
    "About 500 soldiers of the People's Liberation Army flew in on Il-76 transports, the "
    "ministry said.\n"
    "The drill at the Brestsky range, 5 kilometres from the Polish border, will practise "
    "hostage rescue, said Colonel Vadim Denisenko.\n"
    "Poland's defence minister Wladyslaw Kosiniak-Kamysz said Warsaw was watching the Brestsky "
    "range closely."
)

DRILL_REWRITE = (
    "The Belarusian defence ministry said on Monday that around 500 Chinese servicemen had "
    "landed for Eagle Assault.\n"
    "The exercise near Brest runs until July 19 at the Brestsky range, close to the border "
    "with Poland, Denisenko told reporters.\n"
    "Kosiniak-Kamysz, Poland's defence minister, said his country would monitor the drills."
)

DRILL_RUSSIAN = (
    "Китайские военные прибыли в Белоруссию для учений «Орлиный штурм» у Бреста, которые "
    "продлятся до 19 июля.\n"
    "Около 500 военнослужащих НОАК доставлены самолётами Ил-76, сообщил полковник Вадим "
    "Денисенко.\n"
    "Полигон находится в 5 километрах от польской границы; Косиняк-Камыш заявил, что Варшава "
    "следит за учениями."
)

DRILL_UPDATE = (
    "Eagle Assault entered its final phase at the Brestsky range on Thursday, Colonel Vadim "
    "Denisenko said, with a night landing by Chinese and Belarusian paratroopers.\n"
    "The 500 Chinese soldiers are due to fly home after the drill closes on July 19.\n"
    "Warsaw again said it was following the manoeuvres near Brest, a few kilometres from the "
    "Polish border."
)

VISIT = (
    "Li Shangfu met Viktor Khrenin on August 17 after the Moscow Conference on International "
    "Security.\n"
    "The two ministers signed a plan for 2024 covering staff talks and officer training, the "
    "ministry said.\n"
    "Aleksandr Volfovich, the Security Council secretary, also met Li at the Palace of "
    "Independence."
)


def test_names_and_numbers_are_salient_and_the_topics_own_words_are_not() -> None:
    tokens = salient_tokens(DRILL_WIRE, TOPIC)
    assert {"brest", "#19", "#500", "denisenko", "kosiniak-kamysz"} <= tokens
    assert "chinese" not in tokens and "belarus" not in tokens  # the topic's words


def test_a_sentence_opening_capital_is_no_name() -> None:
    assert "about" not in salient_tokens(DRILL_WIRE, TOPIC)
    assert "the" not in salient_tokens(DRILL_WIRE, TOPIC)


def test_story_keys_are_a_small_stable_sample() -> None:
    keys = story_keys(DRILL_WIRE, None, TOPIC)
    assert len(keys) == 8 and keys == sorted(keys, key=sample_order) == story_keys(DRILL_WIRE, None, TOPIC)


@pytest.fixture
def idx(r: redis.Redis, prefix: str) -> DedupIndex:
    return DedupIndex(r, settings(), prefix, f"{prefix}articles")


def queue(idx: DedupIndex, name: str, text: str, days_ago: float = 0) -> tuple[int, dict]:  # type: ignore[type-arg]
    url = f"https://stories.invalid/{name}"
    prep = idx.prepare(text * 3, story_skip=TOPIC)  # long enough to be no short text
    now = int(time.time() - days_ago * 86400)
    v = idx.commit(prep, url_hash(url), {"id": name}, now=now, url=url, source="t")
    assert v.status == "queued" and v.doc_id is not None, (name, v.status, v.nearest)
    [(_, fields)] = idx.r.xrange(idx.keys.stream, v.stream_id, v.stream_id)
    return v.doc_id, json.loads(fields[b"article"])


def test_a_rewrite_of_the_same_event_joins_its_story(idx: DedupIndex) -> None:
    first, m1 = queue(idx, "wire", DRILL_WIRE)
    _, m2 = queue(idx, "rewrite", DRILL_REWRITE)

    assert m1["story"] == {"id": first, "related": []}
    assert m2["story"]["id"] == first
    assert m2["story"]["related"][0]["id"] == first and m2["story"]["related"][0]["shared"] >= 3


def test_another_event_of_the_same_topic_starts_its_own_story(idx: DedupIndex) -> None:
    first, _ = queue(idx, "wire", DRILL_WIRE)
    other, m = queue(idx, "visit", VISIT)

    assert m["story"]["id"] == other != first


def test_stories_of_two_articles_or_more_are_counted(idx: DedupIndex) -> None:
    first, _ = queue(idx, "wire", DRILL_WIRE)
    queue(idx, "rewrite", DRILL_REWRITE)
    queue(idx, "visit", VISIT)
    sizes = {}
    for key in idx.r.scan_iter(match=f"{idx.keys.prefix}e*:stories"):
        for member, score in idx.r.zrange(key, 0, -1, withscores=True):
            sizes[int(member)] = sizes.get(int(member), 0) + int(score)
    assert sizes == {first: 2}  # the visit's story has one article: only stories of 2+ are counted


def test_a_report_of_the_same_drill_in_another_language_is_queued_never_dropped_as_a_copy(
    idx: DedupIndex,
) -> None:
    """Measured, not promised: a Russian report shares the drill's numbers (19, 500, 5) but
    not its Latin-script names, so it may or may not join the story (README: Stories); it is
    never taken for a copy."""
    first, _ = queue(idx, "wire", DRILL_WIRE)
    doc_id, m = queue(idx, "ru", DRILL_RUSSIAN)  # queue() holds it to "queued"

    assert m["dedup"]["verdict"] == "new" and m["story"]["id"] in {first, doc_id}


def test_a_rewrite_joins_a_story_within_its_window(idx: DedupIndex) -> None:
    first, _ = queue(idx, "wire", DRILL_WIRE, days_ago=6)  # story_window_days is 7
    _, m = queue(idx, "rewrite", DRILL_REWRITE)

    assert m["story"]["id"] == first


def test_a_rewrite_after_the_story_window_starts_a_story_of_its_own(idx: DedupIndex) -> None:
    first, _ = queue(idx, "wire", DRILL_WIRE, days_ago=8)
    late, m = queue(idx, "rewrite", DRILL_REWRITE)

    assert m["story"] == {"id": late, "related": []} and late != first


def test_a_story_that_spans_two_epochs_counts_each_article_once(r: redis.Redis, prefix: str) -> None:
    idx = DedupIndex(r, settings().model_copy(update={"epoch_days": 1.0}), prefix, f"{prefix}articles")
    into_epoch = time.time() % 86400 / 86400  # days since the current (one-day) epoch began
    first, _ = queue(idx, "wire", DRILL_WIRE, days_ago=into_epoch + 0.5)  # the epoch before
    queue(idx, "rewrite", DRILL_REWRITE, days_ago=into_epoch + 0.4)
    _, m = queue(idx, "update", DRILL_UPDATE)  # this epoch
    assert m["story"]["id"] == first
    sizes: dict[int, int] = {}
    for key in idx.r.scan_iter(match=f"{idx.keys.prefix}e*:stories"):
        for member, score in idx.r.zrange(key, 0, -1, withscores=True):
            sizes[int(member)] = sizes.get(int(member), 0) + int(score)
    assert sizes == {first: 3}


def test_explain_names_the_story_a_rewrite_would_join(
    service: Service, idx: DedupIndex, tmp_path: Path
) -> None:
    first, _ = queue(idx, "wire", DRILL_WIRE)
    rewrite = tmp_path / "rewrite.txt"
    rewrite.write_text(DRILL_REWRITE * 3)

    res = service.ingest("explain", str(rewrite))

    assert f"story: would join story #{first}, with #{first} (" in res.stdout, res.stdout


def test_status_lists_the_largest_stories(service: Service, idx: DedupIndex) -> None:
    first, _ = queue(idx, "wire", DRILL_WIRE)
    queue(idx, "rewrite", DRILL_REWRITE)
    queue(idx, "visit", VISIT)

    text = service.ingest("status").stdout
    as_json = json.loads(service.ingest("status", "--json").stdout)

    assert f"  story #{first}: 2 articles" in text, text
    assert as_json["largest_stories"] == [{"id": first, "articles": 2}]
