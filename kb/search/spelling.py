""" "Did you mean": a better-known spelling for English words the visible documents lack.

Candidates come from the ``raw`` field (words as written, not stemmed), within one edit for
short words and two for longer ones, first letter fixed (misspellings rarely start wrong, and
the prefix makes the lookup fast). A candidate counts only by how many documents *the caller
may see* contain it, so a suggestion never reveals a word that exists only in documents above
the caller's clearance.
"""

from __future__ import annotations

import re
import unicodedata

from kb.search.engine import Context
from kb.search.query import ParsedQuery

_MIN_LEN = 4
_MAX_WORDS = 4


def visible_df(ctx: Context, term: str, mask: frozenset[int]) -> int:
    """How many documents in ``mask`` contain ``term`` as written."""
    return len(ctx.postings("raw", term).idset & mask)


def suggest(ctx: Context, parsed: ParsedQuery, query: str, mask: frozenset[int]) -> str | None:
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
    replacements: dict[str, str] = {}
    for word in words:
        known = visible_df(ctx, word, mask)
        if known >= 3:
            continue
        maxdist = 1 if len(word) <= 5 else 2
        best: tuple[int, int, str] | None = None
        for cand, dist in _candidates(ctx, word, maxdist):
            df = visible_df(ctx, cand, mask)
            if df == 0:
                continue
            key = (df, -dist, cand)
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


def _candidates(ctx: Context, word: str, maxdist: int) -> list[tuple[str, int]]:
    """Indexed words within ``maxdist`` edits of ``word`` that share its first letter.

    Whoosh's ``terms_within`` on a multi-segment reader merges the lexicons term by term and
    computes a full distance for each; here each segment's words under the prefix are read
    directly, filtered by length first, and the distance stops as soon as it exceeds
    ``maxdist``.
    """
    prefix = word[:1]
    seen: set[str] = {word}
    found: list[tuple[str, int]] = []
    for reader in ctx.segment_readers():
        for btext in reader.expand_prefix("raw", prefix):
            cand = btext.decode("utf-8") if isinstance(btext, bytes) else btext
            if cand in seen or abs(len(cand) - len(word)) > maxdist or not cand.isalpha():
                continue
            seen.add(cand)
            dist = _distance(word, cand, maxdist)
            if dist <= maxdist:
                found.append((cand, dist))
    return found


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, or ``limit + 1`` as soon as it must exceed ``limit``."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]
