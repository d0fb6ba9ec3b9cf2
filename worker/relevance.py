"""Is an article about the configured topic? A transparent keyword score.

The topic is a set of term groups (e.g. China, Belarus, military); an article is
on topic when enough groups are each mentioned at least ``min_mentions_per_group``
times. Simple on purpose: every verdict can be explained by the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from worker.settings import TopicSettings
from worker.textsig import normalize


@dataclass(frozen=True)
class Relevance:
    score: float  # share of groups satisfied, 0..1
    on_topic: bool
    mentions: dict[str, int]


Terms = tuple[tuple[str, tuple[str, ...]], ...]  # (group, its terms) for every group


@lru_cache(maxsize=16)
def _index(groups: Terms) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Every group's normalised terms as word tuples, keyed by first word, longest first."""
    index: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for name, terms in groups:
        for words in {tuple(normalize(t).split()) for t in terms} - {()}:
            index.setdefault(words[0], []).append((name, words))
    for candidates in index.values():
        candidates.sort(key=lambda c: len(c[1]), reverse=True)
    return index


def count_mentions(words: list[str], groups: Terms) -> dict[str, int]:
    """Each group's mentions: its terms as whole words, not overlapping each other,
    read left to right with the longest term first at each place ("minister of national
    defense" is one mention, not also one of "defense").

    One pass and one dict lookup per word for all groups (a regex alternation tried at
    every character, once per group, cost several times more per article).
    """
    index = _index(groups)
    counts = {name: 0 for name, _ in groups}
    free_from = dict.fromkeys(counts, 0)  # a group's next word not inside its last mention
    for i in [i for i, word in enumerate(words) if word in index]:
        for name, cand in index[words[i]]:
            if i >= free_from[name] and (len(cand) == 1 or tuple(words[i : i + len(cand)]) == cand):
                counts[name] += 1
                free_from[name] = i + len(cand)
    return counts


def score(text: str, topic: TopicSettings, title: str | None = None) -> Relevance:
    return score_normalized(f"{normalize(title or '')} {normalize(text)}", topic)


def score_normalized(norm: str, topic: TopicSettings) -> Relevance:
    """:func:`score` of a text already through :func:`~worker.textsig.normalize` (the
    pipeline normalises an article once, for relevance and dedup alike)."""
    groups = tuple((name, tuple(terms)) for name, terms in topic.groups.items())
    mentions = count_mentions(norm.split(), groups)
    satisfied = sum(1 for n in mentions.values() if n >= topic.min_mentions_per_group)
    s = satisfied / len(mentions)
    return Relevance(score=round(s, 4), on_topic=s >= topic.min_score, mentions=mentions)
