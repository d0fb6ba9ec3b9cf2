"""worker.relevance: on topic when the groups are the article's subject, in any language, explained."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from worker import relevance
from worker.errors import ConfigError
from worker.relevance import CompiledTopic, judge_with
from worker.settings import Settings, TopicSettings, load_settings
from worker.topic_similarity import Anchors, features

ROOT = Path(__file__).resolve().parent.parent

GROUPS: dict[str, Any] = {
    "china": {"en": ["China", "Chinese", "Beijing", "PLA"], "zh": ["中国", "中白"], "ja": ["中国"]},
    "belarus": {
        "en": ["Belarus*", "Minsk"],
        "ru": ["Беларус*", "Белорус*"],
        "pl": ["Białoru*"],
        "de": ["Weißruss*", "Belarus*"],
        "uk": ["Білорус*", "Бiлорус*"],
        "zh": ["白俄罗斯", "中白"],
        "ja": ["ベラルーシ"],
    },
    "military": {
        "en": ["military", "army", "drills", "troops", "PLA"],
        "zh": ["军事", "演习"],
        "ja": ["軍", "演習"],
    },
}


def topic(**over: Any) -> TopicSettings:
    return TopicSettings(
        name="test",
        groups=GROUPS,
        crowd={"en": ["Russia*", "Kazakhstan", "India", "Armenia", "Mongolia", "Tajikistan"]},
        **over,
    )


def judge(text: str, title: str | None = None, **over: Any) -> relevance.Relevance:
    return judge_with(text, title, CompiledTopic(topic(**over), Anchors([])))


def found(r: relevance.Relevance, group: str) -> dict[str, dict[str, int]]:
    assert r.evidence is not None
    return r.evidence.terms[group]


ON_TOPIC = (
    "China and Belarus will hold joint military drills near Brest, the Belarusian army said.\n"
    "Chinese troops arrived in Belarus on Monday for the drills.\n"
    "The PLA unit will train with Belarusian special forces for two weeks, a spokesman for the army said.\n"
    "Analysts said the drills show how close the military ties between Beijing and Minsk have become."
)


# ---- terms: inflection, scripts without spaces, whole words -------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        "Беларусь",
        "Беларуси",
        "Белоруссии",
        "белорусский",
        "Białoruś",
        "Białorusi",
        "Weißrussland",
        "belarussisch",
        "Білорусі",
        "Бiлорусь",
    ],
)
def test_a_prefix_term_matches_every_inflection(word: str) -> None:
    r = judge(f"Über {word} wurde berichtet.")
    assert r.mentions["belarus"] == 1, r.mentions


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("中国与白俄罗斯举行联合军事演习", "belarus"),
        ("中白两军举行联合演习", "china"),
        ("ベラルーシ軍と中国軍", "belarus"),
    ],
)
def test_terms_of_scripts_without_spaces_match_inside_words(text: str, group: str) -> None:
    assert judge(text).mentions[group] >= 1


def test_a_term_without_a_star_matches_whole_words_only() -> None:
    assert judge("Chinaware and Minskaya drillsets").mentions == {"china": 0, "belarus": 0, "military": 0}


def test_a_term_of_several_words_matches_its_words_in_a_row() -> None:
    t = TopicSettings(name="t", groups={"a": {"en": ["armed forces"]}, "b": {"en": ["x"]}})
    r = judge_with("The armed forces, armed and forceful forces.", None, CompiledTopic(t, Anchors([])))
    assert r.mentions["a"] == 1


def test_every_language_s_terms_are_looked_for_in_every_text() -> None:
    r = judge("W Mińsku: Белоруссия и Китай.", None)  # Polish page quoting Russian
    assert "Белорус*" in found(r, "belarus")
    assert r.to_json()["term_languages"] == {"ru": 1}


# ---- focus, not mentions -----------------------------------------------------------------------


def test_an_article_about_the_groups_together_is_on_topic() -> None:
    r = judge(ON_TOPIC, "Chinese troops arrive in Belarus for joint drills")
    assert r.on_topic and r.score >= 0.8, r.why


def test_a_group_named_once_is_a_passing_mention_and_off_topic() -> None:
    text = (
        "China dismissed its defence minister on Tuesday after two months out of view.\n"
        "The military said an investigation into army procurement was under way.\n"
        "His last trip abroad was to Russia and Belarus in August.\n"
        "Chinese state media gave no reason for the army shake-up."
    )
    r = judge(text, "China removes defence minister")
    assert not r.on_topic
    assert r.parts["presence"] == 0.5 and "passing mention of belarus" in r.why


def test_without_one_group_the_score_is_zero_and_says_which() -> None:
    text = "China and Belarus signed trade deals in Minsk.\nBeijing will buy Belarusian potash and tractors."
    r = judge(text, "China and Belarus sign trade deals")
    assert r.score == 0 and r.why == "no mention of military"


def test_title_and_lead_that_miss_a_group_scale_the_score_down() -> None:
    lead_without_military = (
        "Chinese and Belarusian leaders met in Beijing on Tuesday to talk about trade, potash, tractors, "
        "the industrial park near Minsk and flights between the two capitals.\n" + ON_TOPIC
    )
    full = judge(ON_TOPIC, "Chinese troops arrive in Belarus for joint drills")
    missing = judge(lead_without_military, "Leaders of China and Belarus meet")
    assert missing.parts["lead"] == 0.5 and full.parts["lead"] == 1.0
    assert missing.score < full.score * 0.6


def test_a_roll_of_participants_is_a_list_not_a_sentence_about_the_pair() -> None:
    text = (
        "Troops from Russia, China, India, Belarus, Kazakhstan and Armenia opened the military drills.\n"
        "The army of each country sent a unit; Mongolia and Tajikistan sent observers."
    )
    r = judge(text, "Multinational drills open in Russia")
    assert r.evidence is not None and r.evidence.crowded == 1 and r.evidence.together == 0
    assert not r.on_topic


def test_many_other_parties_make_it_a_multilateral_story() -> None:
    text = ON_TOPIC + (
        "\nThe Chinese and Belarusian army units were joined by Russia, Kazakhstan, India and Armenia."
        "\nChina and Belarus said Mongolia and Tajikistan would join the military drills next year."
    )
    r = judge(text, "Chinese troops arrive in Belarus for joint drills")
    assert r.parts["crowd"] == 0.6 and "multilateral" in r.why


# ---- explained ---------------------------------------------------------------------------------


def test_matched_terms_say_where_they_were_found() -> None:
    r = judge(ON_TOPIC, "Chinese troops arrive in Belarus")
    # the lead is the first paragraph, and the second too when the first is short
    assert found(r, "china")["Chinese"] == {"title": 1, "lead": 1}
    assert found(r, "china")["Beijing"] == {"body": 1}
    assert found(r, "belarus")["Belarus*"] == {"title": 1, "lead": 3, "body": 1}


def test_the_message_member_carries_score_threshold_terms_seed_and_language() -> None:
    ct = CompiledTopic(topic(), Anchors([("seed one", features(["china", "belarus", "military", "drills"]))]))
    j = judge_with(ON_TOPIC, "Chinese troops in Belarus", ct, language="en").to_json()
    assert j["threshold"] == 0.5 and j["on_topic"] is True and 0 < j["score"] <= 1
    assert j["language"] == "en" and j["nearest_seed"]["name"] == "seed one"
    assert 0 < j["nearest_seed"]["similarity"] <= 1
    assert set(j["terms"]) == {"china", "belarus", "military"}
    assert set(j["parts"]) == {"presence", "lead", "crowd", "head", "together", "focus", "seed"}


def test_the_threshold_is_configuration() -> None:
    text, title = ON_TOPIC, "Chinese troops arrive in Belarus for joint drills"
    assert judge(text, title).on_topic
    assert not judge(text, title, threshold=0.999).on_topic


# ---- anchored on the seeds ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Settings:
    old = os.environ.get("INGEST_CONFIG")
    os.environ["INGEST_CONFIG"] = str(ROOT / "config" / "ingest.toml")
    try:
        return load_settings()
    finally:
        if old is None:
            del os.environ["INGEST_CONFIG"]
        else:
            os.environ["INGEST_CONFIG"] = old


def test_a_seed_s_own_text_is_nearest_to_that_seed(shipped: Settings) -> None:
    text = (ROOT / "seeds" / "000_663d425c6dff775c.txt").read_text("utf-8")
    r = relevance.judge(text, None, shipped)
    assert r.nearest_seed is not None
    assert r.nearest_seed.name == "seed Chinese defense minister visits Belarus to enhance ties"
    assert r.nearest_seed.similarity > 0.99


def test_across_scripts_the_description_in_the_article_s_language_is_the_anchor(shipped: Settings) -> None:
    r = relevance.judge("中国国防部长访问明斯克，中白两军将举行联合演习。", "中白军事合作", shipped)
    assert r.nearest_seed is not None and r.nearest_seed.name.startswith("description")
    assert r.on_topic


# ---- configuration -----------------------------------------------------------------------------


def test_a_prefix_term_of_under_three_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="3 letters before the"):
        TopicSettings(name="t", groups={"a": {"en": ["ab*"]}})


def test_the_old_keys_say_what_replaced_them() -> None:
    with pytest.raises(ValueError, match=r"replaced by topic\.threshold"):
        TopicSettings(name="t", groups={"a": ["x"]}, min_score=1.0)


def test_a_plain_list_of_terms_is_one_group_in_any_language() -> None:
    assert TopicSettings(name="t", groups={"a": ["x"]}).groups == {"a": {"any": ["x"]}}


def test_the_seed_ramp_must_rise() -> None:
    with pytest.raises(ValueError, match="seed_zero must be below"):
        TopicSettings(name="t", groups={"a": ["x"]}, seed_zero=0.5, seed_full=0.4)


def test_the_shipped_topic_loads_with_terms_for_the_main_languages(shipped: Settings) -> None:
    for group in shipped.topic.groups.values():
        assert {"en", "ru", "zh", "uk", "be", "pl", "de", "fr", "es", "ja"} <= set(group)


def test_a_bad_topic_in_the_config_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "ingest.toml"
    cfg.write_text('[topic]\nname = "t"\n[topic.groups.a]\nen = ["x*"]\n', "utf-8")
    monkeypatch.setenv("INGEST_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"topic\.groups"):
        load_settings()
