"""A segment writer whose postings are grouped by term instead of sorted one by one.

Whoosh's ``PostingPool`` keeps one tuple per posting and sorts them all at the end (and, past
its memory limit, pickles and re-reads them one by one). A rebuild of 10,000 documents makes
about ten million postings, so that sort was the largest single cost of a rebuild. Postings
arrive in document order, so grouping them under their term and sorting only the distinct
terms gives the same output for a fraction of the work; the groups then go to the field
writer whole (``codec``). Past ``limitmb`` the groups are written to a temporary run (one
pickle per term) and merged term by term at the end.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher, W3TermInfo, W3TermsReader
from whoosh.filedb.filetables import OrderedHashReader
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.filedb.structfile import StructFile
from whoosh.formats import Format
from whoosh.index import FileIndex
from whoosh.reading import SegmentReader
from whoosh.system import unpack_ushort
from whoosh.writing import SegmentWriter

# Rough bytes per posting held in memory (tuple, value bytes, list slot).
_POSTING_BYTES = 120
_TERMINFO_SIZE = W3TermInfo._struct.size

Posting = tuple[int, float, bytes]
Group = tuple[tuple[str, bytes], list[Posting]]
TermTable = dict[bytes, list[Posting]]


class TermPool:
    """Postings grouped as field -> term -> [(docnum, weight, value)], in docnum order."""

    def __init__(self, limitmb: int = 256) -> None:
        self.limit = max(1, limitmb) * 1024 * 1024 // _POSTING_BYTES
        self.fieldnames: set[str] = set()
        self.runs: list[str] = []
        self._fields: dict[str, TermTable] = {}
        self._count = 0
        self._unsorted: set[tuple[str, bytes]] = set()

    def terms_of(self, fieldname: str) -> TermTable:
        """The term table of one field, for callers that add postings in docnum order."""
        table = self._fields.get(fieldname)
        if table is None:
            self.fieldnames.add(fieldname)
            table = self._fields[fieldname] = {}
        return table

    def added(self, n: int) -> None:
        """Account for ``n`` postings added through ``terms_of``; spill past the limit."""
        self._count += n
        if self._count >= self.limit:
            self.save()

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """Whoosh's pool interface (used when merging segments)."""
        fieldname, text, docnum, weight, value = item
        table = self.terms_of(fieldname)
        postings = table.get(text)
        if postings is None:
            table[text] = [(docnum, weight, value or b"")]
        else:
            if docnum < postings[-1][0]:
                self._unsorted.add((fieldname, text))
            postings.append((docnum, weight, value or b""))
        self.added(1)

    def _sorted_groups(self) -> Iterator[Group]:
        unsorted = self._unsorted
        for fieldname in sorted(self._fields):
            table = self._fields[fieldname]
            for text in sorted(table):
                postings = table[text]
                if (fieldname, text) in unsorted:
                    postings.sort(key=lambda p: p[0])
                yield (fieldname, text), postings

    def save(self) -> None:
        """Write the groups held in memory to a run file and start afresh."""
        if not self._fields:
            return
        fd, path = tempfile.mkstemp(prefix="kb-pool-", suffix=".run")
        self.runs.append(path)
        with os.fdopen(fd, "wb") as f:
            for group in self._sorted_groups():
                pickle.dump(group, f, pickle.HIGHEST_PROTOCOL)
        self._fields, self._unsorted, self._count = {}, set(), 0

    def iter_groups(self) -> Iterator[Group]:
        """Every term's postings, terms in (field, term) order."""
        if not self.runs:
            yield from self._sorted_groups()
            return
        self.save()
        # Runs hold increasing document numbers, so a term's postings are its groups
        # concatenated in run order; (key, run index) keeps heapq.merge in that order.
        streams = [_tagged(_read_run(path), i) for i, path in enumerate(self.runs)]
        current: tuple[str, bytes] | None = None
        merged: list[Posting] = []
        for key, _, postings in heapq.merge(*streams):
            if key != current:
                if current is not None:
                    yield current, merged
                current, merged = key, list(postings)
            else:
                merged.extend(postings)
        if current is not None:
            yield current, merged

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        """Whoosh's pool interface: one (field, term, docnum, weight, value) per posting."""
        for (fieldname, text), postings in self.iter_groups():
            for docnum, weight, value in postings:
                yield fieldname, text, docnum, weight, value

    def cleanup(self) -> None:
        for path in self.runs:
            with contextlib.suppress(OSError):
                os.remove(path)
        self.runs = []
        self._fields = {}


def _read_run(path: str) -> Iterator[Group]:
    with open(path, "rb") as f:
        while True:
            try:
                yield pickle.load(f)
            except EOFError:
                return


def _tagged(groups: Iterator[Group], i: int) -> Iterator[tuple[tuple[str, bytes], int, list[Posting]]]:
    for key, postings in groups:
        yield key, i, postings


class KBSegmentWriter(SegmentWriter):
    """Whoosh's segment writer with the ``TermPool`` and a leaner ``add_document``.

    ``add_document`` supports what kb's schema uses (indexed, stored and column fields); it
    does not support per-field boosts, term vectors or separate spelling fields.
    """

    def __init__(self, ix: FileIndex, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool = TermPool(limitmb=kwargs.get("limitmb", 256))

    def add_document(self, **fields: Any) -> None:
        self._check_state()
        perdoc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        pool = self.pool
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        count = 0
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    table = pool.terms_of(name)
                    scorable = field.scorable
                    for text, freq, weight, vbytes in field.index(value):
                        if scorable:
                            length += freq
                        postings = table.get(text)
                        if postings is None:
                            table[text] = [(docnum, weight, vbytes)]
                        else:
                            postings.append((docnum, weight, vbytes))
                        count += 1
                perdoc.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    perdoc.add_column_value(name, column, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1
        pool.added(count)

    def add_postings_to_pool(self, reader: SegmentReader, startdoc: int, docmap: dict[int, int] | None) -> None:
        """Postings of a segment being merged into this one, read term table order.

        Whoosh looks every term up again in the hash table and walks it through a matcher;
        reading the table sequentially and the postings in bulk makes a merge several times
        faster (merges run inside ``apply``, i.e. inside a save request).
        """
        terms = getattr(reader, "_terms", None)
        if not isinstance(terms, W3TermsReader):
            super().add_postings_to_pool(reader, startdoc, docmap)
            return
        schema = self.schema
        unmap = terms._fieldunmap
        postfile = terms._postfile
        pool = self.pool
        count = 0
        # per two-byte field prefix: (the pool's table of the field, its format), None when the
        # field is not in the schema; a merge reads tens of thousands of records per segment
        fields: dict[bytes, tuple[TermTable, Format] | None] = {}
        loads = pickle.loads
        for key, value in _term_records(terms._tindex):
            prefix = key[:2]
            try:
                field = fields[prefix]
            except KeyError:
                fieldname = unmap[unpack_ushort(prefix)[0]]
                field = fields[prefix] = (
                    (pool.terms_of(fieldname), schema[fieldname].format) if fieldname in schema else None
                )
            if field is None:
                continue
            table, fmt = field
            if value[0]:  # W3TermInfo's flags byte: the postings are inlined (pickled after the struct)
                ids, weights, values = loads(value[_TERMINFO_SIZE:])
                if not values:
                    values = (b"",) * len(ids)
            else:
                ids, weights, values = _all_postings(postfile, W3TermInfo.from_bytes(value), fmt)
            if docmap is None:
                kept = list(zip(map(startdoc.__add__, ids), weights, values, strict=True))
            else:
                kept = [(docmap[d], w, v) for d, w, v in zip(ids, weights, values, strict=True) if d in docmap]
                if not kept:
                    continue  # every document holding the term was deleted: the term goes with them
            text = key[2:]
            postings = table.get(text)
            if postings is None:
                table[text] = kept
            else:
                postings.extend(kept)
            count += len(kept)
        pool.added(count)

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        add_groups = getattr(self.fieldwriter, "add_groups", None)
        if add_groups is not None:
            add_groups(self.schema, lengths, self.pool.iter_groups())
        else:
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths:
            lengths.close()


def _term_records(tindex: OrderedHashReader) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) records of a term table, from one read of its data region.

    ``HashReader.items()`` makes two file reads per record.
    """
    start, end = tindex.startofdata, tindex.endofdata
    data = tindex.dbfile.get(start, end - start)
    size = _LENGTHS.size
    unpack = _LENGTHS.unpack_from
    pos = 0
    total = len(data)
    while pos < total:
        keylen, datalen = unpack(data, pos)
        keypos = pos + size
        datapos = keypos + keylen
        yield data[keypos:datapos], data[datapos : datapos + datalen]
        pos = datapos + datalen


def _all_postings(
    postfile: StructFile, terminfo: W3TermInfo, fmt: Format
) -> tuple[Sequence[int], Sequence[float], Sequence[bytes]]:
    """(ids, weights, values) of one term, inlined or read block by block."""
    if terminfo.is_inlined():
        inline_ids, inline_weights, inline_values = terminfo.inlined_postings()
        return inline_ids, inline_weights, inline_values or (b"",) * len(inline_ids)
    offset, length = terminfo.extent()
    m = W3LeafMatcher(postfile, offset, length, fmt)
    fixed = fmt.fixed_value_size()
    ids: list[int] = []
    weights: list[float] = []
    values: list[bytes] = []
    while True:
        m._read_data()
        ids_block, w, vs = m._data
        count = m._blocklength
        ids.extend(accumulate(ids_block))
        if w is None:
            weights.extend([1.0] * count)
        elif isinstance(w, float):
            weights.extend([w] * count)
        else:
            weights.extend(w)
        if vs is None or fixed == 0:
            values.extend([b""] * count)
        elif fixed is not None and fixed > 0:
            values.extend(vs[i : i + fixed] for i in range(0, len(vs), fixed))
        else:
            values.extend(vs)
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    return ids, weights, values
