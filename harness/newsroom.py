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

# its words come from the test suite's fixture pages
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

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


# ---- a newsroom of several outlets (the end-to-end benchmark) ------------------------------
# Every word of the shipped topic's term groups (config/ingest.toml): an off-topic page has none.
TOPIC_WORDS = frozenset(
    [
        "china",
        "chinese",
        "beijing",
        "pla",
        "liberation",
        "li",
        "shangfu",
        "xi",
        "jinping",
        "belarus",
        "belarusian",
        "minsk",
        "lukashenko",
        "khrenin",
        "military",
        "defence",
        "defense",
        "army",
        "armed",
        "forces",
        "troops",
        "exercise",
        "exercises",
        "drill",
        "drills",
        "weapons",
        "security",
        "minister",
        "national",
    ]
)

OUTLETS = (
    "Newsroom Daily", "Eastern Ledger", "The Morning Wire", "Capital Gazette", "Continental Post",
    "Harbour Times", "Northern Courier", "The Evening Standard-Bearer", "Riverside Chronicle", "Metro Dispatch",
)  # fmt: skip

OFFTOPIC_TITLES = (
    "City council approves new cycling lanes", "Local bakery wins regional award",
    "Storm warning issued for the coast", "University opens new library wing",
    "Football club signs young striker", "Museum restores medieval tapestry",
)  # fmt: skip


def outlet_name(outlet: int) -> str:
    return OUTLETS[outlet % len(OUTLETS)] + (
        f" {outlet // len(OUTLETS) + 1}" if outlet >= len(OUTLETS) else ""
    )


def offtopic_paragraphs(n: int, words: int = 800) -> list[str]:
    """An article body of about ``words`` words without a single topic word (never on topic)."""
    rng = random.Random(f"offtopic-{n}")
    vocab = [w for w in _vocabulary() if w not in TOPIC_WORDS]
    paras: list[str] = []
    count = 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(3, 5)):
            s = " ".join(rng.choice(vocab) for _ in range(rng.randint(8, 18)))
            sentences.append(s.capitalize() + ".")
        paras.append(" ".join(sentences))
        count += len(paras[-1].split())
    return paras


def syndicated_paragraphs(n: int, words: int = 800, *, copy: int = 0, edit_share: float = 0.02) -> list[str]:
    """Article n as a wire copy republishes it: a dateline in front, ~2% of words edited,
    the last paragraph cut. A near-duplicate of article n, not an exact one."""
    rng = random.Random(f"syndicated-{n}-{copy}")
    vocab = _vocabulary()
    paras = [p.split() for p in article_paragraphs(n, words)]
    paras = paras[:-1] if len(paras) > 2 else paras
    for para in paras[1:]:
        for _ in range(max(1, round(len(para) * edit_share))):
            para[rng.randrange(len(para))] = rng.choice(vocab)
    out = [" ".join(p) for p in paras]
    out[0] = f"MINSK, Aug {10 + n % 18} (Wire) \u2014 " + out[0]
    return out


def news_page(
    paragraphs: list[str],
    *,
    n: int,
    title: str,
    outlet: int = 0,
    date: str = "2023-08-17",
) -> str:
    """A full page of outlet ``outlet`` around ``paragraphs``, with the weight of a real one.

    About 60-70 KB: a mega-menu, a large inline state script, JSON-LD, an inline
    "read more" box, most-read and related lists with teasers, 12 comments, a
    newsletter form, ad slots, a cookie banner and a large footer. Each outlet's
    template differs (class names, section names, order), so two outlets'
    copies of one story share the story's words and nothing else.
    """
    rng = random.Random(f"page-{outlet}-{n}")
    site = outlet_name(outlet)
    slug = re.sub(r"[^a-z0-9]+", "-", site.lower()).strip("-")
    cls = slug.split("-")[-1][:6]
    vocab = [w for w in _vocabulary() if w not in TOPIC_WORDS]

    def words(k: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(k))

    sections = ["World", "Europe", "Asia", "Politics", "Business", "Markets", "Technology", "Science",
                "Sport", "Culture", "Opinion", "Video"]  # fmt: skip
    sections = sections[outlet % 3 :] + sections[: outlet % 3]
    menu = "".join(
        f'<li class="{cls}-menu__item"><a href="/{s.lower()}/">{s}</a><ul class="{cls}-menu__sub">'
        + "".join(
            f'<li><a href="/{s.lower()}/{w}/">{w.title()}</a></li>'
            for w in (rng.choice(vocab) for _ in range(10))
        )
        + "</ul></li>"
        for s in sections
    )
    state = ",".join(
        f'{{"id":{rng.randrange(10**6)},"slug":"{words(3).replace(" ", "-")}","kind":"teaser",'
        f'"image":"/img/{rng.randrange(10**6)}.jpg","score":{rng.random():.4f}}}'
        for _ in range(160)
    )
    teaser = "".join(
        f'<li class="{cls}-teaser"><a href="/{rng.choice(sections).lower()}/{10**6 + rng.randrange(10**6)}">'
        f'<img src="/img/t{rng.randrange(10**5)}.jpg" alt="" loading="lazy"><span>{words(7).capitalize()}</span>'
        f"</a><p>{words(14).capitalize()}.</p></li>"
        for _ in range(16)
    )
    comments = "".join(
        f'<article class="{cls}-comment"><header><span class="who">reader{rng.randrange(10**4)}</span>'
        f'<time datetime="{date}T1{k % 10}:00">{k + 1} hours ago</time></header>'
        f"<p>{words(rng.randint(12, 40)).capitalize()}.</p><footer><button>Reply</button>"
        f"<button>Like ({rng.randrange(50)})</button></footer></article>"
        for k in range(12)
    )
    footer = "".join(
        f'<div class="{cls}-footer__col"><h4>{s}</h4><ul>'
        + "".join(
            f'<li><a href="/{s.lower()}/{rng.choice(vocab)}">{rng.choice(vocab).title()}</a></li>'
            for _ in range(12)
        )
        + "</ul></div>"
        for s in sections[:6]
    )
    half = max(1, len(paragraphs) // 2)
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[:half])
    body += (
        f'\n<aside class="{cls}-readmore"><h3>Read more</h3><ul>'
        + "".join(
            f'<li><a href="/news/{rng.randrange(10**6)}">{words(6).capitalize()}</a></li>' for _ in range(3)
        )
        + "</ul></aside>\n"
    )
    body += "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs[half:])
    author = f"Staff Reporter {n % 17}"
    t = html.escape(title)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} | {site}</title>
<meta name="description" content="{html.escape(paragraphs[0][:150])}">
<meta name="author" content="{author}"><meta property="og:type" content="article">
<meta property="og:site_name" content="{site}"><meta property="og:title" content="{t}">
<meta property="article:published_time" content="{date}T09:{n % 60:02d}:00+03:00">
<link rel="stylesheet" href="/static/{slug}.min.css?v=4.{outlet}.0"><link rel="canonical" href="/news/{n}">
<style>:root{{--ink:#1b1f24;--accent:#9c1c1c}} body{{margin:0;font-family:Georgia,serif}}
.{cls}-menu{{display:flex}} .{cls}-menu__sub{{display:none}} .{cls}-teaser img{{width:120px}}
.{cls}-cookie{{position:fixed;bottom:0}} .{cls}-ad{{min-height:250px}}</style>
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle","headline":"{t}",
"datePublished":"{date}T09:00:00+03:00","author":{{"@type":"Person","name":"{author}"}},
"publisher":{{"@type":"Organization","name":"{site}"}}}}</script>
<script>window.__STATE__={{"page":{{"id":{n},"kind":"article"}},"teasers":[{state}]}};</script>
<script>window.dataLayer=window.dataLayer||[];function track(){{dataLayer.push(arguments)}}track("init","{slug}");</script>
</head>
<body class="{cls}-page {cls}-page--article">
<a class="skip" href="#main">Skip to content</a>
<div class="{cls}-ad {cls}-ad--top" data-slot="top" data-sizes="970x250,728x90"></div>
<header class="{cls}-header"><a class="{cls}-logo" href="/">{site}</a>
<div class="{cls}-account"><a href="/subscribe">Subscribe</a> <a href="/login">Sign in</a></div>
<nav class="{cls}-menu" aria-label="Main"><ul>{menu}</ul></nav>
<form class="{cls}-search" action="/search"><input type="search" name="q"><button>Search</button></form></header>
<div class="{cls}-breadcrumb"><a href="/">Home</a> &rsaquo; <a href="/world/">World</a></div>
<main id="main"><article class="{cls}-story">
<h1>{t}</h1>
<p class="{cls}-byline">By {author} &middot; <time datetime="{date}">{date}</time></p>
<figure><img src="/img/lead-{n}.jpg" alt="" width="960" height="540"><figcaption>{words(9).capitalize()}.</figcaption></figure>
{body}
<ul class="{cls}-tags"><li><a href="/tag/world">World</a></li><li><a href="/tag/europe">Europe</a></li></ul>
<div class="{cls}-share"><a href="#">Share</a><a href="#">Post</a><a href="#">Email</a></div>
</article>
<div class="{cls}-ad {cls}-ad--mid" data-slot="mid" data-sizes="300x250"></div>
<aside class="{cls}-mostread"><h2>Most read</h2><ol>{teaser[: len(teaser) // 2]}</ol></aside>
<aside class="{cls}-related"><h2>Related</h2><ul>{teaser[len(teaser) // 2 :]}</ul></aside>
<section class="{cls}-comments"><h2>Comments (12)</h2>{comments}</section>
<form class="{cls}-newsletter"><h3>The {site} briefing</h3><p>{words(20).capitalize()}.</p>
<input type="email" name="email" placeholder="Your email"><button>Sign up</button></form>
</main>
<div class="{cls}-cookie">We use cookies to improve your experience. <button>Accept</button> <a href="/privacy">Settings</a></div>
<footer class="{cls}-footer">{footer}<p>&copy; 2023 {site}. All rights reserved.</p></footer>
<script src="/static/{slug}.vendor.js" defer></script><script src="/static/{slug}.app.js" defer></script>
</body>
</html>
"""
