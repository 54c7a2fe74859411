"""The git store: every document and every version of it, in one bare git repository.

Why it is built this way:

- **pygit2, in-process.** No subprocess per operation, and commits are made by writing blob and
  tree objects directly, so there is no working tree that a crash could leave half-written.
- **Readers never wait.** Reads go straight to the immutable object database; only the branch
  ref changes, and it changes atomically. pygit2 ``Repository`` objects are not thread-safe, so
  each thread (and each forked worker) opens its own.
- **Writers serialize** on one file lock (threads and gunicorn workers alike) and move
  ``refs/heads/main`` with a compare-and-swap against the head they read under that lock, so
  even a writer that bypassed the lock cannot make a commit silently disappear.
- **A commit edits only the touched subtrees** (cost grows with path depth, not repository
  size), and every operation is checked against the tree before anything is written to the
  branch, so a bad operation never leaves a commit behind.

Paths in the repository are ``<document path>.md`` with folders as real git trees, and a
document's attached files under ``<document path>.files/`` (``WriteFile``, ``files``); any other
file is ignored, but for kb's own settings under ``.kb/`` (``WriteSetting``, ``setting_blob``),
which no document path can reach. A move carries a document's files, a delete removes them
(older revisions keep both). Only this package imports pygit2; callers get
``kb.versioning.model`` values.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import errno
import functools
import math
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import filelock
import pygit2
from pygit2.enums import FileMode, ObjectType, RepositoryOpenFlag, SortMode

from kb import clock, docpath
from kb.errors import BadRequest, Conflict, InvalidRevision, KBError, NotFound
from kb.versioning.model import (
    ADD,
    DELETE,
    MODIFY,
    MOVE,
    Author,
    Change,
    Delete,
    DeleteFile,
    Move,
    Operation,
    Revision,
    StoredFile,
    Write,
    WriteFile,
    WriteSetting,
)
from kb.versioning.trailers import split_trailers

BRANCH = "refs/heads/main"
# kb's own files (not documents): a folder no document path can name, as paths never start with "."
SETTINGS = ".kb"
_SETTING_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.[a-z]{1,8}")
LOCK_FILE = "kb-write.lock"

# Full or abbreviated object ids only: nothing else (no "HEAD~1", no "-O", no "../x") ever
# reaches libgit2's revision parser. 4 is libgit2's shortest accepted prefix.
_HEX_ID = re.compile(r"[0-9a-fA-F]{4,40}")
_DOC_MODES = frozenset({FileMode.BLOB, FileMode.BLOB_EXECUTABLE})
# A deleted and an added document at least this similar are one document moved with edits
# (git's default rename threshold); pairs are scored only among this many candidates, beyond
# which a commit is a bulk import or clean-up and reads better as adds and deletes.
_SIMILARITY_THRESHOLD = 0.5
_MAX_SIMILARITY_PAIRS = 2_500
_TREE_CACHE_LIMIT = 4 << 20
# Waiting writers poll the lock; filelock's default 50 ms would dominate a 5 ms commit.
_LOCK_POLL_INTERVAL = 0.005


@dataclass(frozen=True)
class _Subtree:
    """An edit that puts a whole folder in place (a moved document's files)."""

    oid: pygit2.Oid


_Edits = dict[str, "pygit2.Oid | _Subtree | _Edits | None"]
_O = TypeVar("_O", pygit2.Commit, pygit2.Tree, pygit2.Blob)


def _configure_libgit2() -> None:
    """Process-wide libgit2 settings (only this package uses pygit2).

    - fsync objects and refs: the repository is the only copy of every document, and without
      it a power cut can leave ``main`` pointing at objects that never reached the disk. It
      costs about 2 ms per commit.
    - cache folder trees: libgit2 caches trees only up to 4 KiB by default, i.e. folders of
      about 80 documents; a larger folder was re-read and inflated on every read and twice per
      commit during a walk. Trees stay within libgit2's overall cache budget (256 MiB).
    """
    pygit2.settings.enable_fsync_gitdir(True)
    pygit2.settings.cache_object_limit(ObjectType.TREE, _TREE_CACHE_LIMIT)


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk is full. libgit2 reports ENOSPC as an OSError without
    ``errno``, naming it only in its text ("failed to write out file: No space left on device"),
    so both are looked at."""
    return isinstance(exc, OSError) and (exc.errno == errno.ENOSPC or _NO_SPACE in str(exc))


_NO_SPACE = os.strerror(errno.ENOSPC)


def create_blob(repo: pygit2.Repository, data: bytes) -> pygit2.Oid:
    """Write ``data`` as a blob. A full disk is an OSError ENOSPC: libgit2 fails some large
    writes on a full disk without setting an error of its own (pygit2 then raises a GitError with
    a stale, unrelated message), so a GitError while fewer bytes are free than were to be
    written is taken for what it is."""
    try:
        return repo.create_blob(data)
    except pygit2.GitError as exc:
        if shutil.disk_usage(repo.path).free < len(data):
            raise OSError(errno.ENOSPC, _NO_SPACE) from exc
        raise


class StoreBusy(KBError):
    """The write lock could not be taken in time; the client may simply retry."""

    status = 503
    code = "store_busy"


class StoreError(KBError):
    """The content repository is missing, misconfigured or damaged: an operator's problem."""

    status = 500
    code = "store_error"


class GitStore:
    """Documents and their history in a bare git repository on branch ``main``.

    Instances are cheap and thread-safe: share one per process. Generators returned by
    ``walk`` and ``documents`` should be consumed by the thread that created them.
    """

    def __init__(self, root: Path, lock_path: Path | None = None, lock_timeout: float = 60.0) -> None:
        """Open the existing bare repository at ``root``.

        Raises NotFound when there is no repository there, StoreError when it is not bare
        (a working tree would silently go stale, because commits never touch it).
        """
        self.root = Path(root)
        self.lock_path = Path(lock_path) if lock_path is not None else self.root / LOCK_FILE
        self.lock_timeout = lock_timeout
        self._local = threading.local()
        self._timeline_lock = threading.Lock()
        self._known_timeline: _Timeline | None = None
        _configure_libgit2()
        self._repo()  # fail at start-up, not on the first request

    @classmethod
    def init(cls, root: Path, **kw: Any) -> GitStore:
        """Create a bare repository at ``root`` unless one is there already; return its store.

        Refuses (StoreError) to turn a non-empty folder that is not a repository into one, so a
        mistyped setting cannot litter an unrelated folder with git files.
        """
        root = Path(root)
        try:
            return cls(root, **kw)
        except NotFound:
            pass
        if root.exists() and any(root.iterdir()):
            raise StoreError(
                f"无法在非空目录中创建内容仓库：{root} (folder exists, is not empty and is not a git repository)"
            )
        pygit2.init_repository(str(root), bare=True, initial_head="main")
        return cls(root, **kw)

    # -- repositories and locking -------------------------------------------------------------

    def _repo(self) -> pygit2.Repository:
        """This thread's Repository: libgit2 handles are not safe to share between threads,
        and a handle inherited through fork() must not be used by the child."""
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            local.repo = self._open()
            local.pid = pid
        repo: pygit2.Repository = local.repo
        return repo

    def _open(self) -> pygit2.Repository:
        try:
            # NO_SEARCH: never wander up into a parent folder's repository (e.g. the project's own).
            repo = pygit2.Repository(str(self.root), RepositoryOpenFlag.NO_SEARCH)
        except pygit2.GitError as exc:
            raise NotFound(f"未找到内容仓库：{self.root} (no git repository at this path)") from exc
        if not repo.is_bare:
            raise StoreError(f"内容仓库必须是裸仓库：{self.root} (repository is not bare)")
        return repo

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's write lock: exclusive across processes and threads, re-entrant in
        the same thread (also across GitStore instances of the same lock file).

        Services hold it around read-check-commit sequences (e.g. a save based on a revision)
        so nothing commits in between. Raises StoreBusy after ``lock_timeout`` seconds.
        """
        # One shared instance per lock file and process (filelock's singleton): re-entrancy
        # works across store instances, and filelock re-creates it in a forked child.
        file_lock = filelock.FileLock(str(self.lock_path), is_singleton=True, poll_interval=_LOCK_POLL_INTERVAL)
        try:
            file_lock.acquire(timeout=self.lock_timeout)
        except filelock.Timeout as exc:
            raise StoreBusy("内容仓库正忙，请稍后重试 (timed out waiting for the repository write lock)") from exc
        try:
            yield
        finally:
            file_lock.release()

    # -- revisions ----------------------------------------------------------------------------

    def head(self) -> str | None:
        """The commit id at the tip of ``main``, or None while the repository is empty."""
        oid = _head_oid(self._repo())
        return None if oid is None else str(oid)

    def resolve(self, revision: str) -> str:
        """The full 40-hex id of the commit ``revision`` (a full or abbreviated commit id).

        Raises InvalidRevision for anything but 4 to 40 hex digits (before git sees it) or an
        ambiguous abbreviation; NotFound for an id that names no commit.
        """
        return str(_commit(self._repo(), revision).id)

    def revision(self, rev: str) -> Revision:
        """The commit ``rev`` as a Revision. Raises like ``resolve``."""
        return _revision(_commit(self._repo(), rev))

    def revision_at(self, when: dt.datetime) -> Revision | None:
        """The newest commit of ``main`` (first parent) dated at or before ``when``; None if the
        history starts later. A naive ``when`` is local time.

        This answers "the document (or everything) as it was on that date". Dates are author
        dates, which an importer may have back-dated, so they need not grow along the history:
        the answer is the newest commit whose own date qualifies, found by bisection in
        ``_Timeline`` rather than a walk over every commit.
        """
        if when.utcoffset() is None:
            when = when.astimezone()
        repo = self._repo()
        head = _head_oid(repo)
        if head is None:
            return None
        oid = self._timeline(repo, head).newest_at_or_before(when.timestamp())
        return None if oid is None else _revision(_get(repo, oid, pygit2.Commit))

    def _timeline(self, repo: pygit2.Repository, head: pygit2.Oid) -> _Timeline:
        """The first-parent history's dates up to ``head``; extended, not rebuilt, as ``main``
        grows (shared by the threads of a process)."""
        with self._timeline_lock:
            known = self._known_timeline
        if known is None or known.head != head:
            known = _Timeline.build(repo, head, known)
            with self._timeline_lock:
                self._known_timeline = known
        return known

    # -- reading ------------------------------------------------------------------------------

    def read(self, path: str, revision: str | None = None) -> bytes:
        """The document file at ``path`` as of ``revision`` (HEAD when None).

        Raises InvalidPath, InvalidRevision, and NotFound when the document (or revision)
        does not exist.
        """
        path = docpath.validate(path)
        blob = self._blob(path, revision)
        if blob is None:
            where = "" if revision is None else f"在修订版本 {_shown(revision)} 中"
            raise NotFound(f"{where}未找到文档“{path}” (document not found)")
        return blob.data

    def read_blob(self, blob_id: str) -> bytes:
        """The content of a blob, e.g. one named by a Change. Raises InvalidRevision/NotFound."""
        repo = self._repo()
        obj = _lookup(repo, blob_id, what="内容")
        if not isinstance(obj, pygit2.Blob):
            raise NotFound(f"未找到内容 {_shown(blob_id)} (unknown blob)")
        return obj.data

    def blob_id(self, path: str, revision: str | None = None) -> str | None:
        """The blob id of the document at ``path`` as of ``revision``, or None if absent.

        Cheap (no content is read): services compare it to detect stale edits and no-ops.
        """
        blob = self._blob(docpath.validate(path), revision)
        return None if blob is None else str(blob.id)

    def setting_blob(self, path: str, revision: str | None = None) -> str | None:
        """The blob id of kb's own file ``path`` (``.kb/<name>``) as of ``revision`` (HEAD when
        None), or None when absent: cheap, so a caller can cache the content by it."""
        commit = _commit_at(self._repo(), revision)
        if commit is None:
            return None
        try:
            obj = commit.tree[_setting_path(path)]
        except KeyError:
            return None
        return str(obj.id) if isinstance(obj, pygit2.Blob) else None

    def exists(self, path: str, revision: str | None = None) -> bool:
        """Whether the document exists at ``revision`` (HEAD when None)."""
        return self.blob_id(path, revision) is not None

    def documents(self, revision: str | None = None, folder: str | None = None) -> Iterator[tuple[str, str]]:
        """(document path, blob id) of every document at ``revision`` (HEAD when None), in
        tree order; with ``folder`` (a validated path) only those under it, read from its own
        subtree. Files that are not ``.md`` or whose names are not valid paths are skipped."""
        repo = self._repo()
        commit = _commit_at(repo, revision)
        if commit is None:
            return iter(())
        tree, prefix = commit.tree, ""
        if folder is not None:
            try:
                subtree, prefix = commit.tree[folder], folder + "/"
            except KeyError:
                return iter(())
            if not isinstance(subtree, pygit2.Tree):
                return iter(())
            tree = subtree
        return ((path, str(oid)) for path, oid in _iter_documents(tree, prefix))

    def files(self, path: str, revision: str | None = None) -> list[StoredFile]:
        """The files attached to the document at ``path`` as of ``revision`` (HEAD when None),
        by name; none when the document or the revision has none."""
        repo = self._repo()
        commit = _commit_at(repo, revision)
        folder = _files_tree(commit.tree, docpath.validate(path)) if commit is not None else None
        if folder is None:
            return []
        found = [
            StoredFile(entry.name, str(entry.id), entry.size)
            for entry in folder
            if isinstance(entry, pygit2.Blob) and entry.name is not None and _valid_file_name(entry.name)
        ]
        return sorted(found, key=lambda stored: stored.name)

    def read_file(self, path: str, name: str, revision: str | None = None) -> bytes:
        """The bytes of the file ``name`` of the document at ``path`` as of ``revision`` (HEAD
        when None). Raises InvalidPath, InvalidRevision, NotFound."""
        path, name = docpath.validate(path), docpath.validate_file_name(name)
        commit = _commit_at(self._repo(), revision)
        folder = _files_tree(commit.tree, path) if commit is not None else None
        try:
            obj = folder[name] if folder is not None else None
        except KeyError:
            obj = None
        if not isinstance(obj, pygit2.Blob):
            raise NotFound(f"文档“{path}”没有文件“{name}” (file not found)")
        return obj.data

    def count_documents(self, revision: str | None = None) -> int:
        """How many documents exist at ``revision`` (HEAD when None)."""
        return sum(1 for _ in self.documents(revision))

    def _blob(self, path: str, revision: str | None) -> pygit2.Blob | None:
        commit = _commit_at(self._repo(), revision)
        return None if commit is None else _doc_blob(commit.tree, path)

    # -- history ------------------------------------------------------------------------------

    def changes(self, rev: str) -> list[Change]:
        """What commit ``rev`` did to documents, compared with its first parent (for the root
        commit: every document is an add), sorted by path.

        A delete plus an add of the same content is a move; so is one of content at least 50%
        alike (a move with edits), when the commit has few enough adds and deletes to compare.
        """
        repo = self._repo()
        return _changes(repo, _commit(repo, rev))

    def walk(self, since: str | None = None, until: str | None = None) -> Iterator[tuple[Revision, list[Change]]]:
        """First-parent commits after ``since`` (exclusive; None: from the root) up to and
        including ``until`` (None: HEAD), oldest first, each with its changes.

        Like ``git rev-list --first-parent since..until``: commits reachable from ``since``
        are left out. Derived tables and the search index use it to catch up from the commit
        they reflect. Revisions are checked now; the commits are read lazily.
        """
        repo = self._repo()
        top = _commit(repo, until).id if until is not None else _head_oid(repo)
        bottom = _commit(repo, since).id if since is not None else None
        if top is None:
            return iter(())
        return _walk(repo, top, bottom)

    # -- writing ------------------------------------------------------------------------------

    def commit(
        self,
        ops: Sequence[Operation],
        author: Author,
        message: str,
        *,
        date: dt.datetime | None = None,
        merge: str | None = None,
    ) -> tuple[Revision, list[Change]]:
        """Apply ``ops`` in order as one commit on ``main``; return it and its changes.

        ``author`` is also the committer. ``date`` (default: now) lets an importer back-date
        history; a naive datetime is taken as local time. ``merge`` names a commit to record as
        a second parent (a published draft's history joins ``main`` that way); first-parent
        walks, and so the catalog, do not see it. Every operation is checked first, so
        a failure leaves no commit: BadRequest for no operations or an invalid author,
        InvalidPath for a bad path, NotFound for a Delete/Move of a missing document, Conflict
        for a Move onto an existing document or a document/folder name clash, StoreBusy when
        the lock cannot be had. Operations that change nothing still make a commit (with no
        changes), so every successful call is one entry in the history.
        """
        ops = [_checked(op) for op in ops]
        if not ops:
            raise BadRequest("提交至少需要一项更改 (a commit needs at least one operation)")
        if not isinstance(message, str):
            raise TypeError("message must be str")
        signature = _signature(author, date)
        repo = self._repo()
        extra = [_commit(repo, merge).id] if merge is not None else []
        # Blobs are content-addressed and immutable: write them before taking the lock so the
        # lock is held only for the tree edit and the ref update.
        blobs = {
            i: create_blob(repo, op.data)
            for i, op in enumerate(ops)
            if isinstance(op, Write | WriteSetting | WriteFile)
        }
        with self.lock():
            head = _head_oid(repo)
            base = repo[head].tree if head is not None else None
            final = _plan(base, ops, blobs)
            tree = _edit_tree(repo, base, _nest(final))
            if tree is None:  # every document deleted
                tree = repo.TreeBuilder().write()
            parents = ([head] if head is not None else []) + extra
            oid = repo.create_commit(
                None,
                signature,
                signature,
                message if message.endswith("\n") else message + "\n",
                tree,
                parents,
            )
            _move_branch(repo, head, oid)
        commit = _get(repo, oid, pygit2.Commit)
        return _revision(commit), _changes(repo, commit)

    def undo(self, revision: Revision) -> None:
        """Point ``main`` back at ``revision``'s first parent, if ``main`` is still at
        ``revision``: a step after the commit failed before anyone was answered (see
        ``kb.stores.write_path``), so the commit must not stand. Caller holds the lock."""
        repo = self._repo()
        if _head_oid(repo) != pygit2.Oid(hex=revision.id):
            return
        if revision.parents:
            repo.lookup_reference(BRANCH).set_target(pygit2.Oid(hex=revision.parents[0]))
        else:
            repo.references.delete(BRANCH)

    def every_commit(self, refs: Sequence[str] | None = None, *, hide: Iterable[str] = ()) -> Iterator[Revision]:
        """Every commit reachable from the refs ``refs`` names (full names such as ``refs/heads/main``
        and namespaces ending in ``/`` such as ``refs/drafts/``; None: every ref), each once, newest
        first (a commit before its parents), leaving out the commits reachable from ``hide``
        (ids of commits already looked at; an id that names no commit is ignored)."""
        repo = self._repo()
        walker = repo.walk(None, SortMode.TOPOLOGICAL)
        tips = 0
        for name in repo.references:
            if refs is None or any(name == ref or (ref.endswith("/") and name.startswith(ref)) for ref in refs):
                target = repo.references[name].resolve().target
                if isinstance(target, pygit2.Oid):
                    walker.push(target)
                    tips += 1
        if not tips:
            return iter(())
        for commit_id in hide:
            with contextlib.suppress(KeyError, ValueError, pygit2.GitError):
                if repo[commit_id].type == ObjectType.COMMIT:
                    walker.hide(pygit2.Oid(hex=commit_id))
        return (_revision(commit) for commit in walker)


# -- helpers: revisions -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timeline:
    """The first-parent commits of ``main`` oldest first, with their author times and the
    running minimum of those times from each commit to the newest (``floor``).

    ``floor`` never decreases, and the newest commit dated at or before T is the last one whose
    floor is at or before T, so a bisection answers what a walk over 20,000 commits did
    (0.2 to 1.8 s at that size), however the dates were back-dated.
    """

    head: pygit2.Oid
    ids: tuple[pygit2.Oid, ...]
    floor: tuple[int, ...]
    times: tuple[int, ...]

    @classmethod
    def build(cls, repo: pygit2.Repository, head: pygit2.Oid, known: _Timeline | None) -> _Timeline:
        """The timeline up to ``head``: only the commits since ``known.head`` are read when
        ``main`` grew from there, else the whole history."""
        walker = repo.walk(head, SortMode.NONE)  # a first-parent chain: no sorting, read lazily
        walker.simplify_first_parent()
        ids, times = list(known.ids) if known else [], list(known.times) if known else []
        newer = []
        for commit in walker:
            if known is not None and commit.id == known.head:
                break
            newer.append(commit)
        else:
            ids, times = [], []  # no known head on the way (new or rewritten history): all of it
        for commit in reversed(newer):
            ids.append(commit.id)
            times.append(commit.author.time)
        floor = list(times)
        for i in range(len(floor) - 2, -1, -1):
            floor[i] = min(floor[i], floor[i + 1])
        return cls(head, tuple(ids), tuple(floor), tuple(times))

    def newest_at_or_before(self, limit: float) -> pygit2.Oid | None:
        index = bisect.bisect_right(self.floor, limit) - 1
        return None if index < 0 else self.ids[index]


def _shown(value: object) -> str:
    """A user-supplied value made safe to echo in a message (short, no control characters)."""
    text = str(value)
    text = "".join("?" if unicodedata.category(ch).startswith("C") else ch for ch in text[:48])
    return text + ("…" if len(str(value)) > 48 else "")


def _head_oid(repo: pygit2.Repository) -> pygit2.Oid | None:
    try:
        target = repo.lookup_reference(BRANCH).target
    except KeyError:
        return None
    if not isinstance(target, pygit2.Oid):  # kb only ever creates main as a direct reference
        raise TypeError(f"{BRANCH} is a symbolic reference to {target}, expected a commit id")
    return target


def _get(repo: pygit2.Repository, oid: pygit2.Oid | str, kind: type[_O]) -> _O:
    """``repo[oid]``, checked to be a ``kind`` (pygit2 types it as any object): the ids passed
    here come from a commit, a ref or a tree entry, so a mismatch means a corrupt repository."""
    obj = repo[oid]
    if not isinstance(obj, kind):
        raise TypeError(f"object {oid} is a {obj.type_str}, expected a {kind.__name__.lower()}")
    return obj


def _lookup(repo: pygit2.Repository, object_id: str, *, what: str) -> pygit2.Object | None:
    if not isinstance(object_id, str) or not _HEX_ID.fullmatch(object_id):
        raise InvalidRevision(f"无效的{what} id“{_shown(object_id)}” (expected 4 to 40 hexadecimal characters)")
    try:
        return repo.get(object_id.lower())
    except ValueError as exc:  # pygit2.AmbiguousError
        raise InvalidRevision(f"{what} id“{object_id}”不唯一，请提供更长的 id (ambiguous abbreviated id)") from exc


def _commit(repo: pygit2.Repository, revision: str) -> pygit2.Commit:
    obj = _lookup(repo, revision, what="修订版本")
    if not isinstance(obj, pygit2.Commit):
        raise NotFound(f"未找到修订版本 {revision} (unknown revision)")
    return obj


def _commit_at(repo: pygit2.Repository, revision: str | None) -> pygit2.Commit | None:
    """The commit ``revision``, or HEAD's when None (None for an empty repository)."""
    if revision is not None:
        return _commit(repo, revision)
    head = _head_oid(repo)
    return None if head is None else _get(repo, head, pygit2.Commit)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _revision(commit: pygit2.Commit) -> Revision:
    sig = commit.author
    tz = dt.timezone(dt.timedelta(minutes=sig.offset))
    message, trailers = split_trailers(_text(commit.raw_message))
    return Revision(
        id=str(commit.id),
        author=Author(name=_text(sig.raw_name), email=_text(sig.raw_email)),
        date=dt.datetime.fromtimestamp(sig.time, tz),
        message=message,
        parents=tuple(str(p) for p in commit.parent_ids),
        trailers=tuple(trailers.items()),
    )


def _walk(
    repo: pygit2.Repository, top: pygit2.Oid, bottom: pygit2.Oid | None
) -> Iterator[tuple[Revision, list[Change]]]:
    # Topological, not by date: back-dated imports make commit dates non-monotonic.
    # (libgit2's own REVERSE flag made the walk itself 4x slower than reversing here.)
    walker = repo.walk(top, SortMode.TOPOLOGICAL)
    walker.simplify_first_parent()
    if bottom is not None:
        walker.hide(bottom)
    for commit in reversed(list(walker)):
        yield _revision(commit), _changes(repo, commit)


# -- helpers: documents and changes -------------------------------------------------------------


def _doc_blob(tree: pygit2.Tree, path: str) -> pygit2.Blob | None:
    try:
        obj = tree[docpath.to_file(path)]
    except KeyError:
        return None
    return obj if isinstance(obj, pygit2.Blob) and obj.filemode in _DOC_MODES else None


def _files_and_move() -> BadRequest:
    return BadRequest(
        "同一次提交不能既移动或删除文档又修改它的文件 (files changed in a commit that moves the document)"
    )


def _files_tree(tree: pygit2.Tree, path: str) -> pygit2.Tree | None:
    """The folder of the files attached to the document at ``path`` in ``tree``, if any."""
    try:
        obj = tree[docpath.files_folder(path)]
    except KeyError:
        return None
    return obj if isinstance(obj, pygit2.Tree) else None


def _file_blob(tree: pygit2.Tree | None, path: str, name: str) -> pygit2.Oid | None:
    folder = _files_tree(tree, path) if tree is not None else None
    try:
        obj = folder[name] if folder is not None else None
    except KeyError:
        return None
    return obj.id if isinstance(obj, pygit2.Blob) else None


def _valid_file_name(name: str) -> bool:
    try:
        return docpath.validate_file_name(name) == name
    except KBError:
        return False


@functools.lru_cache(maxsize=1 << 16)
def _doc_path(filename: str) -> str | None:
    """The document path of a repository file name, or None when it is not a document.

    The name must already be the normalised path: a file stored under, say, an NFD spelling
    could never be read back through a validated (NFC) path, so it is not a document. Cached:
    listing a past tree of 10,000 documents validated every name again (0.3 s).
    """
    path = docpath.from_file(filename)
    return path if path is not None and docpath.to_file(path) == filename else None


def _iter_documents(tree: pygit2.Tree, prefix: str) -> Iterator[tuple[str, pygit2.Oid]]:
    for entry in tree:
        if _is_folder(entry):
            yield from _iter_documents(entry, f"{prefix}{entry.name}/")
        elif (path := _entry_doc(entry, prefix)) is not None:
            yield path, entry.id


def _changes(repo: pygit2.Repository, commit: pygit2.Commit) -> list[Change]:
    """What ``commit`` did to documents compared with its first parent, sorted by path.

    Trees are compared in Python rather than with libgit2's diff, which walks every entry of
    both trees (about 7 ms at 10,000 documents); skipping subtrees whose ids are equal makes
    the cost depend on what changed, which is what a 20,000-commit ``walk`` needs.
    """
    parent = repo[commit.parent_ids[0]].tree if commit.parent_ids else None
    added: dict[str, pygit2.Oid] = {}
    deleted: dict[str, pygit2.Oid] = {}
    changes: list[Change] = []
    _compare(parent, commit.tree, "", added, deleted, changes)
    if added and deleted:
        changes.extend(_pair_moves(repo, added, deleted))
    changes.extend(Change(ADD, path, None, str(oid)) for path, oid in added.items())
    changes.extend(Change(DELETE, path, None, None) for path in deleted)
    changes.sort(key=lambda change: change.path)
    return changes


def _is_folder(entry: pygit2.Object) -> TypeGuard[pygit2.Tree]:
    # A folder whose name can never be a path segment (".git", "-x") holds no documents.
    # (A tree entry with the tree file mode is a pygit2.Tree; tree entries always have a name.)
    # A document's files folder ("x.files") holds no documents either.
    name = entry.name
    return (
        entry.filemode == FileMode.TREE
        and name is not None
        and not name.startswith((".", "-"))
        and not name.endswith(docpath.FILES_SUFFIX)
    )


def _entry_doc(entry: pygit2.Object | None, prefix: str) -> str | None:
    if entry is None or entry.filemode not in _DOC_MODES:
        return None
    name = entry.name
    if name is None or not name.endswith(docpath.SUFFIX):
        return None
    return _doc_path(prefix + name)


def _compare(
    old: pygit2.Tree | None,
    new: pygit2.Tree | None,
    prefix: str,
    added: dict[str, pygit2.Oid],
    deleted: dict[str, pygit2.Oid],
    changes: list[Change],
) -> None:
    """Collect the documents added, deleted and modified between two trees, descending only
    into folders that differ."""
    if old is None or new is None:
        target, tree = (added, new) if old is None else (deleted, old)
        if tree is not None:
            target.update(_iter_documents(tree, prefix))
        return
    for prior, entry in _differing_entries(old, new):
        either = entry if entry is not None else prior
        assert either is not None, "_differing_entries never pairs two absent entries"
        name = either.name
        prior_folder = prior if prior is not None and _is_folder(prior) else None
        folder = entry if entry is not None and _is_folder(entry) else None
        if folder is not None or prior_folder is not None:
            _compare(prior_folder, folder, f"{prefix}{name}/", added, deleted, changes)
        doc = _entry_doc(entry, prefix)
        if doc is not None and prior is not None and prior.filemode in _DOC_MODES:
            prior_doc: str | None = doc  # same name: validated once
        else:
            prior_doc = _entry_doc(prior, prefix)
        # (a document name implies its entry is present: _entry_doc(None) is None)
        if doc is not None and entry is not None and prior_doc is not None:
            changes.append(Change(MODIFY, doc, None, str(entry.id)))
        elif doc is not None and entry is not None:
            added[doc] = entry.id
        elif prior_doc is not None and prior is not None:
            deleted[prior_doc] = prior.id


def _differing_entries(
    old: pygit2.Tree, new: pygit2.Tree
) -> Sequence[tuple[pygit2.Object | None, pygit2.Object | None]]:
    """(old entry, new entry) pairs of the names whose object differs (None: absent).

    Speed matters here: this runs for every folder on a changed path of every commit that
    ``walk`` reports. Entries compare by object id in C; names are read only as needed, and
    file modes never (pygit2 makes them slow), so a change of file mode alone is no change.
    The fast path is the common edit: same names in the same places, some ids changed.
    """
    olds, news = list(old), list(new)
    if len(olds) == len(news):
        same_places = [(a, b) for a, b in zip(olds, news, strict=True) if a != b or a.name != b.name]
        if all(a.name == b.name for a, b in same_places):
            return same_places
    before = {entry.name: entry for entry in olds}
    pairs: list[tuple[pygit2.Object | None, pygit2.Object | None]] = []
    for entry in news:
        prior = before.pop(entry.name, None)
        if prior is None or prior != entry:
            pairs.append((prior, entry))
    pairs.extend((prior, None) for prior in before.values())
    return pairs


def _pair_moves(repo: pygit2.Repository, added: dict[str, pygit2.Oid], deleted: dict[str, pygit2.Oid]) -> list[Change]:
    """Turn deleted+added pairs into moves, taking them out of ``added`` and ``deleted``.

    First the same content under a new path (what a Move makes), then, among few enough
    candidates, the most similar pairs at or above the threshold (a move with edits).
    """
    moves = []
    gone: dict[pygit2.Oid, list[str]] = {}
    for path, oid in deleted.items():
        gone.setdefault(oid, []).append(path)
    for path, oid in list(added.items()):
        if gone.get(oid):
            old = gone[oid].pop(0)
            del deleted[old], added[path]
            moves.append(Change(MOVE, path, old, str(oid)))
    if not added or not deleted or len(added) * len(deleted) > _MAX_SIMILARITY_PAIRS:
        return moves
    scored = sorted(
        ((_similarity(repo, deleted[old], added[new]), old, new) for old in deleted for new in added),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    for score, old, new in scored:
        if score < _SIMILARITY_THRESHOLD:
            break
        if old in deleted and new in added:
            del deleted[old]
            moves.append(Change(MOVE, new, old, str(added.pop(new))))
    return moves


def _similarity(repo: pygit2.Repository, old_id: pygit2.Oid, new_id: pygit2.Oid) -> float:
    """Share of lines two texts have in common (0..1), from libgit2's line diff."""
    old, new = _get(repo, old_id, pygit2.Blob), _get(repo, new_id, pygit2.Blob)
    if old.is_binary or new.is_binary:
        return 0.0
    _, _, deletions = old.diff(new).line_stats
    old_lines, new_lines = _line_count(old.data), _line_count(new.data)
    total = old_lines + new_lines
    return 0.0 if total == 0 else 2 * (old_lines - deletions) / total


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


# -- helpers: writing ---------------------------------------------------------------------------


def _checked(op: Operation) -> Operation:
    """The operation with normalised, validated paths (InvalidPath otherwise)."""
    if isinstance(op, Write):
        if not isinstance(op.data, bytes | bytearray | memoryview):
            raise TypeError("Write.data must be bytes")
        return Write(docpath.validate(op.path), bytes(op.data))
    if isinstance(op, Delete):
        return Delete(docpath.validate(op.path))
    if isinstance(op, Move):
        return Move(docpath.validate(op.old), docpath.validate(op.new))
    if isinstance(op, WriteSetting):
        if not isinstance(op.data, bytes):
            raise TypeError("WriteSetting.data must be bytes")
        return WriteSetting(_setting_path(op.path), op.data)
    if isinstance(op, WriteFile):
        if not isinstance(op.data, bytes):
            raise TypeError("WriteFile.data must be bytes")
        return WriteFile(docpath.validate(op.document), docpath.validate_file_name(op.name), op.data)
    if isinstance(op, DeleteFile):
        return DeleteFile(docpath.validate(op.document), docpath.validate_file_name(op.name))
    raise TypeError(f"not a store operation: {op!r}")


def _setting_path(path: str) -> str:
    """``path`` when it names one of kb's own files (``.kb/<name>.<ext>``); ValueError otherwise:
    only kb's code names them, never a user."""
    folder, _slash, name = path.partition("/")
    if folder != SETTINGS or _SETTING_NAME.fullmatch(name) is None:
        raise ValueError(f"not a kb setting file: {path!r}")
    return path


def _signature(author: Author, date: dt.datetime | None) -> pygit2.Signature:
    when = clock.now().astimezone() if date is None else date
    utcoffset = when.utcoffset()
    if utcoffset is None:
        when = when.astimezone()  # naive: local time
        utcoffset = when.utcoffset()
        assert utcoffset is not None, "astimezone() returns an aware datetime"
    offset = int(utcoffset.total_seconds() // 60)
    fields = (author.name, author.email)
    # libgit2 accepts a newline in a name, which would corrupt the commit header.
    if not all(isinstance(f, str) and f.strip() and f.isprintable() for f in fields):
        raise BadRequest("作者姓名和邮箱不能为空或包含控制字符 (invalid author name or email)")
    try:
        return pygit2.Signature(author.name, author.email, math.floor(when.timestamp()), offset)
    except (ValueError, pygit2.GitError) as exc:
        raise BadRequest("作者姓名或邮箱无效 (invalid author name or email)") from exc


def _plan(
    base: pygit2.Tree | None, ops: list[Operation], blobs: dict[int, pygit2.Oid]
) -> dict[str, pygit2.Oid | _Subtree | None]:
    """Run the operations against ``base`` on paper: the final object (None: removed) of every
    touched repository path. Raises NotFound/Conflict/BadRequest before anything is committed.

    A move puts the document's files folder at its new place and a delete removes it; so that a
    folder is never both moved and edited, a commit that moves or deletes a document may not
    also change that document's files."""
    final: dict[str, pygit2.Oid | _Subtree | None] = {}
    relocated: set[str] = set()  # documents whose files folder this commit moves or removes

    def current(path: str) -> pygit2.Oid | None:
        filename = docpath.to_file(path)
        if filename in final:
            found = final[filename]
            return found if isinstance(found, pygit2.Oid) else None
        blob = _doc_blob(base, path) if base is not None else None
        return None if blob is None else blob.id

    def files_of(path: str) -> pygit2.Oid | None:
        folder = _files_tree(base, path) if base is not None else None
        return None if folder is None else folder.id

    def relocate(path: str) -> pygit2.Oid | None:
        if any(key.startswith(docpath.files_folder(path) + "/") for key in final):
            raise BadRequest(
                "同一次提交不能既移动或删除文档又修改它的文件 (files changed in a commit that moves the document)"
            )
        relocated.add(path)
        return files_of(path)

    for i, op in enumerate(ops):
        if isinstance(op, WriteSetting):
            final[op.path] = blobs[i]
        elif isinstance(op, Write):
            final[docpath.to_file(op.path)] = blobs[i]
        elif isinstance(op, Delete):
            if current(op.path) is None:
                raise NotFound(f"无法删除：文档“{op.path}”不存在 (cannot delete a missing document)")
            final[docpath.to_file(op.path)] = None
            if relocate(op.path) is not None:
                final[docpath.files_folder(op.path)] = None
        elif isinstance(op, Move):
            source = current(op.old)
            if source is None:
                raise NotFound(f"无法移动：文档“{op.old}”不存在 (cannot move a missing document)")
            if current(op.new) is not None:
                raise Conflict(f"无法移动：目标文档“{op.new}”已存在 (target document already exists)")
            final[docpath.to_file(op.old)] = None
            final[docpath.to_file(op.new)] = source
            files = relocate(op.old)
            if files is not None:
                if relocate(op.new) is not None:
                    raise Conflict(f"无法移动：目标“{op.new}”已有文件 (the target already has files)")
                final[docpath.files_folder(op.old)] = None
                final[docpath.files_folder(op.new)] = _Subtree(files)
        else:  # WriteFile, DeleteFile
            if op.document in relocated:
                raise BadRequest(
                    "同一次提交不能既移动或删除文档又修改它的文件 (files changed in a commit that moves the document)"
                )
            filename = f"{docpath.files_folder(op.document)}/{op.name}"
            if isinstance(op, WriteFile):
                final[filename] = blobs[i]
            else:
                present = final[filename] if filename in final else _file_blob(base, op.document, op.name)
                if present is None:
                    raise NotFound(f"文档“{op.document}”没有文件“{op.name}” (file not found)")
                final[filename] = None
    for op in ops:
        if isinstance(op, WriteFile) and current(op.document) is None:
            raise NotFound(f"文档“{op.document}”不存在，无法添加文件 (cannot attach a file to a missing document)")
    return final


def _nest(final: dict[str, pygit2.Oid | _Subtree | None]) -> _Edits:
    """{"a/b.md": oid} -> {"a": {"b.md": oid}}: the edits (by file name) grouped by folder."""
    root: _Edits = {}
    for filename, oid in final.items():
        *folders, name = filename.split("/")
        node = root
        for folder in folders:
            child = node.setdefault(folder, {})
            if not isinstance(child, dict):
                raise _clash(filename.removesuffix(docpath.SUFFIX))
            node = child
        if isinstance(node.get(name), dict):
            raise _clash(filename.removesuffix(docpath.SUFFIX))
        node[name] = oid
    return root


def _clash(path: str) -> Conflict:
    return Conflict(f"文档“{path}”与仓库中同名的文件或文件夹冲突 (a file and a folder would share one name)")


def _edit_tree(
    repo: pygit2.Repository, tree: pygit2.Tree | pygit2.Oid | None, edits: _Edits, prefix: str = ""
) -> pygit2.Oid | None:
    """Write ``tree`` with ``edits`` applied, rebuilding only the folders on edited paths;
    None when the result is empty (git has no empty folders, so emptied ones disappear)."""
    builder = repo.TreeBuilder(tree) if tree is not None else repo.TreeBuilder()
    for name, edit in edits.items():
        existing = builder.get(name)
        if isinstance(edit, dict):
            if existing is not None and existing.filemode != FileMode.TREE:
                raise _clash(prefix + name)
            base = existing.id if existing is not None else None
            subtree = _edit_tree(repo, base, edit, f"{prefix}{name}/")
            if subtree is not None:
                builder.insert(name, subtree, FileMode.TREE)
            elif existing is not None:
                builder.remove(name)
        elif edit is None:
            if existing is not None:
                builder.remove(name)
        elif isinstance(edit, _Subtree):
            if existing is not None and existing.filemode != FileMode.TREE:
                raise _clash(prefix + name)
            builder.insert(name, edit.oid, FileMode.TREE)
        else:
            if existing is not None and existing.filemode == FileMode.TREE:
                raise _clash(prefix + name.removesuffix(docpath.SUFFIX))
            builder.insert(name, edit, FileMode.BLOB)
    return builder.write() if len(builder) else None


def _move_branch(repo: pygit2.Repository, expected: pygit2.Oid | None, new: pygit2.Oid) -> None:
    """Point ``main`` at ``new`` only if it still points at ``expected`` (compare-and-swap)."""
    try:
        if expected is None:
            repo.references.create(BRANCH, new)  # fails if the branch appeared meanwhile
        else:
            ref = repo.lookup_reference(BRANCH)
            if ref.target != expected:
                raise pygit2.GitError("branch moved")
            ref.set_target(new)  # libgit2 re-checks the on-disk value while writing
    except (pygit2.GitError, KeyError, OSError) as exc:  # OSError: another writer holds main.lock
        if disk_full(exc):
            raise  # a full disk is not a race: the unit of work answers 507
        raise Conflict("内容仓库在提交期间被其他写入者修改，请重试 (the branch moved during the commit)") from exc
