"""worker.xpath_guards: trafilatura's regex tests guarded by a native one, and nothing else changes.

The guard is exact by construction (an absent attribute reads as "", which the
guarded patterns cannot match); these tests hold it to that on real pages and on
attribute values built to hit the patterns, and hold the whole extraction to
what stock trafilatura, in a process of its own, answers on the same pages.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import lxml.html
import pytest

import worker.extract  # noqa: F401  (applies the guards, as the worker does)
from bench.newsroom_server import plan_stories
from worker import xpath_guards

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_PAGES = sorted(FIXTURES.glob("*/*.html"))


def newsroom_pages() -> list[str]:
    # every outlet template, each kind of story (original, syndicated copy, off-topic)
    return [s.html() for s in plan_stories(40, 10, 0.2, 0.2)]


def pages() -> list[str]:
    return [p.read_text("utf-8") for p in FIXTURE_PAGES] + newsroom_pages()


def attribute_soup(seed: int = 0, elements: int = 3000) -> str:
    """Elements of every tag the expressions name, with id/class/style values made of the
    patterns' own words: each word alone, after another, before or after a second attribute
    (``@id|@class`` reads the first in document order); then random mixes of them."""
    words: set[str] = {"", " ", "x"}
    for _, new in xpath_guards.REPLACED:
        for pattern in re.findall(r"re:test\([^,]+,\s*'([^']*)'", new.path):
            for alt in pattern.split("|"):
                w = re.sub(r"[\\^$()?:\[\]*+]", "", alt)
                words |= {w, w[:3], w[1:], w.upper(), w.capitalize()}
    vocab = sorted(words)
    tags = ["div", "section", "article", "main", "aside", "p", "span", "li", "ul", "ol", "a", "nav"]
    tags += ["header", "footer", "figure", "form", "h1", "h2", "h3", "h4", "font", "dd", "b", "strong"]
    tags += ["address", "link", "details", "list", "item"]  # the last two: trafilatura's own tag names
    shapes = [
        'id="{w}"',
        'class="{w}"',
        'style="{w}"',
        'class="x {w}"',
        'id="{w}" class="x"',
        'class="x" id="{w}"',
    ]
    parts = []
    n = 0
    for w in vocab:
        for shape in shapes:
            for tag in ("div", tags[n % len(tags)]):  # div: the tag most expressions look for
                parts.append(f'<{tag} {shape.format(w=w)}><a href="#">text</a></{tag}>')
            n += 1
    rng = random.Random(seed)
    for _ in range(elements):
        attrs = []
        for name in rng.sample(["id", "class", "style", "role", "itemprop"], k=rng.randint(0, 3)):
            value = " ".join(rng.choice(vocab) for _ in range(rng.choice([1, 1, 2, 3])))
            attrs.append(f'{name}="{value}"')
        tag = rng.choice(tags)
        parts.append(f"<{tag} {' '.join(attrs)}>text {rng.choice(vocab)}</{tag}>")
    return "<html><body>" + "".join(parts) + "</body></html>"


def test_the_guards_apply_to_trafilaturas_expressions() -> None:
    # a trafilatura that moved or rewrote them would silently lose the gain
    assert len(xpath_guards.REPLACED) >= 10
    for original, guarded in xpath_guards.REPLACED:
        assert guarded.path != original.path
        assert guarded.path.count("re:test") == original.path.count("re:test")


def test_trafilatura_evaluates_the_guarded_expressions() -> None:
    import trafilatura.xpaths

    held = {id(e) for v in vars(trafilatura.xpaths).values() for e in (v if isinstance(v, list) else [v])}
    assert all(id(g) in held and id(o) not in held for o, g in xpath_guards.REPLACED)


@pytest.mark.parametrize("source", ["fixtures and newsroom pages", "attribute soup"])
def test_every_guarded_expression_selects_exactly_what_the_original_selects(source: str) -> None:
    htmls = pages() if source != "attribute soup" else [attribute_soup(seed) for seed in range(3)]
    for html in htmls:
        tree = lxml.html.fromstring(html)
        for original, guarded in xpath_guards.REPLACED:
            assert guarded(tree) == original(tree), original.path[:200]


def test_the_soup_makes_every_guarded_expression_select_something() -> None:
    # an expression that selects nothing on either side would prove nothing above
    trees = [lxml.html.fromstring(attribute_soup(seed)) for seed in range(3)]
    for _, guarded in xpath_guards.REPLACED:
        assert any(guarded(tree) for tree in trees), guarded.path[:200]


@pytest.mark.parametrize(
    ("path", "guarded"),
    [
        ("re:test(@id|@class, 'nav')", "((@id|@class) and re:test(@id|@class, 'nav'))"),
        ("re:test(@class, 'fulltext', 'i')", "((@class) and re:test(@class, 'fulltext', 'i'))"),
        ("re:test(@id, 'a|')", "re:test(@id, 'a|')"),  # matches "": an absent @id tests true
        ("re:test(@id, 'x?')", "re:test(@id, 'x?')"),
        ("re:test(@id, '(')", "re:test(@id, '(')"),  # not a pattern: left to fail as before
        ("re:test(string(.), 'nav')", "re:test(string(.), 'nav')"),  # not attributes
    ],
)
def test_only_patterns_that_cannot_match_the_empty_string_are_guarded(path: str, guarded: str) -> None:
    assert xpath_guards.guard(path)[0] == guarded


# run in this process (guarded) and in a fresh one that never imports worker (stock)
_EXTRACT_ALL = """
import trafilatura

def extract_all(htmls):
    out = []
    for html in htmls:
        doc = trafilatura.bare_extraction(
            html, url="https://news.example.org/a.html", with_metadata=True, favor_precision=True,
            include_comments=False, include_tables=False, deduplicate=False,
        )
        fields = ("title", "author", "date", "sitename", "description", "text", "comments")
        out.append(None if doc is None else {k: getattr(doc, k) for k in fields})
    return out
"""
_STOCK_MAIN = """
import json, sys
assert "worker" not in sys.modules
print(json.dumps(extract_all(json.load(open(sys.argv[1])))))
"""


def test_the_guarded_extraction_is_stock_trafilaturas(tmp_path: Path) -> None:
    htmls = pages()
    (tmp_path / "pages.json").write_text(json.dumps(htmls))
    stock = subprocess.run(
        [sys.executable, "-c", _EXTRACT_ALL + _STOCK_MAIN, str(tmp_path / "pages.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    namespace: dict[str, Any] = {}
    exec(_EXTRACT_ALL, namespace)
    ours = namespace["extract_all"](htmls)
    assert json.loads(stock.stdout) == ours
    assert sum(1 for doc in ours if doc and doc["text"]) >= len(htmls) - 3  # pages with text


def test_a_fresh_trafilatura_is_not_guarded() -> None:
    # the stock side of the comparison above really is stock
    stock = subprocess.run(
        [sys.executable, "-c", "import trafilatura.xpaths as x; print(x.OVERALL_DISCARD_XPATH[1].path)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "re:test" in stock.stdout and "and re:test" not in stock.stdout
