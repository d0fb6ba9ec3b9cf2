"""Is an article about the configured topic, in whatever language it is written, and why?

The topic (``[topic]`` in the settings) is a few **term groups** (for the default
topic: China, Belarus, military), each with terms per language. Every group's terms
are matched in every text whatever its language: names are distinctive across
languages, and an article in a language the config lists no terms for still matches
the names it shares with one that does. Terms are matched on the text casefolded and
NFKC-normalised:

* ``word``: the whole word; ``word*``: any word starting with it (inflection:
  ``беларус*`` matches Беларусь, Беларуси, белорусский is ``белорус*``);
  ``two words``: both, in a row, each exact or with its own ``*``;
* a term in a script written without spaces (Chinese, Japanese, Korean) is matched
  anywhere in the text (``白俄罗斯``, ``中白``, ``ベラルーシ``).

Mentions alone do not make an article about the topic: one that names China and
Belarus in one sentence while it is about something else is off topic. So the score
rests on **where** the groups are found (:class:`Evidence`):

* ``presence``: every group must be named in at least ``presence_full`` sentences
  (the title counts twice); a group named once is a passing mention, and the whole
  score is scaled down by the least present group;
* ``head``: the share of groups named in the title and lead;
* ``together``: sentences that name every group at once (up to ``together_full``);
* ``focus``: the share of paragraphs that name every group (full at ``focus_full``);
* ``seed``: the lexical similarity to the seed articles and the topic's
  ``description`` (:mod:`worker.topic_similarity`), full at ``seed_full``.

A sentence naming ``crowd_size`` or more *other* parties (``topic.crowd``: Russia,
Kazakhstan, the CSTO…) is a list, as in a multilateral drill's roll of participants:
it does not count for head, together or focus. The score is ``presence`` times the
weighted mean of the other four (``topic.weights``); on topic when it reaches
``topic.threshold``. Every number is in :class:`Relevance`, for the stream message and
``ingest explain``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from worker.settings import Settings, TopicSettings
from worker.topic_similarity import Anchors, Nearest, features

# scripts written without spaces between words: their terms are matched as substrings
_NO_SPACES = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u31f0-\u31ff]")
_WORD = re.compile(r"\w+")
# a sentence ends at . ! ? ; (then a space) or at their full-width forms
_SENTENCE_END = re.compile(r"(?<=[.!?;…])\s+|(?<=[。！？；])")
_LEAD_MIN_CHARS = 120  # a first paragraph shorter than this (a dateline, a byline) takes the next one too
WHERE = ("title", "lead", "body")


@dataclass(frozen=True)
class Term:
    group: str
    text: str  # as configured
    lang: str
    words: tuple[str, ...]
    prefix: tuple[bool, ...]  # per word: a "*" term
    order: int = 0  # where the config lists it: at one place, the longest term wins, then the first listed

    def matches_at(self, words: list[str], i: int) -> bool:
        if i + len(self.words) > len(words):
            return False
        for k, (w, p) in enumerate(zip(self.words, self.prefix, strict=True)):
            got = words[i + k]
            if not (got.startswith(w) if p else got == w):
                return False
        return True


def _fold(text: str) -> str:
    """Casefolded NFKC, with ё as е (Russian writes either)."""
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")


class CompiledTopic:
    """A topic's terms indexed for one pass over a text, and its similarity anchors."""

    def __init__(self, topic: TopicSettings, anchors: Anchors):
        self.topic = topic
        self.groups = list(topic.groups)
        self.anchors = anchors
        self.exact: dict[str, list[Term]] = {}  # first word -> terms
        self.prefixed: dict[str, list[Term]] = {}  # first word's first 3 characters -> "*" terms
        self.spaceless: dict[str, list[Term]] = {}  # substring -> terms
        self.crowd_exact: dict[str, list[Term]] = {}
        self.crowd_prefixed: dict[str, list[Term]] = {}
        self.crowd_spaceless: dict[str, list[Term]] = {}
        seen: set[tuple[str, str]] = set()  # (group, folded term): the same term in two languages
        for group, by_lang in topic.groups.items():
            for lang, terms in by_lang.items():
                for t in terms:
                    if (group, _fold(t)) not in seen:
                        seen.add((group, _fold(t)))
                        term = Term(group, t, lang, *_parse(t), order=len(seen))
                        self._add(term, self.exact, self.prefixed, self.spaceless)
        for lang, terms in topic.crowd.items():
            for t in terms:
                if ("crowd", _fold(t)) not in seen:
                    seen.add(("crowd", _fold(t)))
                    term = Term("crowd", t, lang, *_parse(t), order=len(seen))
                    self._add(term, self.crowd_exact, self.crowd_prefixed, self.crowd_spaceless)
        for index in (self.exact, self.prefixed, self.crowd_exact, self.crowd_prefixed):
            for cands in index.values():
                cands.sort(key=_rank)
        self.spaceless_re = _alternation(self.spaceless)
        self.crowd_spaceless_re = _alternation(self.crowd_spaceless)
        # the topic's own words (folded, "*" dropped): every article of the topic names them,
        # so they tell no two stories apart (worker.stories)
        self.words = frozenset(
            w for by_lang in topic.groups.values() for ts in by_lang.values() for t in ts
            for w in [_fold(t).rstrip("*")] if len(w) >= 3 and " " not in w
        )  # fmt: skip
        # word -> the terms that may start at it (first word matched), ranked; most words have none
        self._cands: dict[str, tuple[Term, ...]] = {}
        self._crowd_cands: dict[str, tuple[Term, ...]] = {}

    @staticmethod
    def _add(
        term: Term,
        exact: dict[str, list[Term]],
        prefixed: dict[str, list[Term]],
        spaceless: dict[str, list[Term]],
    ) -> None:
        if _NO_SPACES.search(term.text):
            spaceless.setdefault(_fold(term.text).replace(" ", ""), []).append(term)
        elif term.prefix[0]:
            prefixed.setdefault(term.words[0][:3], []).append(term)
        else:
            exact.setdefault(term.words[0], []).append(term)

    def match(self, folded: str, words: list[str], spaceless: bool = True) -> list[Term]:
        """The topic's terms in one sentence (folded, and its words): longest first at each
        word, one term per group at a place. ``spaceless``: the text may hold CJK."""
        hits = _match_words(words, self.exact, self.prefixed, self._cands)
        if spaceless and self.spaceless_re is not None and _NO_SPACES.search(folded):
            for m in self.spaceless_re.finditer(folded):
                hits.extend(self.spaceless[m.group()])
        return hits

    def crowd(self, folded: str, words: list[str], spaceless: bool = True) -> set[str]:
        """The other parties a sentence names (their terms as written in the config)."""
        hits = _match_words(words, self.crowd_exact, self.crowd_prefixed, self._crowd_cands)
        if spaceless and self.crowd_spaceless_re is not None and _NO_SPACES.search(folded):
            hits.extend(
                t for m in self.crowd_spaceless_re.finditer(folded) for t in self.crowd_spaceless[m.group()]
            )
        return {t.text for t in hits}


def _parse(term: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    words, prefix = [], []
    for raw in _fold(term).split():
        p = raw.endswith("*")
        w = " ".join(_WORD.findall(raw.rstrip("*")))
        for k, part in enumerate(w.split()):  # "people's" -> "people", "s", as texts split
            words.append(part)
            prefix.append(p and k == len(w.split()) - 1)
    return tuple(words), tuple(prefix)


def _alternation(terms: dict[str, list[Term]]) -> re.Pattern[str] | None:
    if not terms:
        return None
    return re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))


def _rank(t: Term) -> tuple[int, int]:
    return (-len(t.words), t.order)


_CACHE_WORDS = 50_000  # per index: a few MB at most; cleared when full


def _candidates(
    w: str, exact: dict[str, list[Term]], prefixed: dict[str, list[Term]], cache: dict[str, tuple[Term, ...]]
) -> tuple[Term, ...]:
    """The terms whose first word matches ``w``, ranked (longest, then first listed)."""
    hit = cache.get(w)
    if hit is not None:
        return hit
    found = [t for t in exact.get(w, ()) if len(t.words) > 1 or not t.prefix[0]]
    found += [t for t in prefixed.get(w[:3], ()) if w.startswith(t.words[0])]
    ranked = tuple(sorted(found, key=_rank))
    if len(cache) >= _CACHE_WORDS:
        cache.clear()
    cache[w] = ranked
    return ranked


def _match_words(
    words: list[str],
    exact: dict[str, list[Term]],
    prefixed: dict[str, list[Term]],
    cache: dict[str, tuple[Term, ...]],
) -> list[Term]:
    hits: list[Term] = []
    free_from: dict[str, int] = {}  # a group's next word not inside its last match
    for i, w in enumerate(words):
        cands = cache.get(w)
        if cands is None:
            cands = _candidates(w, exact, prefixed, cache)
        for term in cands:
            if i >= free_from.get(term.group, 0) and (len(term.words) == 1 or term.matches_at(words, i)):
                hits.append(term)
                free_from[term.group] = i + len(term.words)
    return hits


@dataclass
class Evidence:
    """Where the topic's groups were found in one article: the score's inputs."""

    sentences: int = 0
    paragraphs: int = 0
    presence: dict[str, int] = field(default_factory=dict)  # group -> sentences naming it (title x2)
    head_groups: list[str] = field(default_factory=list)
    together: int = 0  # sentences naming every group, lists excluded
    paragraphs_together: int = 0
    crowded: int = 0  # sentences naming crowd_size or more other parties
    crowd: set[str] = field(default_factory=set)  # the other parties the whole article names
    terms: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # group -> term -> where -> n
    languages: dict[str, int] = field(default_factory=dict)  # the terms' languages -> matches


@dataclass(frozen=True)
class Relevance:
    score: float
    on_topic: bool
    mentions: dict[str, int]  # group -> matches anywhere
    threshold: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    evidence: Evidence | None = None
    nearest_seed: Nearest | None = None
    language: str | None = None
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        """The relevance member of the stream message and of ``ingest explain --json``."""
        ev = self.evidence or Evidence()
        return {
            "score": self.score,
            "threshold": self.threshold,
            "on_topic": self.on_topic,
            "why": self.why,
            "mentions": self.mentions,
            "terms": ev.terms,
            "parts": self.parts,
            "evidence": {
                "sentences": ev.sentences,
                "paragraphs": ev.paragraphs,
                "sentences_per_group": ev.presence,
                "groups_in_title_or_lead": ev.head_groups,
                "sentences_with_every_group": ev.together,
                "paragraphs_with_every_group": ev.paragraphs_together,
                "list_sentences": ev.crowded,
            },
            "nearest_seed": None
            if self.nearest_seed is None
            else {"name": self.nearest_seed.name, "similarity": self.nearest_seed.similarity},
            "language": self.language,
            "term_languages": ev.languages,
        }


def _units(text: str, title: str | None) -> list[tuple[str, int, str]]:
    """(where, paragraph number, sentence) for the title and every sentence of the text."""
    units: list[tuple[str, int, str]] = []
    if title and title.strip():
        units.append(("title", -1, title.strip()))
    paras = [p.strip() for p in text.split("\n") if p.strip()]
    lead_paras = 1
    if paras and len(paras[0]) < _LEAD_MIN_CHARS and len(paras) > 1:
        lead_paras = 2
    for n, para in enumerate(paras):
        where = "lead" if n < lead_paras else "body"
        for sentence in _SENTENCE_END.split(para):
            if sentence.strip():
                units.append((where, n, sentence))
    return units


def evaluate(text: str, title: str | None, ct: CompiledTopic) -> tuple[Evidence, dict[str, float]]:
    """The evidence of one article and its words' features (for the similarity)."""
    topic = ct.topic
    ev = Evidence()
    ev.presence = dict.fromkeys(ct.groups, 0)
    ev.terms = {g: {} for g in ct.groups}
    head: set[str] = set()
    para_groups: dict[int, set[str]] = {}
    all_groups = set(ct.groups)
    all_words: list[str] = []
    paras: set[int] = set()
    text, title = _fold(text), _fold(title or "")
    spaceless = bool(_NO_SPACES.search(text) or _NO_SPACES.search(title))
    for where, para, folded in _units(text, title):
        words = _WORD.findall(folded)
        if where != "title":
            all_words.extend(words)
            ev.sentences += 1
            paras.add(para)
        hits = ct.match(folded, words, spaceless)
        if not hits:
            continue
        groups = {t.group for t in hits}
        for t in hits:
            by_where = ev.terms[t.group].setdefault(t.text, {})
            by_where[where] = by_where.get(where, 0) + 1
            ev.languages[t.lang] = ev.languages.get(t.lang, 0) + 1
        for g in groups:
            ev.presence[g] += 2 if where == "title" else 1
        others = ct.crowd(folded, words, spaceless) if len(groups) >= 2 else set()
        ev.crowd |= others
        if len(others) >= topic.crowd_size:
            ev.crowded += 1
            continue
        if where != "body":
            head |= groups
        if groups == all_groups:
            ev.together += 1
        if where != "title":
            para_groups.setdefault(para, set()).update(groups)
    ev.paragraphs = len(paras)
    ev.paragraphs_together = sum(1 for gs in para_groups.values() if gs == all_groups)
    ev.head_groups = [g for g in ct.groups if g in head]
    return ev, features(_WORD.findall(title) + all_words, spaceless)


def judge(text: str, title: str | None, settings: Settings, *, language: str | None = None) -> Relevance:
    """Score one article against the configured topic, with its evidence."""
    ct = compiled(settings)
    return judge_with(text, title, ct, language=language)


def judge_with(text: str, title: str | None, ct: CompiledTopic, *, language: str | None = None) -> Relevance:
    topic = ct.topic
    ev, feats = evaluate(text, title, ct)
    nearest = ct.anchors.nearest(feats)
    g = max(1, len(ct.groups))
    presence = min(min(1.0, n / topic.presence_full) for n in ev.presence.values()) if ev.presence else 0.0
    seed_sim = nearest.similarity if nearest else 0.0
    parts = {
        "presence": presence,
        "lead": 1.0 if len(ev.head_groups) == g else topic.lead_missing,
        "crowd": 1.0 if len(ev.crowd) < topic.crowd_article else topic.crowd_article_factor,
        "head": len(ev.head_groups) / g,
        "together": min(1.0, ev.together / topic.together_full),
        "focus": min(1.0, (ev.paragraphs_together / max(1, ev.paragraphs)) / topic.focus_full),
        "seed": min(1.0, max(0.0, seed_sim - topic.seed_zero) / (topic.seed_full - topic.seed_zero)),
    }
    w = topic.weights
    weighted = w.head * parts["head"] + w.together * parts["together"] + w.focus * parts["focus"]
    weighted += w.seed * parts["seed"]
    factor = presence * parts["lead"] * parts["crowd"]
    score = round(factor * weighted / (w.head + w.together + w.focus + w.seed), 4)
    mentions = {grp: sum(sum(wh.values()) for wh in terms.values()) for grp, terms in ev.terms.items()}
    on_topic = score >= topic.threshold
    return Relevance(
        score=score,
        on_topic=on_topic,
        mentions=mentions,
        threshold=topic.threshold,
        parts={k: round(v, 3) for k, v in parts.items()},
        evidence=ev,
        nearest_seed=nearest,
        language=language,
        why=_why(ev, parts, score, topic),
    )


def _why(ev: Evidence, parts: dict[str, float], score: float, topic: TopicSettings) -> str:
    """One line a person can check against the text."""
    missing = [g for g, n in ev.presence.items() if n == 0]
    if missing:
        return "no mention of " + ", ".join(missing)
    passing = [g for g, n in ev.presence.items() if n < topic.presence_full]
    bits = []
    if passing:
        bits.append("passing mention of " + ", ".join(passing))
    bits.append(f"{ev.together} sentence(s) name every group")
    bits.append(f"{ev.paragraphs_together}/{ev.paragraphs} paragraphs")
    bits.append("title/lead: " + (", ".join(ev.head_groups) or "none"))
    if ev.crowded:
        bits.append(f"{ev.crowded} list sentence(s) not counted")
    if len(ev.crowd) >= topic.crowd_article:
        bits.append(f"names {len(ev.crowd)} other parties beside them: a multilateral story")
    verdict = "on topic" if score >= topic.threshold else "off topic"
    return f"{verdict}: " + "; ".join(bits)


_COMPILED: dict[int, tuple[Any, CompiledTopic]] = {}


def compiled(settings: Settings) -> CompiledTopic:
    """The settings' topic compiled once per process (kept with the settings object it
    came from: a new settings object compiles anew)."""
    key = id(settings.topic)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is settings.topic:
        return hit[1]
    from worker.topic_similarity import anchors_for

    ct = CompiledTopic(settings.topic, anchors_for(settings))
    _COMPILED.clear()
    _COMPILED[key] = (settings.topic, ct)
    return ct
