"""The Whoosh schema, and field types that index straight from ``analysis.analyze``.

Whoosh's usual path (an analyzer chain yielding one Token object per word, per filter) costs
several microseconds a token in pure Python; indexing 10,000 documents must fit in 40 s on two
cores. The fields below therefore override ``index()`` and turn one cached ``Analysis`` of the
text into postings directly. ``analyzer`` is still set so Whoosh utilities that tokenize a
field keep working. Queries do not go through Whoosh's query objects at all (see ``engine``).

Fields (a document's ``title`` and ``body`` each feed a words field and a bigram field):

=========== ======================================================================
path        unique id, stored, column (for ``indexed_revisions``); prefix filter
title       words, positions, stored
title_bg    Chinese character bigrams of the title, positions (exact phrases)
headings    words of the body's Markdown headings: the document's own table of contents
body        words, positions
body_bg     Chinese character bigrams of the body, positions
meta        words of the tags and the path (a file name is a title too)
raw         unstemmed English words and code terms: prefix queries and "did you mean"
tags        exact tags, normalised, for ``tag:`` filters; ``tag_list`` stores them as given
access      access level; ``status`` published/archived; both form the visibility mask
content     the body, stored (Whoosh compresses stored fields), for snippets
updated_ts  column of epoch seconds, for the recency tie-break
=========== ======================================================================
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import sub
from pickle import dumps

from whoosh import fields, formats
from whoosh.analysis import Token, Tokenizer
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.system import pack_uint

from kb.search import analysis

# The path of the one document that records index metadata (the commit it reflects). Document
# paths never start with a dot, and it has no access level, so the visibility mask hides it.
META_PATH = ".kb-index-meta"

_CACHE: dict[str, analysis.Analysis] = {}
_CACHE_SIZE = 8
_ONE = pack_uint(1)


def analyzed(text: str) -> analysis.Analysis:
    """``analysis.analyze`` with a tiny cache: one text feeds several fields of a document."""
    result = _CACHE.get(text)
    if result is None:
        if len(_CACHE) >= _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]  # the oldest entry
        result = _CACHE[text] = analysis.analyze(text)
    return result


_SINGLE: dict[int, bytes] = {}


def encode_positions(positions: list[int]) -> bytes:
    """``formats.Positions.encode`` (same bytes), without its per-position Python loop."""
    if len(positions) == 1:
        p = positions[0]
        found = _SINGLE.get(p)
        if found is None:
            found = _ONE + dumps(positions, 2)
            if p < 100_000:
                _SINGLE[p] = found
        return found
    deltas = [positions[0], *map(sub, positions[1:], positions[:-1])]
    count: bytes = pack_uint(len(deltas))
    return count + dumps(deltas, 2)


class KBTokenizer(Tokenizer):
    """Adapts ``analysis.analyze`` to Whoosh's analyzer protocol (``view``: words or bigrams)."""

    def __init__(self, view: str = "words") -> None:
        self.view = view

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KBTokenizer) and other.view == self.view

    def __hash__(self) -> int:
        return hash(self.view)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs: object,
    ) -> Iterator[Token]:
        result = analysis.analyze(value)
        table = result.bigrams if self.view == "bigrams" else result.words
        ordered = sorted((pos, term) for term, plist in table.items() for pos in plist)
        token = Token(positions, chars, removestops=removestops, mode=mode)
        for pos, term in ordered:
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            yield token


class AnalyzedText(fields.TEXT):
    """A positional text field fed by the words or bigrams view of ``analysis.analyze``."""

    def __init__(self, view: str, stored: bool = False) -> None:
        super().__init__(analyzer=KBTokenizer(view), phrase=True, stored=stored)
        self.view = view

    def index(self, value: str, **kwargs: object) -> Iterator[tuple[bytes, int, float, bytes]]:
        result = analyzed(value)
        table = result.bigrams if self.view == "bigrams" else result.words
        for term, plist in table.items():
            yield term.encode("utf-8"), len(plist), float(len(plist)), encode_positions(plist)


class _PresenceField(fields.FieldType):
    """A field that only records which documents hold a term (no frequency, no positions)."""

    def __init__(self) -> None:
        self.format = formats.Existence()
        self.analyzer = KBTokenizer("words")
        self.scorable = False
        self.stored = False
        self.unique = False
        self.vector = None


class RawWords(_PresenceField):
    """Unstemmed English words and code terms of a (title, body) pair (presence only)."""

    def index(self, value: tuple[str, str], **kwargs: object) -> Iterator[tuple[bytes, int, float, bytes]]:
        terms: set[str] = set()
        for text in value:
            terms.update(analyzed(text).raw)
        for term in terms:
            yield term.encode("utf-8"), 1, 1.0, b""


class ExactTerms(_PresenceField):
    """A list of values indexed as whole, normalised terms (tags)."""

    def index(self, value: list[str], **kwargs: object) -> Iterator[tuple[bytes, int, float, bytes]]:
        seen = {normalize_tag(v) for v in value}
        for term in sorted(t for t in seen if t):
            yield term.encode("utf-8"), 1, 1.0, b""


def normalize_tag(tag: str) -> str:
    """Tags compare like search text: ``SLA`` and ``ｓｌａ`` are one tag."""
    return analysis.normalize(tag.strip())


def build_schema() -> fields.Schema:
    """The schema of every generation; changing it requires ``kb reindex``."""
    return fields.Schema(
        path=fields.ID(stored=True, unique=True, sortable=VarBytesColumn()),
        title=AnalyzedText("words", stored=True),
        title_bg=AnalyzedText("bigrams"),
        headings=AnalyzedText("words"),
        body=AnalyzedText("words"),
        body_bg=AnalyzedText("bigrams"),
        meta=AnalyzedText("words"),
        raw=RawWords(),
        tags=ExactTerms(),
        tag_list=fields.STORED(),
        access=fields.ID(stored=True),
        status=fields.ID(stored=True),
        owner=fields.ID(stored=True),
        revision=fields.ID(stored=True, sortable=VarBytesColumn()),
        updated_at=fields.STORED(),
        updated_ts=fields.COLUMN(NumericColumn("q", default=0)),
        content=fields.STORED(),
        commit=fields.STORED(),
        format=fields.STORED(),
    )


# What the index holds and how it is analysed; an index of another format is rebuilt from git
# on start-up (``SearchIndex.indexed_commit`` reports it as never written). 2: headings field.
FORMAT = 2


def headings(body: str) -> str:
    """The Markdown headings of ``body``, one per line."""
    return "\n".join(analysis.HEADING_RE.findall(body))
