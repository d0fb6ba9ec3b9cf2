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


UNDECLARED = {
    "en": "The defence ministers of China and Belarus met in Minsk to discuss military cooperation.",
    "ru": "Министры обороны Китая и Беларуси обсудили в Минске военное сотрудничество двух стран.",
    "uk": "Міністри оборони Китаю та Білорусі обговорили в Мінську військову співпрацю двох країн.",
    "be": "Міністры абароны Кітая і Беларусі абмеркавалі ў Мінску ваеннае супрацоўніцтва дзвюх краін.",
    "zh": "中国和白俄罗斯两国国防部长在明斯克会谈，讨论两军务实合作。",
    "ja": "中国とベラルーシの国防相がミンスクで会談し、軍事協力について協議した。",
    "pl": "Ministrowie obrony Chin i Białorusi rozmawiali w Mińsku o współpracy wojskowej obu krajów.",
    "de": "Die Verteidigungsminister Chinas und Weißrusslands sprachen in Minsk über Zusammenarbeit.",
    "fr": "Les ministres de la Défense de la Chine et du Bélarus ont parlé à Minsk de coopération militaire.",
    "es": "Los ministros de Defensa de China y Bielorrusia hablaron en Minsk sobre la cooperación militar.",
}


@pytest.mark.parametrize("lang", sorted(UNDECLARED))
def test_a_page_that_declares_no_language_gets_the_language_of_its_text(lang: str) -> None:
    body = "\n".join(f"<p>{UNDECLARED[lang]} {k}</p>" for k in range(8))
    title = UNDECLARED[lang][:40]
    html = f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>"

    assert extract(html, min_words=5).language == lang
