"""trafilatura's regular-expression XPath tests, skipped where the attribute is absent.

trafilatura prunes boilerplate with expressions such as
``.//*[... or re:test(@id|@style, 'hidden') or re:test(@class, '^hide-|...')]``.
``re:test`` is EXSLT, which lxml runs as a call back into Python for every
element the expression visits, attribute or not: on the benchmark's news pages
those callbacks were about a sixth of the whole extraction (BENCHMARKS.md).

An absent attribute reads as the empty string, so ``re:test(@a, 'p')`` is false
there whenever ``p`` cannot match the empty string, and
``(@a and re:test(@a, 'p'))`` means exactly the same while libxml2 answers the
first half itself. :func:`apply` makes that change, and only that, in
trafilatura's compiled expressions, once per process. A pattern that matches the
empty string, or anything it does not parse, is left as it was.
tests/test_xpath_guards.py holds every changed expression to select the same
elements as the original on every page fixture and on the benchmark's pages.
"""

from __future__ import annotations

import re

import trafilatura.xpaths
from lxml.etree import XPath, XPathSyntaxError
from trafilatura.xpaths import REGEXP_NS

# re:test(<attribute or union of attributes>, '<pattern>'[, '<flags>'])
_CALL = re.compile(r"re:test\(\s*(@[\w.-]+(?:\s*\|\s*@[\w.-]+)*)\s*,\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)")


def guard(path: str) -> tuple[str, int]:
    """An XPath's source with each ``re:test`` on attributes guarded; and how many were."""
    count = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal count
        nodes, pattern, flags = m.groups()
        try:  # as lxml compiles it: re.UNICODE, and IGNORECASE for an 'i' flag
            matches_empty = re.search(pattern, "", re.IGNORECASE if "i" in (flags or "") else 0)
        except re.error:
            return m.group(0)
        if matches_empty:
            return m.group(0)
        count += 1
        return f"(({nodes}) and {m.group(0)})"

    return _CALL.sub(sub, path), count


def _guarded(expr: XPath) -> XPath | None:
    path, count = guard(expr.path)
    if not count:
        return None
    try:
        return XPath(path, namespaces={"re": REGEXP_NS})
    except XPathSyntaxError:  # an expression shape we did not foresee: keep the original
        return None


# (original, guarded) for every expression changed in this process, for comparing them (tests)
REPLACED: list[tuple[XPath, XPath]] = []
_applied = False


def apply() -> int:
    """Guard trafilatura's expressions in place, once per process; returns how many changed.

    trafilatura keeps them in lists in ``trafilatura.xpaths``; each list is changed in
    place, so every module holding it sees the guarded expressions.
    """
    global _applied
    if _applied:
        return len(REPLACED)
    for group in vars(trafilatura.xpaths).values():
        if not isinstance(group, list):
            continue
        for i, expr in enumerate(group):
            if isinstance(expr, XPath) and (new := _guarded(expr)) is not None:
                REPLACED.append((expr, new))
                group[i] = new
    _applied = True
    return len(REPLACED)
