"""Snippets: a short window of the stored body around the query's words, matches in ``<mark>``.

Re-analysing ten whole bodies per query (jieba plus Whoosh's highlighter) would cost more than
the search itself, so the query's words are found in the stored text with one regular
expression. Rather than normalising each body, the expression itself accepts every form that
normalises to the query's characters (traditional variants, full-width letters, any case).
Everything outside the marks is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from kb.search import analysis, stopwords

WINDOW = 160  # characters of context shown
MAX_MATCHES = 64  # the best window is chosen among the first matches; enough to find a cluster
_MARKUP = re.compile(r"[`*_#>|~]+|!?\[([^\]]*)\]\([^)]*\)|<[^>]{1,200}>|\{\{[<%].*?[>%]\}\}")
_SPACE = re.compile(r"\s+")


def pattern_for(tokens: list[analysis.QueryToken]) -> Patterns | None:
    """Regexes for all the query's words, longest alternatives first.

    A Chinese run is looked for whole and also word by word (a title-like query may be spread
    over a sentence); an English word by its stem, so ``servers`` marks ``server`` and
    ``servers``; a code term as written and by its word parts.
    """
    plain: set[str] = set()  # literal strings
    stems: set[str] = set()  # stems, matched with any word ending
    # question words mark nothing (怎么, how, the): unless they are all there is
    content = [t for t in tokens if t.kind == "cjk" or not stopwords.is_stop(t.text)]
    for tok in content or tokens:
        if tok.kind == "cjk":
            plain.add(tok.text)
            plain.update(w for w in tok.words if (len(w) > 1 and not stopwords.is_stop(w)) or len(tok.words) == 1)
            continue
        plain.add(tok.text)
        for word in tok.words:
            # Parts of a code term are marked when they are words, not single digits.
            if word != tok.text and (len(tok.words) == 1 or (len(word) > 2 and word.isalpha())):
                (stems if word.isalpha() else plain).add(word)
    if not plain and not stems:
        return None
    items = sorted(
        [(s, False) for s in plain] + [(s, True) for s in stems - plain], key=lambda item: len(item[0]), reverse=True
    )

    def compile_with(escape: Callable[[str], str], flags: int) -> re.Pattern[str]:
        parts = []
        for text, is_stem in items:
            tail = escape(text[1:]) + (r"[^\W_]*" if is_stem else "")
            # ASCII alternatives start at a word boundary ("art" must not mark "start"). The
            # check comes after the first character: a pattern that starts with a literal lets
            # the regex engine skip ahead, one that starts with a lookbehind is 10x slower.
            boundary = r"(?<![a-z0-9].)" if text[:1].isascii() and text[:1].isalnum() else ""
            parts.append(escape(text[:1]) + boundary + tail)
        return re.compile("|".join(parts), flags)

    relevant = "".join(sorted({v for text, _ in items for v in analysis.variant_chars(text)}))
    return Patterns(compile_with(re.escape, 0), compile_with(analysis.variants_pattern, re.IGNORECASE), relevant)


class Patterns(NamedTuple):
    """``fast`` matches lower-cased text; ``variants`` also full-width and traditional forms.

    ``relevant`` holds the variant characters of the query's words: the slower ``variants``
    pattern only runs on a text that contains one of them.
    """

    fast: re.Pattern[str]
    variants: re.Pattern[str]
    relevant: str

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Matches in ``text`` (offsets are offsets in ``text``)."""
        lowered = text.lower()
        if len(lowered) == len(text):
            found = False
            for m in self.fast.finditer(lowered):
                found = True
                yield m
            if found or not any(ch in text for ch in self.relevant):
                return
        yield from self.variants.finditer(text)


def clean(text: str) -> str:
    """Markdown source to plain running text, good enough for a two-line excerpt."""
    text = _MARKUP.sub(lambda m: m.group(1) or " ", text)
    return _SPACE.sub(" ", text).strip()


def make_snippet(body: str, pattern: Patterns | None, window: int = WINDOW) -> tuple[str, str | None]:
    """Safe HTML: the best window of ``body`` with the matches marked; and the heading of the
    section it lies in (plain text), so a reader sees where in the document the answer is.

    The window is chosen on the raw Markdown, and only that stretch is cleaned of markup and
    searched again for the marks, so the cost does not grow with the length of the document.
    """
    spans: list[tuple[int, int, str]] = []
    if pattern is not None:
        for m in pattern.finditer(body):
            spans.append((m.start(), m.end(), m.group(0).lower()))
            if len(spans) >= MAX_MATCHES:
                break
    start = _best_start(spans, window) if spans else 0
    raw_lo = max(0, start - window // 2)
    raw_hi = min(len(body), start + 2 * window)
    text = clean(body[raw_lo:raw_hi])
    inside_window = [b for b, _, _ in spans if start <= b <= start + window]
    section = section_at(body, inside_window[len(inside_window) // 2]) if inside_window else None
    if not text:
        return "", section
    marks = [(m.start(), m.end()) for m in pattern.finditer(text)] if pattern is not None and spans else []
    first = marks[0][0] if marks else 0
    lo = max(0, first - window // 4)
    hi = min(len(text), lo + window)
    lo = max(0, min(lo, hi - window))
    inside = [(s, e) for s, e in marks if s >= lo and e <= hi]
    return _escape_window(text, lo, hi, inside, more_before=raw_lo > 0, more_after=raw_hi < len(body)), section


def section_at(body: str, offset: int) -> str | None:
    """The text of the last Markdown heading at or before ``offset``'s line (None before the
    first heading)."""
    line_end = body.find("\n", offset)
    found = None
    for m in analysis.HEADING_RE.finditer(body, 0, len(body) if line_end < 0 else line_end):
        found = m
    return clean(found.group(1)) or None if found else None


def _best_start(spans: list[tuple[int, int, str]], window: int) -> int:
    """Start of the window that shows the most distinct matched words (earliest on ties)."""
    reach = window * 3 // 4  # leave some context after the last mark
    counts: dict[str, int] = {}
    chars = 0
    best = (0, 0, spans[0][0])
    j = 0  # spans[i:j] lie inside the window that starts at spans[i]
    for i, (start, _, _) in enumerate(spans):
        while j < len(spans) and spans[j][1] <= start + reach:
            word = spans[j][2]
            counts[word] = counts.get(word, 0) + 1
            chars += spans[j][1] - spans[j][0]
            j += 1
        seen = (len(counts), chars)
        if seen > best[:2]:
            best = (*seen, start)
        if j > i:  # drop spans[i] before moving the window on
            word = spans[i][2]
            counts[word] -= 1
            if not counts[word]:
                del counts[word]
            chars -= spans[i][1] - spans[i][0]
        else:
            j = i + 1
    return best[2]


def _escape_window(
    text: str, lo: int, hi: int, marks: list[tuple[int, int]], *, more_before: bool = False, more_after: bool = False
) -> str:
    out: list[str] = ["…" if lo > 0 or more_before else ""]
    cursor = lo
    for s, e in marks:
        if s < cursor:
            continue
        out.append(html.escape(text[cursor:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        cursor = e
    out.append(html.escape(text[cursor:hi]))
    if hi < len(text) or more_after:
        out.append("…")
    return "".join(out)
