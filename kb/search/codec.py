"""Whoosh's W3 codec with the per-posting overheads that dominate a rebuild taken out.

Profiling a rebuild showed more time in writing postings than in analysing text:

* the field writer looked up the document's field length for *every posting* (a column read
  and a byte decode, ~5 us), although it only needs it once per document and field;
* every posting passed four ``isinstance`` assertions;
* every term, however rare, got its own compressed block in the postings file. Most terms in
  a Chinese bigram field occur in a handful of documents; their postings now live inline in
  the term table (``inlinelimit``), which is also faster to read back.

The on-disk format is unchanged W3; any Whoosh reader can read these segments.

New segments are named from the operating system's randomness, not Whoosh's ``random.choice``
(``new_segment``).
"""

from __future__ import annotations

import secrets
import zlib
from array import array
from collections.abc import Callable, Iterable
from hashlib import md5
from pickle import dumps

from whoosh.codec.base import OutOfOrderError, PerDocumentReader, Segment
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3FieldWriter,
    W3PostingsWriter,
    W3Segment,
    W3TermInfo,
    W3TermsReader,
)
from whoosh.fields import Schema
from whoosh.filedb.filestore import Storage
from whoosh.filedb.filetables import OrderedHashWriter
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.filedb.filetables import _pointer as _POINTER
from whoosh.filedb.structfile import StructFile
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

from kb.search.pool import Group

INLINE_LIMIT = 32
# Whoosh pickles posting data with protocol 2, which encodes each bytes value (a position
# list) through a codecs call: protocol 4 writes and reads them four times faster and half
# the size. Any reader's pickle.loads reads either.
PICKLE_PROTOCOL = 4
BLOCK_LIMIT = 1024
COMPRESSION = 1
_TERMINFO = W3TermInfo._struct
# Whoosh's segment id alphabet and length (whoosh.util.IDCHARS, Segment._random_id).
_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
_ID_LENGTH = 16


def random_name(size: int = _ID_LENGTH) -> str:
    """A name like ``whoosh.util.random_name``'s, from ``secrets``: seeding ``random`` repeats none.

    Whoosh draws segment ids (and its job files' names) from the global ``random`` module,
    which anyone may seed: Hypothesis reseeds it before every example, a library may call
    ``random.seed``. Every ``apply`` then named its segment like an earlier one and overwrote
    that live segment's files, under the table of contents and under the readers that had them
    open: terms found in a segment's hash table could not be read from it (TermNotFound), a
    writer's ``delete_by_term`` read garbage (struct.error), documents were lost or doubled.
    """
    return "".join(secrets.choice(_ID_CHARS) for _ in range(size))


def new_segment_id(storage: Storage, indexname: str) -> str:
    """A segment id that no file in ``storage`` uses yet."""
    names = set(storage.list())
    while True:
        segid = random_name()
        prefix = f"{indexname}_{segid}"
        if not any(name.startswith(prefix) for name in names):
            return segid


class KBCodec(W3Codec):
    def __init__(
        self, blocklimit: int = BLOCK_LIMIT, compression: int = COMPRESSION, inlinelimit: int = INLINE_LIMIT
    ) -> None:
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def terms_reader(self, storage: Storage, segment: Segment) -> W3TermsReader:
        # W3Codec.terms_reader leaks the open term file when the postings file is gone (a
        # reader racing a merge in another process); the reader retries, the file is closed.
        tiname = segment.make_filename(self.TERMS_EXT)
        tilen = storage.file_length(tiname)
        tifile = storage.open_file(tiname)
        try:
            postfile = segment.open_file(storage, self.POSTS_EXT)
        except BaseException:
            tifile.close()
            raise
        return W3TermsReader(self, tifile, tilen, postfile)

    def new_segment(self, storage: Storage, indexname: str) -> W3Segment:
        return W3Segment(self, indexname, segid=new_segment_id(storage, indexname))

    def field_writer(self, storage: Storage, segment: Segment) -> _FieldWriter:
        return _FieldWriter(self, storage, segment)

    def postings_writer(self, dbfile: StructFile, byteids: bool = False) -> _PostingsWriter:
        return _PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )


def _field_lengths(lengths: PerDocumentReader | None, fieldname: str, doccount: int) -> list[int]:
    """Every document's (approximate, as Whoosh stores it) length of one field, in one read."""
    col = lengths._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN) if lengths else None
    if col is None:
        return [0] * doccount
    count = min(col._count, doccount)
    raw = col._dbfile.get(col._basepos, count) if count else b""
    return [byte_to_length(b) for b in raw] + [0] * (doccount - count)


class _PostingsWriter(W3PostingsWriter):
    # Whoosh's block buffer and statistics (W3PostingsWriter._new_block), filled here in bulk
    _ids: array[int]
    _weights: array[float]
    _values: list[bytes]
    _maxweight: float
    _minlength: int | None
    _maxlength: int
    _terminfo: W3TermInfo  # None between terms

    def add_many(
        self, postings: list[tuple[int, float, bytes]], lengths: dict[int, int], length_of: Callable[[int], int]
    ) -> None:
        """Add a whole posting list (in docnum order), writing blocks as they fill."""
        limit = self._blocklimit
        start = 0
        total = len(postings)
        while start < total:
            room = limit - len(self._ids)
            if room <= 0:
                self._write_block()
                continue
            chunk = postings[start : start + room]
            start += len(chunk)
            ids, weights, values = zip(*chunk, strict=True)
            self._ids.extend(ids)
            self._weights.extend(weights)
            if values[0]:
                self._values.extend(values)
            top = max(weights)
            if top > self._maxweight:
                self._maxweight = top
            lens = []
            for d in ids:
                n = lengths.get(d)
                if n is None:
                    n = lengths[d] = length_of(d)
                lens.append(n)
            lo, hi = min(lens), max(lens)
            if lo and (self._minlength is None or lo < self._minlength):
                self._minlength = lo
            if hi > self._maxlength:
                self._maxlength = hi

    def add_posting(self, id_: int, weight: float, vbytes: bytes, length: int | None = None) -> None:
        if len(self._ids) >= self._blocklimit:
            self._write_block()
        self._ids.append(id_)
        self._weights.append(weight)
        if weight > self._maxweight:
            self._maxweight = weight
        if vbytes:
            self._values.append(vbytes)
        if length:
            if self._minlength is None or length < self._minlength:
                self._minlength = length
            if length > self._maxlength:
                self._maxlength = length

    def _write_block(self, last: bool = False) -> None:
        """``W3PostingsWriter._write_block`` with ``PICKLE_PROTOCOL`` for the block data."""
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        databytes = dumps((self._mini_ids(), self._mini_weights(), self._mini_values()), PICKLE_PROTOCOL)
        comp = self._compression
        if comp:
            databytes = zlib.compress(databytes, comp)
        ids = self._ids
        infobytes = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                comp,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            2,
        )
        blocklength = len(infobytes) + len(databytes)
        postfile = self._postfile
        postfile.write_int(-blocklength if last else blocklength)
        postfile.write(infobytes)
        postfile.write(databytes)
        self._blockcount += 1
        self._new_block()

    def finish_postings(self) -> W3TermInfo:
        # W3PostingsWriter's inline branch calls a method W3TermInfo does not have (Whoosh
        # never exercised it: its default limit inlines nothing); this is the working version.
        if not self.written() and len(self) < self._inlinelimit:
            terminfo = self._terminfo
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()


class _TermTable:
    """Buffered ``OrderedHashWriter.add``: the same records, hashes and index, one write.

    Whoosh writes each term record with three file writes and hashes the key through a hex
    string; for the ~2,000 terms of one document that was most of an ``apply``.
    """

    def __init__(self, tindex: OrderedHashWriter) -> None:
        self.tindex = tindex
        self.md5 = tindex.hashtype == 0
        self.buf = bytearray()
        self.base = 0

    def add(self, key: bytes, value: bytes) -> None:
        t = self.tindex
        if key <= t.lastkey:
            raise ValueError(f"Keys must increase: {t.lastkey!r}..{key!r}")
        if not self.buf:
            self.base = t.dbfile.tell()
        pos = self.base + len(self.buf)
        t.index.append(pos)
        self.buf += _LENGTHS.pack(len(key), len(value))
        self.buf += key
        self.buf += value
        # filetables.md5_hash: the low 32 bits of the key's MD5.
        h = int.from_bytes(md5(key, usedforsecurity=False).digest()[-4:], "big") if self.md5 else t.hashfn(key)
        t.buckets[h & 255].append((h, pos))
        t.lastkey = key

    def flush(self) -> None:
        if self.buf:
            self.tindex.dbfile.write(bytes(self.buf))
            self.buf = bytearray()


class _HashWriter(OrderedHashWriter):
    """``OrderedHashWriter`` writing each hash table with one write instead of one per slot."""

    def _write_hashes(self) -> None:
        dbfile = self.dbfile
        null = (0, 0)
        pack = _POINTER.pack
        for entries in self.buckets:
            pos = dbfile.tell()
            numslots = 2 * len(entries)
            self.directory.append((pos, numslots))
            hashtable = [null] * numslots
            for hashval, position in entries:
                slot = (hashval >> 8) % numslots
                while hashtable[slot] != null:
                    slot = (slot + 1) % numslots
                hashtable[slot] = (hashval, position)
            dbfile.write(b"".join([pack(h, p) for h, p in hashtable]))


class _FieldWriter(W3FieldWriter):
    def __init__(self, codec: KBCodec, storage: Storage, segment: Segment) -> None:
        super().__init__(codec, storage, segment)
        # Same on-disk format and state; only how the hash tables are written differs.
        self._tindex.__class__ = _HashWriter

    def add_groups(self, schema: Schema, lengths: PerDocumentReader | None, groups: Iterable[Group]) -> None:
        """Write ``((fieldname, term), postings)`` groups in (field, term) order.

        Terms with fewer postings than the inline limit - nearly all terms of the one-document
        segment every ``apply`` writes, and most terms of any segment - skip the generic
        postings writer: their term info (the same bytes ``W3TermInfo.to_bytes`` produces for
        inlined postings) is packed directly. Field lengths are read once per field.
        """
        table = _TermTable(self._tindex)
        tadd = table.add
        limit = self._codec._inlinelimit
        doccount = lengths.doc_count_all() if lengths else 0
        lastfn = None
        prefix = b""
        field_lengths: list[int] = []
        cache: dict[int, int] = {}
        for (fieldname, btext), postings in groups:
            if fieldname != lastfn:
                if lastfn is not None:
                    self.finish_field()
                fieldobj = schema[fieldname]
                self.start_field(fieldname, fieldobj)
                prefix = pack_ushort(self._fieldid)
                lastfn = fieldname
                field_lengths = _field_lengths(lengths, fieldname, doccount) if fieldobj.scorable else []
                cache = dict(enumerate(field_lengths))
            n = len(postings)
            if n < limit:
                if n == 1:
                    docnum, weight, value = postings[0]
                    lbyte = length_to_byte(field_lengths[docnum]) if field_lengths else 0
                    tadd(
                        prefix + btext,
                        _TERMINFO.pack(1, weight, 1, lbyte, lbyte, weight, docnum, docnum)
                        + dumps(((docnum,), (weight,), (value,) if value else ()), PICKLE_PROTOCOL),
                    )
                    continue
                ids, weights, values = zip(*postings, strict=True)
                if field_lengths:
                    lens = [field_lengths[d] for d in ids]
                    lo, hi = min(lens), max(lens)
                    lo_byte = length_to_byte(lo) if lo else 0
                    hi_byte = length_to_byte(hi)
                else:
                    lo_byte = hi_byte = 0
                head = _TERMINFO.pack(1, sum(weights), n, lo_byte, hi_byte, max(weights), ids[0], ids[-1])
                tadd(prefix + btext, head + dumps((ids, weights, values if values[0] else ()), PICKLE_PROTOCOL))
                continue
            table.flush()  # the generic path writes to the term file itself
            self.start_term(btext)
            self._postwriter.add_many(postings, cache, lambda d: 0)
            self.finish_term()
        table.flush()
        if lastfn is not None:
            self.finish_field()

    def add_postings(
        self,
        schema: Schema,
        lengths: PerDocumentReader | None,
        items: Iterable[tuple[str, bytes, int, float, bytes | None]],
    ) -> None:
        """``FieldWriter.add_postings`` with field lengths looked up once per document."""
        start_field = self.start_field
        start_term = self.start_term
        add = self.add
        finish_term = self.finish_term
        finish_field = self.finish_field
        dfl = lengths.doc_field_length if lengths else (lambda docnum, fieldname: 0)
        lastfn = None
        lasttext = None
        cache: dict[int, int] = {}
        for fieldname, btext, docnum, weight, value in items:
            if fieldname != lastfn:
                if lastfn is not None and fieldname < lastfn:
                    raise OutOfOrderError(f"Field {lastfn!r} .. {fieldname!r}")
                if lasttext is not None:
                    finish_term()
                if lastfn is not None:
                    finish_field()
                start_field(fieldname, schema[fieldname])
                lastfn = fieldname
                lasttext = None
                cache = {}
            if docnum == -1:  # Whoosh's marker for spelling-only words
                continue
            if btext != lasttext:
                if lasttext is not None:
                    if btext < lasttext:
                        raise OutOfOrderError(f"Term {fieldname}:{lasttext!r} .. {btext!r}")
                    finish_term()
                start_term(btext)
                lasttext = btext
            length = cache.get(docnum)
            if length is None:
                length = cache[docnum] = dfl(docnum, fieldname)
            add(docnum, weight, b"" if value is None else value, length)
        if lasttext is not None:
            finish_term()
        if lastfn is not None:
            finish_field()
