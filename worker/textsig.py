"""Text normalisation, content hashes and MinHash signatures (numpy, no per-shingle loop).

Everything that decides "is this the same text?" starts here, so that trivial
differences (Unicode forms, curly quotes, dashes, case, spacing, entities left
in by a page) never decide: both sides go through :func:`normalize` first.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# letters and digits make a word; everything else separates words (quotes, dashes and
# other punctuation, whatever their Unicode form)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# the same for ASCII text, a byte table: lower-case letters and digits kept, the rest a space
_ASCII_WORDS = bytes(c if chr(c).isalnum() else 32 for c in range(128)).lower() + b" " * 128


def normalize(text: str) -> str:
    """A canonical form of a text for hashing: NFKC, unescaped, casefolded, one space
    between words and no punctuation (soft hyphens, invisible break hints, dropped: the
    word they sit in stays one word)."""
    text = html.unescape(text)  # returns at once when there is no "&"
    if text.isascii():  # NFKC leaves ASCII as it is: a table lookup per byte does the rest
        return " ".join(text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split())
    text = unicodedata.normalize("NFKC", text.replace("\u00ad", "")).casefold()
    return " ".join(_WORD.findall(text))


# a sentence ends at . ! ? (then a space), at their full-width forms, or at a line break
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])|\n+")
_SPACELESS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
SENTENCE_MIN_WORDS = 8  # shorter lines are site furniture ("Read more", dates, share bars), not prose


def sentence_keys(text: str) -> list[bytes]:
    """An 8-byte key for each sentence of a text that is prose (``SENTENCE_MIN_WORDS`` words
    or more; two CJK characters count as a word), normalised: the same sentence in another
    page's furniture, punctuation or case has the same key. Each key once, in text order."""
    out: list[bytes] = []
    seen: set[bytes] = set()
    for raw in _SENTENCE_END.split(text):
        norm = normalize(raw)
        if not norm:
            continue
        words = norm.count(" ") + 1
        if words < SENTENCE_MIN_WORDS:
            cjk = len(_SPACELESS.findall(norm))
            if not cjk or words + cjk // 2 < SENTENCE_MIN_WORDS:
                continue
        key = hashlib.blake2b(norm.encode("utf-8"), digest_size=8, person=b"sentence").digest()
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def sample_order(key: bytes) -> bytes:
    """The order a bottom-k sample of 8-byte keys is taken in: by their last bytes, while a
    bucket table places a key by its first four (lua/decide.lua), so the sample's keys still
    spread over every bucket (sampled by their first bytes, they would crowd the low ones)."""
    return key[::-1]


def content_hash(normalized: str) -> str:
    """sha256 of the normalised text: equal for texts that differ only trivially."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def url_hash(url: str) -> bytes:
    """A compact (8-byte) key for a canonical URL or GUID in Redis hashes."""
    return hashlib.blake2b(url.encode("utf-8"), digest_size=8).digest()


@dataclass(frozen=True)
class Signature:
    """A MinHash signature of a text's word shingles.

    ``values`` are the full 32-bit minima, used for LSH bands; ``stored()`` keeps
    their low 8 bits (b-bit MinHash), which is all the similarity estimate needs:
    one byte a value instead of four.
    """

    values: np.ndarray  # uint32, shape (num_perm,)
    shingles: int  # number of distinct shingles

    def stored(self) -> bytes:
        return (self.values & 0xFF).astype(np.uint8).tobytes()

    def band_hashes(self, bands: int, rows: int) -> list[bytes]:
        """One 8-byte hash per LSH band of ``rows`` values."""
        v = self.values[: bands * rows].astype("<u4").reshape(bands, rows)
        return [
            hashlib.blake2b(row.tobytes(), digest_size=8, person=b"band%04d" % i).digest()
            for i, row in enumerate(v)
        ]


_MERSENNE = np.uint64((1 << 61) - 1)
_LOW32 = np.uint64(0xFFFFFFFF)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Fixed random (a, b) pairs: every worker and every run must hash alike."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(1, (1 << 32) - 1, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, (1 << 32) - 1, size=num_perm, dtype=np.uint64)
    return a, b


def token_hashes(normalized: str) -> np.ndarray:
    """32-bit hashes of a normalised text's words (crc32: fast, the same in every process).

    Its words are separated by single ASCII spaces, so splitting its UTF-8 bytes once
    gives each word's bytes (half the time of encoding word by word).
    """
    tokens = normalized.encode("utf-8").split()
    return np.fromiter(map(zlib.crc32, tokens), dtype=np.uint64, count=len(tokens))


def shingles_of_token_hashes(tok: np.ndarray, k: int) -> np.ndarray:
    """Distinct 32-bit hashes of the k-word shingles (the whole text if shorter)."""
    if tok.size == 0:
        return np.zeros(0, dtype=np.uint64)
    k = min(k, int(tok.size))
    n = int(tok.size) - k + 1
    h = np.zeros(n, dtype=np.uint64)
    # polynomial rolling combination of the k word hashes, vectorised over all shingles
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * np.uint64(0x100000001B3) + tok[j : j + n]
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return np.unique(h & np.uint64(0xFFFFFFFF))


def shingle_hashes(normalized: str, k: int) -> np.ndarray:
    return shingles_of_token_hashes(token_hashes(normalized), k)


def signature_of_shingles(sh: np.ndarray, num_perm: int) -> Signature:
    """MinHash of a shingle set: one vectorised pass over a (num_perm x shingles) matrix."""
    if sh.size == 0:
        return Signature(np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32), 0)
    a, b = _permutations(num_perm)
    # (a*x + b) mod (2^61 - 1), low 32 bits; x < 2^32 and a < 2^32 keep it within uint64.
    # In place: each fresh temporary of this size (num_perm x shingles x 8 bytes, ~1 MB)
    # cost more in page faults than its arithmetic (1.8 -> 0.5 ms an article)
    with np.errstate(over="ignore"):
        hv = np.outer(a, sh)
        hv += b[:, None]
        hv %= _MERSENNE
        hv &= _LOW32
    return Signature(hv.min(axis=1).astype(np.uint32), int(sh.size))


def signature(normalized: str, *, k: int, num_perm: int) -> Signature:
    """MinHash signature of a normalised text's k-word shingles."""
    return signature_of_shingles(shingle_hashes(normalized, k), num_perm)


def estimate_jaccard(a: bytes, b: bytes) -> float:
    """Jaccard similarity estimated from two stored (8-bit) signatures.

    Equal low bytes mean equal minima, or a chance agreement (1 in 256) that is removed.
    """
    x = np.frombuffer(a, dtype=np.uint8)
    y = np.frombuffer(b, dtype=np.uint8)
    agree = float(np.count_nonzero(x == y)) / x.size
    return max(0.0, (agree - 1 / 256) / (1 - 1 / 256))


def containment(jaccard: float, size_a: int, size_b: int) -> float:
    """How much of the smaller shingle set lies in the larger one, derived from Jaccard."""
    if min(size_a, size_b) == 0:
        return 0.0
    inter = jaccard * (size_a + size_b) / (1.0 + jaccard)
    return min(1.0, inter / min(size_a, size_b))


def exact_jaccard(norm_a: str, norm_b: str, k: int) -> float:
    """The true Jaccard similarity of two texts' shingle sets (for explanations)."""
    a = set(shingle_hashes(norm_a, k).tolist())
    b = set(shingle_hashes(norm_b, k).tolist())
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
