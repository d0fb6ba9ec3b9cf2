"""What an article is about, as a few keys: the names and numbers that tie it to one event.

Articles about the same event (a wire story and its rewrites, two outlets' reports of one
drill, a story and its translation) are not copies, but they name the same people and
places and give the same figures. An article's *story keys* are a sample of its salient
tokens:

* numbers of two digits or more (dates, counts, distances: "19", "2024", "50,000");
* names: capitalised words that do not open a sentence (Latin, Cyrillic, Greek scripts),
  and katakana runs (Japanese names);
* the topic's own terms are left out (every article of the topic names China, Belarus
  and Minsk: they tell no two stories apart).

The keys are the ``STORY_KEYS`` smallest hashes of that set, so two texts with mostly the
same salient tokens share most of their keys (a bottom-k sample of the set). The decide
script (``lua/decide.lua``) links a new article to the indexed article it shares the most
*rare* keys with (held by at most ``story_max_df`` articles), within
``story_window_days``; the new article joins that article's story.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from worker.textsig import sample_order

STORY_KEYS = 8
_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_KATAKANA = re.compile(r"[\u30a0-\u30ffー]{3,}")
_DIGITS = re.compile(r"\d[\d.,\u00a0 ]*\d|\d\d")


def _is_name(token: str) -> bool:
    return len(token) >= 3 and token[0].isupper()


_OPENERS = frozenset('.!?…:;"«»“”\n')


@lru_cache(maxsize=8)
def _skip_pattern(skip: frozenset[str]) -> re.Pattern[str] | None:
    """One regex for "starts with one of the skipped words" (longest first)."""
    if not skip:
        return None
    return re.compile("|".join(re.escape(w) for w in sorted(skip, key=len, reverse=True)))


def salient_tokens(text: str, skip: frozenset[str] = frozenset()) -> set[str]:
    """The names and numbers of a text, casefolded. ``skip``: folded words, and the starts
    of words, to leave out (a name that starts with one of them is left out)."""
    out: set[str] = set()
    for m in _DIGITS.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) >= 2:
            out.add("#" + digits)
    skipped = _skip_pattern(skip)
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if not _is_name(tok):
            continue
        j = m.start() - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        if j < 0 or text[j] in _OPENERS:
            continue  # a capital that opens a sentence says nothing
        folded = tok.casefold()
        if skipped is None or not skipped.match(folded):
            out.add(folded)
    out.update(m.group() for m in _KATAKANA.finditer(text) if m.group() not in skip)
    return out


def story_keys(text: str, title: str | None = None, skip: frozenset[str] = frozenset()) -> list[bytes]:
    """The article's story keys: 8-byte hashes of its salient tokens, the first
    ``STORY_KEYS`` in :func:`~worker.textsig.sample_order`."""
    tokens = salient_tokens(f"{title}.\n{text}" if title else text, skip)
    keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=8, person=b"story").digest() for t in tokens]
    return sorted(keys, key=sample_order)[:STORY_KEYS]
