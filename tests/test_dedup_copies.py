"""Copies the web makes of an article: partial copies, excerpts, copies in heavy furniture or with
junk injected are duplicates; a seed decides whatever the LSH bands say; an article that quotes a
short indexed item in full, or shares a quote or a boilerplate paragraph with one, is new.

Each test indexes its own articles in the real Redis, under the test's key prefix, with the
``[dedup]`` settings of ``config/ingest.toml``.
"""

from __future__ import annotations

import random
import time
import tomllib
from pathlib import Path

import pytest
import redis

from harness.newsroom import article_paragraphs
from worker.dedup import DedupIndex, Verdict
from worker.settings import DedupSettings
from worker.textsig import sample_order, sentence_keys, url_hash

ROOT = Path(__file__).resolve().parent.parent
SEED_000 = (ROOT / "seeds" / "000_663d425c6dff775c.txt").read_text("utf-8")
HEADER = "\n".join(["Home", "World", "Politics", "Business", "Opinion", "Search", "Subscribe", "Menu"])
FURNITURE = [
    "Share on Facebook",
    "Share on X",
    "Read more",
    "Most read",
    "Follow us on Telegram",
    "Advertisement",
    "Comments (0)",
    "12:45, 17 August",
    "Related stories",
    "Print this page",
]


def settings() -> DedupSettings:
    config = tomllib.loads((ROOT / "config" / "ingest.toml").read_text("utf-8"))
    return DedupSettings(**config.get("dedup", {}))


@pytest.fixture
def idx(r: redis.Redis, prefix: str) -> DedupIndex:
    return DedupIndex(r, settings(), prefix, f"{prefix}articles")


def add(idx: DedupIndex, name: str, text: str) -> int:
    url = f"https://copies.invalid/{name}"
    v = idx.commit(idx.prepare(text), url_hash(url), {"id": name}, now=int(time.time()), url=url, source="t")
    assert v.status == "queued" and v.doc_id is not None, (name, v.status, v.nearest)
    return v.doc_id


def check(idx: DedupIndex, text: str, name: str = "case") -> Verdict:
    return idx.check(idx.prepare(text), url_hash(f"https://copies.invalid/case/{name}"))


def article(n: int, words: int = 700) -> str:
    return "\n".join(article_paragraphs(1000 + n, words))


# ---- the seeds decide --------------------------------------------------------------------------


def test_the_first_third_of_a_seed_under_a_site_header_is_a_copy_of_the_seed(idx: DedupIndex) -> None:
    idx.add_seed("000_663d425c6dff775c", SEED_000, now=int(time.time()))
    page = HEADER + "\n" + SEED_000[:2000] + "\n" + "\n".join(FURNITURE)

    v = check(idx, page)

    assert v.status == "duplicate", v.nearest_seed
    assert v.nearest is not None and v.nearest.get("name") == "000_663d425c6dff775c"


# ---- partial copies, found by their sentences --------------------------------------------------


@pytest.mark.parametrize("n", range(6))
def test_an_excerpt_of_a_quarter_of_an_article_is_a_copy_of_it(idx: DedupIndex, n: int) -> None:
    doc = add(idx, f"a{n}", article(n, 900))
    paras = article(n, 900).split("\n")
    excerpt = "\n".join(paras[: max(2, len(paras) // 4)])

    v = check(idx, excerpt)

    assert v.status == "duplicate" and v.nearest is not None and v.nearest["id"] == doc, v.nearest


def test_a_copy_wrapped_in_more_furniture_than_text_is_a_copy(idx: DedupIndex) -> None:
    doc = add(idx, "b", article(10, 400))
    rng = random.Random(3)
    lines = [HEADER] + [rng.choice(FURNITURE) for _ in range(120)]
    page = "\n".join(lines[:60] + article(10, 400).split("\n") + lines[60:])

    v = check(idx, page)

    assert v.status == "duplicate" and v.nearest is not None and v.nearest["id"] == doc


def test_a_spam_copy_with_junk_lines_between_its_paragraphs_is_a_copy(idx: DedupIndex) -> None:
    doc = add(idx, "c", article(20, 800))
    junk = ["Best casino bonus today", "Click here", "Cheap flights to Minsk", "Win a phone"]
    paras = article(20, 800).split("\n")
    spam = "\n".join(p + "\n" + junk[i % len(junk)] for i, p in enumerate(paras))

    v = check(idx, spam)

    assert v.status == "duplicate" and v.nearest is not None and v.nearest["id"] == doc


def test_a_truncated_republication_is_a_copy(idx: DedupIndex) -> None:
    doc = add(idx, "d", article(30, 900))
    paras = article(30, 900).split("\n")

    v = check(idx, HEADER + "\n" + "\n".join(paras[: int(len(paras) * 0.6)]))

    assert v.status == "duplicate" and v.nearest is not None and v.nearest["id"] == doc


# ---- not copies ---------------------------------------------------------------------------------


def test_an_article_sharing_a_quote_and_a_boilerplate_paragraph_is_new(idx: DedupIndex) -> None:
    a = article(40, 700).split("\n")
    add(idx, "e", "\n".join(a))
    other = article(41, 700).split("\n")
    quote = a[2].split(". ")[0] + "."
    mixed = "\n".join([other[0], f'"{quote}" the minister said.', *other[1:], a[-1]])

    assert check(idx, mixed).status == "new"


def test_an_article_quoting_a_short_wire_item_in_full_is_new_and_says_it_quotes_it(idx: DedupIndex) -> None:
    wire = "\n".join(article_paragraphs(2050, 180))
    doc = add(idx, "wire", wire)
    own = article(51, 1200).split("\n")
    longer = "\n".join([*own[:4], "The agency's report in full:", wire, *own[4:]])

    v = check(idx, longer)

    assert v.status == "new", v.nearest
    assert v.quotes is not None and v.quotes["id"] == doc


def test_a_wire_item_arriving_after_an_article_that_quotes_it_in_full_is_judged_an_excerpt_of_it(
    idx: DedupIndex,
) -> None:
    """The limit of text alone (README: Quoting is not copying): wholly contained in an
    indexed article is what an excerpt is, so the order of arrival decides."""
    wire = "\n".join(article_paragraphs(2050, 180))
    own = article(51, 1200).split("\n")
    doc = add(idx, "longer", "\n".join([*own[:4], "The agency's report in full:", wire, *own[4:]]))

    v = check(idx, wire)

    assert v.status == "duplicate" and v.nearest is not None and v.nearest["id"] == doc, v.nearest


def test_the_index_holds_a_sample_of_each_articles_sentences(idx: DedupIndex) -> None:
    text = article(60, 900)
    prep = idx.prepare(text)
    keys = sorted(sentence_keys(text), key=sample_order)
    assert prep.sentence_count == len(keys) > 12
    assert prep.sentence_anchors == tuple(keys[:12])  # the first in one order: the same sample anywhere


def test_furniture_lines_are_no_sentences() -> None:
    assert sentence_keys("\n".join(FURNITURE)) == []
    assert len(sentence_keys("Officials in Minsk said military cooperation with China would deepen.")) == 1
