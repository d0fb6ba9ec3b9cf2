"""worker.extract: an article's text and metadata are what trafilatura itself finds.

Our extraction skips the metadata the message does not carry (categories, tags,
license) and so calls trafilatura's metadata steps itself; these tests hold it to
trafilatura's own ``bare_extraction(with_metadata=True)`` on every page we author,
so an upgrade that changes those steps fails here, not silently in the stream.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trafilatura

from harness.newsroom import article_paragraphs, news_page
from harness.templates import TEMPLATES, charset_of, render_page
from worker.errors import NotAnArticle
from worker.extract import Extracted, decode_html, extract

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PAGES = [*sorted((FIXTURES / "metadata").glob("*.html")), *sorted((FIXTURES / "site").glob("*.html"))]
PAGES += sorted((FIXTURES / "hostile").glob("*.html"))
URL = "https://www.news.example.org/world/story.html"  # no date in it: dates come from the pages


def reference(html: str) -> trafilatura.settings.Document | None:
    doc = trafilatura.bare_extraction(
        html,
        url=URL,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        deduplicate=False,
    )
    return doc if isinstance(doc, trafilatura.settings.Document) else None


def page_html(page: Path | int | str) -> str:
    """A fixture page, a newsroom page (n), or a page in one of the 20 outlet templates
    ("template-K": its own markup, language and charset, decoded as the worker would)."""
    if isinstance(page, Path):
        return page.read_text("utf-8")
    if isinstance(page, str):
        k = int(page.rsplit("-", 1)[1])
        raw, ctype, _ = render_page(article_paragraphs(k), n=k, title=f"Report {k}", outlet=k)
        return decode_html(raw, charset_of(ctype))
    title = f"Report {page}: China and Belarus widen military ties"
    return news_page(article_paragraphs(page), n=page, title=title, outlet=page % 3)


def extracted_or_none(html: str) -> Extracted | None:
    try:
        return extract(html, url=URL)
    except NotAnArticle:
        return None


CASES: list[Path | int | str] = [*PAGES, 1, 2, 3, *(f"template-{k}" for k in range(len(TEMPLATES)))]
IDS = [p.name if isinstance(p, Path) else p if isinstance(p, str) else f"newsroom-{p}" for p in CASES]


@pytest.mark.parametrize("page", CASES, ids=IDS)
def test_text_and_metadata_are_those_trafilatura_finds_with_metadata(page: Path | int | str) -> None:
    # trafilatura's whole cascade: our main extractor's shortcut on long texts (main_text)
    # must give the same text, as must the metadata steps we keep
    html = page_html(page)
    ref, ours = reference(html), extracted_or_none(html)
    if ref is None or len((ref.text or "").split()) < 30:
        assert ours is None
        return
    assert ours is not None
    assert ours.text == ref.text.strip()
    assert ours.title == (ref.title or None)
    assert ours.authors == [a.strip() for a in (ref.author or "").split(";") if a.strip()]
    assert ours.published_at == ref.date
    assert ours.site_name == (ref.sitename or None)
    assert ours.description == (ref.description or None)


def test_the_pages_compared_carry_every_metadata_field() -> None:
    # the comparison above means something only if the pages have these fields to find
    found = [e for e in map(extracted_or_none, map(page_html, CASES)) if e is not None]
    assert any(e.title for e in found)
    assert any(e.authors for e in found)
    assert any(e.published_at for e in found)
    assert any(e.site_name for e in found)
    assert any(e.description for e in found)
