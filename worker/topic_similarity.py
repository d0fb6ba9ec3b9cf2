"""How close an article's words are to the seed articles and the topic's description.

Lexical, on purpose: nothing to download, well under a millisecond an article, and
every figure can be checked by hand. A text is a bag of features:

* a word of a spaced script, stop words dropped (jusText's stop lists, which
  trafilatura already installs), cut to its first ``STEM`` characters: a crude stem
  that puts "Беларуси" and "Беларусь", "military" and "militarily" together;
* for a script written without spaces (Chinese, Japanese, Korean), the character
  bigrams of each run.

Features are weighted ``1 + log(tf)`` and the similarity is the cosine. What this can
and cannot do: it compares texts that share a script and, mostly, a language. An
English seed says nothing about a Chinese article (their similarity is about 0), so
the seeds are one part of the score, beside the multilingual term evidence of
:mod:`worker.relevance`; the ``description`` in several languages gives the other
languages an anchor of their own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from worker.logs import get_logger

if TYPE_CHECKING:
    from worker.settings import Settings

log = get_logger(__name__)

STEM = 6
_NO_SPACES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u31f0-\u31ff]+")
_STOP_LANGUAGES = [
    "English",
    "Russian",
    "Ukrainian",
    "Belarusian",
    "Polish",
    "German",
    "French",
    "Spanish",
    "Italian",
    "Portuguese",
    "Dutch",
    "Czech",
    "Slovak",
    "Lithuanian",
    "Latvian",
    "Estonian",
    "Hungarian",
    "Romanian",
    "Bulgarian",
    "Serbian",
    "Croatian",
    "Swedish",
    "Danish",
    "Norwegian_Bokmal",
    "Finnish",
    "Turkish",
    "Kazakh",
    "Greek",
    "Arabic",
    "Persian",
    "Hebrew",
]


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    import justext

    words: set[str] = set()
    for name in _STOP_LANGUAGES:
        try:
            words |= {w.casefold() for w in justext.get_stoplist(name)}
        except ValueError:  # a list this jusText does not ship
            continue
    return frozenset(words)


FEATURE_WORDS = 600  # the title and the first words: where an article says what it is about


def features(words: list[str], spaceless: bool = True) -> dict[str, float]:
    """A text's words (folded, as :mod:`worker.relevance` splits them) as a unit vector:
    its first ``FEATURE_WORDS`` words. ``spaceless``: the words may hold CJK runs."""
    stop = stop_words()
    words = words[:FEATURE_WORDS]
    if not spaceless:
        counts = Counter(w[:STEM] for w in words if len(w) > 2 and w not in stop and not w.isdigit())
    else:
        counts = Counter()
        for w in words:
            runs = _NO_SPACES.findall(w)
            if runs:
                for run in runs:
                    counts.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
            elif len(w) > 2 and w not in stop and not w.isdigit():
                counts[w[:STEM]] += 1
    vec = {f: 1.0 + math.log(n) for f, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {f: v / norm for f, v in vec.items()}


@dataclass(frozen=True)
class Nearest:
    name: str  # "seed <file stem>" or "description <n>"
    similarity: float


class Anchors:
    """The seeds' and the description's vectors, inverted: one lookup per feature of an
    article, whatever the number of anchors."""

    def __init__(self, named: list[tuple[str, dict[str, float]]]):
        self.names = [n for n, _ in named]
        self.index: dict[str, list[tuple[int, float]]] = {}
        for k, (_, vec) in enumerate(named):
            for f, v in vec.items():
                self.index.setdefault(f, []).append((k, v))

    def nearest(self, vec: dict[str, float]) -> Nearest | None:
        if not self.names:
            return None
        dots = [0.0] * len(self.names)
        index = self.index
        for f, v in vec.items():
            for k, w in index.get(f, ()):
                dots[k] += v * w
        best = max(range(len(dots)), key=dots.__getitem__)
        return Nearest(self.names[best], round(dots[best], 4))


def anchors_for(settings: Settings) -> Anchors:
    """The seeds (from ``seeds_dir``) and ``topic.description``, as vectors."""
    from worker.errors import ConfigError
    from worker.relevance import _WORD, _fold
    from worker.seeds import read_seeds

    named: list[tuple[str, dict[str, float]]] = []
    try:
        for seed in read_seeds(settings.seeds_dir):
            named.append((f"seed {seed.title or seed.name}", features(_WORD.findall(_fold(seed.text())))))
    except ConfigError as exc:  # no seeds: the description alone anchors the topic
        log.warning("relevance_without_seeds", error=str(exc))
    for n, text in enumerate(settings.topic.description, 1):
        named.append((f"description {n}", features(_WORD.findall(_fold(text)))))
    return Anchors(named)
