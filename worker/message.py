"""The message downstream reads: one JSON document per article on the stream.

Its shape is documented in ``worker/schema/article.v1.json``; a change that
breaks a reader bumps ``SCHEMA_VERSION`` and adds a new schema file.
The ``dedup`` member is filled in by the dedup script at publication time.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from worker.dates import Dates
from worker.extract import Extracted
from worker.feeds import Item
from worker.relevance import Relevance

SCHEMA_VERSION = 1
STREAM_FIELD = "article"
COPY_FIELD = "copy"  # entries of this field only with dedup.publish_copies


def build_message(
    *,
    item: Item,
    item_id: str,
    final_url: str,
    extracted: Extracted,
    word_count: int,
    content_hash: str,
    fetched_at: str,
    relevance: Relevance,
    text_source: tuple[str, str | None] = ("page", None),
    dates: Dates | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": item_id,
        "url": item.url,
        "final_url": final_url,
        "canonical_url": item.canonical_url,
        "source": item.source,
        # found through an aggregator (Google News, Bing News): its link, and the
        # publisher's site it names; null for an outlet's own feed or sitemap
        "via": item.via,
        "publisher": item.publisher,
        "guid": item.guid,
        "title": extracted.title or item.title,
        "authors": extracted.authors,
        "published_at": dates.published_at if dates else (extracted.published_at or item.published_at),
        "dates": dates.to_json() if dates else None,
        "language": extracted.language,
        "site_name": extracted.site_name,
        "text": extracted.text,
        "word_count": word_count,
        "content_hash": f"sha256:{content_hash}",
        "fetched_at": fetched_at,
        "relevance": relevance.to_json(),
        # "feed": the page was a wall (page_problem says which) and the text is the feed's own
        "text_source": text_source[0],
        "page_problem": text_source[1],
    }


def load_schema(version: int = SCHEMA_VERSION, kind: str = "article") -> dict[str, Any]:
    text = resources.files("worker").joinpath(f"schema/{kind}.v{version}.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return,unused-ignore]


def decode(fields: Any) -> dict[str, Any]:
    """The document of one stream entry: an article, or (``type: copy``) a copy notice."""
    raw = fields.get(STREAM_FIELD.encode()) or fields.get(COPY_FIELD.encode())
    return json.loads(raw)  # type: ignore[no-any-return,unused-ignore]
