"""worker.relevance: an article is on topic when every term group is mentioned often enough."""

from __future__ import annotations

from worker.relevance import count_mentions, score
from worker.settings import TopicSettings
from worker.textsig import normalize

GROUPS = (
    ("china", ("China", "Chinese", "People's Liberation Army", "Li Shangfu")),
    ("belarus", ("Belarus", "Minsk")),
    ("military", ("defense", "minister of national defense", "armed forces", "drills")),
)


def mentions(text: str) -> dict[str, int]:
    return count_mentions(normalize(text).split(), GROUPS)


def topic(min_mentions: int = 2) -> TopicSettings:
    return TopicSettings(
        name="test",
        groups={name: list(terms) for name, terms in GROUPS},
        min_mentions_per_group=min_mentions,
        min_score=1.0,
    )


def test_terms_are_counted_whatever_their_case_and_punctuation() -> None:
    assert mentions("CHINA, china; “China”!") == {"china": 3, "belarus": 0, "military": 0}


def test_only_whole_words_count() -> None:
    assert mentions("Chinaware from Minskaya drillsets") == {"china": 0, "belarus": 0, "military": 0}


def test_a_term_of_several_words_counts_once_where_all_its_words_follow_each_other() -> None:
    counts = mentions("Li Shangfu met the People's Liberation Army; Li spoke, Shangfu listened")
    assert counts["china"] == 2


def test_the_longest_term_wins_and_its_words_are_not_counted_again() -> None:
    # "minister of national defense" is one mention, not also one of "defense"
    assert mentions("the minister of national defense spoke on defense")["military"] == 2


def test_each_group_is_counted_on_its_own() -> None:
    assert mentions("Chinese armed forces held drills near Minsk, Belarus") == {
        "china": 1,
        "belarus": 2,
        "military": 2,
    }


def test_article_is_on_topic_when_every_group_has_enough_mentions() -> None:
    text = "China and Belarus held drills. Chinese troops reached Minsk for defense drills."
    result = score(text, topic(min_mentions=2))
    assert result.on_topic and result.score == 1.0


def test_article_missing_one_group_is_off_topic_with_its_share_as_score() -> None:
    text = "China and Belarus signed a trade deal. Chinese buyers visited Minsk."
    result = score(text, topic(min_mentions=2))
    assert not result.on_topic
    assert result.score == round(2 / 3, 4)
    assert result.mentions == {"china": 2, "belarus": 2, "military": 0}


def test_title_mentions_count_with_the_text() -> None:
    text = "Chinese troops came to Minsk for drills and defense talks."
    assert not score(text, topic(min_mentions=2)).on_topic
    assert score(text, topic(min_mentions=2), title="China, Belarus hold drills").on_topic
