"""What is recorded for a decided item, and what each record means.

Every decided URL or GUID has one value in its epoch's ``urls`` hash
(:class:`worker.keys.Keys`): written by ``lua/decide.lua`` for queued and
duplicate articles (with the publication, atomically) and by ``lua/mark.lua``
(through :meth:`worker.dedup.DedupIndex.mark`) for the rest. This module is
the one place that spells those values.

=============  =============================================
value          decision
=============  =============================================
``q:<id>``     queued, as document ``id``
``d:<id>``     duplicate of document ``id``
``s:<id>``     a seed (document ``id``)
``o``          off topic
``x``          stale: published more than ``topic.max_age_days`` ago (``worker.dates``)
``p:<reason>`` partial: the page was a wall, not the article (``worker.page_check``)
``f:<reason>`` failed, for ``reason`` (``worker.retries``)
=============  =============================================
"""

from __future__ import annotations

OUTCOMES = ("queued", "duplicate", "off_topic", "stale", "partial", "failed")

_OUTCOME_OF = {
    "q": "queued",
    "d": "duplicate",
    "s": "duplicate",
    "o": "off_topic",
    "x": "stale",
    "p": "partial",
    "f": "failed",
}


def queued(doc_id: int | str) -> str:
    return f"q:{doc_id}"


def duplicate(doc_id: int | str | None) -> str:
    return f"d:{doc_id}"


OFF_TOPIC = "o"
STALE = "x"


def failed(reason: str) -> str:
    return f"f:{reason}"


def partial(reason: str) -> str:
    return f"p:{reason}"


def outcome_of(decision: str) -> str:
    """The outcome name of a recorded decision (``q:12`` -> ``queued``)."""
    return _OUTCOME_OF.get(decision[:1], "failed")


def failure_reason(decision: str) -> str | None:
    """The reason of a ``failed`` or ``partial`` decision, None for any other."""
    return decision[2:] if decision.startswith(("f:", "p:")) else None


def replaceable(decision: str) -> bool:
    """May a retry decide this item again? Failed, partial, stale and off-topic items: yes;
    an article on the stream, a duplicate or a seed: never (nothing is queued twice)."""
    return decision[:1] in ("f", "o", "p", "x")
