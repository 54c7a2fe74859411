"""An exact-phrase query that is cheap enough to add to every multi-character Chinese query.

Whoosh's ``Phrase`` builds span objects for every position of every word in every candidate
document; with character bigrams of common words that is the slowest part of a search.
``FastPhrase`` intersects the postings the same way, then checks adjacency with set
membership: a document matches if some position ``p`` of the first word has word ``i`` at
``p + offsets[i]`` for every ``i``. It scores like the conjunction of its words (BM25F of each
word, summed) times its boost, so an adjacent match adds to the scattered-word score.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from whoosh import matching
from whoosh.matching import IntersectionMatcher, WrappingMatcher
from whoosh.query import qcore


class FastPhrase(qcore.Query):
    """Words of one field at fixed relative positions (``offsets`` default to 0, 1, 2, ...)."""

    def __init__(self, fieldname: str, words: Sequence[str], boost: float = 1.0,
                 offsets: Sequence[int] | None = None) -> None:
        self.fieldname = fieldname
        self.words = list(words)
        self.offsets = list(offsets) if offsets is not None else list(range(len(self.words)))
        self.boost = boost

    def __repr__(self) -> str:
        return f"FastPhrase({self.fieldname!r}, {self.words!r}, boost={self.boost})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FastPhrase) and self.fieldname == other.fieldname
                and self.words == other.words and self.offsets == other.offsets
                and self.boost == other.boost)

    def __hash__(self) -> int:
        return hash((self.fieldname, tuple(self.words), tuple(self.offsets), self.boost))

    def field(self) -> str:
        return self.fieldname

    def has_terms(self) -> bool:
        return True

    def terms(self, phrases: bool = True) -> Iterator[tuple[str, str]]:
        for word in self.words:
            yield self.fieldname, word

    def normalize(self) -> qcore.Query:
        if not self.words:
            return qcore.NullQuery
        return self

    def estimate_size(self, ixreader) -> int:
        return min((ixreader.doc_frequency(self.fieldname, w) for w in self.words), default=0)

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        fieldname = self.fieldname
        if not self.words or fieldname not in searcher.schema:
            return matching.NullMatcher()
        weighting = context.weighting if context is not None and context.weighting else None
        leaves = []
        for word in self.words:
            if (fieldname, word) not in reader:
                return matching.NullMatcher()
            leaves.append(searcher.postings(fieldname, word, weighting=weighting))
        if len(leaves) == 1:
            m = leaves[0]
            return WrappingMatcher(m, boost=self.boost) if self.boost != 1.0 else m
        # Intersect the rarest first so the common words are only skipped over.
        order = sorted(range(len(leaves)), key=lambda i: reader.doc_frequency(fieldname, self.words[i]))
        tree = leaves[order[0]]
        for i in order[1:]:
            tree = IntersectionMatcher(tree, leaves[i])
        return _PhraseMatcher(tree, leaves, self.offsets, self.boost)


class _PhraseMatcher(WrappingMatcher):
    """Walks an intersection and stops only where the positions line up."""

    def __init__(self, child, leaves, offsets, boost: float) -> None:
        super().__init__(child, boost=boost)
        self._leaves = leaves
        self._offsets = offsets
        self._find()

    def _aligned(self) -> bool:
        lists = [leaf.value_as("positions") for leaf in self._leaves]
        # Anchor on the shortest list; test the others with sets.
        anchor = min(range(len(lists)), key=lambda i: len(lists[i]))
        base = self._offsets[anchor]
        others = [(set(lists[i]), self._offsets[i] - base) for i in range(len(lists)) if i != anchor]
        return any(all((p + delta) in positions for positions, delta in others) for p in lists[anchor])

    def _find(self) -> None:
        child = self.child
        while child.is_active() and not self._aligned():
            child.next()

    def copy(self):
        raise NotImplementedError("FastPhrase matchers are not copied")

    def replace(self, minquality: float = 0):
        return self if self.child.is_active() else matching.NullMatcher()

    def supports_block_quality(self) -> bool:
        return False

    def next(self) -> None:
        self.child.next()
        self._find()

    def skip_to(self, id: int) -> None:
        self.child.skip_to(id)
        self._find()

    def all_ids(self) -> Iterator[int]:
        while self.is_active():
            yield self.id()
            self.next()
