"""Text analysis shared by indexing, querying and snippets.

One pass over a text yields everything the index needs, so a document is scanned once even
though it feeds several fields:

* **words** - Chinese segmented into words (rjieba, the Rust port of jieba, without HMM: 0.32 s
  for the 1.6 million Chinese characters of the TiDB corpus against 3.0 s for jieba, with the
  same dictionary), English lower-cased and stemmed (Porter2), code terms kept whole *and*
  split into their parts (``error_code_42`` -> ``error_code_42``, ``error``, ``code``, ``42``;
  the whole term at its first part's position), so a search for the whole term or for one part
  both match and a phrase of the parts still lines up.
* **bigrams** - overlapping pairs of Chinese characters. A query cut in the middle of a word
  (``两列会被用到``) segments differently from the sentence it was cut from, but its character
  pairs are always there, in order: a phrase of bigrams finds any exact Chinese substring.
* **raw** - English words and code terms before stemming: prefix queries and spelling
  suggestions need the words as written.

Normalisation happens first: NFKC (full-width ``ＥＲＲＯＲ`` and ``５０２`` become ASCII),
lower case, traditional to simplified Chinese. Traditional to simplified uses OpenCC's own
character table through ``str.translate`` on the Chinese runs only: measured on the TiDB corpus,
0.1 ms per document, against 1.6 ms per document (1.25 us per character, +80% of all analysis,
about 16 CPU-seconds per 10,000 documents) for OpenCC's full conversion. The table only misses
OpenCC's few context-dependent phrase conversions, and regional vocabulary (資料庫 becomes
资料库, not 数据库) is not a character conversion in either.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from whoosh.lang.porter2 import stem as _porter2

# CJK unified ideographs (basic, extension A, compatibility, extensions B-F).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# A word character that is not CJK: letters of other scripts, digits, underscore.
_W = rf"[^\W{_CJK}]"
TOKEN_RE = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>{_W}+(?:[.\-]{_W}+)*)")
_PART_SPLIT = re.compile(r"[._\-]+")
CJK_RE = re.compile(rf"[{_CJK}]")
CJK_RUN_RE = re.compile(rf"[{_CJK}]+")

# A Markdown (ATX) heading line; group 1 is its text.
HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)

# Terms longer than this are hashes, base64 or URLs run together; nobody searches for them.
MAX_TERM_LEN = 64


def _load_t2s() -> dict[int, int]:
    """Traditional -> simplified, character for character, from OpenCC's dictionary."""
    try:
        import opencc  # the reimplementation ships its dictionaries as text files
    except ImportError:  # pragma: no cover - optional nicety
        return {}
    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:  # pragma: no cover
        return {}
    for line in lines:
        parts = line.split()
        if (
            len(parts) >= 2
            and len(parts[0]) == 1
            and len(parts[1]) == 1
            and parts[0] != parts[1]
            and CJK_RE.match(parts[0])
            and CJK_RE.match(parts[1])
        ):
            table[ord(parts[0])] = ord(parts[1])
    return table


T2S = _load_t2s()
# Every form that normalises to a character: its traditional variants, and for ASCII its
# full-width form. Snippets search stored text for any of them instead of converting it.
_VARIANTS: dict[str, str] = {}
for _trad, _simp in T2S.items():
    _VARIANTS[chr(_simp)] = _VARIANTS.get(chr(_simp), chr(_simp)) + chr(_trad)
for _code in range(0x21, 0x7F):
    _VARIANTS[chr(_code)] = chr(_code) + chr(_code + 0xFEE0)


def normalize(text: str) -> str:
    """The form every indexed and queried text is compared in: NFKC, simplified, lower case.

    ``analyze`` does the same per Chinese run (cheaper on long texts).
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(T2S)
    return text.lower()


def variant_chars(text: str) -> set[str]:
    """The characters other than ``text``'s own that normalise to one of its characters."""
    out: set[str] = set()
    for ch in text:
        forms = _VARIANTS.get(ch, "")
        out.update(f for f in forms if f != ch)
        out.update(f.upper() for f in forms if f != ch)
    return out


def variants_pattern(text: str) -> str:
    """A regex matching ``text`` (already normalised) in un-normalised text.

    Each character becomes a class of its traditional or full-width forms, so snippets can
    find a simplified query in traditional or full-width text without converting the text.
    """
    out = []
    for ch in text:
        forms = _VARIANTS.get(ch)
        out.append(f"[{re.escape(forms)}]" if forms else re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """Porter2 stem of an ASCII word; other words are returned unchanged."""
    if word.isascii() and word.isalpha() and len(word) > 2:
        stemmed: str = _porter2(word)
        return stemmed
    return word


def is_cjk(text: str) -> bool:
    return bool(CJK_RE.search(text))


@lru_cache(maxsize=1)
def _segmenter() -> Callable[[str, bool], list[str]]:
    """rjieba's ``cut``, imported on first use: loading its dictionary costs every process that
    imports kb 34 MB and 0.14 s, and a worker that only shows pages never segments anything."""
    import rjieba

    return rjieba.cut


def cut(run: str) -> list[str]:
    """Segment a run of Chinese characters into words."""
    return _segmenter()(run, False) if len(run) > 1 else [run]


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs of a Chinese run; a single character stands for itself."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def split_code(token: str) -> list[str]:
    """The parts of a compound code term (``nginx.conf`` -> ``nginx``, ``conf``)."""
    return [p for p in _PART_SPLIT.split(token) if p]


@dataclass
class Analysis:
    """Everything the index needs from one text.

    ``words`` and ``bigrams`` map a term to its positions; ``raw`` maps an unstemmed English
    word or code term to its frequency.
    """

    words: dict[str, list[int]] = field(default_factory=dict)
    bigrams: dict[str, list[int]] = field(default_factory=dict)
    raw: dict[str, int] = field(default_factory=dict)
    length: int = 0


def analyze(text: str) -> Analysis:
    """Analyse a text in one pass (see the module docstring).

    This is the hot loop of a rebuild (about 2 ms for a 10 kB document), hence the inlined
    dictionary updates.
    """
    words: defaultdict[str, list[int]] = defaultdict(list)
    bgs: defaultdict[str, list[int]] = defaultdict(list)
    raw: dict[str, int] = {}
    pos = 0
    bpos = 0
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    t2s = T2S
    for match in TOKEN_RE.finditer(text.lower()):
        run = match.group(1)
        if run is not None:
            run = run.translate(t2s)
            n = len(run)
            if n == 1:
                words[run].append(pos)
                pos += 1
                bgs[run].append(bpos)
                bpos += 2
                continue
            for w in _segmenter()(run, False):
                words[w].append(pos)
                pos += 1
            for i in range(n - 1):
                bgs[run[i : i + 2]].append(bpos + i)
            bpos += n  # one gap: no phrase may span two runs
            continue
        token = match.group(2)
        if len(token) > MAX_TERM_LEN:
            pos += 1
            continue
        raw[token] = raw.get(token, 0) + 1
        if token.isalnum():
            words[stem(token)].append(pos)
            pos += 1
            continue
        parts = split_code(token)
        if not parts:
            continue
        if len(parts) > 1 or parts[0] != token:
            words[token].append(pos)
        for part in parts:
            raw[part] = raw.get(part, 0) + 1
            words[stem(part)].append(pos)
            pos += 1
    return Analysis(words=words, bigrams=bgs, raw=raw, length=pos)


@dataclass
class QueryToken:
    """One analysed piece of a query unit.

    ``kind`` is ``"cjk"`` for a run of Chinese characters (``text`` is the run, ``words`` its
    segmentation) or ``"word"`` for an English word or code term (``words`` holds the index
    terms: the stem, or for a compound term the whole term first and then its stemmed parts).
    """

    kind: str
    text: str
    words: list[str]


def query_tokens(text: str) -> Iterator[QueryToken]:
    """Analyse query text the same way documents are analysed."""
    for match in TOKEN_RE.finditer(normalize(text)):
        run = match.group("cjk")
        if run is not None:
            yield QueryToken("cjk", run, cut(run))
            continue
        token = match.group("word")[:MAX_TERM_LEN]
        if token.isalnum():
            yield QueryToken("word", token, [stem(token)])
            continue
        parts = split_code(token)
        if len(parts) == 1 and parts[0] == token:
            yield QueryToken("word", token, [stem(token)])
        elif not parts:
            continue
        else:
            yield QueryToken("word", token, [token, *(stem(p) for p in parts)])
