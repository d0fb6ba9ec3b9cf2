# ruff: noqa: E501
"""Twenty page templates in the shapes of real news outlets' markup, for the newsroom.

    from harness.templates import render_page, TEMPLATES
    raw, content_type, text = render_page(paragraphs, n=7, title="...", outlet=3)

Each template is written here from scratch in the *shape* of a kind of outlet's
page (no real site's HTML is copied): a WordPress theme, an Arc/Fusion app
with its whole story in a huge inline JSON, a BBC-like component soup, Russian
agency pages (TASS-like div soup, RIA-like per-paragraph blocks declared
windows-1251 in a ``<meta http-equiv>`` only), Chinese outlets (a Xinhua-like
page in GBK inside nested layout tables, a Global-Times-like page whose text is
``<br>``-separated), Japanese in Shift_JIS, Polish in ISO-8859-2, German,
French, a Taiwanese page in Big5, an AMP page, a Reuters-like React page whose
paragraphs are ``<div>``s, a legacy ``<table>``/``<font>`` layout, and more.
They carry JSON-LD, large inline scripts, lazy-loaded images with
``<noscript>`` fallbacks, share bars, comment sections, cookie banners and
consent walls, related-article rails and ad slots.

Outlet ``k`` uses template ``k % 20``. The article text is what the caller
gives (the generator's English paragraphs, on topic or not) plus a few
sentences in the page's language: topic sentences for an on-topic page,
neutral ones for an off-topic page (their words are none of the topic's English
terms, so an off-topic page stays off topic). Article ``n`` of outlet ``k`` is
always the same bytes.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.newsroom import TOPIC_WORDS, _vocabulary, outlet_name

# ---- sentences in the pages' languages ---------------------------------------------------
# (topic sentences for on-topic pages, neutral ones for off-topic pages)
NATIVE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": ((), ()),
    "ru": (
        (
            "Министр обороны Беларуси заявил, что военное сотрудничество с Китаем будет расширяться.",
            "Белорусские и китайские военные провели совместные учения под Брестом.",
            "Эксперты считают, что Пекин рассматривает Минск как партнёра в сфере безопасности.",
        ),
        (
            "Городские власти объявили о ремонте дорог в центре города.",
            "Синоптики обещают тёплую и солнечную погоду в выходные.",
            "Музей открыл новую выставку современного искусства.",
        ),
    ),
    "zh": (
        (
            "中国与白俄罗斯两国军队将进一步深化防务合作。",
            "白俄罗斯国防部长表示，双方将于明年举行联合演习。",
            "分析人士认为，北京视明斯克为欧洲安全事务中的重要伙伴。",
        ),
        (
            "市政府宣布将在市中心新建一座公园。",
            "本周末天气晴朗，气温适宜出行。",
            "博物馆推出了新的当代艺术展览。",
        ),
    ),
    "zh-TW": (
        (
            "中國與白俄羅斯兩國軍隊將進一步深化防務合作。",
            "白俄羅斯國防部長表示，雙方將於明年舉行聯合演習。",
            "分析人士認為，北京視明斯克為歐洲安全事務中的重要夥伴。",
        ),
        (
            "市政府宣佈將在市中心新建一座公園。",
            "本週末天氣晴朗，氣溫適宜出行。",
            "博物館推出了新的當代藝術展覽。",
        ),
    ),
    "ja": (
        (
            "中国とベラルーシは軍事協力を一段と強化する方針を示した。",
            "ベラルーシ国防省によると、両国は来年に合同演習を行う予定だ。",
            "専門家は、北京がミンスクを欧州の安全保障における重要なパートナーと見ていると指摘した。",
        ),
        (
            "市は中心部に新しい公園を整備すると発表した。",
            "週末は晴れて暖かくなる見込みだ。",
            "美術館で現代美術の新しい展覧会が始まった。",
        ),
    ),
    "pl": (
        (
            "Chiny i Białoruś zapowiedziały pogłębienie współpracy wojskowej w przyszłym roku.",
            "Białoruskie ministerstwo obrony potwierdziło wspólne ćwiczenia z chińską armią.",
            "Zdaniem ekspertów Pekin traktuje Mińsk jako ważnego partnera w sprawach bezpieczeństwa.",
        ),
        (
            "Władze miasta ogłosiły budowę nowych ścieżek rowerowych.",
            "W weekend będzie słonecznie i ciepło, zapowiadają synoptycy.",
            "Muzeum otworzyło nową wystawę sztuki współczesnej.",
        ),
    ),
    "de": (
        (
            "China und Belarus wollen ihre militärische Zusammenarbeit im kommenden Jahr ausbauen.",
            "Das belarussische Verteidigungsministerium bestätigte gemeinsame Übungen mit der chinesischen Armee.",
            "Beobachter sehen in Minsk einen wichtigen Sicherheitspartner Pekings in Europa.",
        ),
        (
            "Die Stadt kündigte neue Radwege im Zentrum an.",
            "Am Wochenende wird es sonnig und warm, sagen die Meteorologen.",
            "Das Museum eröffnete eine neue Ausstellung zeitgenössischer Kunst.",
        ),
    ),
    "fr": (
        (
            "La Chine et le Bélarus veulent renforcer leur coopération militaire l'an prochain.",
            "Le ministère bélarusse de la défense a confirmé des exercices conjoints avec l'armée chinoise.",
            "Selon des experts, Pékin voit en Minsk un partenaire important pour la sécurité en Europe.",
        ),
        (
            "La mairie a annoncé de nouvelles pistes cyclables dans le centre.",
            "Le week-end sera ensoleillé et doux, selon les prévisionnistes.",
            "Le musée a ouvert une nouvelle exposition d'art contemporain.",
        ),
    ),
}

# words of the page chrome (menus, teasers, comments): never a topic word
_CHROME_WORDS: list[str] = []


def _chrome_vocab() -> list[str]:
    if not _CHROME_WORDS:
        _CHROME_WORDS.extend(w for w in _vocabulary() if w not in TOPIC_WORDS)
    return _CHROME_WORDS


@dataclass
class Ctx:
    """What a template is given: the story, the outlet, and a seeded source of chrome text."""

    paras: list[str]  # the article's paragraphs, native sentences included
    n: int
    title: str
    outlet: int
    lang: str
    date: str
    site: str
    author: str
    rng: random.Random

    @property
    def t(self) -> str:
        return html.escape(self.title)

    def words(self, k: int) -> str:
        vocab = _chrome_vocab()
        return " ".join(self.rng.choice(vocab) for _ in range(k))

    def sentence(self, k: int) -> str:
        return self.words(k).capitalize() + "."

    def num(self, k: int = 10**6) -> int:
        return self.rng.randrange(k)

    def links(
        self, count: int, prefix: str = "/news/", words: int = 6, tag: str = "li", cls: str = ""
    ) -> str:
        c = f' class="{cls}"' if cls else ""
        return "".join(
            f'<{tag}{c}><a href="{prefix}{self.num()}">{self.words(words).capitalize()}</a></{tag}>'
            for _ in range(count)
        )

    def teasers(self, count: int, cls: str, lazy: str = "loading") -> str:
        """Related-article cards with lazy images: ``loading`` (native), ``data-src`` (JS)."""
        out = []
        for _ in range(count):
            img = f"/img/{self.num()}.jpg"
            if lazy == "data-src":
                pic = (
                    f'<img class="lazyload" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="{img}" '
                    f'data-srcset="{img} 1x, {img}?w=2 2x" alt=""><noscript><img src="{img}" alt=""></noscript>'
                )
            else:
                pic = f'<img src="{img}" loading="lazy" decoding="async" width="320" height="180" alt="">'
            out.append(
                f'<div class="{cls}"><a href="/story/{self.num()}">{pic}<h3>{self.words(7).capitalize()}</h3></a>'
                f'<p>{self.sentence(14)}</p><span class="{cls}__time">{self.num(23) + 1}h</span></div>'
            )
        return "".join(out)

    def comments(self, count: int, cls: str) -> str:
        return "".join(
            f'<li class="{cls}" id="comment-{self.num()}"><div class="{cls}__meta"><b>user{self.num(9999)}</b> '
            f'<time datetime="{self.date}T1{k % 10}:0{k % 6}">{k + 1} h</time></div>'
            f'<div class="{cls}__body"><p>{self.sentence(self.rng.randint(10, 36))}</p></div>'
            f'<div class="{cls}__actions"><a href="#reply">Reply</a> <span>{self.num(80)}</span></div></li>'
            for k in range(count)
        )

    def menu(self, sections: list[str], cls: str, sub: int = 8) -> str:
        return "".join(
            f'<li class="{cls}"><a href="/{s.lower()}/">{s}</a><ul>'
            + "".join(
                f'<li><a href="/{s.lower()}/{w}/">{w.title()}</a></li>'
                for w in (self.rng.choice(_chrome_vocab()) for _ in range(sub))
            )
            + "</ul></li>"
            for s in sections
        )

    def state_json(self, items: int, with_body: bool = False) -> str:
        """A large inline app state (teasers, ads config, and for some CMSs the story itself)."""
        data: dict[str, object] = {
            "page": {"id": self.n, "type": "article", "section": "world"},
            "teasers": [
                {
                    "id": self.num(),
                    "slug": self.words(4).replace(" ", "-"),
                    "headline": self.words(8).capitalize(),
                    "image": {"url": f"/img/{self.num()}.jpg", "w": 640, "h": 360},
                    "score": round(self.rng.random(), 4),
                }
                for _ in range(items)
            ],
            "ads": {"slots": [f"slot-{k}" for k in range(12)], "lazy": True, "refresh": 30},
        }
        if with_body:
            data["content_elements"] = [
                {"type": "text", "_id": f"{self.num():x}", "content": p} for p in self.paras
            ]
        return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")

    def json_ld(self, body: bool = False) -> str:
        doc: dict[str, object] = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": self.title,
            "datePublished": f"{self.date}T09:{self.n % 60:02d}:00+03:00",
            "dateModified": f"{self.date}T11:{self.n % 60:02d}:00+03:00",
            "inLanguage": self.lang,
            "author": [{"@type": "Person", "name": self.author}],
            "publisher": {
                "@type": "Organization",
                "name": self.site,
                "logo": {"@type": "ImageObject", "url": "/logo.png"},
            },
            "image": [f"/img/lead-{self.n}.jpg"],
            "mainEntityOfPage": f"/news/{self.n}",
        }
        if body:
            doc["articleBody"] = " ".join(self.paras)
        return (
            '<script type="application/ld+json">'
            + json.dumps(doc, ensure_ascii=False).replace("</", "<\\/")
            + "</script>"
        )

    def bc(self) -> str:
        return '<script type="application/ld+json">{"@context":"https://schema.org","@type":"BreadcrumbList","itemListElement":[{"@type":"ListItem","position":1,"name":"Home","item":"/"},{"@type":"ListItem","position":2,"name":"World","item":"/world/"}]}</script>'

    def ps(self, cls: str = "", fmt: str = "<p{c}>{p}</p>") -> str:
        c = f' class="{cls}"' if cls else ""
        return "\n".join(fmt.format(c=c, p=html.escape(p), i=i) for i, p in enumerate(self.paras))

    def cookie(
        self,
        cls: str,
        text: str = "We and our partners use cookies to personalise content and ads, to provide social media features and to analyse our traffic.",
    ) -> str:
        return (
            f'<div class="{cls}" role="dialog" aria-modal="true"><div class="{cls}__inner"><p>{text}</p>'
            f'<button class="{cls}__accept">Accept all</button><button class="{cls}__reject">Reject</button>'
            f'<a href="/privacy">Manage preferences</a></div></div>'
        )

    def share(self, cls: str) -> str:
        nets = ("facebook", "x", "telegram", "whatsapp", "vk", "email", "copy")
        return (
            f'<div class="{cls}">'
            + "".join(
                f'<a class="{cls}__btn {cls}__btn--{s}" href="https://share.example/{s}?u=/news/{self.n}" rel="nofollow noopener">{s.title()}</a>'
                for s in nets
            )
            + "</div>"
        )

    def tracking(self) -> str:
        return (
            "<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),event:'gtm.js'});"
            "var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;j.src='/gtm.js?id='+i;"
            "f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer','GTM-XXXX');</script>"
        )


def _head(c: Ctx, charset_meta: str, extra: str = "", title_suffix: str = "") -> str:
    return (
        f'<head>\n{charset_meta}\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{c.t}{title_suffix or ' - ' + html.escape(c.site)}</title>\n"
        f'<meta name="description" content="{html.escape(c.paras[0][:160])}">\n'
        f'<meta property="og:title" content="{c.t}"><meta property="og:type" content="article">'
        f'<meta property="og:site_name" content="{html.escape(c.site)}">'
        f'<meta property="og:image" content="/img/lead-{c.n}.jpg">\n'
        f'<meta name="author" content="{html.escape(c.author)}">'
        f'<meta property="article:published_time" content="{c.date}T09:{c.n % 60:02d}:00+03:00">\n'
        f'<link rel="canonical" href="/news/{c.n}">\n{extra}\n</head>'
    )


# ---- the templates ------------------------------------------------------------------------
def t_wordpress(c: Ctx, meta: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en-US" class="no-js">
{_head(c, meta, '<link rel="stylesheet" id="wp-block-library-css" href="/wp-includes/css/dist/block-library/style.min.css?ver=6.3" media="all"><link rel="stylesheet" href="/wp-content/themes/newspaperx/style.css?ver=2.1">' + c.json_ld() + c.bc() + '<script id="jquery-core-js" src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.0"></script><script>var wpAjax={"ajaxurl":"/wp-admin/admin-ajax.php","nonce":"' + f"{c.num():x}" + '"};</script>')}
<body class="post-template-default single single-post postid-{c.n} single-format-standard wp-embed-responsive">
<div id="page" class="site"><a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header"><div class="site-branding"><p class="site-title"><a href="/" rel="home">{c.site}</a></p><p class="site-description">{c.sentence(6)}</p></div>
<nav id="site-navigation" class="main-navigation"><button class="menu-toggle" aria-controls="primary-menu">Menu</button><ul id="primary-menu" class="menu">{c.menu(["World", "Politics", "Business", "Culture", "Opinion", "Sport"], "menu-item menu-item-type-taxonomy")}</ul></nav></header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
<article id="post-{c.n}" class="post-{c.n} post type-post status-publish format-standard has-post-thumbnail hentry category-world">
<header class="entry-header"><h1 class="entry-title">{c.t}</h1><div class="entry-meta"><span class="posted-on"><a href="/{c.date}/" rel="bookmark"><time class="entry-date published" datetime="{c.date}T09:00:00+00:00">{c.date}</time></a></span> <span class="byline"><span class="author vcard"><a class="url fn n" href="/author/staff/">{c.author}</a></span></span></div></header>
<div class="post-thumbnail"><img width="1024" height="576" src="/wp-content/uploads/2023/08/lead-{c.n}-1024x576.jpg" class="attachment-post-thumbnail size-post-thumbnail wp-post-image" alt="" decoding="async" loading="lazy" srcset="/wp-content/uploads/2023/08/lead-{c.n}-300x169.jpg 300w, /wp-content/uploads/2023/08/lead-{c.n}-1024x576.jpg 1024w"></div>
<div class="entry-content">
{c.ps(fmt="<p>{p}</p>")}
<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block sd-social"><h3 class="sd-title">Share this:</h3>{c.share("sd-content")}</div></div>
<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>Related</em></h3>{c.teasers(3, "jp-relatedposts-post")}</div>
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="/category/world/" rel="category tag">World</a></span><span class="tags-links">Tagged <a href="/tag/europe/" rel="tag">Europe</a>, <a href="/tag/asia/" rel="tag">Asia</a></span></footer>
</article>
<nav class="navigation post-navigation"><div class="nav-links"><div class="nav-previous"><a href="/news/{c.n - 1}" rel="prev">{c.words(6).capitalize()}</a></div><div class="nav-next"><a href="/news/{c.n + 1}" rel="next">{c.words(6).capitalize()}</a></div></div></nav>
<div id="comments" class="comments-area"><h2 class="comments-title">9 thoughts on &ldquo;{c.t}&rdquo;</h2><ol class="comment-list">{c.comments(9, "comment even thread-even depth-1")}</ol>
<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3><form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form"><p class="comment-notes">Your email address will not be published.</p><textarea id="comment" name="comment"></textarea><input name="author" type="text"><input name="email" type="email"><input name="submit" type="submit" value="Post Comment"></form></div></div>
</main></div>
<aside id="secondary" class="widget-area"><section id="search-2" class="widget widget_search"><form role="search" method="get" class="search-form" action="/"><input type="search" class="search-field" name="s"></form></section>
<section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2><ul>{c.links(8)}</ul></section>
<section id="archives-2" class="widget widget_archive"><h2 class="widget-title">Archives</h2><ul>{"".join(f'<li><a href="/2023/{m:02d}/">2023-{m:02d}</a></li>' for m in range(1, 9))}</ul></section></aside>
</div>
<footer id="colophon" class="site-footer"><div class="site-info"><a href="https://wordpress.org/">Proudly powered by WordPress</a></div></footer></div>
<div id="cookie-law-info-bar" data-nosnippet="true"><span>{c.sentence(18)} <a role="button" id="cookie_action_close_header" class="cli_action_button">ACCEPT</a></span></div>
<script src="/wp-content/plugins/jetpack/_inc/build/sharedaddy/sharing.min.js?ver=12.4" id="sharing-js-js"></script>
<script id="wp-emoji-settings" type="application/json">{{"baseUrl":"https://s.w.org/images/core/emoji/14.0.0/72x72/","ext":".png"}}</script>
</body>
</html>
"""


def t_arc(c: Ctx, meta: str) -> str:
    body = "".join(
        f'<p data-apitype="text" data-contentid="{c.num():X}" class="wpds-c-343554 wpds-c-343554-iPJLV-css overrideStyles font-copy">{html.escape(p)}</p>'
        + (
            f'<div class="wpds-c-acf9a1" data-qa="article-body-ad"><div id="slug_inline_0{k}" class="dib w-100"></div></div>'
            if k % 4 == 3
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html><html lang="en"><head>{meta}<meta name="viewport" content="width=device-width,initial-scale=1"><title>{c.t} - {c.site}</title>
<meta name="description" content="{html.escape(c.paras[0][:150])}"/><meta property="og:title" content="{c.t}"/><meta property="og:site_name" content="{c.site}"/><meta name="author" content="{c.author}"/><meta property="article:published_time" content="{c.date}T09:00:00.000Z"/><link rel="canonical" href="/world/{c.date.replace("-", "/")}/story-{c.n}/"/>
<link rel="preload" href="/pf/resources/fonts/postoni.woff2" as="font" crossorigin=""/>{c.json_ld()}
<style>.wpds-c-343554{{font-family:var(--wpds-fonts-body);font-size:1.125rem}}.dib{{display:inline-block}}.w-100{{width:100%}}</style>
</head><body><div id="fusion-app" class="layout-article"><div class="wpds-c-ce8296"><nav aria-label="sections"><ul>{c.menu(["Politics", "Opinions", "Style", "Investigations", "Climate", "Tech", "Lifestyle", "World"], "wpds-c-nav__item", 6)}</ul></nav>
<a href="/" aria-label="{c.site}" class="wpds-c-logo"><svg viewBox="0 0 100 20" width="200"><path d="M0 0h100v20H0z"/></svg></a><button data-qa="sign-in-btn">Sign in</button><button data-qa="subscribe">Subscribe</button></div>
<main><div class="grid-layout"><div class="grid-article"><div data-qa="headline" class="wpds-c-510d5b"><h1 id="main-content" data-qa="headline-text">{c.t}</h1></div>
<div data-qa="subheadline"><h2>{c.sentence(14)}</h2></div><div class="byline-wrapper"><span data-qa="author-name">By <a href="/people/staff/" rel="author">{c.author}</a></span><span data-qa="display-date">August {c.date[-2:]}, 2023 at 9:00 a.m. EDT</span></div>
<figure><div class="wpds-c-d74c9"><img alt="" src="/wp-apps/imrs.php?src=lead-{c.n}.jpg&amp;w=916" srcset="/wp-apps/imrs.php?src=lead-{c.n}.jpg&amp;w=540 540w, /wp-apps/imrs.php?src=lead-{c.n}.jpg&amp;w=916 916w" loading="eager"/></div><figcaption>{c.sentence(10)} (Photo: Agency)</figcaption></figure>
<div class="wpds-c-PJLV article-body" data-qa="article-body">{body}</div>
<div class="gift-share"><button aria-label="Gift Article">Gift Article</button><button aria-label="Share">Share</button><button aria-label="Comment">Comments</button></div>
<div data-qa="interstitial-link" class="wpds-c-992fa9"><a href="/world/{c.num()}">{c.words(8).capitalize()}</a></div>
</div><aside class="right-rail"><div data-qa="most-read"><h2>Most Read</h2><ol>{c.links(5, "/world/")}</ol></div><div class="ad-slot" id="slug_right_rail"></div></aside></div>
<section data-qa="more-from"><h2>More from World</h2>{c.teasers(8, "card", "loading")}</section></main>
<footer class="wpds-c-e85997"><ul>{c.links(24, "/about/", 2)}</ul><p>&copy; 1996-2023 {c.site}</p></footer></div>
<script id="fusion-metadata" type="application/javascript">window.Fusion=window.Fusion||{{}};Fusion.arcSite="site";Fusion.contextPath="/pf";Fusion.deployment="2107";Fusion.globalContent={c.state_json(420, with_body=True)};Fusion.globalContentConfig={{"source":"content-api","query":{{"id":"{c.num():X}"}}}};Fusion.contentCache={{}};</script>
<script src="/pf/dist/engine/react.js?d=2107" defer=""></script><script src="/pf/dist/components/combinations/default.js?d=2107" defer=""></script>
</body></html>"""


def t_bbc(c: Ctx, meta: str) -> str:
    blocks = "".join(
        f'<div data-component="text-block" class="ssrcss-4fac58f-RichTextComponentWrapper ed89d908"><div class="ssrcss-44a278-RichTextContainer e578adf9"><p class="ssrcss-8912bf1-Paragraph e640e624e">{"<b>" + html.escape(p) + "</b>" if k == 0 else html.escape(p)}</p></div></div>'
        + (
            f'<div data-component="image-block" class="ssrcss-efa636"><figure><div class="ssrcss-e1507d-StyledFigureContainer"><span><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/news/480/cpsprodpb/{c.num():x}.jpg" class="lazyload" alt="" width="976" height="549"/><noscript><img src="/news/480/cpsprodpb/{c.num():x}.jpg" alt=""/></noscript></span></div><figcaption class="ssrcss-1e74e69-Caption">{c.sentence(9)}</figcaption></figure></div>'
            if k == 2
            else ""
        )
        + (
            f'<div data-component="links-block" class="ssrcss-18e39c6"><h2 class="ssrcss-8912bf1-Heading">Related topics</h2><ul>{c.links(3, "/news/world-")}</ul></div>'
            if k == 6
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html><html lang="en-GB" class="no-js">{_head(c, meta, '<link rel="preconnect" href="https://static.files.example"/>' + c.json_ld() + "<script>window.__INITIAL_DATA__=" + json.dumps(c.state_json(260)) + ";</script>", " - " + c.site + " News")}
<body><div id="__next"><div class="ssrcss-423c22d-Wrap e8ce880c"><header data-testid="header-container" class="ssrcss-7ca9abb-GlobalNavigation"><div class="ssrcss-fa746f-AccountLinks"><a href="/account">Your account</a></div><nav><ul role="list">{c.menu(["Home", "News", "Sport", "Weather", "iPlayer", "Sounds", "Culture", "Travel"], "ssrcss-91858e3-GlobalNavigationProduct", 0)}</ul></nav></header>
<div class="ssrcss-309676-StyledNavigationWrapper"><nav aria-label="News"><ul>{c.menu(["Israel-Gaza war", "War in Ukraine", "Climate", "UK", "World", "Business", "Politics", "Culture"], "ssrcss-65fc81-StyledMenuItem", 0)}</ul></nav></div>
<div class="ssrcss-9ee9c7d-Cookie" id="cookiePrompt"><h2>Let us know you agree to cookies</h2><p>{c.sentence(20)}</p><button>Yes, I agree</button><a href="/usingthebbc/cookies">No, take me to settings</a></div>
<main id="main-content" data-testid="main-content" class="ssrcss-8912bf1-Main"><article class="ssrcss-6f4e2e-ArticleWrapper eb1b568a8"><header class="ssrcss-81ee34c-HeadingWrapper"><h1 id="main-heading" type="headline" tabindex="-1" class="ssrcss-f76a3d0-StyledHeading ee6dc2aae">{c.t}</h1></header>
<div data-component="byline-block" class="ssrcss-b53271-Text-TextContributorName"><div class="ssrcss-e48d60"><span>By {c.author}</span><span>BBC News</span></div><time data-testid="timestamp" datetime="{c.date}T09:00:00.000Z">{c.date}</time></div>
<div data-component="image-block"><figure><img sizes="(min-width: 1280px) 50vw, 100vw" srcset="/news/240/lead-{c.n}.jpg 240w, /news/976/lead-{c.n}.jpg 976w" src="/news/480/lead-{c.n}.jpg" width="976" height="549" alt=""/><figcaption>{c.sentence(8)}</figcaption></figure></div>
{blocks}
<div data-component="tag-list" class="ssrcss-61441e0-StyledTagContainer"><ul>{c.links(4, "/news/topics/", 1)}</ul></div></article>
<section data-component="related-content"><h2>More on this story</h2>{c.teasers(6, "ssrcss-91a63b-Promo", "data-src")}</section>
<section aria-labelledby="most-read"><h2 id="most-read">Most read</h2><ol>{c.links(10, "/news/", 8)}</ol></section></main>
<footer class="ssrcss-5b69aec-GlobalFooter"><nav><ul>{c.links(12, "/help/", 2)}</ul></nav><p>Copyright 2023 {c.site}. {c.sentence(10)}</p></footer></div></div>
<script>window.__NEXT_DATA__={{"props":{{"pageProps":{{"id":{c.n}}}}},"page":"/[[...slug]]","buildId":"{c.num():x}"}}</script>
</body></html>"""


def t_tass(c: Ctx, meta: str) -> str:
    # TASS-like: deep div soup, every paragraph its own <p>, "Читайте также" boxes
    body = "".join(
        f"<p>{html.escape(p)}</p>"
        + (
            f'<div class="Paragraph_paragraph__also"><div class="ReadAlso_container"><div class="ReadAlso_title">Читайте также</div><div class="ReadAlso_list"><a href="/politika/{c.num()}">{c.words(6).capitalize()}</a></div></div></div>'
            if k in (2, 7)
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html><html lang="ru">{_head(c, meta, c.json_ld() + "<script>window.__INITIAL_STATE__=" + c.state_json(240) + '</script><script src="https://mc.yandex.example/metrika/tag.js" async></script>', " - " + c.site)}
<body><div id="__next"><div class="Layout_layout__x"><div class="Layout_wrapper"><div class="Header_header"><div class="Header_container"><div class="Header_logo"><a href="/"><svg width="80" height="24"><rect width="80" height="24"/></svg></a></div><div class="Header_menu"><div class="Menu_menu"><ul>{c.menu(["Политика", "В мире", "Экономика", "Общество", "Происшествия", "Спорт", "Культура", "Наука"], "Menu_item", 4)}</ul></div></div><div class="Header_langs"><a href="/en/">EN</a></div></div></div>
<div class="Layout_content"><div class="Container_container"><div class="Grid_grid"><div class="Grid_main"><div class="NewsHeader_header"><div class="NewsHeader_tags"><a href="/v-mire">В мире</a></div><div class="NewsHeader_date"><span class="Date_date">{c.date[-2:]} августа, 09:{c.n % 60:02d}</span></div>
<h1 class="NewsHeader_titles"><span class="NewsHeader_title">{c.t}</span></h1><div class="NewsHeader_lead"><h3>{html.escape(c.paras[0][:120])}</h3></div></div>
<div class="NewsHeader_share">{c.share("Share_share")}</div>
<article><div class="Content_wrapper"><div class="Content_content"><div class="text-content"><div class="text-block">{body}</div></div></div></div></article>
<div class="Tags_tags"><a href="/tag/belarus-china">теги</a></div>
<div class="Comments_comments"><div class="Comments_title">Комментарии</div><ul>{c.comments(5, "Comment_comment")}</ul></div></div>
<div class="Grid_aside"><div class="Aside_inner"><div class="LastNews_lastNews"><div class="LastNews_title">Последние новости</div>{c.teasers(12, "LastNews_item")}</div><div class="Banner_banner" id="adfox_{c.num()}"></div></div></div></div></div></div>
<div class="Footer_footer"><div class="Footer_container"><div class="Footer_links"><ul>{c.links(18, "/info/", 2)}</ul></div><div class="Footer_copy">&copy; ТАСС-образное агентство, 1999–2023. {c.sentence(12)}</div></div></div>
<div class="CookiesNotification_wrapper"><div class="CookiesNotification_text">Сайт использует файлы cookie. Продолжая пользоваться сайтом, вы соглашаетесь с этим.</div><button class="CookiesNotification_btn">Принять</button></div>
</div></div></div></body></html>"""


def t_ria(c: Ctx, meta: str) -> str:
    # RIA-like: every paragraph in its own block, banners and "also" blocks between them
    blocks = "".join(
        f'<div class="article__block" data-type="text"><div class="article__text">{html.escape(p)}</div></div>'
        + (
            f'<div class="article__block" data-type="banner" data-position="{k}"><div class="banner m-article-desktop" data-id="r{c.num()}"><div class="banner__content"></div></div></div>'
            if k % 3 == 1
            else ""
        )
        + (
            f'<div class="article__block" data-type="article" data-article="related"><div class="article__article"><a href="/2023{c.date[5:7]}{c.date[-2:]}/{c.num()}.html" class="article__article-title"><span class="article__article-title-text">{c.words(7).capitalize()}</span></a><div class="article__article-info">{c.date[-2:]}.08.2023</div></div></div>'
            if k == 4
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html>
<html lang="ru"><head>
{meta}
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{c.t} - {c.site}, {c.date[-2:]}.08.2023</title>
<meta name="description" content="{html.escape(c.paras[0][:150])}">
<meta property="og:title" content="{c.t}"><meta property="og:site_name" content="{c.site}"><meta property="og:locale" content="ru_RU">
<meta name="analytics:author" content="{c.author}"><meta property="article:published_time" content="{c.date}T09:00">
{c.json_ld()}
<script>var GLOBAL={{"rubric":"world","article_id":{c.n},"ads":{{"adfox":{{"ownerId":{c.num()}}}}}}};</script>
<script>window.__rtb=window.__rtb||[];__rtb.push({c.state_json(120)});</script>
</head>
<body class="body m-article"><div class="page"><div class="page__width"><div class="header"><div class="header__logo"><a href="/">{c.site}</a></div><div class="header__menu"><ul class="header__menu-list">{c.menu(["Политика", "В мире", "Экономика", "Общество", "Происшествия", "Армия", "Наука", "Культура", "Религия", "Туризм"], "header__menu-item", 0)}</ul></div></div>
<div class="layout-article"><div class="layout-article__over"><div class="layout-article__main"><div class="layout-article__main-over"><div class="article m-article m-image" data-article-id="{c.n}"><div class="article__header"><div class="article__info"><div class="article__info-date"><a href="/2023{c.date[5:7]}{c.date[-2:]}/">09:{c.n % 60:02d} {c.date[-2:]}.08.2023</a></div><div class="article__info-statistic"><span class="statistic__item m-views">{c.num(99999)}</span></div></div>
<h1 class="article__title">{c.t}</h1><div class="article__second-title">{html.escape(c.paras[0][:100])}</div><div class="article__announce"><div class="media" data-type="ar16x9"><div class="photoview__open"><img media-type="ar16x9" data-crop-ratio="0.5625" alt="" title="" src="/images/{c.num()}/lead_{c.n}_600x0.jpg" decoding="async" width="1920" height="1080" loading="lazy"></div><div class="media__copyright"><div class="media__copyright-item m-copyright">&copy; Фото</div></div></div></div></div>
<div class="article__body js-mediator-article mia-analytics">{blocks}</div>
<div class="article__tags"><ul class="article__tags-list"><li class="article__tags-item"><a href="/world/" class="article__tags-item-link">В мире</a></li></ul></div>
<div class="article__footer"><div class="article__userbar">{c.share("share")}</div></div></div></div></div>
<div class="layout-article__right"><div class="section m-relap"><div class="section__title">Лента новостей</div><div class="lenta">{c.teasers(14, "lenta__item", "data-src")}</div></div></div></div></div>
<div class="footer"><div class="footer__copy">&copy; 2023 {c.site}. {c.sentence(14)}</div><div class="footer__menu">{c.links(16, "/docs/", 2, "span")}</div></div>
<div class="cookie-warning"><div class="cookie-warning__text">Мы используем файлы cookie для улучшения работы сайта.</div><div class="cookie-warning__close">Закрыть</div></div></div></div>
</body></html>
"""


def t_xinhua(c: Ctx, meta: str) -> str:
    # Xinhua-like (GBK): layout tables nested three deep, full-width indents, a "责任编辑" line
    paras = "".join(f"<p>\u3000\u3000{html.escape(p)}</p>\n" for p in c.paras)
    nav = "".join(
        f'<td><a href="/{s}/">{s}</a></td><td class="sep">|</td>'
        for s in ("首页", "时政", "国际", "财经", "军事", "社会", "体育", "科技", "图片")
    )
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="zh-CN">
<head>
{meta}
<title>{c.t}-{c.site}</title>
<meta name="keywords" content="{c.words(5).replace(" ", ",")}" />
<meta name="description" content="{html.escape(c.paras[0][:120])}" />
<meta name="publishdate" content="{c.date} 09:{c.n % 60:02d}:00" />
<meta name="source" content="{c.site}" />
<link rel="stylesheet" type="text/css" href="/css/detail.css" />
<script type="text/javascript" src="/js/jquery-1.8.3.min.js"></script>
<script type="text/javascript">var _xhConfig={{"pageType":"detail","columnId":"{c.num(9999)}","share":true}};</script>
</head>
<body>
<table width="1000" border="0" cellspacing="0" cellpadding="0" align="center" class="topbar"><tr><td width="200"><a href="/"><img src="/img/logo.gif" width="180" height="60" border="0" /></a></td><td><table border="0" cellspacing="0" cellpadding="0" class="nav"><tr>{nav}</tr></table></td></tr></table>
<table width="1000" border="0" cellspacing="0" cellpadding="0" align="center"><tr><td class="location"><a href="/">首页</a> &gt; <a href="/world/">国际</a> &gt; 正文</td></tr></table>
<table width="1000" border="0" cellspacing="0" cellpadding="0" align="center" class="main"><tr>
<td width="680" valign="top" class="left">
<table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td class="hd"><h1 id="title">{c.t}</h1>
<div class="info"><span class="h-time">{c.date} 09:{c.n % 60:02d}:00</span>&nbsp;&nbsp;<span class="source">来源：{c.site}</span>&nbsp;&nbsp;<span class="author">记者 {c.author}</span></div></td></tr>
<tr><td><div id="detail"><div id="p-detail">
<p style="text-align:center"><img src="/titlepic/{c.num()}_{c.n}.jpg" border="0" id="{c.num()}" /></p>
{paras}
<div class="zbj">【纠错】 <span class="editor">【责任编辑：{c.author}】</span></div>
</div></div></td></tr>
<tr><td><div class="share"><span>分享到：</span>{c.share("bdsharebuttonbox")}</div></td></tr></table>
<table width="100%" border="0" cellspacing="0" cellpadding="0" class="related"><tr><td class="tit">相关新闻</td></tr><tr><td><ul>{c.links(8, "/world/", 7)}</ul></td></tr></table>
</td>
<td width="20">&nbsp;</td>
<td width="300" valign="top" class="right"><table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td class="tit">热点推荐</td></tr><tr><td>{c.teasers(8, "hot", "loading")}</td></tr></table>
<table width="100%" class="ad"><tr><td><script type="text/javascript">document.write('<div id="ad_{c.num()}"></div>');</script></td></tr></table></td>
</tr></table>
<table width="1000" border="0" cellspacing="0" cellpadding="0" align="center" class="foot"><tr><td align="center">{c.links(10, "/about/", 2, "span")}<br />Copyright &copy; 2000-2023 {c.site} All Rights Reserved.<br />{c.sentence(8)}</td></tr></table>
<script type="text/javascript">window._bd_share_config={{"common":{{"bdSnsKey":{{}},"bdText":"","bdMini":"2","bdPic":"","bdStyle":"0","bdSize":"16"}},"share":{{}}}};</script>
</body>
</html>
"""


def t_globaltimes(c: Ctx, meta: str) -> str:
    # Global-Times-like: the text is one block with <br><br> between paragraphs, no <p>
    text = "<br><br>\n".join(html.escape(p) for p in c.paras)
    return f"""<!DOCTYPE html>
<html lang="en">{_head(c, meta, '<link rel="stylesheet" href="/css/article.css?v=20230801">' + c.json_ld())}
<body><div class="top_bar"><div class="container"><span class="top_date">{c.date}</span><a href="/cn/">中文</a> <a href="/epaper/">E-Paper</a></div></div>
<div class="nav_box"><div class="container"><a href="/" class="logo"><img src="/img/logo.png" alt="{c.site}"></a><ul class="nav_list">{c.menu(["China", "Source", "Opinion", "In-Depth", "World", "Life", "Sport", "Photo"], "nav_item", 5).replace("China", "Nation")}</ul></div></div>
<div class="container article_page"><div class="row"><div class="left_section"><div class="article"><div class="article_top"><div class="article_column"><a href="/world/">WORLD</a> / <a href="/world/europe/">EUROPE</a></div>
<div class="article_title">{c.t}</div><div class="article_info"><div class="author_share"><div class="author_share_left"><span class="byline">By <a href="/author/{c.num(999)}">{c.author}</a></span><span class="pub_time">Published: {c.date} 09:{c.n % 60:02d} PM</span></div><div class="author_share_right">{c.share("share_icons")}</div></div></div></div>
<div class="article_content"><div class="article_right"><center><img src="/Portals/0/attachment/2023/{c.num()}.jpeg" alt=""><br><p class="picture" style="text-align:center;">Photo: VCG</p></center><br>
{text}<br><br>
</div></div>
<div class="article_footer"><div class="related_reading"><div class="related_title">RELATED ARTICLES:</div><ul>{c.links(4, "/page/2023{c.date[5:7]}/", 8)}</ul></div></div></div></div>
<div class="right_section"><div class="right_box"><div class="box_title">MOST POPULAR</div>{c.teasers(10, "popular_item")}</div><div class="right_box"><div class="box_title">MOST VIEWED</div><ol>{c.links(10, "/page/", 8)}</ol></div></div></div></div>
<div class="footer"><div class="container"><div class="footer_links">{c.links(14, "/about/", 2, "span")}</div><p>Copyright by {c.site}. All rights reserved.</p></div></div>
<script>var _hmt=_hmt||[];(function(){{var hm=document.createElement("script");hm.src="/hm.js?{c.num():x}";var s=document.getElementsByTagName("script")[0];s.parentNode.insertBefore(hm,s);}})();</script>
</body></html>
"""


def t_japanese(c: Ctx, meta: str) -> str:
    body = "".join(
        f'<p class="content--summary-more">{html.escape(p)}</p>' if k == 0 else f"<p>{html.escape(p)}</p>"
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html>
<html lang="ja" prefix="og: http://ogp.me/ns#">{_head(c, meta, c.json_ld() + "<script>window.nhkState=" + c.state_json(200) + "</script>", "｜" + c.site + "ニュース")}
<body id="news" class="p-detail"><div id="wrapper"><header id="header" class="l-header"><div class="l-header__inner"><h1 class="l-header__logo"><a href="/">{c.site}</a></h1>
<nav class="l-header__nav"><ul>{"".join(f'<li><a href="/news/cat{k}.html">{s}</a></li>' for k, s in enumerate(("社会", "気象・災害", "科学・文化", "政治", "ビジネス", "国際", "スポーツ", "暮らし")))}</ul></nav></div></header>
<main id="main" class="l-main"><div class="module module--detail"><section class="module--detail-content"><header class="content--header"><h1 class="content--title"><span class="content--title-text">{c.t}</span></h1><p class="content--date"><time datetime="{c.date}T09:{c.n % 60:02d}">{c.date[:4]}年8月{int(c.date[-2:])}日 9時{c.n % 60}分</time></p></header>
<div class="content--thumb"><picture><source srcset="/news/html/{c.date.replace("-", "")}/K{c.n}_{c.num()}_w.webp" type="image/webp"><img src="/news/html/{c.date.replace("-", "")}/K{c.n}_{c.num()}_w.jpg" alt="" loading="lazy"></picture></div>
<div class="content--detail-body"><section class="content--detail-main"><div class="content--body">{body}</div></section>
<section class="content--detail-more"><h2 class="body-title">関連ニュース</h2><ul>{c.links(5, "/news/html/2023/", 7)}</ul></section></div>
<div class="content--sns">{c.share("sns-button")}</div></section></div>
<aside class="l-aside"><section class="module module--ranking"><h2 class="module--header">アクセスランキング</h2><ol>{c.links(10, "/news/html/", 8)}</ol></section>{c.teasers(6, "module--list-item")}</aside></main>
<footer id="footer" class="l-footer"><ul>{c.links(10, "/info/", 2)}</ul><p class="l-footer__copyright">Copyright {c.site} All rights reserved. 許可なく転載することを禁じます。</p></footer>
<div id="cookie-policy" class="cookie-policy"><p>このサイトではクッキーを使用しています。</p><button>同意する</button></div></div>
<script src="/common/js/lazyload.min.js" defer></script></body></html>
"""


def t_polish(c: Ctx, meta: str) -> str:
    # Onet/Gazeta-like: a huge RODO consent modal, paragraphs with classes, inline "Zobacz też" rails
    body = "".join(
        f'<p class="hyphenate paragraph">{html.escape(p)}</p>'
        + (
            f'<div class="inline-related"><h3>Zobacz także</h3><ul>{c.links(2, "/wiadomosci/", 7)}</ul></div>'
            if k == 3
            else ""
        )
        + (
            f'<div class="ad-placeholder" id="flat-belka-{k}"><div class="adv-label">Reklama</div></div>'
            if k % 4 == 2
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    consent = "".join(
        f'<div class="cmp-purpose"><h4>Cel {k}: {c.words(4)}</h4><p>{c.sentence(30)}</p><label><input type="checkbox" checked> Zgoda</label></div>'
        for k in range(10)
    )
    return f"""<!DOCTYPE html>
<html lang="pl">{_head(c, meta, '<meta property="og:locale" content="pl_PL">' + c.json_ld(body=True) + "<script>window.__APP_STATE__=" + c.state_json(180) + "</script>", " - " + c.site)}
<body class="article-page"><div id="rodo-consent" class="cmp-app_gdpr"><div class="cmp-intro_intro"><h2>Twoja prywatność jest dla nas ważna</h2><p>Zanim klikniesz „Przejdź do serwisu”, zapoznaj się z informacjami o przetwarzaniu danych.</p></div>{consent}<button class="cmp-button_button cmp-intro_acceptAll">Przejdź do serwisu</button><button class="cmp-button_button">Ustawienia zaawansowane</button></div>
<header class="site-header"><a class="logo" href="/">{c.site}</a><nav><ul>{c.menu(["Wiadomości", "Sport", "Biznes", "Kultura", "Technologie", "Zdrowie"], "nav-item", 6)}</ul></nav></header>
<div class="layout"><main class="main-column"><article class="article-detail"><div class="breadcrumbs"><a href="/">Strona główna</a> › <a href="/swiat/">Świat</a></div>
<h1 class="article-title">{c.t}</h1><div class="article-meta"><span class="author-name">{c.author}</span> <time class="article-date" datetime="{c.date}T09:00:00+02:00">{c.date[-2:]} sierpnia 2023, 09:{c.n % 60:02d}</time></div>
<div class="article-lead"><p>{html.escape(c.paras[0][:200])}</p></div>
<figure class="main-image"><img src="/foto/{c.num()}.jpg" data-src="/foto/{c.num()}_xl.jpg" class="lazy" alt=""><figcaption>Fot. Agencja</figcaption></figure>
<div class="article-body" id="detail">{body}</div>
<div class="article-share">{c.share("share")}</div></article>
<section class="comments"><h2>Komentarze ({c.num(300)})</h2><ul>{c.comments(8, "comment")}</ul></section></main>
<aside class="right-rail"><section class="most-read"><h2>Najczęściej czytane</h2>{c.teasers(10, "teaser", "data-src")}</section></aside></div>
<footer class="site-footer"><ul>{c.links(20, "/info/", 2)}</ul><p>&copy; 2023 {c.site}. Wszelkie prawa zastrzeżone.</p></footer>
</body></html>
"""


def t_german(c: Ctx, meta: str) -> str:
    # Spiegel/FAZ-like: data-area soup, a consent iframe placeholder, "Mehr zum Thema", a paywall section
    half = len(c.paras) * 2 // 3
    first = "".join(
        f'<div class="Absatz Absatz--text md:w-10/12 md:mx-auto px-16 md:px-24 hyphens-auto"><p>{html.escape(p)}</p></div>'
        for p in c.paras[:half]
    )
    rest = "".join(f"<p>{html.escape(p)}</p>" for p in c.paras[half:])
    return f"""<!DOCTYPE html>
<html lang="de" class="no-js">{_head(c, meta, c.json_ld() + "<script>window.__SPIEGEL_DATA__=" + c.state_json(300) + '</script><script>window._sp_=window._sp_||{config:{accountId:1216,baseEndpoint:"https://consent.example"}};</script>', " - " + c.site)}
<body class="bg-white"><div id="sp_message_container_{c.num()}" class="sp-message-container"><iframe title="SP Consent Message" src="about:blank"></iframe><p>Wir verwenden Cookies und ähnliche Technologien. Mit „Akzeptieren und weiter“ willigen Sie ein.</p></div>
<header data-area="navigation"><nav><ul>{c.menu(["Politik", "Ausland", "Panorama", "Sport", "Wirtschaft", "Netzwelt", "Wissenschaft", "Kultur"], "nav-item", 6)}</ul></nav><a href="/plus/">Abonnement</a> <a href="/anmelden">Anmelden</a></header>
<main id="Inhalt"><article aria-label="{c.t}" data-area="article"><header data-area="intro"><h2><span class="font-sansUI text-primary-base">Militärkooperation</span><span class="align-middle">{c.t}</span></h2>
<div class="font-serifUI">{c.sentence(22)}</div><div class="font-sansUI"><a href="/impressum/autor-{c.num(999)}">{c.author}</a>, <time datetime="{c.date} 09:{c.n % 60:02d}:00" class="timeformat">{c.date[-2:]}.08.2023, 09.{c.n % 60:02d} Uhr</time></div></header>
<div data-area="top_element>image"><figure><picture><img data-image-el="img" src="/images/{c.num():x}.jpg" loading="lazy" alt=""></picture><figcaption><p>{c.sentence(10)}</p><span>Foto: dpa</span></figcaption></figure></div>
<section class="relative" data-area="body"><div data-area="text">{first}</div>
<div data-area="related_articles"><span>Mehr zum Thema</span><ul>{c.links(3, "/ausland/", 7)}</ul></div>
<section data-area="body-continued" class="relative"><div data-area="text">{rest}</div></section></section>
<footer data-area="article-footer"><div data-area="social_bar">{c.share("social")}</div><div data-area="tags">{c.links(4, "/thema/", 1, "span")}</div></footer></article>
<section data-area="block>topic"><h2>Mehr aus dem Ressort</h2>{c.teasers(8, "teaser")}</section>
<section data-area="comments"><h2>Diskutieren Sie mit</h2><ul>{c.comments(6, "comment")}</ul></section></main>
<footer data-area="footer"><ul>{c.links(18, "/impressum/", 2)}</ul><p>© {c.site} GmbH & Co. KG</p></footer></body></html>
"""


def t_amp(c: Ctx, meta: str) -> str:
    body = "".join(
        f"<p>{html.escape(p)}</p>"
        + (
            f'<amp-ad width="300" height="250" type="doubleclick" data-slot="/123/amp_{k}"><div placeholder></div><div fallback></div></amp-ad>'
            if k % 4 == 2
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!doctype html>
<html ⚡ lang="en">
<head>
{meta}
<script async src="https://cdn.ampproject.org/v0.js"></script>
<script async custom-element="amp-ad" src="https://cdn.ampproject.org/v0/amp-ad-0.1.js"></script>
<script async custom-element="amp-social-share" src="https://cdn.ampproject.org/v0/amp-social-share-0.1.js"></script>
<script async custom-element="amp-consent" src="https://cdn.ampproject.org/v0/amp-consent-0.1.js"></script>
<title>{c.t} | {c.site}</title>
<link rel="canonical" href="/news/{c.n}">
<meta name="viewport" content="width=device-width,minimum-scale=1,initial-scale=1">
<meta name="author" content="{c.author}"><meta property="og:site_name" content="{c.site}">
{c.json_ld()}
<style amp-boilerplate>body{{-webkit-animation:-amp-start 8s steps(1,end) 0s 1 normal both;animation:-amp-start 8s steps(1,end) 0s 1 normal both}}@keyframes -amp-start{{from{{visibility:hidden}}to{{visibility:visible}}}}</style><noscript><style amp-boilerplate>body{{-webkit-animation:none;animation:none}}</style></noscript>
<style amp-custom>body{{font-family:Georgia,serif}}.amp-header{{background:#111;color:#fff}}.story p{{line-height:1.6}}</style>
</head>
<body>
<amp-consent id="consent" layout="nodisplay"><script type="application/json">{{"consentInstanceId":"c","consentRequired":true,"promptUI":"consent-ui"}}</script><div id="consent-ui" class="consent">{c.sentence(16)} <button on="tap:consent.accept">Accept</button><button on="tap:consent.reject">Reject</button></div></amp-consent>
<header class="amp-header"><a href="/">{c.site}</a><amp-sidebar id="sidebar" layout="nodisplay" side="left"><ul>{c.links(12, "/section/", 1)}</ul></amp-sidebar></header>
<article class="story"><h1>{c.t}</h1><div class="byline">By {c.author} · <time datetime="{c.date}">{c.date}</time></div>
<amp-img src="/img/lead-{c.n}.jpg" width="1200" height="675" layout="responsive" alt=""></amp-img>
{body}
<div class="share"><amp-social-share type="twitter"></amp-social-share><amp-social-share type="facebook" data-param-app_id="1"></amp-social-share><amp-social-share type="email"></amp-social-share></div></article>
<section class="related"><h2>More stories</h2>{"".join(f'<div class="card"><a href="/amp/{c.num()}"><amp-img src="/img/{c.num()}.jpg" width="320" height="180" layout="responsive"></amp-img><h3>{c.words(7).capitalize()}</h3></a></div>' for _ in range(8))}</section>
<footer><p>© 2023 {c.site}</p>{c.links(8, "/about/", 2, "span")}</footer>
<amp-analytics type="gtag" data-credentials="include"><script type="application/json">{{"vars":{{"gtag_id":"G-XXXX"}}}}</script></amp-analytics>
</body>
</html>
"""


def t_reuters(c: Ctx, meta: str) -> str:
    # Reuters-like React page: the paragraphs are <div data-testid="paragraph-N">, not <p>
    body = "".join(
        f'<div data-testid="paragraph-{k}" class="text__text__714a6 text__dark-grey__5b941 text__regular__ca0ed text__small__538b5 body__full_width__233b3 body__small_body__e3c7e article-body__paragraph__5636e">{html.escape(p)}</div>'
        + (
            '<div class="article-body__element__403cd"><div data-testid="ResponsiveAdSlot" class="responsive-ad__container"></div></div>'
            if k % 5 == 3
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html><html lang="en">{_head(c, meta, c.json_ld(body=True) + '<script id="fusion-metadata">window.Fusion={globalContent:' + c.state_json(300, with_body=True) + "}</script>", " | " + c.site)}
<body><div id="fusion-app"><div class="regular-article-layout__container__45fd3"><header class="site-header__container__e771c"><nav><ul>{c.menu(["World", "Business", "Markets", "Sustainability", "Legal", "Breakingviews", "Technology", "Investigations"], "nav-bar__item__0323a", 5)}</ul></nav><button>Sign In</button><button>Register</button></header>
<main id="main-content"><article class="article__container__41f11"><header class="article-header__container__85d6c"><div class="article-header__tags"><a href="/world/europe/">Europe</a></div><h1 data-testid="Heading" class="text__text__714a6 heading__base__14021">{c.t}</h1>
<div class="article-header__meta"><div class="info-content__author-date__1Epi_"><address><a href="/authors/staff/" rel="author">{c.author}</a></address><time datetime="{c.date}T09:{c.n % 60:02d}:00Z"><span>August {int(c.date[-2:])}, 2023</span><span>9:{c.n % 60:02d} AM UTC</span></time></div></div></header>
<div class="article__main__5b0e5"><div class="article-body__container__1fe99"><div class="article-body__content__c7c1a">{body}</div>
<div class="article-body__row__8f08d"><p class="trust-badge">Our Standards: The Trust Principles.</p></div></div></div></article>
<div data-testid="RelatedCoverage">{c.teasers(6, "media-story-card__hub__5d8f8")}</div>
<div class="read-next"><h2>Read Next</h2>{c.teasers(4, "story-card", "data-src")}</div></main>
<footer><div>{c.links(16, "/info-pages/", 2, "span")}</div><p>All quotes delayed a minimum of 15 minutes.</p></footer></div></div>
<div id="onetrust-banner-sdk"><p>{c.sentence(26)}</p><button id="onetrust-accept-btn-handler">Accept All Cookies</button></div>
</body></html>"""


def t_guardian(c: Ctx, meta: str) -> str:
    body = "".join(
        f'<p class="dcr-s23rjr">{html.escape(p)}</p>'
        + (
            f'<aside data-spacefinder-role="inline" class="dcr-rich-link"><gu-island name="RichLinkComponent" priority="feature" deferuntil="idle"><div class="rich-link"><a href="/world/{c.num()}">{c.words(8).capitalize()}</a></div></gu-island></aside>'
            if k == 3
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html><html lang="en">{_head(c, meta, c.json_ld() + '<script>window.guardian={"config":' + c.state_json(220) + "}</script>", " | " + c.site)}
<body><div id="bannerandheader"><div class="dcr-header"><a href="/"><span class="dcr-logo">{c.site}</span></a><a href="/contribute">Support us</a></div><nav data-component="nav2"><ul>{c.menu(["News", "Opinion", "Sport", "Culture", "Lifestyle"], "dcr-pillar", 8)}</ul></nav></div>
<main data-layout="StandardLayout"><div class="dcr-article"><div class="dcr-series"><a href="/world/europe-news">Europe</a></div><div data-gu-name="headline"><h1 class="dcr-1b4xbn">{c.t}</h1></div><div data-gu-name="standfirst"><div class="dcr-standfirst"><p>{c.sentence(18)}</p></div></div>
<div data-gu-name="meta"><address aria-label="Contributor info"><a rel="author" href="/profile/staff">{c.author}</a></address><details><summary>Thu {int(c.date[-2:])} Aug 2023 09.{c.n % 60:02d} BST</summary></details>
<gu-island name="ShareButton" priority="feature" deferuntil="visible"><div>{c.share("dcr-share")}</div></gu-island></div>
<div data-gu-name="body"><div id="maincontent"><div class="article-body-commercial-selector article-body-viewer-selector dcr-1h2vdmk">{body}</div></div>
<div class="dcr-epic"><h2>{c.words(6).capitalize()}</h2><p>{c.sentence(40)}</p><a href="/contribute">Support us</a></div></div></div>
<section data-component="more-on-this-story"><h2>More on this story</h2>{c.teasers(6, "dcr-card")}</section>
<section id="comments" data-component="discussion"><h2>Comments (…)</h2><gu-island name="DiscussionContainer" priority="feature" deferuntil="visible"><ul>{c.comments(10, "dcr-comment")}</ul></gu-island></section>
<section data-component="most-popular"><h2>Most viewed</h2><ol>{c.links(10, "/world/", 8)}</ol></section></main>
<footer class="dcr-footer"><ul>{c.links(20, "/help/", 2)}</ul><p>© 2023 {c.site} Media Limited or its affiliated companies.</p></footer>
<div id="sp_message_container"><p>{c.sentence(22)}</p><button>Yes, I'm happy</button><button>Manage my cookies</button></div>
</body></html>"""


def t_nyt(c: Ctx, meta: str) -> str:
    cols = []
    for start in range(0, len(c.paras), 3):
        ps = "".join(
            f'<p class="css-b07925 e3611245">{html.escape(p)}</p>' for p in c.paras[start : start + 3]
        )
        cols.append(
            f'<div class="css-965d94 StoryBodyCompanionColumn" data-testid="companionColumn-{start // 3}"><div class="css-835908">{ps}</div></div>'
        )
        cols.append(
            f'<div class="css-bdb3b38" id="story-ad-{start // 3 + 1}-wrapper"><div class="ad story-ad-{start // 3 + 1}-wrapper"></div></div>'
        )
    return f"""<!DOCTYPE html><html lang="en" class="story nytapp-vi-article" xmlns:og="http://opengraphprotocol.org/schema/">{_head(c, meta, c.json_ld() + "<script>window.__preloadedData=" + c.state_json(500, with_body=True) + ";</script>", " - " + c.site)}
<body><div id="app"><div><div class="css-fe0e159"><header class="css-3d62d9" data-testid="masthead-container"><div class="css-7c1a9dc"><a href="/" data-testid="masthead-mobile-logo"><svg viewBox="0 0 184 25"><path d="M0 0"/></svg></a></div><nav data-testid="masthead-nested-nav"><ul>{c.menu(["U.S.", "World", "Business", "Arts", "Lifestyle", "Opinion", "Audio", "Games"], "css-decd167", 6)}</ul></nav></header>
<main id="site-content"><div><article id="story" class="css-cfcfbc6 e41ce881d"><header class="css-6011763 e02a99df4"><div class="css-832bec7 eff7dbca"><h1 data-testid="headline" class="css-30f08d8 e02a99df4">{c.t}</h1></div><p id="article-summary" class="css-4e96fe ed4a8daeb">{c.sentence(20)}</p>
<div class="css-06a3f91"><p class="css-754cad e6ea09423">By <span class="css-3e17348 last-byline" itemprop="name">{c.author}</span></p><time class="css-6bd3e8 ead113af8" datetime="{c.date}T09:00:00-04:00">Aug. {int(c.date[-2:])}, 2023</time></div></header>
<section name="articleBody" itemprop="articleBody" class="meteredContent css-b0fe435">{"".join(cols)}</section>
<div class="bottom-of-article"><div class="css-9be0d9f"><p>A version of this article appears in print on Section A, Page 8.</p></div></div></article></div>
<div id="gateway-content"><div class="css-5c07e4"><h2>{c.words(5).capitalize()}</h2><p>{c.sentence(16)}</p><button>Subscribe</button></div></div>
<aside aria-label="Related"><h2>Related Content</h2>{c.teasers(8, "css-ef0b4ef", "data-src")}</aside></main>
<footer class="css-c76ef7d"><nav><ul>{c.links(30, "/section/", 2)}</ul></nav><p>© 2023 {c.site} Company</p></footer></div></div></div>
<div id="complianceBanner" class="css-b99417f"><p>{c.sentence(22)}</p><button>Accept</button><button>Reject all</button></div>
<script>window.__NYTConfig={{"gqlUrlClient":"https://samizdat.example/graphql","env":"production"}};</script>
</body></html>"""


def t_drupal(c: Ctx, meta: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en" dir="ltr" prefix="content: http://purl.org/rss/1.0/modules/content/ dc: http://purl.org/dc/terms/ og: http://ogp.me/ns#">{_head(c, meta, '<link rel="shortlink" href="/node/' + str(c.n) + '"><script type="application/json" data-drupal-selector="drupal-settings-json">' + c.state_json(160) + "</script>" + c.json_ld(body=True), " | " + c.site)}
<body class="path-node page-node-type-article"><a href="#main-content" class="visually-hidden focusable skip-link">Skip to main content</a>
<div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas><div class="layout-container"><header role="banner"><div class="region region-header"><div id="block-sitebranding" class="block block-system block-system-branding-block"><a href="/" rel="home" class="site-logo">{c.site}</a></div></div>
<div class="region region-primary-menu"><nav role="navigation" id="block-mainnavigation" class="block block-menu navigation menu--main"><ul class="menu">{c.menu(["News", "Sports", "Business", "Opinion", "Obituaries", "Community", "Events", "Classifieds"], "menu-item menu-item--expanded", 6)}</ul></nav></div></header>
<main role="main"><a id="main-content" tabindex="-1"></a><div class="layout-content"><div class="region region-content"><div data-drupal-messages-fallback class="hidden"></div>
<div id="block-pagetitle" class="block block-core block-page-title-block"><h1 class="page-title"><span class="field field--name-title field--type-string field--label-hidden">{c.t}</span></h1></div>
<article role="article" about="/node/{c.n}" class="node node--type-article node--promoted node--view-mode-full"><footer class="node__meta"><div class="node__submitted">Submitted by <span class="field field--name-uid field--type-entity-reference field--label-hidden"><span>{c.author}</span></span> on <span class="field field--name-created">{c.date}</span></div></footer>
<div class="node__content"><div class="field field--name-field-image field--type-image field--label-hidden field__item"><img loading="lazy" src="/sites/default/files/styles/large/public/2023-08/lead-{c.n}.jpg?itok={c.num():x}" width="480" height="270" alt=""></div>
<div class="clearfix text-formatted field field--name-body field--type-text-with-summary field--label-hidden field__item">{c.ps()}</div>
<div class="field field--name-field-tags field--type-entity-reference field--label-above"><div class="field__label">Tags</div><div class="field__items">{c.links(3, "/taxonomy/term/", 1, "div", "field__item")}</div></div>
<section class="field field--name-comment field--type-comment field--label-above comment-wrapper"><h2 class="title comment-form__title">Comments</h2><ul>{c.comments(6, "comment js-comment by-anonymous")}</ul></section></div></article></div></div>
<aside class="layout-sidebar-second" role="complementary"><div class="views-element-container block block-views"><h2>Popular content</h2><div class="view view-content">{c.teasers(8, "views-row")}</div></div></aside></main>
<footer role="contentinfo"><table class="footer-table" width="100%"><tr><td><table><tr><td><b>Sections</b></td></tr><tr><td>{c.links(6, "/section/", 1, "div")}</td></tr></table></td><td><table><tr><td><b>About</b></td></tr><tr><td>{c.links(6, "/about/", 2, "div")}</td></tr></table></td><td><table><tr><td><b>Contact</b></td></tr><tr><td>{c.sentence(10)}</td></tr></table></td></tr></table><p>&copy; 2023 {c.site}</p></footer></div></div>
<div class="eu-cookie-compliance-banner"><div class="popup-content info"><div id="popup-text"><p>{c.sentence(20)}</p></div><div id="popup-buttons"><button type="button" class="agree-button eu-cookie-compliance-default-button">OK, I agree</button></div></div></div>
</body></html>
"""


def t_legacy_tables(c: Ctx, meta: str) -> str:
    # a legacy portal (Russian, windows-1251 in the header): tables in tables, <font>, <br><br>
    # (text straight in the <td> as <font>...<br><br> extracts to nothing with tables off:
    # trafilatura drops the layout table; <p align> paragraphs, as such pages also have, do not)
    text = "".join(
        f'<p align="justify"><font face="Verdana, Arial" size="2">{html.escape(p)}</font></p>\n'
        for p in c.paras
    )
    left = "".join(
        f'<tr><td class="menu"><a href="/rubric/{k}/">{s}</a></td></tr>'
        for k, s in enumerate(
            ("Главная", "Политика", "Экономика", "Общество", "Регионы", "Спорт", "Культура", "Архив")
        )
    )
    return f"""<html>
<head>
{meta}
<title>{c.t} :: {c.site}</title>
<meta name="Keywords" content="новости, {c.words(4).replace(" ", ", ")}">
<meta name="Description" content="{html.escape(c.paras[0][:120])}">
<link rel="stylesheet" href="/style.css" type="text/css">
<script language="JavaScript">function openWin(u){{window.open(u,'w','width=600,height=400');}}</script>
</head>
<body bgcolor="#FFFFFF" leftmargin="0" topmargin="0" marginwidth="0" marginheight="0">
<table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td bgcolor="#003366" height="80"><a href="/"><img src="/img/logo.gif" width="300" height="80" border="0" alt="{c.site}"></a></td><td bgcolor="#003366" align="right"><font color="#FFFFFF" size="1">{c.date[-2:]}.08.2023</font></td></tr></table>
<table width="100%" border="0" cellspacing="0" cellpadding="4"><tr>
<td width="160" valign="top" bgcolor="#EEEEEE"><table width="100%" border="0" cellspacing="1" cellpadding="3">{left}</table>
<table width="100%" border="0"><tr><td><font size="1">{c.links(6, "/news/", 5, "div")}</font></td></tr></table></td>
<td valign="top"><table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td>
<table width="100%" border="0" cellspacing="0" cellpadding="6"><tr><td class="zag"><font face="Arial" size="4"><b>{c.t}</b></font></td></tr>
<tr><td><font size="1" color="#666666">{c.date[-2:]}.08.2023 09:{c.n % 60:02d} | {html.escape(c.author)}</font></td></tr>
<tr><td class="content" valign="top"><div class="newstext">
{text}
</div></td></tr>
<tr><td><font size="1"><a href="javascript:openWin('/print/{c.n}')">Версия для печати</a> | <a href="/send/{c.n}">Отправить другу</a></font></td></tr></table>
</td></tr>
<tr><td><table width="100%" border="0" cellspacing="0" cellpadding="3" bgcolor="#F5F5F5"><tr><td><b>Другие новости:</b></td></tr><tr><td><font size="2">{c.links(8, "/news/", 7, "div")}</font></td></tr></table></td></tr>
<tr><td><table width="100%" border="1" cellspacing="0" cellpadding="3" bordercolor="#CCCCCC"><tr><td><b>Комментарии</b></td></tr>{"".join(f'<tr><td><font size="1"><b>Гость {c.num(999)}</b>:</font> {c.sentence(16)}</td></tr>' for _ in range(5))}</table></td></tr></table></td>
<td width="200" valign="top"><table width="100%" border="0"><tr><td><script language="JavaScript">document.write('<iframe src="/banner/{c.num()}" width="200" height="400" frameborder="0"></iframe>');</script></td></tr><tr><td>{c.teasers(4, "side")}</td></tr></table></td>
</tr></table>
<table width="100%" border="0" cellspacing="0" cellpadding="6" bgcolor="#003366"><tr><td align="center"><font color="#FFFFFF" size="1">&copy; 2001-2023 {c.site}. При использовании материалов ссылка обязательна.<br>{c.links(6, "/about/", 2, "span")}</font></td></tr></table>
<!--LiveInternet counter--><script type="text/javascript">document.write("<img src='//counter.example/hit?r"+escape(document.referrer)+";"+Math.random()+"' width=1 height=1 alt=''>")</script><!--/LiveInternet-->
</body>
</html>
"""


def t_substack(c: Ctx, meta: str) -> str:
    notes = "".join(
        f'<div class="footnote" data-component-name="FootnoteToDOM"><a id="footnote-{k}" href="#footnote-anchor-{k}" class="footnote-number">{k}</a><div class="footnote-content"><p>{c.sentence(12)}</p></div></div>'
        for k in range(1, 4)
    )
    return f"""<!DOCTYPE html><html lang="en">{_head(c, meta, c.json_ld() + "<script>window._preloads=JSON.parse(" + json.dumps(c.state_json(260)) + ")</script>", " - " + c.site)}
<body><div id="entry"><div id="main" class="main typography use-theme-bg"><div class="topbar-content"><a href="/" class="navbar-title-link">{c.site}</a><button class="button primary subscribe-btn">Subscribe</button><button class="button sign-in-link">Sign in</button></div>
<div class="single-post-container"><div class="container"><div class="single-post"><div class="post-header"><h1 class="post-title published">{c.t}</h1><h3 class="subtitle">{c.sentence(12)}</h3>
<div class="post-meta"><div class="pencraft pc-display-flex"><a href="/@staff" class="pencraft frontend-pencraft-Text-module__decoration-hover-underline">{c.author}</a><div class="pencraft pc-reset">{c.date}</div></div>{c.share("post-ufi-button")}</div></div>
<div class="available-content"><div dir="auto" class="body markup">{c.ps()}
<div class="subscription-widget-wrap"><div class="subscription-widget show-subscribe"><div class="preamble"><p>Thanks for reading! Subscribe for free to receive new posts.</p></div><form class="form"><input type="email" name="email" placeholder="Type your email…"><button>Subscribe</button></form></div></div>
<div class="footnotes">{notes}</div></div></div>
<div class="post-footer"><div class="post-ufi">{c.share("like-button")}</div></div></div></div></div>
<div class="comments-section"><h4>Discussion about this post</h4><ul>{c.comments(7, "comment")}</ul></div>
<div class="portable-archive"><h3>Recent posts</h3>{c.teasers(6, "post-preview")}</div>
<div class="footer-wrap"><p>© 2023 {c.author}</p><a href="/privacy">Privacy</a> ∙ <a href="/tos">Terms</a> ∙ <a href="/collection">Collection notice</a></div></div></div>
</body></html>"""


def t_ap(c: Ctx, meta: str) -> str:
    body = "".join(
        f"<p>{html.escape(p)}</p>"
        + (
            f'<div class="Advertisement Advertisement-inline" data-unit="inline{k}"><div class="Advertisement-label">ADVERTISEMENT</div><div id="ad-{c.num()}"></div></div>'
            if k % 3 == 2
            else ""
        )
        + (
            f'<div class="HubPeek"><div class="HubPeek-title">Related coverage</div><ul>{c.links(3, "/article/", 8)}</ul></div>'
            if k == 5
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html><html class="Page" lang="en">{_head(c, meta, c.json_ld() + "<script>var brightspotData=" + c.state_json(200) + ";</script>", " | " + c.site)}
<body class="Page-body"><div class="Page-header-stickyWrap"><header class="Page-header"><div class="Page-header-bar"><a class="Page-header-logo" href="/">{c.site}</a><nav class="Page-header-navigation"><ul>{c.menu(["World", "U.S.", "Politics", "Sports", "Entertainment", "Business", "Science", "Fact Check"], "Page-header-navigation-item", 5)}</ul></nav><a class="Page-header-donate" href="/donate">Donate</a></div></header></div>
<main class="Page-main"><div class="Page-content"><div class="Page-headline"><div class="Page-breadcrumbs"><a href="/hub/world-news">World News</a></div><h1 class="Page-headline">{c.t}</h1>
<div class="Page-byline"><div class="Page-authors">By <a class="Link" href="/author/staff">{c.author.upper()}</a></div><div class="Page-dateModified"><bsp-timestamp data-timestamp="{c.num(10**12)}"><span>Updated 9:{c.n % 60:02d} AM GMT+3, August {int(c.date[-2:])}, 2023</span></bsp-timestamp></div></div>
<div class="Page-actions">{c.share("ActionBar")}</div></div>
<bsp-story-lead class="Page-lead"><figure class="Figure"><picture><source type="image/webp" srcset="/img/{c.num():x}.webp"><img class="Image" alt="" srcset="/img/lead-{c.n}.jpg 1x" width="599" height="399" loading="lazy" src="/img/lead-{c.n}.jpg"></picture><div class="CarouselSlide-info"><figcaption>{c.sentence(18)} (AP Photo)</figcaption></div></figure></bsp-story-lead>
<div class="RichTextStoryBody RichTextBody">{body}</div>
<div class="Page-storyBody-more"><div class="PageList-header-title">More from this author</div>{c.teasers(4, "PagePromo")}</div></div>
<div class="Page-below"><bsp-list-loadmore class="PageListStandardE"><div class="PageList-header"><h2>Most read</h2></div><ul>{c.links(10, "/article/", 9)}</ul></bsp-list-loadmore>{c.teasers(8, "PagePromo", "data-src")}</div></main>
<footer class="Page-footer"><div class="Page-footer-links">{c.links(24, "/about/", 2, "span")}</div><p>Copyright 2023 {c.site}. All Rights Reserved.</p></footer>
<div id="onetrust-consent-sdk"><div id="onetrust-banner-sdk"><p>{c.sentence(24)}</p><button>Accept All Cookies</button><button>Cookies Settings</button></div></div>
</body></html>"""


def t_french(c: Ctx, meta: str) -> str:
    body = "".join(
        f'<p class="article__paragraph ">{html.escape(p)}</p>'
        + (
            f'<p class="article__paragraph article__paragraph--lire-aussi">Lire aussi : <a href="/international/article/{c.num()}.html" class="js-article-read-also">{c.words(7).capitalize()}</a></p>'
            if k in (2, 6)
            else ""
        )
        for k, p in enumerate(c.paras)
    )
    return f"""<!DOCTYPE html>
<html lang="fr">{_head(c, meta, '<meta property="og:locale" content="fr_FR">' + c.json_ld() + "<script>var lmd=" + c.state_json(200) + ";</script>", " | " + c.site)}
<body class="article-page"><div id="habillagepub"></div><header class="Header"><div class="Header__logo"><a href="/">{c.site}</a></div><nav class="Nav"><ul>{c.menu(["International", "Politique", "Société", "Économie", "Idées", "Sport", "Culture", "Planète"], "Nav__item", 5)}</ul></nav><a class="Header__subscribe" href="/abonnement">S'abonner</a></header>
<main id="js-body" class="zone zone--article"><section class="article article--content"><header class="article__header"><ul class="breadcrumb"><li><a href="/international/">International</a></li><li><a href="/europe/">Europe</a></li></ul>
<h1 class="article__title">{c.t}</h1><p class="article__desc">{c.sentence(22)}</p><div class="meta meta__date-reading"><span class="meta__date">Publié le {int(c.date[-2:])} août 2023 à 09h{c.n % 60:02d}</span><span class="meta__reading-time">Temps de lecture : 4 min.</span></div>
<div class="meta__authors"><span class="author__name">{c.author}</span></div></header>
<figure class="article__media"><picture class="article__figure"><img src="/img/{c.num():x}.jpg" data-srcset="/img/{c.num():x}_1x.jpg 1x" class="lazy" alt=""></picture><figcaption class="article__legend">{c.sentence(10)}</figcaption></figure>
<article class="article__content">{body}
<section class="paywall"><div class="paywall__text">Il vous reste 70 % de cet article à lire. La suite est réservée aux abonnés.</div><a href="/abonnement">Découvrir les offres</a></section></article>
<section class="article__reactions"><h2>Réactions</h2><ul>{c.comments(6, "comment")}</ul></section>
<footer class="article__footer">{c.share("Share")}</footer></section>
<aside class="aside__iso"><section class="aside__block"><h2>Les plus lus</h2>{c.teasers(10, "teaser", "data-src")}</section></aside></main>
<footer class="Footer"><ul>{c.links(20, "/actualite-medias/", 2)}</ul><p>© {c.site} – Reproduction interdite.</p></footer>
<div id="gdpr-banner" class="gdpr-lmd-wall"><p>Nous utilisons des cookies et des technologies similaires. Vous pouvez accepter ou refuser.</p><button>Accepter</button><button>Refuser</button></div>
</body></html>
"""


def t_taiwan(c: Ctx, meta: str) -> str:
    # a Taiwanese/Hong Kong outlet in Big5: tables for the layout's frame, a div for the story
    body = "".join(f"<p>{html.escape(p)}</p>" for p in c.paras)
    nav = "".join(
        f'<li><a href="/list/{k}">{s}</a></li>'
        for k, s in enumerate(("即時", "政治", "社會", "國際", "兩岸", "財經", "體育", "娛樂"))
    )
    return f"""<!DOCTYPE html>
<html lang="zh-TW">
<head>
{meta}
<title>{c.t} - {c.site}</title>
<meta name="description" content="{html.escape(c.paras[0][:120])}">
<meta property="og:title" content="{c.t}"><meta property="og:locale" content="zh_TW"><meta property="og:site_name" content="{c.site}">
<meta name="pubdate" content="{c.date}T09:{c.n % 60:02d}:00+08:00">
{c.json_ld()}
<script>var _ltnConfig={c.state_json(160)};</script>
</head>
<body><div class="wrapper"><div class="header"><div class="logo"><a href="/">{c.site}</a></div><ul class="nav">{nav}</ul><div class="search"><form action="/search"><input type="text" name="q"><button>搜尋</button></form></div></div>
<table class="layout" width="100%" cellspacing="0" cellpadding="0"><tr><td class="main" valign="top">
<div class="whitecon articlebody"><div class="breadcrumbs"><a href="/">首頁</a> &gt; <a href="/list/3">國際</a></div><h1>{c.t}</h1>
<div class="text boxTitle boxText"><span class="time">{c.date} 09:{c.n % 60:02d}</span><span class="author">〔記者{html.escape(c.author)}／綜合報導〕</span>
<div class="photo boxTitle"><a href="/photo/{c.num()}"><img data-src="/photo/{c.num()}.jpg" class="lazy_imgs_ltn" src="/img/blank.gif" alt=""></a><p>{c.sentence(8)}</p></div>
{body}
<p class="appE1121"><a href="/app">下載APP</a></p></div>
<div class="fb-share">{c.share("share-bar")}</div>
<div class="related"><p class="boxTitle">相關新聞</p><ul>{c.links(6, "/news/world/breakingnews/", 7)}</ul></div></div>
</td><td class="side" width="300" valign="top"><div class="hot"><p class="boxTitle">熱門新聞</p>{c.teasers(8, "tit", "data-src")}</div><div id="ad_{c.num()}" class="ad_300x250"></div></td></tr></table>
<div class="footer"><p>{c.links(8, "/service/", 2, "span")}</p><p>&copy; 2023 {c.site} All Rights Reserved.</p></div>
<div class="cookie_policy"><p>本網站使用Cookie以提供您更好的瀏覽體驗。</p><button>我知道了</button></div></div>
</body></html>
"""


@dataclass(frozen=True)
class Template:
    name: str
    lang: str  # of its native sentences (NATIVE)
    charset: str  # the page's bytes are in this encoding
    declare: str  # where the charset is declared: "header" (and the page), or "meta" only
    meta: str  # the <meta> that declares it
    render: Callable[[Ctx, str], str]
    dateline: str = ""  # a native place-name in front of the first paragraph, as agencies write


def _m(charset: str) -> str:
    return f'<meta charset="{charset}">'


def _mhttp(charset: str) -> str:
    return f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'


TEMPLATES: tuple[Template, ...] = (
    Template("wordpress", "en", "utf-8", "header", _m("UTF-8"), t_wordpress),
    Template("arc-fusion", "en", "utf-8", "header", _m("utf-8"), t_arc),
    Template("bbc-like", "en", "utf-8", "header", _m("utf-8"), t_bbc),
    Template("tass-like", "ru", "utf-8", "header", _m("utf-8"), t_tass, "МИНСК, {d} августа. /Агентство/. "),
    Template(
        "ria-like-cp1251",
        "ru",
        "windows-1251",
        "meta",
        _mhttp("windows-1251"),
        t_ria,
        "МИНСК, {d} авг — РИА. ",
    ),
    Template("xinhua-like-gbk", "zh", "gbk", "header", _mhttp("gbk"), t_xinhua, "新华社明斯克8月{d}日电 "),
    Template("global-times-like", "zh", "utf-8", "header", _m("utf-8"), t_globaltimes),
    Template(
        "japanese-shift_jis", "ja", "shift_jis", "header", _mhttp("Shift_JIS"), t_japanese, "【ミンスク共同】"
    ),
    Template("polish-iso-8859-2", "pl", "iso-8859-2", "header", _mhttp("iso-8859-2"), t_polish),
    Template("german", "de", "utf-8", "header", _m("utf-8"), t_german),
    Template("amp", "en", "utf-8", "header", _m("utf-8"), t_amp),
    Template("reuters-like-divs", "en", "utf-8", "header", _m("utf-8"), t_reuters),
    Template("guardian-like", "en", "utf-8", "header", _m("utf-8"), t_guardian),
    Template("nyt-like", "en", "utf-8", "header", _m("utf-8"), t_nyt),
    Template("drupal", "en", "utf-8", "header", _m("utf-8"), t_drupal),
    Template("legacy-tables-cp1251", "ru", "windows-1251", "header", _mhttp("windows-1251"), t_legacy_tables),
    Template("substack-like", "en", "utf-8", "header", _m("utf-8"), t_substack),
    Template("ap-like", "en", "utf-8", "header", _m("utf-8"), t_ap),
    Template("french", "fr", "utf-8", "header", _m("utf-8"), t_french),
    Template("taiwan-big5", "zh-TW", "big5", "meta", _m("big5"), t_taiwan, "〔駐明斯克特派員／{d}日報導〕"),
)


def template_of(outlet: int) -> Template:
    return TEMPLATES[outlet % len(TEMPLATES)]


def with_native(paragraphs: list[str], template: Template, n: int, topical: bool) -> list[str]:
    """The article's paragraphs with a few sentences in the template's language: a lead
    paragraph and one in the middle (topic sentences, or neutral ones off topic)."""
    topic, neutral = NATIVE[template.lang]
    sentences = topic if topical else neutral
    paras = list(paragraphs)
    if not sentences:
        return paras
    k = n % len(sentences)
    lead = sentences[k] + " " + sentences[(k + 1) % len(sentences)]
    if template.dateline:
        lead = template.dateline.format(d=10 + n % 18) + lead
    paras.insert(0, lead)
    paras.insert(len(paras) // 2, sentences[(k + 2) % len(sentences)])
    return paras


def render_page(
    paragraphs: list[str],
    *,
    n: int,
    title: str,
    outlet: int,
    topical: bool = True,
    date: str = "2023-08-17",
) -> tuple[bytes, str, str]:
    """Article ``n`` on outlet ``outlet`` in template ``outlet % 20``: the page's bytes in
    its charset, the Content-Type to serve it with, and the page as text."""
    tpl = template_of(outlet)
    site = outlet_name(outlet)
    ctx = Ctx(
        paras=with_native(paragraphs, tpl, n, topical),
        n=n,
        title=title,
        outlet=outlet,
        lang=tpl.lang,
        date=date,
        site=site,
        author=f"Staff Reporter {n % 17}",
        rng=random.Random(f"tpl-{outlet}-{n}"),
    )
    text = tpl.render(ctx, tpl.meta)
    raw = text.encode(tpl.charset, errors="xmlcharrefreplace")
    ctype = f"text/html; charset={tpl.charset}" if tpl.declare == "header" else "text/html"
    return raw, ctype, text


def charset_of(content_type: str) -> str | None:
    """The charset parameter of a Content-Type, as an HTTP client reads it."""
    m = re.search(r"charset=([\w.:-]+)", content_type, re.I)
    return m.group(1) if m else None
