"""Clean text and metadata from an article page, with trafilatura."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import py3langid
import trafilatura
from charset_normalizer import from_bytes
from lxml.html import HtmlElement
from trafilatura.settings import Document

from worker.errors import NotAnArticle

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xml", "text/xml", ""}


@dataclass(frozen=True)
class Extracted:
    title: str | None
    authors: list[str]
    published_at: str | None  # ISO 8601 date or datetime as the page gives it
    language: str | None
    text: str
    site_name: str | None = None
    description: str | None = None


def decode_html(body: bytes, declared: str | None) -> str:
    """Decode a page: the declared charset when it decodes cleanly, else detection."""
    if declared:
        try:
            return body.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        # UTF-8 with a few stray bytes stays UTF-8: detection would re-read all of it as a legacy code page
        text = body.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
        if non_ascii - bad >= 10 * bad:
            return text
        guesses = from_bytes(body[:200_000])
        best = guesses.best()
        encoding = best.encoding if best else "cp1252"
        # on a tie (English text with a few accents fits cp1250/1252/1257 alike) the web's usual one wins
        if best and any(
            g.encoding == "cp1252" and g.chaos <= best.chaos and g.coherence >= best.coherence
            for g in guesses
        ):
            encoding = "cp1252"
        return body.decode(encoding, errors="replace")


def extract(html: str, url: str | None = None, *, min_words: int = 30) -> Extracted:
    """Main text and metadata of an article page, or NotAnArticle when there is none."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise NotAnArticle("the page is not parseable HTML", reason="no_text")
    declared = declared_language(tree)  # read before extraction prunes the tree
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
    )
    text = (doc.text or "").strip() if isinstance(doc, Document) else ""
    if len(text.split()) < min_words:
        raise NotAnArticle(f"no article text found ({len(text.split())} words)", reason="no_text")
    assert isinstance(doc, Document)
    authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
    return Extracted(
        title=doc.title or None,
        authors=authors,
        published_at=_iso(doc.date),
        language=declared or detect_language(text),
        text=text,
        site_name=doc.sitename or None,
        description=doc.description or None,
    )


def declared_language(tree: HtmlElement) -> str | None:
    """The page's own statement of its language: <html lang>, Content-Language, og:locale."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath(
        '//meta[translate(@http-equiv,"CONTENT-LANGUAGE","content-language")="content-language"]/@content'
    )
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    for c in candidates:
        tag = (c or "").strip().replace("_", "-").split("-")[0].lower()
        if 2 <= len(tag) <= 3 and tag.isalpha():
            return tag
    return None


def detect_language(text: str) -> str | None:
    """Language detected from the text itself (langid model shipped in the package)."""
    lang, _score = py3langid.classify(text[:5000])
    return str(lang) if lang else None


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).date().isoformat() if len(value) <= 10 else value
    except ValueError:
        return None
