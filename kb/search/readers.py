"""Opening and refreshing searchers without Whoosh's stale-reader reuse.

``Searcher.refresh()`` in whoosh-reloaded 2.7.5 reuses an open segment reader whenever the
segment *id* is unchanged, but deleting a document changes a segment's deletion set and not
its id: a refreshed searcher kept showing replaced and deleted documents. It also re-adds
segments that a merge removed. Here a segment reader is reused as it is only when the segment
and its deleted documents are unchanged. When only the deletions changed (every ``apply``
deletes the old version of a document, usually from a large segment), the reader's open files
are shared with a copy that carries the new deletion set - reopening a large segment on every
save would cost more than the save itself. Other segments are opened afresh.
"""

from __future__ import annotations

import contextlib
import copy
import time

from whoosh.codec.base import Segment
from whoosh.index import TOC, FileIndex
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.scoring import WeightingModel
from whoosh.searching import Searcher

from kb.search.engine import Cache, SegmentData

_RETRIES = 10
# a reader with what it was opened for: (segment id, deleted docnums)
Opened = tuple[tuple[str, frozenset[int]], SegmentReader]
# index._mask's visibility masks: (levels, statuses, tags, path prefixes) -> docnums
Masks = dict[tuple[object, ...], frozenset[int]]


def _deleted(segment: Segment) -> frozenset[int]:
    return frozenset(segment.deleted_docs())


def _with_segment(reader: SegmentReader, segment: Segment) -> SegmentReader:
    """A reader sharing ``reader``'s open files but seeing ``segment``'s deletions."""
    fresh = copy.copy(reader)
    fresh.__dict__.pop("deleted_docs_set", None)  # a cached_property of the old deletions
    fresh._segment = segment
    perdoc = copy.copy(reader._perdoc)
    perdoc._segment = segment
    fresh._perdoc = perdoc
    return fresh


class Snapshot:
    """A searcher over one TOC generation of one Whoosh index."""

    def __init__(self, ix: FileIndex, weighting: WeightingModel, previous: Snapshot | None = None) -> None:
        self.ix = ix
        self._handed_over: set[int] = set()  # ids of readers a newer snapshot took over (``close``)
        for attempt in range(_RETRIES):
            try:
                toc = ix._read_toc()
                self.generation: int = toc.generation
                self._readers = self._open(toc, previous)
                break
            except OSError:
                # A writer deleted a merged segment's files between our reading the TOC and
                # opening them: read the newer TOC.
                if attempt == _RETRIES - 1:
                    raise
                time.sleep(0.02)
        readers = [r for _, r in self._readers]
        if not readers:
            reader = EmptyReader(toc.schema)
        elif len(readers) == 1:
            reader = readers[0]
        else:
            reader = MultiReader(readers, generation=self.generation)
        self.searcher = Searcher(reader, weighting=weighting, fromindex=ix)
        self.masks: Masks = {}
        self.cache: Cache = self._inherited(previous)  # engine.Context's postings cache

    def _inherited(self, previous: Snapshot | None) -> Cache:
        """The previous snapshot's cached postings, when this one only appended segments.

        Docnums are global (segment offset + local number). If the previous snapshot's
        segments are this one's first segments, in order, every docnum keeps its meaning and
        the cached postings stay right for those segments (deleted documents are removed by the
        visibility mask, which is recomputed). Otherwise (a merge) start afresh.
        """
        if previous is None or previous.ix is not self.ix:
            return {}
        before = [segid for (segid, _), _ in previous._readers]
        now = [segid for (segid, _), _ in self._readers]
        if not before or now[: len(before)] != before:
            return {}
        return {k: v for k, v in previous.cache.items() if isinstance(k, tuple) or k == "size"}

    def _open(self, toc: TOC, previous: Snapshot | None) -> list[Opened]:
        reusable: dict[str, tuple[frozenset[int], SegmentReader]] = {}
        if previous is not None and previous.ix is self.ix:
            reusable = {segid: (deleted, r) for (segid, deleted), r in previous._readers}
        opened: list[Opened] = []
        fresh: list[SegmentReader] = []
        handed_over: set[int] = set()
        try:
            for segment in toc.segments:
                segid, deleted = segment.segment_id(), _deleted(segment)
                old = reusable.pop(segid, None)
                if old is None:
                    reader = SegmentReader(self.ix.storage, toc.schema, segment, generation=toc.generation)
                    fresh.append(reader)
                    # Everything a search reads later is opened now: a writer in another process
                    # deletes a merged segment's files right after its commit, and a file opened
                    # lazily later would be gone (an open one stays readable).
                    SegmentData.of(reader).preload()
                else:
                    handed_over.add(id(old[1]))
                    reader = old[1] if old[0] == deleted else _with_segment(old[1], segment)
                opened.append(((segid, deleted), reader))
        except BaseException:
            for reader in fresh:  # never the reused ones, nor copies sharing their files
                with contextlib.suppress(Exception):
                    reader.close()
            raise
        if previous is not None:
            previous._handed_over = handed_over
        return opened

    def up_to_date(self) -> bool:
        """One directory listing: has anyone committed to this index since we opened it?"""
        latest: int = self.ix.latest_generation()
        return latest == self.generation

    def close(self) -> None:
        """Close the readers not handed over to a newer snapshot."""
        for _, reader in self._readers:
            if id(reader) not in self._handed_over:
                with contextlib.suppress(Exception):
                    reader.close()
