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

from kb.search import analysis

WINDOW = 160  # characters of context shown
_MARKUP = re.compile(r"[`*_#>|~]+|!?\[([^\]]*)\]\([^)]*\)|<[^>]{1,200}>|\{\{[<%].*?[>%]\}\}")
_SPACE = re.compile(r"\s+")


def pattern_for(tokens: list[analysis.QueryToken]) -> re.Pattern[str] | None:
    """One case-insensitive regex for all the query's words, longest alternatives first.

    A Chinese run is looked for whole and also word by word (a title-like query may be spread
    over a sentence); an English word by its stem, so ``servers`` marks ``server`` and
    ``servers``; a code term as written and by its parts.
    """
    plain: set[str] = set()  # literal strings
    stems: set[str] = set()  # stems, matched with any word ending
    for tok in tokens:
        if tok.kind == "cjk":
            plain.add(tok.text)
            plain.update(w for w in tok.words if len(w) > 1 or len(tok.words) == 1)
            continue
        plain.add(tok.text)
        for word in tok.words:
            if word != tok.text:
                (stems if word.isalpha() else plain).add(word)
    alternatives = [(len(s), analysis.variants_pattern(s), s) for s in plain]
    alternatives += [(len(s), analysis.variants_pattern(s) + r"[^\W_]*", s) for s in stems - plain]
    if not alternatives:
        return None
    alternatives.sort(key=lambda a: a[0], reverse=True)
    # ASCII alternatives must start at a word boundary ("art" must not mark "start").
    body = "|".join(
        f"(?<![A-Za-z0-9]){pat}" if text[:1].isascii() and text[:1].isalnum() else pat
        for _, pat, text in alternatives
    )
    return re.compile(body, re.IGNORECASE)


def clean(text: str) -> str:
    """Markdown source to plain running text, good enough for a two-line excerpt."""
    text = _MARKUP.sub(lambda m: m.group(1) or " ", text)
    return _SPACE.sub(" ", text).strip()


def make_snippet(body: str, pattern: re.Pattern[str] | None, window: int = WINDOW) -> str:
    """Safe HTML: the best window of ``body`` with the matches marked."""
    text = clean(body)
    if not text:
        return ""
    spans: list[tuple[int, int, str]] = []
    if pattern is not None:
        for m in pattern.finditer(text):
            spans.append((m.start(), m.end(), m.group(0).lower()))
            if len(spans) >= 500:
                break
    if not spans:
        return _escape_window(text, 0, min(len(text), window), [])
    start = _best_start(spans, window)
    lo = max(0, start - window // 4)
    hi = min(len(text), lo + window)
    lo = max(0, min(lo, hi - window))
    inside = [(s, e) for s, e, _ in spans if s >= lo and e <= hi]
    return _escape_window(text, lo, hi, inside)


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


def _escape_window(text: str, lo: int, hi: int, marks: list[tuple[int, int]]) -> str:
    out: list[str] = ["…" if lo > 0 else ""]
    cursor = lo
    for s, e in marks:
        if s < cursor:
            continue
        out.append(html.escape(text[cursor:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        cursor = e
    out.append(html.escape(text[cursor:hi]))
    if hi < len(text):
        out.append("…")
    return "".join(out)
