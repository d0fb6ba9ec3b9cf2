"""A generated newsroom: as many distinct, on-topic article pages as a test or benchmark needs.

Article ``n`` is always the same page. Its body is built from the words of our
own fixture pages, drawn at random (seeded by ``n``), with topic sentences so
that the relevance filter keeps it; two articles share almost no 5-word
sequence, so none is a duplicate of another. Pages carry realistic markup
around the body: navigation, related links, comments, scripts, a cookie banner.
"""

from __future__ import annotations

import html
import random
import re
from functools import lru_cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

TOPIC_SENTENCES = [
    "Officials in Minsk said military cooperation with China would deepen next year.",
    "Belarusian and Chinese defence planners discussed joint exercises and training.",
    "Analysts said Beijing sees Belarus as a partner for security talks in Europe.",
    "The Belarusian defence ministry confirmed more exchanges with the Chinese army.",
]


@lru_cache(maxsize=1)
def _vocabulary() -> list[str]:
    text = " ".join(p.read_text("utf-8") for p in sorted((FIXTURES / "site").glob("*.html")))
    text = re.sub(r"<[^>]+>", " ", text)
    return sorted({w for w in re.findall(r"[A-Za-z]{3,12}", text) if w.islower()})


def article_paragraphs(n: int, words: int = 800) -> list[str]:
    rng = random.Random(n)
    vocab = _vocabulary()
    paras = [TOPIC_SENTENCES[n % 4] + " " + TOPIC_SENTENCES[(n + 1) % 4]]
    count = len(paras[0].split())
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 5)):
            s = " ".join(rng.choice(vocab) for _ in range(rng.randint(8, 18)))
            sentences.append(s.capitalize() + ".")
        para = " ".join(sentences)
        paras.append(para)
        count += len(para.split())
    paras.append(TOPIC_SENTENCES[(n + 2) % 4])
    return paras


def article_html(n: int, words: int = 800, title: str | None = None) -> str:
    """A full news page around article n: the shape of a real outlet's page, our words."""
    title = title or f"Report {n}: China and Belarus widen military ties"
    body = "\n".join(f"    <p>{html.escape(p)}</p>" for p in article_paragraphs(n, words))
    sections = ("world", "politics", "business", "defence", "europe", "asia", "opinion", "video")
    nav = "".join(f'<li><a href="/section/{s}">{s.title()}</a></li>' for s in sections)
    related = "".join(
        f'<li><a href="/news/story-{n + k}.html">Story {n + k}: related coverage</a></li>'
        for k in range(1, 7)
    )
    comments = "".join(
        f'<div class="comment"><span class="who">reader{k}</span><p>Comment {k} on this story.</p></div>'
        for k in range(4)
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)} | Newsroom Daily</title>
  <meta name="description" content="Coverage of China and Belarus, report {n}.">
  <meta property="og:title" content="{html.escape(title)}">
  <meta name="author" content="Staff Reporter {n % 17}">
  <meta property="article:published_time" content="2023-08-{10 + n % 18:02d}T09:00:00+03:00">
  <style>body{{font-family:serif}} .nav li{{display:inline}} .cookie{{position:fixed}}</style>
  <script>window.dataLayer=window.dataLayer||[];dataLayer.push({{page:"article",id:{n}}});</script>
</head>
<body>
  <header><a href="/" class="logo">Newsroom Daily</a><nav><ul class="nav">{nav}</ul></nav></header>
  <div class="breadcrumb"><a href="/">Home</a> &rsaquo; <a href="/section/world">World</a></div>
  <main>
  <article>
    <h1>{html.escape(title)}</h1>
    <p class="byline">By Staff Reporter {n % 17} &middot;
      <time datetime="2023-08-{10 + n % 18:02d}">Aug {10 + n % 18}, 2023</time></p>
{body}
  </article>
  <aside class="related"><h2>Related stories</h2><ul>{related}</ul></aside>
  <section class="comments"><h2>Comments</h2>{comments}</section>
  </main>
  <div class="cookie">We use cookies to improve your experience. <button>Accept</button></div>
  <footer><p>&copy; 2023 Newsroom Daily. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
  <script src="/static/app.js"></script>
</body>
</html>
"""


def rss(base: str, paths: list[str], title: str = "Newsroom Daily") -> str:
    items = "".join(
        f'<item><title>Story {i}</title><link>{base}{p}</link><guid isPermaLink="false">{base}{p}#guid</guid>'
        f"<pubDate>Thu, 17 Aug 2023 10:{i % 60:02d}:00 +0000</pubDate></item>"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>{base}/</link><description>news</description>{items}</channel></rss>"
    )


def atom(base: str, paths: list[str], title: str = "Newsroom Daily") -> str:
    entries = "".join(
        f'<entry><title>Story {i}</title><link rel="alternate" href="{base}{p}"/><id>{base}{p}#id</id>'
        f"<updated>2023-08-17T10:{i % 60:02d}:00Z</updated></entry>"
        for i, p in enumerate(paths)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{html.escape(title)}</title><id>{base}/</id><updated>2023-08-17T10:00:00Z</updated>{entries}</feed>"
    )
