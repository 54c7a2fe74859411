""""Did you mean": a better-known spelling for English words the visible documents lack.

Candidates come from the ``raw`` field (words as written, not stemmed), within one edit for
short words and two for longer ones, first letter fixed (misspellings rarely start wrong, and
the prefix makes the lookup fast). A candidate counts only by how many documents *the caller
may see* contain it, so a suggestion never reveals a word that exists only in documents above
the caller's clearance.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

from whoosh.searching import Searcher

from kb.search.query import ParsedQuery

_MIN_LEN = 4
_COUNT_CAP = 5000
_MAX_WORDS = 4


def visible_df(searcher: Searcher, term: str, mask: Container[int], cap: int = _COUNT_CAP) -> int:
    """Documents in ``mask`` that contain ``term`` (stops counting at ``cap``)."""
    reader = searcher.reader()
    if ("raw", term) not in reader:
        return 0
    count = 0
    for docnum in reader.postings("raw", term).all_ids():
        if docnum in mask:
            count += 1
            if count >= cap:
                break
    return count


def suggest(searcher: Searcher, parsed: ParsedQuery, query: str, mask: Container[int]) -> str | None:
    """The query with unknown English words replaced by their likeliest spelling, or None."""
    words = [
        tok.text
        for unit in parsed.include
        if not unit.prefix
        for tok in unit.tokens
        if tok.kind == "word" and tok.text.isascii() and tok.text.isalpha() and len(tok.text) >= _MIN_LEN
    ][:_MAX_WORDS]
    if not words:
        return None
    reader = searcher.reader()
    replacements: dict[str, str] = {}
    for word in words:
        known = visible_df(searcher, word, mask)
        if known >= 3:
            continue
        maxdist = 1 if len(word) <= 5 else 2
        best: tuple[int, int, str] | None = None
        for cand in reader.terms_within("raw", word, maxdist, prefix=1):
            if cand == word or not cand.isalpha():
                continue
            df = visible_df(searcher, cand, mask)
            if df == 0:
                continue
            key = (df, -_distance(word, cand), cand)
            if best is None or key > best:
                best = key
        # An existing but rare word is only corrected to a far more common one.
        if best is not None and best[0] > 0 and (known == 0 or best[0] >= 20 * known):
            replacements[word] = best[2]
    if not replacements:
        return None
    text = unicodedata.normalize("NFKC", query)
    for word, fixed in replacements.items():
        text = re.sub(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", fixed, text, flags=re.IGNORECASE)
    return text


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short words only, so the quadratic table is fine)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
