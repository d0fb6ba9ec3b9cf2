"""Source kinds: how a configured source becomes requests, and a request becomes items.

One module per kind, each with the same two functions (:class:`Kind`):

* ``requests(source)``: the requests one poll of the source makes, one per entry of
  its ``queries`` (a search in each language) or one for a feed; each names the URL a
  user could paste into a browser.
* ``poll(ctx, source, request, state)``: fetch and parse one request; its items, with
  the publisher's URL (a Google News link decoded, a Bing link unwrapped) and what the
  request saw (:class:`Found`). ``state`` is what the last poll of that request left
  (validators, last success), stored by :mod:`worker.handoff`.

A kind raises an :class:`~worker.errors.IngestError` when the request as a whole fails
(the poll records it and the source's other requests go on); a problem with one item
(a Google id that cannot be decoded, a Bing wrapper pointing back at Bing) is counted
in ``Found.problems`` and the rest of the request goes on.

What is done with the items (deduplication, claims, the frontier) is the same for
every kind: :mod:`worker.handoff`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from worker.feeds import Item

if TYPE_CHECKING:
    from worker.context import Context
    from worker.settings import SourceSettings


@dataclass(frozen=True)
class Request:
    """One request of a poll: its URL (as a user would paste it) and its language."""

    url: str
    lang: str | None = None


@dataclass
class Found:
    """What one request of a poll saw."""

    items: list[Item] = field(default_factory=list)
    not_modified: bool = False
    validators: dict[str, str] = field(default_factory=dict)  # etag / last_modified for next time
    problems: Counter[str] = field(default_factory=Counter)  # items left out, by reason
    waiting: int = 0  # items left for the next poll (e.g. Google asked us to slow down)
    # the request did not fully succeed but gave items (a 429 midway): recorded as the
    # poll's error (the source backs off) while its items are handed on
    error: str | None = None
    message: str | None = None
    retry_after: float | None = None  # with ``error``: the source asked us to wait this long
    found: int = 0  # entries the source listed, before any was left out


class Kind(Protocol):
    def requests(self, source: SourceSettings) -> list[Request]: ...

    def poll(
        self, ctx: Context, source: SourceSettings, request: Request, state: dict[str, str]
    ) -> Found: ...


def kind_of(source: SourceSettings) -> Kind:
    """The module that polls ``source``'s kind."""
    from worker.sources import bing_news, feed, gdelt, google_news, sitemap

    kinds: dict[str, Kind] = {
        "feed": feed,
        "search": feed,
        "google_news": google_news,
        "bing_news": bing_news,
        "gdelt": gdelt,
        "sitemap": sitemap,
    }
    return kinds[source.kind]


def requests_of(source: SourceSettings) -> list[Request]:
    """The requests one poll of ``source`` makes (what ``ingest sources`` shows)."""
    return kind_of(source).requests(source)
