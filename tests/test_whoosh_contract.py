"""whoosh-reloaded's internals that kb/search relies on (``kb/search/whoosh_private.py``), each
exercised on a real index: after a Whoosh upgrade this file fails first, naming the attribute,
before a search goes wrong. It also scans kb/search, so a new reach into Whoosh must be listed."""

from __future__ import annotations

import ast
import copy
import datetime as dt
import functools
import importlib
import inspect
import pickle
import queue
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import whoosh
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, STORED_COLUMN, W3LeafMatcher, W3PostingsWriter, W3TermInfo
from whoosh.fields import UnknownFieldError
from whoosh.filedb import filetables
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Frequency
from whoosh.index import FileIndex
from whoosh.matching import ListMatcher
from whoosh.reading import SegmentReader
from whoosh.system import unpack_ushort
from whoosh.util.numeric import byte_to_length

import kb.search
from kb.search import IndexedDoc, SearchIndex, engine, generations, pool, readers
from kb.search import codec as kbcodec
from kb.search.index import _fields
from kb.search.parallel import SafeMpWriter, _Task
from kb.search.schema import build_schema
from kb.search.whoosh_private import CONTRACT, Internal

SEARCH = Path(kb.search.__file__).parent
LISTED = "kb/search/whoosh_private.py"
PRIVATE = re.compile(r"_[a-z]\w*")  # one leading underscore: private, not a dunder
COMMON = kbcodec.INLINE_LIMIT + 8  # documents sharing a word: its postings go to blocks, not inline
T0 = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)


def _resolve(dotted: str) -> Any:
    """The module, class or nested class a contract entry names."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for part in parts[i:]:
            assert hasattr(found, part), f"whoosh has no {dotted} any more (listed in {LISTED})"
            found = getattr(found, part)
        return found
    raise AssertionError(f"no module of {dotted} (listed in {LISTED})")


def _params(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)[1:]  # after self


# The scan of kb/search


@dataclass
class Scan:
    uses: dict[str, list[str]] = field(default_factory=dict)  # private name -> where ("engine.py:142")
    own: set[str] = field(default_factory=set)  # private names kb/search defines for itself
    overrides: dict[str, list[tuple[type, type]]] = field(default_factory=dict)  # name -> (kb class, whoosh base)
    text: str = ""


def _modules() -> Iterator[tuple[str, ast.Module, ModuleType]]:
    for path in sorted(SEARCH.glob("*.py")):
        if path.name != Path(LISTED).name:
            name = "kb.search" if path.stem == "__init__" else f"kb.search.{path.stem}"
            source = path.read_text(encoding="utf-8")
            yield path.name, ast.parse(source), importlib.import_module(name)


def _whoosh_bases(cls: type) -> list[type]:
    return [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "whoosh"]


@functools.cache
def _whoosh_source() -> str:
    root = Path(inspect.getfile(whoosh)).parent
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(root.rglob("*.py")))


def _joined(node: ast.JoinedStr) -> str:
    """An f-string as a contract column name: ``f"_{fieldname}_len"`` -> ``_{field}_len``."""
    return "".join(v.value if isinstance(v, ast.Constant) else "{field}" for v in node.values)


def _scan_class(scan: Scan, node: ast.ClassDef, cls: type) -> None:
    """Which private names of a kb class are its own, and which methods override Whoosh's."""
    bases = _whoosh_bases(cls)
    whoosh_state = "\n".join(inspect.getsource(base) for base in bases)
    overridable = {e.name for e in CONTRACT if e.kind == "override"}
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and (PRIVATE.fullmatch(item.name) or item.name in overridable):
            defining = [base for base in bases if item.name in vars(base)]
            if defining:
                scan.overrides.setdefault(item.name, []).append((cls, defining[0]))
            elif item.name.startswith("_"):
                scan.own.add(item.name)
        elif isinstance(item, ast.Assign):
            for target in item.targets:
                if isinstance(target, ast.Name) and PRIVATE.fullmatch(target.id):
                    scan.own.add(target.id)
                if isinstance(target, ast.Name) and target.id == "__slots__":
                    scan.own.update(ast.literal_eval(item.value))
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) and PRIVATE.fullmatch(sub.attr):
            on_self = isinstance(sub.value, ast.Name) and sub.value.id == "self"
            # set on self: kb's unless it is the state of a Whoosh base; on another object: unless Whoosh has it
            if not re.search(rf"\bself\.{sub.attr}\b", whoosh_state if on_self else _whoosh_source()):
                scan.own.add(sub.attr)


@pytest.fixture(scope="module")
def scan() -> Scan:
    found = Scan()
    for filename, tree, module in _modules():
        found.text += ast.unparse(tree) + "\n"
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                _scan_class(found, node, getattr(module, node.name))
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and PRIVATE.fullmatch(node.name):
                found.own.add(node.name)
        fstring_parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.keyword) and node.arg:
                names = [node.arg]
            elif isinstance(node, ast.JoinedStr):
                names = [_joined(node)]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in fstring_parts:
                names = [node.value]  # getattr(reader, "_terms"), column names
            for name in names:
                if PRIVATE.fullmatch(name) or (name.startswith("_") and "{field}" in name):
                    found.uses.setdefault(name, []).append(f"{filename}:{getattr(node, 'lineno', '?')}")
    found.own |= {name for name in found.uses if name.startswith("_kb_")}  # kb's keys in Whoosh objects' __dict__
    return found


def test_kb_search_reaches_only_listed_whoosh_internals(scan: Scan) -> None:
    listed = {e.name for e in CONTRACT}
    unlisted = {name: where for name, where in scan.uses.items() if name not in scan.own | listed}
    listed_overrides = {e.name for e in CONTRACT if e.kind == "override"}
    for name, pairs in scan.overrides.items():
        if name not in listed_overrides:
            unlisted[name] = [f"{kb_cls.__name__} overrides {base.__qualname__}" for kb_cls, base in pairs]
    assert not unlisted, f"whoosh internals used but not listed in {LISTED}: {unlisted}"


def test_every_listed_internal_is_still_used(scan: Scan) -> None:
    def used(entry: Internal) -> bool:
        if entry.private:
            return entry.name in scan.uses or entry.name in scan.overrides
        return re.search(rf"\b{entry.name}\b", scan.text) is not None

    stale = [f"{e.owner}.{e.name}" for e in CONTRACT if not used(e)]
    assert not stale, f"listed in {LISTED} but no longer used by kb/search: {stale}"


def test_every_override_takes_what_whoosh_passes(scan: Scan) -> None:
    for entry in (e for e in CONTRACT if e.kind == "override"):
        owner = _resolve(entry.owner)
        pairs = scan.overrides.get(entry.name, [])
        assert pairs, f"{entry.name} is listed as an override, but no kb class overrides it"
        for kb_cls, base in pairs:
            assert issubclass(owner, base) or base is owner, f"{kb_cls.__name__}.{entry.name} overrides {base}"
            assert _params(getattr(kb_cls, entry.name)) == entry.params, f"{kb_cls.__name__}.{entry.name}"


# A real index, and the Whoosh objects kb handles


def _doc(i: int, revision: str = "r1") -> IndexedDoc:
    return IndexedDoc(
        path=f"ops/note-{i}.md",
        title=f"Note {i}",
        body=f"# Runbook {i}\n\nrestart the gateway service, then check unique{i} logs",
        tags=["测试"],
        access="internal",
        status="published",
        owner="li.na",
        updated_at=T0 + dt.timedelta(minutes=i),
        revision=revision,
    )


@dataclass
class World:
    ix: FileIndex
    reader: SegmentReader  # the segment of COMMON documents, one of them since deleted
    common: bytes  # a body term of every document: block postings
    rare: bytes  # a body term of one document: inline postings
    scratch: Callable[[], FileIndex]  # a fresh empty index with kb's schema
    made: dict[str, Callable[[], Any]]  # contract owner -> a fresh object of that class
    cleanup: list[Callable[[], None]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("contract")
    index = SearchIndex(root / "index")
    index.apply([_doc(i) for i in range(COMMON)], [], "c1")
    index.apply([_doc(0, revision="r2")], [], "c2", merge=False)  # a second segment; a deletion in the first
    index.close()
    ix = FileStorage(str(root / "index" / str(generations.read_pointer(root / "index")))).open_index()
    toc = ix._read_toc()
    segment = max(toc.segments, key=lambda s: s.doc_count_all())
    reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
    frequency = {t: reader.doc_frequency("body", t) for t in reader.lexicon("body")}
    common = max(frequency, key=frequency.__getitem__)
    rare = min(frequency, key=frequency.__getitem__)
    cleanup: list[Callable[[], None]] = [reader.close]

    def scratch() -> FileIndex:
        path = tmp_path_factory.mktemp("scratch")
        return FileStorage(str(path)).create_index(build_schema())

    def writer(cls: type = pool.KBSegmentWriter, **kwargs: Any) -> Any:
        made = cls(scratch(), codec=kbcodec.KBCodec(), compound=False, **kwargs)
        cleanup.append(made.cancel)
        return made

    def postings_writer() -> W3PostingsWriter:
        storage = scratch().storage
        made = kbcodec.KBCodec().postings_writer(storage.create_file("contract.pst"))
        made.start_postings(Frequency(), W3TermInfo())
        cleanup.append(made._postfile.close)
        return made

    def field_writer() -> Any:
        storage = scratch().storage
        codec = kbcodec.KBCodec()
        made = codec.field_writer(storage, codec.new_segment(storage, "MAIN"))
        made.start_field("body", build_schema()["body"])
        cleanup.append(lambda: (made.finish_field(), made.close()))  # close() writes the hash tables
        return made

    def task() -> _Task:
        made = _Task(ix.storage, ix.indexname, queue.Queue(), queue.Queue(), {}, True)
        made.writer = writer(_lk=False)  # as _Task.run sets it, for SubWriterTask._process_file
        return made

    made: dict[str, Callable[[], Any]] = {
        "whoosh.index.FileIndex": lambda: ix,
        "whoosh.reading.SegmentReader": lambda: reader,
        "whoosh.codec.whoosh3.W3PerDocReader": lambda: reader._perdoc,
        "whoosh.codec.whoosh3.W3TermsReader": lambda: reader._terms,
        "whoosh.columns.NumericColumn.Reader": lambda: reader._perdoc._cached_reader("_body_len", LENGTHS_COLUMN),
        "whoosh.matching.mcore.ListMatcher": lambda: reader._terms.matcher("body", rare, toc.schema["body"].format),
        "whoosh.codec.whoosh3.W3LeafMatcher": lambda: reader._terms.matcher("body", common, toc.schema["body"].format),
        "whoosh.codec.whoosh3.W3Codec": kbcodec.KBCodec,
        "whoosh.codec.whoosh3.W3PostingsWriter": postings_writer,
        "whoosh.filedb.filetables.OrderedHashWriter": lambda: field_writer()._tindex,
        "whoosh.codec.whoosh3.W3FieldWriter": field_writer,
        "whoosh.writing.SegmentWriter": writer,
        "whoosh.multiproc.MpWriter": lambda: writer(SafeMpWriter, procs=2, multisegment=True),
        "whoosh.multiproc.SubWriterTask": task,
    }
    yield World(ix, reader, common, rare, scratch, made, cleanup)
    for step in reversed(cleanup):
        step()


def _object(world: World, entry: Internal) -> Any:
    assert entry.owner in world.made, f"no test object for {entry.owner}: add one to the world fixture"
    made = world.made[entry.owner]()
    assert isinstance(made, _resolve(entry.owner)), f"{made!r} is no longer a {entry.owner}"
    return made


@pytest.mark.parametrize("entry", CONTRACT, ids=lambda e: f"{e.owner.rsplit('.', 1)[-1]}.{e.name}")
def test_contract_entry(world: World, entry: Internal) -> None:
    """The entry exists where kb expects it, in the shape kb uses."""
    where = f"{entry.owner}.{entry.name} (listed in {LISTED})"
    owner = _resolve(entry.owner)
    if entry.kind == "module":
        assert hasattr(owner, entry.name), f"gone: {where}"
    elif entry.kind == "class attribute":
        assert entry.name in vars(owner), f"gone: {where}"
    elif entry.kind == "keyword":
        assert entry.name in inspect.signature(owner.__init__).parameters, f"no longer accepted: {where}"
    elif entry.kind == "column":
        perdoc = _object(world, entry)
        assert perdoc.has_column(entry.name.format(field="body")), f"no such column: {where}"
    elif entry.kind == "cached":
        made = _object(world, entry)
        getattr(made, entry.name)
        assert entry.name in made.__dict__, f"no longer cached in the instance's __dict__: {where}"
    elif entry.kind == "attribute":
        assert hasattr(_object(world, entry), entry.name), f"gone: {where}"
    else:  # method, override
        assert callable(getattr(owner, entry.name, None)), f"gone: {where}"
        assert _params(getattr(owner, entry.name)) == entry.params, f"parameters changed: {where}"
        if entry.called_from:
            caller = inspect.getsource(getattr(owner, entry.called_from))
            assert re.search(rf"self\.{entry.name}\(", caller), f"{entry.called_from} no longer calls {where}"


# The shapes kb relies on


def test_the_table_of_contents(world: World) -> None:
    toc = world.ix._read_toc()
    assert isinstance(toc.generation, int)
    assert "body" in toc.schema.names()
    assert [s.segment_id() for s in world.ix._segments()] == [s.segment_id() for s in toc.segments]
    assert len(toc.segments) == 2


def test_a_reader_copy_sees_another_segments_deletions(world: World) -> None:
    reader = world.reader
    assert reader._segment.segment_id() == reader.segment().segment_id()
    assert reader._perdoc._segment is reader._segment
    assert reader.deleted_docs_set == frozenset(reader._segment.deleted_docs())
    other = copy.deepcopy(reader._segment)
    other.delete_document(5)
    fresh = readers._with_segment(reader, other)
    assert 5 in fresh.deleted_docs_set and fresh.is_deleted(5) and fresh._perdoc._segment is other
    assert not reader.is_deleted(5)


def _walk(m: Any) -> tuple[list[int], list[float], list[bytes]]:
    ids, weights, values = [], [], []
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        values.append(m.value())
        m.next()
    return ids, weights, values


@pytest.mark.parametrize("which", ["common", "rare"])
def test_bulk_postings_read_as_whoosh_matchers_walk_them(world: World, which: str) -> None:
    term = getattr(world, which)
    terms = world.reader._terms
    fmt = world.reader.schema["body"].format
    expected = _walk(terms.matcher("body", term, fmt))
    assert len(expected[0]) == (COMMON if which == "common" else 1)
    matcher = terms.matcher("body", term, fmt)
    assert isinstance(matcher, W3LeafMatcher if which == "common" else ListMatcher)
    found = engine._read(matcher, positional=True)
    assert list(found.ids) == expected[0]
    assert list(found.weights) == pytest.approx(expected[1])
    assert found.values is not None and [found.values[i] for i in range(len(found.ids))] == expected[2]
    if which == "common":
        assert pool._all_postings(terms._postfile, terms.term_info("body", term), fmt) == expected


def test_leaf_matcher_blocks(world: World) -> None:
    m = world.made["whoosh.codec.whoosh3.W3LeafMatcher"]()
    m._read_data()
    ids, weights, values = m._data
    assert len(ids) == m._blocklength == COMMON and m._lastblock is True
    # weights: None when all are 1.0, one float when all are equal, else one per posting (engine._read)
    assert (weights is None or isinstance(weights, float) or len(weights) == COMMON) and len(values) == COMMON
    assert isinstance(m._nextoffset, int)


def test_the_term_table_read_in_one_pass(world: World) -> None:
    terms = world.reader._terms
    records = list(pool._term_records(terms._tindex))
    assert [key for key, _ in records] == list(terms._tindex.keys())
    for key, value in records[:50]:
        fieldname = terms._fieldunmap[unpack_ushort(key[:2])[0]]
        assert fieldname in world.reader.schema
        assert (fieldname, key[2:]) in terms
        info = W3TermInfo.from_bytes(value)
        assert info.doc_frequency() == world.reader.doc_frequency(fieldname, key[2:])


def test_term_info_and_hash_table_layouts() -> None:
    """kb packs term infos and hash tables itself, with these layouts."""
    assert W3TermInfo._struct.format == "!BfIBBfII"
    assert filetables._lengths.format == "!ii"
    assert filetables._pointer.format == "!Iq"


def test_numeric_columns_and_field_lengths_in_one_read(world: World) -> None:
    reader = world.reader
    perdoc = reader._perdoc
    n = reader.doc_count_all()
    column = reader.column_reader("updated_ts")
    assert engine._numbers(column, n) == [column[i] for i in range(n)]
    expected = [perdoc.doc_field_length(d, "body") or 0 for d in range(n)]  # the metadata document has no body
    assert kbcodec._field_lengths(perdoc, "body", n) == expected
    lengths = perdoc._cached_reader("_body_len", LENGTHS_COLUMN)
    assert lengths._fixedlen == 1 and lengths._typecode == "B" and lengths._default == 0
    raw = lengths._dbfile.get(lengths._basepos, lengths._count)
    assert [byte_to_length(b) for b in raw] == expected[: lengths._count]
    assert perdoc._cached_reader("_nothing_len", LENGTHS_COLUMN) is None
    assert perdoc._cached_reader("_stored", STORED_COLUMN) is not None


def test_codec_settings(world: World) -> None:
    codec = kbcodec.KBCodec()
    assert (codec._blocklimit, codec._compression, codec._inlinelimit) == (
        kbcodec.BLOCK_LIMIT,
        kbcodec.COMPRESSION,
        kbcodec.INLINE_LIMIT,
    )


def test_postings_writer_state_and_blocks(world: World, tmp_path: Path) -> None:
    """kb's postings writer fills Whoosh's block buffers itself; what it writes reads back."""
    storage = FileStorage(str(tmp_path))
    writer = kbcodec.KBCodec().postings_writer(storage.create_file("p.pst"))
    info = W3TermInfo()
    writer.start_postings(Frequency(), info)
    assert (len(writer._ids), len(writer._weights), writer._values) == (0, 0, [])
    assert (writer._maxweight, writer._minlength, writer._maxlength, writer._blockcount) == (0, None, 0, 0)
    assert writer._terminfo is info and writer._postfile is not None
    count = kbcodec.BLOCK_LIMIT + 10
    writer.add_many([(d, 2.0, b"") for d in range(count)], {}, lambda d: 3)
    assert writer._maxweight == 2.0 and writer._minlength == writer._maxlength == 3
    assert writer._blockcount == 1  # the first block is written once the second one starts
    # the second block's buffer: ids as deltas from the block's first, one weight for all, no values
    assert list(accumulate(writer._mini_ids())) == list(range(kbcodec.BLOCK_LIMIT, count))
    assert writer._mini_weights() == 2.0 and not writer._mini_values()
    finished = writer.finish_postings()
    writer._postfile.close()
    offset, length = finished.extent()
    postfile = storage.open_file("p.pst")
    try:
        assert list(W3LeafMatcher(postfile, offset, length, Frequency()).all_ids()) == list(range(count))
        blocks = W3LeafMatcher(postfile, offset, length, Frequency())  # engine reads block by block (_goto)
        assert list(engine._read(blocks, positional=False).ids) == list(range(count))
    finally:
        postfile.close()
    writer._new_block()
    assert len(writer._ids) == 0


def test_field_writer_and_hash_table_state(world: World) -> None:
    writer = world.made["whoosh.codec.whoosh3.W3FieldWriter"]()
    assert isinstance(writer._fieldid, int) and isinstance(writer._codec, kbcodec.KBCodec)
    assert isinstance(writer._postwriter, W3PostingsWriter)
    table = writer._tindex
    assert isinstance(table, filetables.OrderedHashWriter)
    assert len(table.buckets) == 256 and table.directory == [] and len(table.index) == 0
    assert table.hashtype == 0 and callable(table.hashfn) and table.lastkey == b""
    assert callable(table.dbfile.tell)


def test_the_segment_writer_steps_of_a_parallel_commit(world: World) -> None:
    """What SafeMpWriter._commit does at its end, on a real index."""
    ix = world.scratch()
    writer = pool.KBSegmentWriter(ix, codec=kbcodec.KBCodec(), compound=False)
    writer._check_state()
    writer._check_fields(writer.schema, ["body"])
    with pytest.raises(UnknownFieldError):
        writer._check_fields(writer.schema, ["no_such_field"])
    writer.add_document(**_fields(_doc(1)))
    assert writer._added is True and writer.docnum == 1
    segments = writer._merge_segments(None, None, None)
    assert segments == []
    segment = writer._finalize_segment()
    assert segment.doc_count_all() == 1
    writer._commit_toc([*segments, segment])
    writer._finish()
    assert ix.doc_count() == 1
    empty = pool.KBSegmentWriter(ix, codec=kbcodec.KBCodec(), compound=False)
    kept = empty._merge_segments(None, None, None)
    empty._close_segment()
    empty._commit_toc(kept)
    empty._finish()
    assert ix.doc_count() == 1


def test_a_worker_processes_a_job_file_as_kb_writes_it(world: World) -> None:
    task = world.made["whoosh.multiproc.SubWriterTask"]()
    mp = world.made["whoosh.multiproc.MpWriter"]()
    mp.add_document(**_fields(_doc(2)))
    assert len(mp.docbuffer) == 1 and mp.docbuffer[0][0] == 0  # (code 0 = add_document, fields)
    assert mp.tasks == [] and mp.procs == 2 and mp.multisegment is True and isinstance(mp.subargs, dict)
    assert callable(mp.jobqueue.put) and callable(mp.resultqueue.get)
    with task.writer.temp_storage().create_file("job.doclist").raw_file() as f:
        for item in mp.docbuffer:
            pickle.dump(item, f, 2)
    task._process_file("job.doclist", len(mp.docbuffer))
    assert task.writer.docnum == 1
