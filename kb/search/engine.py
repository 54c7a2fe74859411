"""Query evaluation over Whoosh's postings, with sets instead of matcher trees.

Whoosh evaluates a query by walking a tree of matcher objects one document at a time; with
the queries this package builds (every word in three fields, OR'ed with exact-phrase
alternatives, AND'ed together) that walk cost 20-150 ms per query at 10,000 documents, almost
all of it Python method calls. Here the same postings, read from the same Whoosh segments,
are evaluated in two set-based passes:

1. **match**: every node computes the set of documents it matches, restricted from the start
   to the caller's visibility mask (access levels, statuses, tag and path filters). Set
   operations run in C, an AND starts from its rarest part, and positions are checked only
   for documents that survived every other condition. The size of the final set is the exact
   total.
2. **score**: only the matching documents are scored, with Whoosh's own BM25F formula and
   statistics (so the ranking is what Whoosh would compute for the same query).

Posting lists are read in bulk (whole blocks, decoded with ``itertools.accumulate``) and cached
per segment: segments never change once written, so the cache survives refreshes.
"""

from __future__ import annotations

import heapq
import math
import pickle
import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, STORED_COLUMN, W3LeafMatcher
from whoosh.columns import NumericColumn
from whoosh.matching import ListMatcher, Matcher
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

# Whoosh's BM25F parameters, per field (see index.weighting()).
K1 = 1.2
B_DEFAULT = 0.75
B_FIELD = {"title": 0.9, "meta": 0.9, "title_bg": 0.9}
POSITIONAL = frozenset({"title", "headings", "body", "meta", "title_bg", "body_bg"})
# Decoded postings kept per segment (they survive refreshes) and per snapshot (global docnums).
_SEGMENT_CACHE_BYTES = 32 << 20
_QUERY_CACHE_BYTES = 64 << 20
_MAX_PREFIX_TERMS = 200

# A snapshot's cache (``readers.Snapshot.cache``, shared by its ``Context``s): (field, text) -> (Postings,
# segments covered), "size" -> bytes held, "deleted", "ts", "len:field" and ranking's "np-..." entries.
Cache = dict[tuple[str, str] | str, Any]


class PackedValues:
    """Encoded position lists stored end to end in one bytes object (no object per posting)."""

    __slots__ = ("blob", "ends")

    def __init__(self, blob: bytes, ends: array[int]) -> None:
        self.blob = blob
        self.ends = ends

    @classmethod
    def of(cls, values: Iterable[bytes]) -> PackedValues:
        values = list(values)
        return cls(b"".join(values), array("I", accumulate(map(len, values))))

    @classmethod
    def concat(cls, parts: list[PackedValues]) -> PackedValues:
        ends = array("I")
        base = 0
        for part in parts:
            ends.extend(map(base.__add__, part.ends) if base else part.ends)
            base += len(part.blob)
        return cls(b"".join(p.blob for p in parts), ends)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> bytes:
        return self.blob[self.ends[i - 1] if i else 0 : self.ends[i]]


class Postings:
    """One term's postings: sorted docnums, weights and (positional fields) encoded positions.

    Docnums and weights are compact arrays (a cache of a million postings stays small); the
    set of docnums for matching is built on first use.
    """

    __slots__ = ("_set", "ids", "values", "weights")

    def __init__(self, ids: array[int], weights: array[float], values: PackedValues | None) -> None:
        self.ids = ids
        self.weights = weights
        self.values = values
        self._set: frozenset[int] | None = None

    @property
    def idset(self) -> frozenset[int]:
        if self._set is None:
            self._set = frozenset(self.ids)
        return self._set

    def find(self, docnum: int) -> int:
        """The index of ``docnum`` in ``ids``, or -1."""
        ids = self.ids
        i = bisect_left(ids, docnum)
        return i if i < len(ids) and ids[i] == docnum else -1

    def positions(self, docnum: int) -> list[int]:
        raw = self.values[self.find(docnum)]  # type: ignore[index]
        return list(accumulate(pickle.loads(raw[4:])))

    def memory(self) -> int:
        """Rough bytes held once the docnum set is built, for the caches' budgets."""
        return len(self.ids) * 72 + (len(self.values.blob) + 4 * len(self.ids) if self.values is not None else 0)


EMPTY = Postings(array("I"), array("f"), PackedValues(b"", array("I")))


class SegmentData:
    """Decoded postings, field lengths and timestamps of one segment (cached on its reader)."""

    def __init__(self, reader: SegmentReader) -> None:
        self.reader = reader
        self._postings: dict[tuple[str, bytes], Postings] = {}
        self._cached = 0
        self._lengths: dict[str, list[int]] = {}
        self._timestamps: list[int] | None = None

    @staticmethod
    def of(reader: SegmentReader) -> SegmentData:
        data: SegmentData | None = reader.__dict__.get("_kb_data")
        if data is None:
            data = reader.__dict__["_kb_data"] = SegmentData(reader)
        return data

    def preload(self) -> None:
        """Read the field lengths and timestamps, and open the stored-field and id columns.

        Raises FileNotFoundError when the segment's files are already gone (deleted by a
        writer's merge), so the caller reads the newer table of contents instead.
        """
        perdoc = self.reader._perdoc
        for field in POSITIONAL:
            self.lengths(field)
        self.timestamps()
        for name in ("path", "revision"):
            self.reader.column_reader(name)
        # Checked last: every segment stores fields, so if this column is still there the
        # optional ones above were absent because the segment has none, not because a merge
        # deleted them meanwhile.
        if self.reader.doc_count_all() and perdoc._cached_reader("_stored", STORED_COLUMN) is None:
            raise FileNotFoundError(f"segment {self.reader.segment().segment_id()} is gone")

    def postings(self, field: str, btext: bytes) -> Postings:
        key = (field, btext)
        found = self._postings.get(key)
        if found is not None:
            return found
        terms = self.reader._terms
        if key not in terms:
            return EMPTY
        fmt = self.reader.schema[field].format
        found = _read(terms.matcher(field, btext, fmt), field in POSITIONAL)
        self._cached += found.memory()
        while self._cached > _SEGMENT_CACHE_BYTES and self._postings:
            self._cached -= self._postings.pop(next(iter(self._postings))).memory()
        self._postings[key] = found
        return found

    def lengths(self, field: str) -> list[int]:
        found = self._lengths.get(field)
        if found is None:
            n = self.reader.doc_count_all()
            col = self.reader._perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
            # As Whoosh's BM25F: the length byte's approximation, at least 1.
            found = [1] * n if col is None else [byte_to_length(b) or 1 for b in _numbers(col, n)]
            self._lengths[field] = found
        return found

    def timestamps(self) -> list[int]:
        if self._timestamps is None:
            n = self.reader.doc_count_all()
            self._timestamps = _numbers(self.reader.column_reader("updated_ts"), n)
        return self._timestamps


def _numbers(col: Any, n: int) -> list[int]:
    """All values of a numeric column in one read (Whoosh reads them one struct at a time)."""
    raw = getattr(col, "raw_column", None)
    if raw is not None:
        col = raw()
    if not isinstance(col, NumericColumn.Reader):
        return [col[i] for i in range(n)]
    count = min(col._count, n)
    data = col._dbfile.get(col._basepos, count * col._fixedlen)
    values = list(struct.unpack(f"!{count}{col._typecode}", data))
    values.extend([col._default] * (n - count))
    return values


def _read(m: Matcher, positional: bool) -> Postings:
    """All postings of a leaf matcher, block by block."""
    if isinstance(m, ListMatcher):
        ids = array("I", m._ids)
        weights = array("f", m._weights) if m._weights is not None else array("f", [1.0]) * len(ids)
        packed = PackedValues.of(m._values) if positional and m._values else None
        return Postings(ids, weights, packed)
    assert isinstance(m, W3LeafMatcher)
    ids = array("I")
    weights = array("f")
    values: list[bytes] | None = [] if positional else None
    while True:
        m._read_data()
        data = m._data
        count = m._blocklength
        ids.extend(accumulate(data[0]))
        w = data[1]
        if w is None:
            weights.extend(array("f", [1.0]) * count)
        elif isinstance(w, float):
            weights.extend(array("f", [w]) * count)
        else:
            weights.extend(w)
        if values is not None:
            values.extend(data[2])
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    return Postings(ids, weights, PackedValues.of(values) if values is not None else None)


def _concat(parts: list[tuple[Postings, int]]) -> Postings:
    """Postings of several segments (with their docnum offsets) as one list."""
    ids = array("I")
    weights = array("f")
    for p, off in parts:
        ids.extend(map(off.__add__, p.ids) if off else p.ids)
        weights.extend(p.weights)
    packed = [p.values for p, _ in parts if p.values is not None]
    values = PackedValues.concat(packed) if len(packed) == len(parts) else None
    return Postings(ids, weights, values)


class Context:
    """What one search needs: the snapshot's segments, global statistics and the mask."""

    def __init__(self, searcher: Searcher, cache: Cache) -> None:
        self.searcher = searcher
        reader = searcher.reader()
        # An index without segments has an EmptyReader: no leaves to read.
        self._readers = [(r, off) for r, off in reader.leaf_readers() if isinstance(r, SegmentReader)]
        self.leaves = [(SegmentData.of(r), offset) for r, offset in self._readers]
        self.doc_count = searcher.doc_count_all()
        self._cache = cache  # per snapshot: (field, text) -> Postings, "len:field" -> lengths
        self._avg: dict[str, float] = {}
        self._idf: dict[tuple[str, str], float] = {}
        self.memo: dict[int, frozenset[int] | set[int]] = {}

    def postings(self, field: str, text: str) -> Postings:
        """A term's postings over all segments, in global docnums (cached per snapshot).

        A cache entry remembers how many leading segments it covers. A snapshot taken after an
        ``apply`` that only appended segments inherits the previous snapshot's entries (see
        ``readers.Snapshot``); an entry is then completed with the new segments' postings,
        usually none, instead of being rebuilt from every segment.
        """
        key = (field, text)
        count = len(self.leaves)
        entry = self._cache.get(key)
        if entry is not None and entry[1] == count:
            cached: Postings = entry[0]
            return cached
        btext = text.encode("utf-8")
        found: Postings
        if entry is not None:
            found, covered = entry
            parts = [(found, 0)] if found.ids else []
        else:
            found, covered, parts = EMPTY, 0, []
        parts += [
            (p, off) for p, off in ((seg.postings(field, btext), off) for seg, off in self.leaves[covered:]) if p.ids
        ]
        if not parts:
            found = EMPTY
        elif len(parts) == 1 and parts[0][1] == 0:
            found = parts[0][0]
        else:
            found = _concat(parts)
        self._remember(key, found, count)
        return found

    def _remember(self, key: tuple[str, str], found: Postings, count: int) -> None:
        """Keep ``found`` in the snapshot's cache, evicting the oldest postings past the budget."""
        cache = self._cache
        old = cache.pop(key, None)
        size = cache.get("size", 0) + found.memory() + 64 - (old[0].memory() + 64 if old else 0)
        if size > _QUERY_CACHE_BYTES:
            for old_key in [k for k in cache if isinstance(k, tuple)]:
                size -= cache.pop(old_key)[0].memory() + 64
                if size <= _QUERY_CACHE_BYTES // 2:
                    break
        cache["size"] = size
        cache[key] = (found, count)

    def segment_readers(self) -> list[SegmentReader]:
        return [r for r, _ in self._readers]

    def deleted(self) -> frozenset[int]:
        """Deleted docnums (postings are read raw; the visibility mask removes these)."""
        found = self._cache.get("deleted")
        if found is None:
            gone: set[int] = set()
            for reader, off in self._readers:  # this snapshot's readers carry its deletions
                gone.update(off + d for d in reader.segment().deleted_docs())
            found = self._cache["deleted"] = frozenset(gone)
        return found

    def lengths(self, field: str) -> list[int]:
        key = f"len:{field}"
        found = self._cache.get(key)
        if found is None:
            found = []
            for seg, _ in self.leaves:
                found.extend(seg.lengths(field))
            self._cache[key] = found
        return found

    def timestamps(self) -> list[int]:
        found = self._cache.get("ts")
        if found is None:
            found = []
            for seg, _ in self.leaves:
                found.extend(seg.timestamps())
            self._cache["ts"] = found
        return found

    def idf(self, field: str, text: str) -> float:
        key = (field, text)
        found = self._idf.get(key)
        if found is None:
            df = len(self.postings(field, text).ids)
            found = self._idf[key] = math.log(self.doc_count / (df + 1)) + 1
        return found

    def avg_length(self, field: str) -> float:
        found = self._avg.get(field)
        if found is None:
            found = self._avg[field] = self.searcher.avg_field_length(field) or 1.0
        return found

    def add_bm25(self, field: str, text: str, boost: float, docs: Iterable[int], acc: dict[int, float]) -> None:
        """Add BM25F(term) x boost to ``acc`` for those ``docs`` that contain the term.

        Few documents: look each up in the sorted postings. Many: walk the postings once.
        """
        p = self.postings(field, text)
        ids = p.ids
        if not ids:
            return
        weights = p.weights
        lengths = self.lengths(field)
        b = B_FIELD.get(field, B_DEFAULT)
        k1 = K1
        scale = self.idf(field, text) * boost * (k1 + 1)
        norm_a = k1 * (1 - b)
        norm_b = k1 * b / self.avg_length(field)
        if not isinstance(docs, (set, frozenset, dict)):
            docs = list(docs)
        if len(docs) * 16 < len(ids):
            n = len(ids)
            for d in docs:
                i = bisect_left(ids, d)
                if i < n and ids[i] == d:
                    tf = weights[i]
                    acc[d] += scale * tf / (tf + norm_a + norm_b * lengths[d])
            return
        wanted = docs if isinstance(docs, (set, frozenset, dict)) else set(docs)
        for d, tf in zip(ids, weights, strict=True):
            if d in wanted:
                acc[d] += scale * tf / (tf + norm_a + norm_b * lengths[d])


# Query nodes. ids(ctx, within) -> the matching docs within ``within``; score(ctx, docs, acc)
# adds the node's score for those of ``docs`` it matches (docs always lie within the
# ``within`` its ids() was called with, whose result it may memoise in ctx.memo).


class Node:
    def estimate(self, ctx: Context) -> int:
        raise NotImplementedError

    def ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        raise NotImplementedError

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        raise NotImplementedError


class Term(Node):
    def __init__(self, field: str, text: str, boost: float = 1.0) -> None:
        self.field, self.text, self.boost = field, text, boost

    def __repr__(self) -> str:
        return f"Term({self.field}:{self.text}^{self.boost})"

    def estimate(self, ctx: Context) -> int:
        return len(ctx.postings(self.field, self.text).ids)

    def ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        s = ctx.postings(self.field, self.text).idset
        return s & within if len(s) > len(within) else within & s

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        ctx.add_bm25(self.field, self.text, self.boost, docs, acc)


class _Memo(Node):
    """Nodes whose match set is worth remembering for the scoring pass."""

    def ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        found = self._ids(ctx, within)
        ctx.memo[id(self)] = found
        return found

    def _ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        raise NotImplementedError

    def _mine(self, ctx: Context, docs: Iterable[int]) -> list[int]:
        found = ctx.memo.get(id(self), ())
        return [d for d in docs if d in found]


class And(_Memo):
    def __init__(self, children: list[Node]) -> None:
        self.children = children

    def __repr__(self) -> str:
        return f"And({self.children})"

    def estimate(self, ctx: Context) -> int:
        return min(c.estimate(ctx) for c in self.children)

    def _ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        found = within
        for child in sorted(self.children, key=lambda c: c.estimate(ctx)):
            found = child.ids(ctx, found)
            if not found:
                break
        return found

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        mine = self._mine(ctx, docs)
        for child in self.children:
            child.score(ctx, mine, acc)


class Or(_Memo):
    def __init__(self, children: list[Node]) -> None:
        self.children = children

    def __repr__(self) -> str:
        return f"Or({self.children})"

    def estimate(self, ctx: Context) -> int:
        return sum(c.estimate(ctx) for c in self.children)

    def _ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        found: set[int] = set()
        for child in self.children:
            found |= child.ids(ctx, within)
        return found

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        mine = self._mine(ctx, docs)
        for child in self.children:
            child.score(ctx, mine, acc)


class Phrase(_Memo):
    """Words of one field at consecutive positions; scores as its words' BM25F sum x boost."""

    def __init__(self, field: str, words: list[str], boost: float = 1.0) -> None:
        self.field, self.words, self.boost = field, list(words), boost

    def __repr__(self) -> str:
        return f"Phrase({self.field}:{self.words}^{self.boost})"

    def estimate(self, ctx: Context) -> int:
        return min(len(ctx.postings(self.field, w).ids) for w in self.words)

    def _ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        plists = [ctx.postings(self.field, w) for w in self.words]
        if not all(p.ids for p in plists):
            return frozenset()
        found: frozenset[int] | set[int] = within
        for p in sorted(plists, key=lambda p: len(p.ids)):
            found = p.idset & found if len(found) > len(p.ids) else found & p.idset
            if not found:
                return frozenset()
        if len(plists) == 1:
            return found
        # Candidate phrase starts from the rarest word, narrowed word by word; most documents
        # drop out before every word's positions have been decoded.
        order = sorted(range(len(plists)), key=lambda i: len(plists[i].ids))
        anchor, rest = order[0], order[1:]
        aligned = set()
        for d in found:
            starts = {p - anchor for p in plists[anchor].positions(d)}
            for i in rest:
                starts &= {p - i for p in plists[i].positions(d)}
                if not starts:
                    break
            else:
                aligned.add(d)
        return aligned

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        mine = self._mine(ctx, docs)
        for w in self.words:
            ctx.add_bm25(self.field, w, self.boost, mine, acc)


class Prefix(_Memo):
    """Any term of a field starting with ``prefix``; a constant score (like Whoosh's)."""

    def __init__(self, field: str, prefix: str, boost: float = 1.0) -> None:
        self.field, self.prefix, self.boost = field, prefix, boost

    def __repr__(self) -> str:
        return f"Prefix({self.field}:{self.prefix}*^{self.boost})"

    def _terms(self, ctx: Context) -> list[str]:
        reader = ctx.searcher.reader()
        terms = []
        for btext in reader.expand_prefix(self.field, self.prefix):
            terms.append(btext.decode("utf-8") if isinstance(btext, bytes) else btext)
            if len(terms) >= _MAX_PREFIX_TERMS:
                break
        return terms

    def estimate(self, ctx: Context) -> int:
        return sum(len(ctx.postings(self.field, t).ids) for t in self._terms(ctx))

    def _ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        found: set[int] = set()
        for t in self._terms(ctx):
            found |= ctx.postings(self.field, t).idset & within
        return found

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        for d in self._mine(ctx, docs):
            acc[d] += self.boost


class AndMaybe(Node):
    """``required``, with ``optional`` adding to the score where it also matches."""

    def __init__(self, required: Node, optional: Node) -> None:
        self.required, self.optional = required, optional

    def __repr__(self) -> str:
        return f"AndMaybe({self.required}, {self.optional})"

    def estimate(self, ctx: Context) -> int:
        return self.required.estimate(ctx)

    def ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        found = self.required.ids(ctx, within)
        self.optional.ids(ctx, found)
        return found

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        docs = list(docs)
        self.required.score(ctx, docs, acc)
        self.optional.score(ctx, docs, acc)


class AndNot(Node):
    def __init__(self, positive: Node, negative: Node) -> None:
        self.positive, self.negative = positive, negative

    def __repr__(self) -> str:
        return f"AndNot({self.positive}, {self.negative})"

    def estimate(self, ctx: Context) -> int:
        return self.positive.estimate(ctx)

    def ids(self, ctx: Context, within: frozenset[int] | set[int]) -> frozenset[int] | set[int]:
        found = self.positive.ids(ctx, within)
        return found - self.negative.ids(ctx, found) if found else found

    def score(self, ctx: Context, docs: Iterable[int], acc: dict[int, float]) -> None:
        self.positive.score(ctx, docs, acc)


def run(ctx: Context, node: Node, mask: frozenset[int], k: int) -> tuple[int, list[tuple[float, int]]]:
    """(total, best ``k`` as (score, docnum)) of ``node`` within ``mask``.

    Ties in score go to the more recently updated document, then the lower docnum.
    """
    ctx.memo.clear()
    matched = node.ids(ctx, mask)
    total = len(matched)
    if not total or not k:
        return total, []
    acc = dict.fromkeys(matched, 0.0)
    node.score(ctx, matched, acc)
    ts = ctx.timestamps()
    best = heapq.nlargest(k, acc.items(), key=lambda item: (item[1], ts[item[0]], -item[0]))
    return total, [(score, docnum) for docnum, score in best]
