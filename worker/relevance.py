"""Is an article about the configured topic? A transparent keyword score.

The topic is a set of term groups (e.g. China, Belarus, military); an article is
on topic when enough groups are each mentioned at least ``min_mentions_per_group``
times. Simple on purpose: every verdict can be explained by the counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from worker.settings import TopicSettings
from worker.textsig import normalize


@dataclass(frozen=True)
class Relevance:
    score: float  # share of groups satisfied, 0..1
    on_topic: bool
    mentions: dict[str, int]


@lru_cache(maxsize=16)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alts = sorted({normalize(t) for t in terms if normalize(t)}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in alts) + r")(?!\w)")


def score(text: str, topic: TopicSettings, title: str | None = None) -> Relevance:
    return score_normalized(f"{normalize(title or '')} {normalize(text)}", topic)


def score_normalized(norm: str, topic: TopicSettings) -> Relevance:
    """:func:`score` of a text already through :func:`~worker.textsig.normalize` (the
    pipeline normalises an article once, for relevance and dedup alike)."""
    mentions = {name: len(_pattern(tuple(terms)).findall(norm)) for name, terms in topic.groups.items()}
    satisfied = sum(1 for n in mentions.values() if n >= topic.min_mentions_per_group)
    s = satisfied / len(mentions)
    return Relevance(score=round(s, 4), on_topic=s >= topic.min_score, mentions=mentions)
