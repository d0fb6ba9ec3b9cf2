"""Is the page we got the article, or a wall in front of it?

A paywall teaser, a cookie-consent wall or a bot challenge answers 200 with a page,
and extraction finds some text in it; queued as if complete, it would hand
downstream a teaser or a cookie notice. The signs, each with its reason:

* ``http_401``, ``http_402``, ``http_403``, ``http_451``: the site refused the page
  (the fetcher's reason, see :data:`ACCESS_DENIED`);
* ``bot_challenge``: a challenge page's markers (Cloudflare, DDoS-Guard, DataDome,
  PerimeterX, Imperva, captchas) and little text;
* ``consent_wall``: a consent manager's wall (Google's and Yahoo's consent pages,
  "Before you continue") and little text;
* ``paywall``: the page says its content is not free (schema.org
  ``isAccessibleForFree: false``, the usual paywall containers) and the text is short;
* ``teaser``: the text is far shorter than the feed's own summary or
  ``content:encoded`` (under ``TEASER_SHARE`` of it).

Such an article is recorded as ``partial`` with its reason and not queued; when the
feed itself carries the full text (``Item.feed_text``), that text is used instead and
the message says so (``text_source: feed``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCESS_DENIED = frozenset({"http_401", "http_402", "http_403", "http_451"})
SHORT_WORDS = 150  # a challenge's or consent wall's text is shorter than this
PAYWALL_WORDS = 250  # a page that says it is not free, with less text than this, is its teaser
TEASER_SHARE = 0.5
TEASER_MIN_FEED_WORDS = 60  # below this the feed's summary is itself a teaser: no comparison
HEAD_BYTES = 256 * 1024  # markers are looked for in the page's first bytes

_CHALLENGE = re.compile(
    rb"cf-browser-verification|/cdn-cgi/challenge-platform|_cf_chl_opt|cf-challenge|"
    rb"<title>\s*(?:just a moment\.\.\.|attention required! \| cloudflare|ddos-guard)|"
    rb"checking your browser before accessing|ddos-guard|captcha-delivery\.com|geo\.captcha-delivery|"
    rb"px-captcha|perimeterx|_incapsula_resource|incapsula incident|sgcaptcha|"
    rb"please enable js and disable any ad blocker|verify you are human|are you a robot\?",
    re.I,
)
_CONSENT = re.compile(
    rb"consent\.google\.|consent\.yahoo\.com|guce\.yahoo\.com|consent\.youtube\.com|"
    rb"<title>\s*before you continue|consent-wall|cmp-wall|cookiewall|cookie-wall|"
    rb"(?:accept|agree to) (?:all )?cookies to (?:continue|read)",
    re.I,
)
_PAYWALL = re.compile(
    rb"\"isAccessibleForFree\"\s*:\s*\"?false|class=\"[^\"]*\b(?:paywall|piano-offer|tp-modal|"
    rb"subscriber-only|premium-content|meteredContent)\b",
    re.I,
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def text_size(text: str) -> int:
    """Words, with every two Chinese, Japanese or Korean characters counted as one (their
    scripts have no spaces between words)."""
    cjk = len(_CJK.findall(text))
    if not cjk:
        return len(text.split())
    return sum(1 for w in text.split() if not _CJK.search(w)) + cjk // 2


@dataclass(frozen=True)
class Wall:
    reason: str
    detail: str


def wall_of(html: bytes, text: str | None, feed_words: int | None) -> Wall | None:
    """The wall this page is, or None for an article. ``text``: what extraction found
    (None: nothing); ``feed_words``: the size of the feed's own summary or content."""
    head = html[:HEAD_BYTES]
    size = text_size(text) if text else 0
    if size < SHORT_WORDS and _CHALLENGE.search(head):
        return Wall("bot_challenge", f"a bot challenge page ({size} words)")
    if size < SHORT_WORDS and _CONSENT.search(head):
        return Wall("consent_wall", f"a consent wall ({size} words)")
    if feed_words and feed_words >= TEASER_MIN_FEED_WORDS and size < TEASER_SHARE * feed_words:
        paywalled = bool(_PAYWALL.search(head))
        reason = "paywall" if paywalled else "teaser"
        return Wall(reason, f"{size} words on the page, {feed_words} in the feed's own text")
    if size < PAYWALL_WORDS and _PAYWALL.search(head):
        return Wall("paywall", f"a paywalled page ({size} words)")
    return None
