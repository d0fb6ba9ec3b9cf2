"""worker.textsig: trivial differences never decide whether two texts are the same."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from worker.textsig import (
    Signature,
    containment,
    content_hash,
    estimate_jaccard,
    normalize,
    signature,
    token_hashes,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
K, NUM_PERM = 5, 128


def seed_text(name: str) -> str:
    return normalize((SEEDS / name).read_text("utf-8"))


@pytest.fixture(scope="module")
def article() -> str:
    return seed_text("000_663d425c6dff775c.txt")


@pytest.fixture(scope="module")
def other_article() -> str:
    return seed_text("004_06fa49a5c750834e.txt")


def sig(text: str) -> Signature:
    return signature(text, k=K, num_perm=NUM_PERM)


# ---- normalize ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "plain"),
    [
        ("\u201cfraternal\u201d bonds \u2018hailed\u2019", "\"fraternal\" bonds 'hailed'"),
        ("\ufb01nal", "final"),
        ("\uff2c\uff49 \uff33\uff48\uff41\uff4e\uff47\uff46\uff55", "Li Shangfu"),
        ("China &amp; Belarus", "China & Belarus"),
        ("Li&#8217;s visit", "Li's visit"),
        ("Minsk \u2014 Beijing \u2013 Moscow", "Minsk - Beijing - Moscow"),
        ("PEOPLE'S LIBERATION ARMY", "people's liberation army"),
        ("  armed\t\tforces \n\n drills  ", "armed forces drills"),
        ("co\u00adoperation", "cooperation"),
    ],
    ids=[
        "curly-quotes",
        "ligature",
        "full-width",
        "named-entity",
        "numeric-entity",
        "dashes",
        "case",
        "spaces",
        "soft-hyphen",
    ],
)
def test_normalize_makes_trivial_variants_equal(variant: str, plain: str) -> None:
    assert normalize(variant) == normalize(plain)


def test_normalize_keeps_words_in_order_separated_by_single_spaces() -> None:
    assert normalize("  The \u201cEagle Assault\u201d drills,\n2024!  ") == "the eagle assault drills 2024"


def test_normalize_keeps_different_words_different() -> None:
    assert normalize("Belarus signs deal") != normalize("Belarus rejects deal")


def test_normalize_treats_every_ascii_character_as_the_unicode_path_does() -> None:
    # ASCII text takes a byte-table shortcut; one non-ASCII letter sends it the long way
    every_ascii = "".join(f"a{chr(c)}b " for c in range(128))
    assert normalize(every_ascii) + " é" == normalize(every_ascii + " é")


# ---- content hash ---------------------------------------------------------------------


def test_content_hash_is_equal_for_trivially_different_texts() -> None:
    a = "China\u2019s defence minister said: \u201cWe are brothers\u201d \u2014 in Minsk."
    b = 'CHINA\'S DEFENCE MINISTER SAID: "WE ARE BROTHERS" - IN MINSK.'
    c = "China&#8217;s  defence\nminister said: &quot;We are brothers&quot; &mdash; in Minsk."

    assert content_hash(normalize(a)) == content_hash(normalize(b)) == content_hash(normalize(c))


def test_content_hash_changes_when_one_word_changes() -> None:
    a = "China's defence minister said the talks in Minsk were fruitful."
    b = "China's defence minister said the talks in Minsk were fruitless."

    assert content_hash(normalize(a)) != content_hash(normalize(b))


def test_content_hash_is_a_sha256_hex_digest() -> None:
    h = content_hash(normalize("text"))

    assert len(h) == 64 and int(h, 16) >= 0


# ---- MinHash signatures ---------------------------------------------------------------


def test_signature_is_deterministic_across_calls(article: str) -> None:
    first, second = sig(article), sig(article)

    assert first.stored() == second.stored()
    assert (first.values == second.values).all()
    assert first.shingles == second.shingles


def test_signature_is_the_same_in_another_process(article: str) -> None:
    """Workers in different processes (any PYTHONHASHSEED) must index alike."""
    code = (
        "import sys; from worker.textsig import signature;"
        f"sys.stdout.write(signature(sys.stdin.read(), k={K}, num_perm={NUM_PERM}).stored().hex())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    res = subprocess.run(
        [sys.executable, "-c", code],
        input=article,
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert res.stdout == sig(article).stored().hex()


@pytest.mark.parametrize(
    ("text", "digest", "shingles"),
    [
        (
            "China and Belarus held joint drills near Brest. The defence ministers met in Minsk.",
            "48a0f94988fc30f5fa6d0d74ff12d92e4acd8a1d940698bb572f7e546d3ad029",
            10,
        ),
        (
            "Ein Beispiel: Übung der Streitkräfte in Minsk — Zusammenarbeit mit China, 2023.",
            "07e6b85739d6456d0b4a07f08ef711010cbba3059a1de3135277f41a46308f7b",
            7,
        ),
    ],
)
def test_signature_values_do_not_change_between_versions(text: str, digest: str, shingles: int) -> None:
    """An index built by an earlier version keeps matching what a newer one computes."""
    s = sig(normalize(text))

    assert (hashlib.sha256(s.values.tobytes()).hexdigest(), s.shingles) == (digest, shingles)


def test_token_hashes_of_a_normalized_text_are_the_crc32_of_each_word() -> None:
    for text in ("China and Belarus, 2023", "Übung der Streitkräfte — 中国 白俄罗斯", ""):
        norm = normalize(text)

        assert token_hashes(norm).tolist() == [zlib.crc32(w.encode("utf-8")) for w in norm.split()]


def test_signature_has_num_perm_values_and_counts_distinct_shingles() -> None:
    s = sig("a b c d e f a b c d e f")  # 8 windows, 6 of them distinct

    assert s.values.shape == (NUM_PERM,)
    assert len(s.stored()) == NUM_PERM  # one byte a value (b-bit MinHash, b = 8)
    assert s.shingles == 6


def test_identical_texts_have_estimated_jaccard_one(article: str) -> None:
    assert estimate_jaccard(sig(article).stored(), sig(article).stored()) == 1.0


def test_trivially_different_copies_have_estimated_jaccard_one(article: str) -> None:
    raw = (SEEDS / "000_663d425c6dff775c.txt").read_text("utf-8")
    variant = normalize(raw.upper().replace("'", "\u2019").replace(" ", "  "))

    assert estimate_jaccard(sig(article).stored(), sig(variant).stored()) == 1.0


def test_different_articles_on_the_same_topic_have_estimated_jaccard_below_0_1(
    article: str, other_article: str
) -> None:
    assert estimate_jaccard(sig(article).stored(), sig(other_article).stored()) < 0.1


def test_unrelated_texts_have_estimated_jaccard_below_0_1(article: str) -> None:
    football = normalize(
        "Harbor City rescued a point against ten-man Riverside Athletic when Okafor headed in a late "
        "corner. The home side had trailed since the first half, when a deflected shot looped over the "
        "goalkeeper, and the manager said afterwards that his players had shown great character in the "
        "second half. Riverside finished with ten men after a second yellow card for a late tackle. "
    )

    assert estimate_jaccard(sig(article).stored(), sig(football).stored()) < 0.1


def test_first_sixty_percent_of_a_text_is_mostly_contained_in_the_whole(article: str) -> None:
    words = article.split()
    head = " ".join(words[: int(len(words) * 0.6)])
    s_head, s_whole = sig(head), sig(article)

    j = estimate_jaccard(s_head.stored(), s_whole.stored())

    assert j < 0.8  # as a Jaccard similarity the two look different ...
    assert containment(j, s_head.shingles, s_whole.shingles) >= 0.8  # ... but one lies inside the other


def test_containment_of_different_articles_is_low(article: str, other_article: str) -> None:
    a, b = sig(article), sig(other_article)

    assert containment(estimate_jaccard(a.stored(), b.stored()), a.shingles, b.shingles) < 0.2


def test_containment_with_an_empty_text_is_zero() -> None:
    assert containment(1.0, 0, 100) == 0.0
