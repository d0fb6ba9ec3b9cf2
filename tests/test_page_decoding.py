"""Pages whose bytes lie about their encoding, and pages built to break the parser.

``decode_html`` must give readable text or, for bytes that are no text at all,
something extraction then rejects with a reason; nothing here may raise
anything but :class:`worker.errors.NotAnArticle`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.errors import NotAnArticle
from worker.extract import decode_html, extract

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
RUSSIAN = (
    "<html><head><title>Минск</title></head><body><p>"
    + "Министр обороны Китая прибыл в Минск для переговоров о военном сотрудничестве. " * 5
    + "</p></body></html>"
)


def test_cp1251_page_labelled_utf8_is_decoded_as_cp1251() -> None:
    assert decode_html(RUSSIAN.encode("cp1251"), "utf-8") == RUSSIAN


def test_cp1252_page_labelled_utf8_keeps_its_accents_and_curly_quotes() -> None:
    html = (HOSTILE / "academy-visit.html").read_text("utf-8")

    text = decode_html(html.encode("cp1252"), "utf-8")

    assert text == html
    assert "café" in text and "naïve" in text and "ministry’s" in text and "—" in text


def test_utf8_page_with_a_few_invalid_bytes_stays_utf8() -> None:
    body = RUSSIAN.encode("utf-8")
    cut = body.index("переговоров".encode())
    broken = body[:cut] + b"\xff\xfe" + body[cut:]

    text = decode_html(broken, "utf-8")

    assert (
        text
        == RUSSIAN[: RUSSIAN.index("переговоров")] + "\ufffd\ufffd" + RUSSIAN[RUSSIAN.index("переговоров") :]
    )


def test_utf8_page_with_one_accent_and_a_few_invalid_bytes_stays_utf8_not_cp1252() -> None:
    html = "<html><body><p>" + "Minsk and Beijing talk about the army. " * 30 + "A café near the base.</p>"
    body = html.encode("utf-8").replace(b"talk about", b"talk\xa0\xff about", 2) + b"</body></html>"

    text = decode_html(body, "utf-8")

    assert "café" in text and "cafÃ©" not in text
    assert text.count("\ufffd") == 4


def test_undeclared_utf8_with_more_valid_characters_than_stray_bytes_stays_utf8() -> None:
    html = (
        "<p>" + "Der Minister traf in Minsk ein, sagte ein Sprecher: „Übung“ und „Truppenübungsplatz“. " * 5
    )
    body = html.encode("utf-8").replace(b"sagte", b"sa\xffgte", 1)

    text = decode_html(body, None)

    assert "„Übung“" in text and text.count("\ufffd") == 1


def test_valid_utf8_served_as_latin1_with_a_meta_utf8_is_utf8() -> None:
    html = '<html><head><meta charset="utf-8"><title>Минск</title></head><body><p>café, naïve, «Минск»</p>'

    assert decode_html(html.encode("utf-8"), "iso-8859-1") == html


def test_a_meta_charset_is_used_when_the_header_names_none() -> None:
    html = RUSSIAN.replace(
        "<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    )

    assert decode_html(html.encode("cp1251"), None) == html


def test_a_latin1_label_is_read_as_windows_1252_as_browsers_do() -> None:
    html = "<p>The ministry’s “statement” — in full.</p>" * 3

    assert decode_html(html.encode("cp1252"), "iso-8859-1") == html


def test_unknown_declared_charset_falls_back_to_the_bytes_themselves() -> None:
    assert decode_html(RUSSIAN.encode("utf-8"), "x-no-such-charset") == RUSSIAN


def test_binary_bytes_served_as_html_end_as_no_text() -> None:
    garbage = bytes(range(256)) * 400

    with pytest.raises(NotAnArticle) as exc:
        extract(decode_html(garbage, "utf-8"), url="http://127.0.0.1/bin")

    assert exc.value.reason == "no_text"


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_hundred_thousand_nested_divs_end_as_no_text_not_a_crash(closed: bool) -> None:
    depth = 100_000
    html = "<html><body>" + "<div>" * depth + "<p>" + "Minsk and Beijing talk. " * 40 + "</p>"
    if closed:
        html += "</div>" * depth + "</body></html>"

    with pytest.raises(NotAnArticle) as exc:
        extract(html, url="http://127.0.0.1/deep")

    assert exc.value.reason == "no_text"


def test_article_followed_by_a_hundred_thousand_nested_divs_is_still_extracted() -> None:
    html = (HOSTILE / "border-exercise.html").read_text("utf-8")
    deep = html.replace("</article>", "</article>" + "<div>" * 100_000 + "x" + "</div>" * 100_000)

    assert "Falcon Vault" in extract(deep, url="http://127.0.0.1/deep").text
