"""``ingest explain``: why a page or text would be judged new or a duplicate. Changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worker import relevance
from worker.context import Context
from worker.decisions import outcome_of
from worker.errors import IngestError
from worker.extract import decode_html, detect_language, extract
from worker.feeds import canonical_url, is_fetchable
from worker.message import decode
from worker.textsig import exact_jaccard, normalize, url_hash


def _load(ctx: Context, inp: str) -> tuple[str, str | None, str | None, str | None]:
    """(text, canonical URL or None, title, language) of a URL, an .html file or a .txt file."""
    if is_fetchable(inp):
        page = ctx.fetcher.get(inp)
        ext = extract(decode_html(page.content, page.encoding), url=page.url, min_words=1)
        return ext.text, canonical_url(inp), ext.title, ext.language
    path = Path(inp)
    if not path.is_file():
        raise IngestError(f"{inp}: neither an http(s) URL nor a file", reason="bad_input")
    if path.suffix.lower() in (".html", ".htm"):
        ext = extract(decode_html(path.read_bytes(), None), min_words=1)
        return ext.text, None, ext.title, ext.language
    text = path.read_text("utf-8", errors="replace")
    return text, None, None, detect_language(text)


def _text_of(ctx: Context, cand: dict[str, Any]) -> str | None:
    """The text of an indexed seed or article, for the exact similarity."""
    if cand.get("kind") == "seed" and cand.get("name"):
        f = ctx.settings.seeds_dir / f"{cand['name']}.txt"
        return f.read_text("utf-8") if f.is_file() else None
    sid = cand.get("stream_id")
    if not sid:
        return None
    entries: Any = ctx.redis.xrange(ctx.settings.redis.stream_key, sid, sid)
    return str(decode(entries[0][1])["text"]) if entries else None


def _with_exact(ctx: Context, cand: dict[str, Any] | None, norm: str) -> dict[str, Any] | None:
    if not cand:
        return None
    other = _text_of(ctx, cand)
    k = ctx.settings.dedup.shingle_words
    exact = round(exact_jaccard(norm, normalize(other), k), 4) if other is not None else None
    out = {**cand, "exact_similarity": exact}
    if cand.get("kind") == "seed" and cand.get("name"):
        out["title"] = _seed_titles(ctx).get(str(cand["name"]))
    return out


def _seed_titles(ctx: Context) -> dict[str, str]:
    """Seed name -> its label (title and outlet, or opening words), to name it as a person would."""
    from worker.errors import ConfigError
    from worker.seeds import read_seeds

    try:
        return {sd.name: sd.label for sd in read_seeds(ctx.settings.seeds_dir)}
    except ConfigError:
        return {}


def explain(ctx: Context, inp: str) -> dict[str, Any]:
    """The verdict for one input against the current index, with the evidence."""
    text, canon, title, language = _load(ctx, inp)
    prep = ctx.index.prepare(text, title=title, story_skip=relevance.compiled(ctx.settings).words)
    key = url_hash(canon) if canon else url_hash(f"explain:{inp}")
    verdict = ctx.index.check(prep, key)
    rel = relevance.judge(text, title, ctx.settings, language=language)
    d = ctx.settings.dedup
    out: dict[str, Any] = {
        "input": inp,
        "canonical_url": canon,
        "word_count": prep.word_count,
        "short_text": prep.short,
        "content_hash": f"sha256:{prep.content_hash}",
        "thresholds": {
            "jaccard": d.jaccard_threshold,
            "containment": d.containment_threshold,
            "sentences": d.sentence_containment_threshold,
        },
        "relevance": rel.to_json(),
    }
    if verdict.status == "seen":
        assert verdict.prior
        doc_id = verdict.prior.partition(":")[2]
        out |= {
            "verdict": "duplicate",
            "match": "url",
            "prior_decision": outcome_of(verdict.prior),
            "duplicate_of": {"id": int(doc_id)} if doc_id.isdigit() else None,
            "similarity": None,
            "nearest_seed": None,
            "candidates": [],
        }
    else:
        nearest = _with_exact(ctx, verdict.nearest, prep.normalized)
        out |= {
            "verdict": verdict.status,
            "match": (nearest or {}).get("match") if verdict.status == "duplicate" else None,
            "duplicate_of": nearest if verdict.status == "duplicate" else None,
            "nearest": nearest,
            "similarity": (nearest or {}).get("similarity"),
            "nearest_seed": _with_exact(ctx, verdict.nearest_seed, prep.normalized),
            "candidates": [_with_exact(ctx, c, prep.normalized) for c in verdict.candidates],
            "quotes": verdict.quotes,
            "story": verdict.story,
        }
    if out["verdict"] in ("new", "duplicate") and not rel.on_topic:
        # the pipeline judges relevance first: an off-topic page is never queued, nor
        # compared; what dedup would have said stays as evidence
        out["dedup_verdict"] = out["verdict"]
        out["verdict"] = "off_topic"
    dup = out.get("duplicate_of")
    if dup and dup.get("id") is not None:
        out["also_published_by"] = ctx.index.copies(int(dup["id"]))
    return out


def format_explanation(e: dict[str, Any]) -> str:
    lines = [f"{e['input']}"]
    if e.get("canonical_url"):
        lines.append(f"  canonical URL: {e['canonical_url']}")
    lines.append(
        f"  words: {e['word_count']}" + (" (short text: exact match only)" if e["short_text"] else "")
    )
    v = f"  verdict: {e['verdict'].replace('_', ' ').upper()}"
    if e.get("dedup_verdict"):
        v += f" (as a text, dedup alone would say {e['dedup_verdict']})"
    dup = e.get("duplicate_of")
    if e["verdict"] == "duplicate" and e["match"] == "url":
        # the URL itself was decided before: say what became of it, not "duplicate"
        prior = e["prior_decision"]
        doc = (e.get("duplicate_of") or {}).get("id")
        what = {"queued": f"queued as article #{doc}", "duplicate": f"a duplicate of article #{doc}"}
        v = f"  verdict: ALREADY DECIDED: this URL was {what.get(prior, prior)} before"
    elif e["verdict"] == "duplicate":
        v += f" by {e['match']}"
        if dup:
            v += " of " + _name(dup) + _sims(dup)
    lines.append(v)
    t = e["thresholds"]
    line = f"  thresholds: similarity >= {t['jaccard']} or containment >= {t['containment']}"
    if t.get("sentences") is not None:
        line += f" or {t['sentences']:.0%} of its sentences"
    lines.append(line)
    if e.get("nearest_seed"):
        lines.append("  nearest seed: " + _name(e["nearest_seed"]) + _sims(e["nearest_seed"]))
    if e.get("quotes"):
        lines.append("  quotes in full (not a copy of it): " + _name(e["quotes"]))
    story = e.get("story")
    if story:
        if story.get("related"):
            rel = ", ".join(f"#{r['id']} ({r['shared']} names/numbers shared)" for r in story["related"])
            lines.append(f"  story: would join story #{story['id']}, with {rel}")
        elif e["verdict"] == "new":
            lines.append("  story: would start a story of its own (no article shares its names and numbers)")
    if e.get("candidates"):
        lines.append("  candidates (sharing an LSH band, a sentence or the exact text):")
        for c in e["candidates"]:
            lines.append("    " + _name(c) + _sims(c))
    lines.extend(format_relevance(e["relevance"]))
    copies = e.get("also_published_by") or []
    if copies:
        lines.append(f"  also published by ({len(copies)}):")
        for c in copies:
            lines.append(f"    {c.get('url')} ({c.get('source')}, similarity {c.get('similarity')})")
    return "\n".join(lines)


def format_relevance(r: dict[str, Any]) -> list[str]:
    """The relevance evidence, as ``ingest explain`` prints it."""
    op = ">=" if r["on_topic"] else "<"
    langs = ", ".join(sorted(r.get("term_languages") or {}, key=lambda k: -r["term_languages"][k]))
    lines = [
        f"  relevance: {r['score']:.2f} {op} threshold {r['threshold']:.2f}: "
        f"{'ON TOPIC' if r['on_topic'] else 'OFF TOPIC'} (language {r.get('language') or 'unknown'}; "
        f"terms matched in {langs or 'none'})",
        f"    why: {r['why']}",
    ]
    for group, terms in (r.get("terms") or {}).items():
        found = ", ".join(
            f"{term} ({' '.join(f'{w} {n}' for w, n in where.items())})" for term, where in terms.items()
        )
        lines.append(f"    {group}: {found or '-'}")
    seed = r.get("nearest_seed")
    if seed:
        lines.append(f"    nearest seed or description: {seed['name']}: similarity {seed['similarity']:.2f}")
    parts = ", ".join(f"{k} {v:.2f}" for k, v in (r.get("parts") or {}).items())
    lines.append(f"    parts: {parts}")
    return lines


def _name(c: dict[str, Any]) -> str:
    if c.get("kind") == "seed":
        title = c.get("title")
        return f"seed {c.get('name')}" + (f" ({title})" if title else "")
    return f"article #{c.get('id')}" + (f" (stream {c['stream_id']})" if c.get("stream_id") else "")


def _sims(c: dict[str, Any]) -> str:
    sim = c.get("similarity")
    s = f": similarity {round(float(sim), 3) if sim is not None else None}"
    if c.get("exact_similarity") is not None:
        s += f" (exact {round(float(c['exact_similarity']), 3)})"
    if c.get("containment") is not None:
        s += f", containment {round(float(c['containment']), 3)}"
    return s


def explain_all(ctx: Context, inputs: list[str]) -> list[dict[str, Any]]:
    results = []
    for inp in inputs:
        try:
            results.append(explain(ctx, inp))
        except IngestError as exc:
            results.append({"input": inp, "verdict": "error", "error": str(exc), "reason": exc.reason})
    return results
