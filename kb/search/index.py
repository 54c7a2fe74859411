"""``SearchIndex``: the one object the services use to keep and query the search index.

The index is a cache of git. Every commit it applies is recorded in a metadata document
written in the same Whoosh commit as the documents, so "which commit does the index reflect"
can never disagree with what it holds. A rebuild writes a new generation and swaps it in
(``generations``); readers never block and never see a half-written index, because Whoosh
publishes a commit by renaming its table of contents and a generation by replacing the
pointer file.

Readers in a long-lived process keep a searcher per thread and make two cheap checks per
search - has the pointer changed, is the searcher up to date - instead of reopening the index.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.codec.base import Segment
from whoosh.filedb.filestore import FileStorage
from whoosh.index import EmptyIndexError
from whoosh.reading import SegmentReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.writing import SegmentWriter

from kb.search import analysis, engine, generations, ranking, snippets, spelling, thesaurus
from kb.search import query as kq
from kb.search import semantic as semantic_
from kb.search.codec import KBCodec
from kb.search.model import Hit, IndexedDoc, SearchResult
from kb.search.parallel import SafeMpWriter
from kb.search.pool import KBSegmentWriter
from kb.search.readers import Masks, Snapshot
from kb.search.schema import FORMAT, META_PATH, build_schema, headings, normalize_tag
from kb.search.snippets import Patterns
from kb.search.thesaurus import Thesaurus

log = logging.getLogger(__name__)

MAX_LIMIT = 100
# Whoosh's compound segments are read through BytesIO, which copies every segment file into
# each reader's memory (the whole index, per process and per thread). Plain segment files are
# read through the OS page cache, shared by every worker process.
COMPOUND = False
TIER = 8
MAX_MERGE_DOCS = 2000
# Below this many documents a rebuild is faster in one process than with worker processes.
PARALLEL_THRESHOLD = 400
WRITER_TIMEOUT = 120.0
_OPEN_RETRIES = 6
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# a document's stored fields, as Whoosh returns them
StoredFields = dict[str, Any]


def weighting() -> BM25F:
    """BM25F with stronger length normalisation for short fields.

    A title or a path that *is* the query should beat a long one that merely contains it.
    """
    return BM25F(B=0.75, K1=1.2, title_B=0.9, meta_B=0.9, title_bg_B=0.9)


class _Generation:
    """One open generation directory."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.path = root / name
        storage = FileStorage(str(self.path))
        # a writer in another process may commit between Whoosh listing the newest table of
        # contents (_MAIN_<n>.toc) and opening it, and delete it: the next listing finds its successor
        for attempt in range(_OPEN_RETRIES):
            try:
                self.ix = storage.open_index()
                return
            except FileNotFoundError:
                if attempt == _OPEN_RETRIES - 1:
                    raise


class SearchIndex:
    """The search index in ``index_dir`` (created if missing). Safe to share between threads."""

    def __init__(self, index_dir: Path, *, semantic: bool = False) -> None:
        self.root = Path(index_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        # meaning vectors for verbose queries (``semantic``), when asked for and installed
        self.vectors = (
            semantic_.VectorStore(self.root / "vectors.sqlite3") if semantic and semantic_.available() else None
        )
        self._pending: tuple[tuple[str | None, int], int] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._snapshots: list[Snapshot] = []  # the current snapshot of every thread
        self._current: tuple[tuple[int, int] | None, _Generation] | None = None
        self._closed = False
        self._pid = os.getpid()
        # set by the services: brings the index up to the last commit before a search
        self.catch_up: Callable[[], object] | None = None
        # set by the services: the synonym groups in force (read from git, cached there), each a
        # list of equivalent words or phrases as an admin wrote them; applied at query time
        self.synonyms: Callable[[], Sequence[Sequence[str]]] | None = None
        if generations.read_pointer(self.root) is None:
            with generations.write_lock(self.root):
                if generations.read_pointer(self.root) is None:
                    name = generations.new_name()
                    _create(self.root / name)
                    generations.write_pointer(self.root, name)
        self._generation()

    # Generations and searchers

    def _generation(self, force: bool = False) -> _Generation:
        """The live generation, reopened if the pointer changed since we last looked."""
        stamp = generations.pointer_stamp(self.root)
        current = self._current  # (stamp, generation), replaced as one value
        if current is not None and stamp == current[0] and not force:
            return current[1]
        with self._lock:
            current = self._current
            if current is not None and stamp == current[0] and not force:
                return current[1]
            name = generations.read_pointer(self.root)
            if name is None:
                raise FileNotFoundError(f"no search index generation in {self.root}")
            gen = current[1] if current is not None and current[1].name == name else _Generation(self.root, name)
            self._current = (stamp, gen)
            return gen

    def _snapshot(self) -> Snapshot:
        """This thread's snapshot of the index, refreshed if anyone committed since.

        A rebuild in another process may retire the generation we are opening at that very
        moment; opening then fails and is retried on the generation the pointer names now.
        """
        if self._closed:
            raise RuntimeError("search index is closed")
        if self._pid != os.getpid():
            self._after_fork()
        local = self._local
        snap: Snapshot | None = getattr(local, "snapshot", None)
        for attempt in range(_OPEN_RETRIES):
            try:
                gen = self._generation(force=attempt > 0)
                if snap is not None and snap.ix is gen.ix and snap.up_to_date():
                    return snap
                fresh = Snapshot(gen.ix, weighting(), previous=snap)
                break
            except (OSError, EmptyIndexError):
                if attempt == _OPEN_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        with self._lock:
            if snap is not None and snap in self._snapshots:
                self._snapshots.remove(snap)
            self._snapshots.append(fresh)
        if snap is not None:
            snap.close()
        local.snapshot = fresh
        return fresh

    def _after_fork(self) -> None:
        """Forget readers inherited from the parent process (e.g. gunicorn --preload).

        Their file handles share file offsets with the parent's; reading through them from two
        processes would interleave seeks. The child opens its own.
        """
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._snapshots = []
        self._current = None

    def _searcher(self) -> Searcher:
        return self._snapshot().searcher

    def close(self) -> None:
        """Close every reader this object opened (in every thread)."""
        self._closed = True
        with self._lock:
            snapshots, self._snapshots = self._snapshots, []
        for snap in snapshots:
            snap.close()
        if self.vectors is not None:
            self.vectors.close()

    # Reading state

    def indexed_commit(self) -> str | None:
        """The git commit the index reflects, or None for an index never written (or written in
        an older format: it is then rebuilt from git)."""
        fields = self._meta_fields()
        if not fields or fields.get("format") != FORMAT:
            return None  # an index of an older format counts as never written: rebuilt
        return fields.get("commit")

    def _meta_fields(self) -> StoredFields | None:
        """The metadata document's fields, read once per snapshot (every search asks for the
        commit, see ``refresh``; a snapshot never changes)."""
        snap = self._snapshot()
        if "_kb_meta" not in snap.__dict__:
            s = snap.searcher
            docnum = s.document_number(path=META_PATH)
            snap.__dict__["_kb_meta"] = None if docnum is None else s.stored_fields(docnum)
        fields: StoredFields | None = snap.__dict__["_kb_meta"]
        return fields

    def outdated(self) -> bool:
        """Whether the live generation was written in an older format (it lacks a field of
        today's schema): it must be rebuilt, not updated."""
        fields = self._meta_fields()
        if fields and fields.get("format") != FORMAT:
            return True
        return not _schema_fields() <= set(self._generation().ix.schema.names())

    def indexed_revisions(self) -> dict[str, str]:
        """path -> revision of every indexed document (for ``kb check``)."""
        snap = self._snapshot()
        return {path: revision for path, (_, revision) in _documents(engine.Context(snap.searcher, snap.cache)).items()}

    def doc_count(self) -> int:
        """Number of indexed documents (every status and access level)."""
        s = self._searcher()
        count: int = s.doc_count()
        return count - (1 if s.document_number(path=META_PATH) is not None else 0)

    # Writing

    def writing(self, timeout: float = WRITER_TIMEOUT) -> AbstractContextManager[None]:
        """Hold the index's write lock (threads and processes; re-entrant in this thread), e.g.
        around reading ``indexed_commit`` and applying what follows it. TimeoutError after
        ``timeout`` seconds."""
        return generations.write_lock(self.root, timeout=timeout)

    def refresh(self) -> None:
        """Bring the index up to what has been committed before reading it, when the app gave
        it a way to (``catch_up``: the services catch it up from the catalog). Searches call it,
        so a search finds what was saved before it even while the index update of that save is
        still pending (it runs once the save has been answered)."""
        if self.catch_up is not None:
            self.catch_up()

    def apply(self, upserts: Iterable[IndexedDoc], deletes: Iterable[str], commit: str, *, merge: bool = True) -> None:
        """Bring the index to ``commit``: add or replace ``upserts``, remove ``deletes``.

        One Whoosh commit, so readers see all of it or none of it, together with the new
        commit id. Deletes are applied before upserts (a path both deleted and upserted ends up
        indexed). ``merge=False`` only adds a segment (segments emptied by it are still
        dropped); ``merge()`` merges later.
        """
        latest: dict[str, IndexedDoc] = {d.path: d for d in upserts}
        with generations.write_lock(self.root):
            gen = self._generation()
            writer = KBSegmentWriter(gen.ix, timeout=WRITER_TIMEOUT, codec=KBCodec(), compound=COMPOUND)
            try:
                # Our own searcher can find the documents to delete when it shows exactly the
                # state the writer started from (it usually does); it is already open.
                snap = self._snapshot()
                searcher = snap.searcher if snap.generation == writer.generation - 1 else writer.searcher()
                for path in {*deletes, *latest, META_PATH}:
                    writer.delete_by_term("path", path, searcher=searcher)
                for doc in latest.values():
                    writer.add_document(**_fields(doc))
                writer.add_document(path=META_PATH, commit=commit, format=FORMAT)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(mergetype=merge_policy if merge else _drop_empty)

    def written_ago(self) -> float:
        """Seconds since the live generation was last written (by any process): its folder
        changes with every commit."""
        try:
            changed = os.stat(self._generation().path).st_mtime_ns
        except OSError:
            return math.inf
        return max(0.0, (time.time_ns() - changed) / 1e9)

    def merge(self) -> bool:
        """Merge small segments as ``merge_policy`` does, in a commit of its own (the one-document
        segments that ``apply(merge=False)`` leaves); whether anything was merged. Readers go
        on with the segments they have until the merged one is committed."""
        with generations.write_lock(self.root):
            gen = self._generation()
            if _merge_group(gen.ix._segments()) is None:
                return False
            writer = KBSegmentWriter(gen.ix, timeout=WRITER_TIMEOUT, codec=KBCodec(), compound=COMPOUND)
            try:
                writer.commit(mergetype=merge_policy)
            except BaseException:
                writer.cancel()
                raise
            return True

    def rebuild(
        self,
        docs: Iterable[IndexedDoc],
        commit: str,
        total: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Index ``docs`` from nothing into a new generation, then make it live atomically.

        Searches keep using the old generation until the swap. Large rebuilds use one worker
        process per CPU (Whoosh's multiprocessing writer, one segment per worker).
        ``progress(n)`` is called with the number of documents handed over since its last call.
        """
        root = self.root
        with generations.write_lock(root):
            # Held throughout: a commit applied to the old generation meanwhile would be lost.
            name = generations.new_name()
            try:
                _build(root / name, docs, commit, total, progress)
            except BaseException:
                generations.remove_stale(root, keep=_keep(root))
                raise
            previous = generations.read_pointer(root)
            generations.write_pointer(root, name)
            if previous:
                generations.retire(root, previous)
            generations.remove_stale(root, keep={name})

    # Searching

    def search(
        self,
        q: str,
        *,
        access_levels: Collection[str],
        statuses: Collection[str],
        tag: str | None = None,
        status: str | None = None,
        path_prefix: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> SearchResult:
        """Search what the caller may see (see the module docstring of ``query`` for syntax).

        ``access_levels`` and ``statuses`` are what the caller is allowed; ``status`` (or
        ``status:`` in the query) chooses among them, default ``published``, ``all`` for every
        allowed status. Never raises for bad input.
        """
        q = q or ""
        result = SearchResult(total=0, hits=[], suggestion=None, query=q)
        limit = max(0, min(int(limit), MAX_LIMIT))
        offset = max(0, int(offset))
        parsed = kq.parse(q)
        if parsed.empty:
            return result
        wanted = (parsed.status or status or "published").strip().lower()
        allowed_status = set(statuses) if wanted == "all" else set(statuses) & {wanted}
        tags = [t for t in [*parsed.tags, *([tag] if tag else [])] if t.strip()]
        prefixes = tuple(p for p in (path_prefix, parsed.path) if p and p.strip())
        levels = set(access_levels)
        if not levels or not allowed_status:
            return result
        self.refresh()
        snap = self._snapshot()
        searcher = snap.searcher
        ctx = engine.Context(searcher, snap.cache)
        mask = _mask(ctx, snap.masks, levels, allowed_status, tags, prefixes)
        if mask:
            want = offset + limit
            marked = parsed.highlight_terms()
            plan = None
            if kq.plain(parsed):
                plan = ranking.plan(
                    list(marked),
                    self._thesaurus(),
                    units=len(parsed.include),
                    camel=ranking.camel_words([u.text for u in parsed.include]),
                )
                marked.extend(t for text in plan.synonyms for t in analysis.query_tokens(text))
                similarity = self._similarity(snap, ctx, parsed) if plan.verbosity(ranking.TUNING) else None
                total, top = ranking.score(ctx, plan, mask, want, similarity=similarity)
            else:
                total, top = engine.run(ctx, kq.build(parsed), mask, want)
                if total == 0 and kq.token_count(parsed) > 1:
                    total, top = engine.run(ctx, kq.build(parsed, any_of=True), mask, want)
            result.total = total
            pattern = snippets.pattern_for(marked)
            for score, docnum in top[offset:want]:
                result.hits.append(_hit(searcher.stored_fields(docnum), score, pattern))
            result.suggestion = spelling.suggest(ctx, parsed, q, mask)
            if plan is not None and (total < 3 or len(plan.concepts) > 3):
                result.related = ranking.related(plan)
        return result

    def _thesaurus(self) -> Thesaurus | None:
        """The synonyms in force (``synonyms``, set by the services), compiled for queries."""
        if self.synonyms is None:
            return None
        try:
            groups = self.synonyms()
        except Exception:  # a search never fails for want of synonyms
            log.exception("synonym list unreadable; searching without it")
            return None
        return thesaurus.compile_groups(groups)

    # Meaning vectors (see ``semantic``)

    def _similarity(
        self, snap: Snapshot, ctx: engine.Context, parsed: kq.ParsedQuery
    ) -> Callable[[], np.ndarray] | None:
        """The cosine of the query's vector with each document's, by docnum (NaN: no vector
        yet), as a function the ranking calls only if the query is verbose enough to use it.

        Embedding the query in a thread beside the word scoring was measured slower: the
        model's two OpenMP threads then wait for the core the interpreter holds. The product
        is a plain sum of products (einsum), not BLAS, whose own threads spin as long again."""
        if self.vectors is None:
            return None
        version, _, matrix = self.vectors.matrix()
        if not len(matrix):
            return None
        text = " ".join(unit.text for unit in parsed.include)

        def similarity() -> np.ndarray:
            rows = self._vector_rows(snap, ctx, version)
            sims = np.einsum("ij,j->i", matrix, semantic_.MODEL_INSTANCE.query(text))
            out = np.full(len(rows), np.nan, dtype=np.float32)
            known = rows >= 0
            out[known] = sims[rows[known]]
            return out

        return similarity

    def _vector_rows(self, snap: Snapshot, ctx: engine.Context, version: int) -> np.ndarray:
        """Per docnum of ``snap``, the row of its document's vector (-1: none), cached per
        snapshot and vector-store version."""
        cached = snap.__dict__.get("_kb_vector_rows")
        if cached is not None and cached[0] == version:
            known: np.ndarray = cached[1]
            return known
        _, paths, _ = self.vectors.matrix()  # type: ignore[union-attr]
        row_of = {p: i for i, p in enumerate(paths)}
        rows = np.full(ctx.doc_count, -1, dtype=np.int64)
        for path, (docnum, _) in _documents(ctx).items():
            rows[docnum] = row_of.get(path, -1)
        snap.__dict__["_kb_vector_rows"] = (version, rows)
        return rows

    def vectors_pending(self) -> int:
        """How many indexed documents lack a vector of their current revision (remembered
        while neither the index nor the vectors change: the background embedder asks often)."""
        if self.vectors is None:
            return 0
        key = (self.indexed_commit(), self.vectors.version())
        known = self._pending
        if known is not None and known[0] == key:
            return known[1]
        have = self.vectors.revisions()
        count = sum(1 for p, rev in self.indexed_revisions().items() if have.get(p) != rev)
        self._pending = (key, count)
        return count

    def embed_pending(
        self, budget_s: float = math.inf, batch: int = 4, progress: Callable[[int], None] | None = None
    ) -> int:
        """Compute the vectors that are missing or stale (an older revision), then drop those of
        documents no longer indexed; stop after ``budget_s`` seconds. How many were computed.

        One process at a time does it (a lock file; a busy lock means someone else is on it).
        """
        if self.vectors is None:
            return 0
        with generations.holding(self.root / "vectors.lock") as mine:
            if not mine:
                return 0
            started = time.monotonic()
            snap = self._snapshot()
            ctx = engine.Context(snap.searcher, snap.cache)
            indexed = _documents(ctx)
            have = self.vectors.revisions()
            todo = [p for p, (_, rev) in indexed.items() if have.get(p) != rev]
            done = 0
            for i in range(0, len(todo), batch):
                chunk = todo[i : i + batch]
                fields = [snap.searcher.stored_fields(indexed[p][0]) for p in chunk]
                texts = [semantic_.summary(f.get("title", ""), f.get("content") or "") for f in fields]
                digests = [semantic_.digest(t) for t in texts]
                known = self.vectors.by_digest(digests)  # the same summary needs no model
                fresh = list(dict.fromkeys(t for t, d in zip(texts, digests, strict=True) if d not in known))
                if fresh:
                    made = semantic_.MODEL_INSTANCE.passages(fresh)
                    known.update(zip((semantic_.digest(t) for t in fresh), made, strict=True))
                self.vectors.put((p, indexed[p][1], d, known[d]) for p, d in zip(chunk, digests, strict=True))
                done += len(chunk)
                if progress:
                    progress(len(chunk))
                if time.monotonic() - started > budget_s:
                    return done
            # last, so a moved document has found its old path's vector (by digest) first
            gone = [p for p in have if p not in indexed]
            if gone:
                self.vectors.delete(gone)
            return done


@functools.cache
def _schema_fields() -> frozenset[str]:
    return frozenset(build_schema().names())


def _documents(ctx: engine.Context) -> dict[str, tuple[int, str]]:
    """path -> (docnum, revision) of every live document of a snapshot.

    Read segment by segment: Whoosh's multi-segment column reader misaligns documents when a
    segment lacks the column (one holding only the metadata document does).
    """
    out: dict[str, tuple[int, str]] = {}
    for reader, offset in ctx._readers:
        if not reader.doc_count():
            continue
        paths = reader.column_reader("path")
        revisions = reader.column_reader("revision")
        for docnum in reader.all_doc_ids():
            path = _column_text(paths, docnum)
            if path and path != META_PATH:
                out[path] = (offset + docnum, _column_text(revisions, docnum))
    return out


def merge_policy(writer: SegmentWriter, segments: list[Segment]) -> list[Segment]:
    """Tiered merging that keeps ``apply`` fast and the segment count low.

    Every ``apply`` writes a small segment. Segments are grouped in tiers by size (powers of
    ``TIER``); when a tier holds ``TIER`` segments they are merged into the new one, so each
    document is rewritten about log(n) times. Segments above ``MAX_MERGE_DOCS`` (the bulk
    written by a rebuild) are never merged here - that would stall a save for seconds -
    and segments whose documents were all replaced are dropped.
    """
    live = [s for s in segments if s.doc_count() > 0]
    group = _merge_group(live)
    if group is None:
        return live
    for seg in group:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    merged = {id(seg) for seg in group}
    return [seg for seg in live if id(seg) not in merged]


def _merge_group(segments: list[Segment]) -> list[Segment] | None:
    """The segments ``merge_policy`` merges next (the smallest full tier), or None."""
    tiers: dict[int, list[Segment]] = {}
    for seg in segments:
        if seg.doc_count() == 0:
            continue
        n = seg.doc_count_all()
        if n <= MAX_MERGE_DOCS:
            tiers.setdefault(int(math.log(max(n, 1), TIER)), []).append(seg)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= TIER:
            return tiers[tier]
    return None


def _drop_empty(writer: SegmentWriter, segments: list[Segment]) -> list[Segment]:
    """No merging: keep the segments that still hold a live document."""
    return [s for s in segments if s.doc_count() > 0]


def _create(path: Path) -> whoosh_index.Index:
    path.mkdir(parents=True, exist_ok=True)
    return FileStorage(str(path)).create_index(build_schema())


def _build(
    target: Path, docs: Iterable[IndexedDoc], commit: str, total: int | None, progress: Callable[[int], None] | None
) -> None:
    """Write a complete generation into ``target``; raise if any document went missing."""
    ix = _create(target)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small acyclic objects: collections would only rescan them
    try:
        it = iter(docs)
        head = list(islice(it, PARALLEL_THRESHOLD))
        procs = min(os.cpu_count() or 1, 4)
        parallel = procs > 1 and max(len(head), total or 0) >= PARALLEL_THRESHOLD
        if parallel:
            writer: SegmentWriter = SafeMpWriter(
                ix, procs=procs, multisegment=True, batchsize=50, limitmb=256, codec=KBCodec(), compound=COMPOUND
            )
        else:
            writer = KBSegmentWriter(ix, limitmb=256, codec=KBCodec(), compound=COMPOUND)
        count = pending = 0
        last = time.monotonic()
        try:
            for doc in _chain(head, it):
                writer.add_document(**_fields(doc))
                count += 1
                pending += 1
                if progress and (pending >= 50 or time.monotonic() - last > 0.2):
                    progress(pending)
                    pending, last = 0, time.monotonic()
            writer.add_document(path=META_PATH, commit=commit, format=FORMAT)
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        if progress and pending:
            progress(pending)
        indexed = ix.doc_count()
        if indexed != count + 1:
            raise RuntimeError(f"rebuild indexed {indexed - 1} of {count} documents")
    finally:
        ix.close()
        if gc_was_enabled:
            gc.enable()


def _keep(root: Path) -> set[str]:
    name = generations.read_pointer(root)
    return {name} if name else set()


def _chain(head: list[IndexedDoc], rest: Iterator[IndexedDoc]) -> Iterator[IndexedDoc]:
    yield from head
    yield from rest


def _column_text(column: Any, docnum: int) -> str:
    """A text column's value; Whoosh's reader raises IndexError past the last value written."""
    try:
        value = column[docnum]
    except IndexError:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value or "")


def _timestamp(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int((when - _EPOCH).total_seconds())


def _fields(doc: IndexedDoc) -> dict[str, Any]:
    """Whoosh fields for one document (analysis happens in the writer, maybe in a worker)."""
    tags = list(doc.tags or [])
    body = doc.body or ""
    return {
        "path": doc.path,
        "title": doc.title or "",
        "title_bg": doc.title or "",
        "headings": headings(body),
        "body": body,
        "body_bg": body,
        "meta": " ".join([*tags, doc.path.replace("/", " ")]),
        "raw": (doc.title or "", body),
        "tags": tags,
        "tag_list": tags,
        "access": doc.access,
        "status": doc.status,
        "owner": doc.owner or "",
        "revision": doc.revision,
        "updated_at": doc.updated_at,
        "updated_ts": _timestamp(doc.updated_at),
        "content": body,  # Whoosh compresses stored fields
    }


def _mask(
    ctx: engine.Context, cache: Masks, levels: set[str], statuses: set[str], tags: list[str], prefixes: tuple[str, ...]
) -> frozenset[int]:
    """Docnums the caller may see and asked for; cached per snapshot (i.e. per index state).

    Every match set of a search is intersected with this mask before anything is counted,
    ranked or shown, and it leaves out deleted documents too.
    """
    key = (frozenset(levels), frozenset(statuses), tuple(sorted(tags)), prefixes)
    found = cache.get(key)
    if found is None:
        allowed: set[int] = set()
        for level in levels:
            allowed |= ctx.postings("access", level).idset
        in_status: set[int] = set()
        for status in statuses:
            in_status |= ctx.postings("status", status).idset
        allowed &= in_status
        for tag in tags:
            allowed &= ctx.postings("tags", normalize_tag(tag)).idset
        for prefix in prefixes:
            allowed &= engine.Prefix("path", prefix.strip()).ids(ctx, frozenset(allowed))
        found = frozenset(allowed - ctx.deleted())
        if len(cache) > 64:
            cache.clear()
        cache[key] = found
    return found


def _hit(fields: StoredFields, score: float, pattern: Patterns | None) -> Hit:
    body = fields.get("content") or ""
    snippet, section = snippets.make_snippet(body, pattern)
    return Hit(
        path=fields["path"],
        title=fields.get("title", ""),
        snippet=snippet,
        section=section,
        score=float(score),
        access=fields.get("access", ""),
        status=fields.get("status", ""),
        tags=list(fields.get("tag_list") or []),
        updated_at=fields["updated_at"],  # every document has it (``_fields``)
    )
