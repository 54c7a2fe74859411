"""Every whoosh-reloaded internal that kb/search reads, writes, calls or overrides, in one list.

The search engine is fast because it reads Whoosh's segments below its public API (``engine``,
``pool``), writes them with a leaner codec and segment writer (``codec``, ``pool``), reuses
readers across refreshes (``readers``) and hardens the multiprocessing writer (``parallel``).
None of that is Whoosh's promise: a release may rename or reshape any of it. setup.cfg therefore
pins whoosh-reloaded exactly, and ``tests/test_whoosh_contract.py`` exercises every entry below
against a real index, so an upgrade fails there first, naming the attribute, rather than as wrong
search results. The same test scans kb/search for private names (``._name``, ``from whoosh...
import _name``, ``_name=`` keywords, overridden private methods) that are neither kb's own nor
listed here: a new reach into Whoosh must be added to this list, and one no longer made removed.

Names without a leading underscore are listed too when they are internals all the same: the
state of a writer that kb's overrides take over, or a cached property kb drops from a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["attribute", "class attribute", "cached", "module", "method", "override", "keyword", "column"]


@dataclass(frozen=True)
class Internal:
    """One internal: ``name`` on ``owner`` (a dotted class path, or a module for ``module``).

    ``params`` are the parameters after ``self`` of a method kb calls or overrides; ``called_from``
    is the Whoosh method that calls an override (if it stopped, kb's override would be bypassed).
    A ``column`` is the name of a per-document column file (``{field}`` stands for a field name).
    """

    owner: str
    name: str
    kind: Kind
    params: tuple[str, ...] | None = None
    called_from: str | None = None

    @property
    def private(self) -> bool:
        return self.name.startswith("_")


def _attributes(owner: str, *names: str) -> tuple[Internal, ...]:
    return tuple(Internal(owner, name, "attribute") for name in names)


_INDEX = "whoosh.index.FileIndex"
_READER = "whoosh.reading.SegmentReader"
_PERDOC = "whoosh.codec.whoosh3.W3PerDocReader"
_TERMS = "whoosh.codec.whoosh3.W3TermsReader"
_NUMERIC = "whoosh.columns.NumericColumn.Reader"
_LIST = "whoosh.matching.mcore.ListMatcher"
_LEAF = "whoosh.codec.whoosh3.W3LeafMatcher"
_CODEC = "whoosh.codec.whoosh3.W3Codec"
_POSTINGS = "whoosh.codec.whoosh3.W3PostingsWriter"
_HASH = "whoosh.filedb.filetables.OrderedHashWriter"
_FIELDS = "whoosh.codec.whoosh3.W3FieldWriter"
_WRITER = "whoosh.writing.SegmentWriter"
_MP = "whoosh.multiproc.MpWriter"
_TASK = "whoosh.multiproc.SubWriterTask"

CONTRACT: tuple[Internal, ...] = (
    # readers: a snapshot reads the table of contents itself and reuses segment readers
    Internal(_INDEX, "_read_toc", "method", ()),
    Internal(_INDEX, "_segments", "method", ()),
    *_attributes(_READER, "_segment", "_perdoc", "_terms"),
    Internal(_READER, "deleted_docs_set", "cached"),
    Internal(_PERDOC, "_segment", "attribute"),
    # engine: postings, field lengths and columns read in bulk
    Internal(_PERDOC, "_cached_reader", "method", ("fieldname", "column")),
    Internal(_PERDOC, "_stored", "column"),
    Internal(_PERDOC, "_{field}_len", "column"),
    *_attributes(_TERMS, "_fieldunmap", "_postfile", "_tindex"),
    *_attributes(_NUMERIC, "_count", "_dbfile", "_basepos", "_fixedlen", "_typecode", "_default"),
    *_attributes(_LIST, "_ids", "_weights", "_values"),
    *_attributes(_LEAF, "_data", "_blocklength", "_lastblock", "_nextoffset"),
    Internal(_LEAF, "_read_data", "method", ()),
    Internal(_LEAF, "_goto", "method", ("position",)),
    # codec: term infos packed directly, postings written in bulk, hash tables in one write
    Internal("whoosh.codec.whoosh3.W3TermInfo", "_struct", "class attribute"),
    Internal("whoosh.filedb.filetables", "_lengths", "module"),
    Internal("whoosh.filedb.filetables", "_pointer", "module"),
    *_attributes(_CODEC, "_blocklimit", "_compression", "_inlinelimit"),
    *_attributes(
        _POSTINGS,
        "_ids",
        "_weights",
        "_values",
        "_maxweight",
        "_minlength",
        "_maxlength",
        "_blocklimit",
        "_blockcount",
        "_compression",
        "_inlinelimit",
        "_postfile",
        "_terminfo",
    ),
    Internal(_POSTINGS, "_mini_ids", "method", ()),
    Internal(_POSTINGS, "_mini_weights", "method", ()),
    Internal(_POSTINGS, "_mini_values", "method", ()),
    Internal(_POSTINGS, "_new_block", "method", ()),
    Internal(_POSTINGS, "_write_block", "override", ("last",), called_from="finish_postings"),
    *_attributes(_HASH, "dbfile", "directory", "buckets", "index", "lastkey", "hashtype", "hashfn"),
    Internal(_HASH, "_write_hashes", "override", (), called_from="close"),
    *_attributes(_FIELDS, "_tindex", "_codec", "_fieldid", "_postwriter"),
    # pool: the segment writer's add_document, merge and flush replaced
    Internal(_WRITER, "_lk", "keyword"),
    *_attributes(_WRITER, "_added", "perdocwriter", "fieldwriter", "pool", "docnum"),
    Internal(_WRITER, "_check_state", "method", ()),
    Internal(_WRITER, "_check_fields", "method", ("schema", "fieldnames")),
    Internal(_WRITER, "_flush_segment", "override", (), called_from="_finalize_segment"),
    Internal(_WRITER, "add_postings_to_pool", "override", ("reader", "startdoc", "docmap"), called_from="add_reader"),
    # parallel: the multiprocessing writer's commit, job queue and workers replaced
    Internal(_WRITER, "_finalize_segment", "method", ()),
    Internal(_WRITER, "_close_segment", "method", ()),
    Internal(_WRITER, "_commit_toc", "method", ("segments",)),
    Internal(_WRITER, "_merge_segments", "method", ("mergetype", "optimize", "merge")),
    Internal(_WRITER, "_finish", "method", ()),
    *_attributes(_MP, "docbuffer", "tasks", "procs", "jobqueue", "resultqueue", "subargs", "multisegment"),
    Internal(_MP, "_new_task", "override", (), called_from="_enqueue"),
    Internal(_MP, "_enqueue", "override", (), called_from="add_document"),
    Internal(_MP, "_commit", "override", ("mergetype", "optimize", "merge"), called_from="commit"),
    *_attributes(_TASK, "storage", "indexname", "jobqueue", "resultqueue", "kwargs", "writer"),
    Internal(_TASK, "_process_file", "method", ("filename", "doc_count")),
)
