"""Drafts: unpublished versions of a document, kept in git beside ``main`` but never on it.

Each document has at most one open draft, on the ref ``refs/drafts/<sha1 of its path>`` (a
hash, because a ref name is a file name and a Chinese path of 200 characters is not a valid
one). Every save, submission or return of a draft is a commit on that ref whose tree holds two
files: ``document.md`` (the whole document file) and ``draft.json`` (path, the revision of
``main`` it started from, review state, comment). So drafts are versioned, survive restarts,
and show who worked on them: the authors of their commits. Readers are served from ``main``
only, so nothing here is visible to them.

Publishing records the draft's tip as the second parent of the commit on ``main`` (see
``GitStore.commit``), which keeps its history reachable, and closes the ref. Discarding moves
the ref under ``refs/drafts-discarded/`` instead of dropping it: nothing written is lost.

Callers hold the store's write lock around read-check-write sequences; the ref itself moves by
compare-and-swap against the tip the caller read, like ``main``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pygit2
from pygit2.enums import FileMode, SortMode

from kb.errors import Conflict
from kb.versioning.model import Author, Revision
from kb.versioning.store import GitStore, _commit, _get, _revision, _signature, create_blob, disk_full

DRAFT_REFS = "refs/drafts/"
DISCARDED_REFS = "refs/drafts-discarded/"
DOCUMENT_FILE = "document.md"
STATE_FILE = "draft.json"
STATES = ("draft", "submitted", "returned")


@dataclass(frozen=True)
class DraftState:
    """What ``draft.json`` says: the draft's document, where it started, and its review."""

    path: str
    base: str | None  # the commit of main the draft started from; None: a new document
    state: str = "draft"  # draft | submitted | returned
    comment: str = ""  # the submitter's note or the reviewer's reason for sending it back
    submitted_by: str = ""


@dataclass(frozen=True)
class Draft:
    """One version of a draft: the commit, its state and the document file it holds."""

    revision: Revision
    state: DraftState
    data: bytes
    blob: str  # the id of ``document.md``: what the render cache and the raw file read


class DraftStore:
    """The drafts of a ``GitStore``'s repository."""

    def __init__(self, store: GitStore) -> None:
        self.store = store

    def get(self, path: str) -> Draft | None:
        """The open draft of ``path`` (its newest version), or None."""
        repo = self.store._repo()
        ref = repo.references.get(_ref(path))
        return None if ref is None else _draft(_get(repo, ref.target, pygit2.Commit))

    def version(self, revision: str) -> Draft | None:
        """The draft version made by commit ``revision``, whether its draft is open, published
        or discarded; None when that commit is not a draft's. Raises like ``GitStore.resolve``."""
        commit = _commit(self.store._repo(), revision)
        try:
            return _draft(commit)
        except (KeyError, ValueError, TypeError):  # not a draft commit's tree
            return None

    def history(self, path: str) -> list[Draft]:
        """Every version of the open draft of ``path``, newest first ([] without a draft)."""
        repo = self.store._repo()
        ref = repo.references.get(_ref(path))
        if ref is None:
            return []
        walker = repo.walk(ref.target, SortMode.TOPOLOGICAL)
        walker.simplify_first_parent()
        return [_draft(commit) for commit in walker]

    def all(self) -> Iterator[Draft]:
        """The newest version of every open draft, in no particular order."""
        repo = self.store._repo()
        for name in repo.references:
            if name.startswith(DRAFT_REFS):
                yield _draft(_get(repo, repo.references[name].target, pygit2.Commit))

    def save(
        self,
        data: bytes,
        state: DraftState,
        author: Author,
        message: str,
        *,
        expected: str | None,
        date: dt.datetime | None = None,
    ) -> Revision:
        """Commit a new version of the draft of ``state.path`` on top of ``expected`` (the tip
        the caller read; None: there must be no draft yet). Raises Conflict when the draft
        moved meanwhile."""
        repo = self.store._repo()
        oid = _write(repo, data, state, author, message, date, parent=expected)
        _swap(repo, _ref(state.path), expected, oid)
        return _revision(_get(repo, oid, pygit2.Commit))

    def restore(self, path: str, current: str, previous: str | None) -> None:
        """Point the draft ref of ``path`` back from ``current`` to ``previous`` (None: no draft):
        a step after the draft commit failed before anyone was answered (see ``kb.stores.write_path``)."""
        repo = self.store._repo()
        ref = repo.references.get(_ref(path))
        if previous is None:
            if ref is not None and str(ref.target) == current:
                ref.delete()
        elif ref is None:
            repo.references.create(_ref(path), pygit2.Oid(hex=previous))
        elif str(ref.target) == current:
            ref.set_target(pygit2.Oid(hex=previous))

    def discard(self, path: str, expected: str) -> None:
        """Close the draft, keeping its history under ``refs/drafts-discarded/``."""
        repo = self.store._repo()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        repo.references.create(f"{DISCARDED_REFS}{_key(path)}/{stamp}", pygit2.Oid(hex=expected))
        self.close(path, expected)

    def close(self, path: str, expected: str) -> None:
        """Remove the draft's ref (after publishing: its history is reachable from ``main``)."""
        repo = self.store._repo()
        ref = repo.references.get(_ref(path))
        if ref is None or str(ref.target) != expected:
            raise _moved()
        ref.delete()

    def move(self, old: str, new: str, message: str) -> tuple[Revision, Revision] | None:
        """Let the open draft of a moved document follow it (its state names the new path), as
        a commit with ``message`` on the new path's ref; (the old tip, the new one), or None
        when ``old`` has no draft. ``unmove`` takes it back."""
        draft = self.get(old)
        if draft is None:
            return None
        repo = self.store._repo()
        state = DraftState(**{**asdict(draft.state), "path": new})
        oid = _write(repo, draft.data, state, draft.revision.author, message, None, parent=draft.revision.id)
        _swap(repo, _ref(new), None, oid)
        self.close(old, draft.revision.id)
        return draft.revision, _revision(_get(repo, oid, pygit2.Commit))

    def unmove(self, old: str, new: str, previous: str, current: str) -> None:
        """Undo ``move``: the draft back on ``old`` at ``previous``, ``new``'s ref (at ``current``)
        removed; a step after it failed before anyone was answered (see ``kb.stores.write_path``)."""
        self.restore(new, current, None)
        self.restore(old, "", previous)


def _write(
    repo: pygit2.Repository,
    data: bytes,
    state: DraftState,
    author: Author,
    message: str,
    date: dt.datetime | None,
    *,
    parent: str | None,
) -> pygit2.Oid:
    """A draft commit (document file and state) on top of ``parent``; no ref moves yet."""
    builder = repo.TreeBuilder()
    builder.insert(DOCUMENT_FILE, create_blob(repo, data), FileMode.BLOB)
    state_json = json.dumps(asdict(state), ensure_ascii=False, indent=1).encode("utf-8")
    builder.insert(STATE_FILE, create_blob(repo, state_json), FileMode.BLOB)
    signature = _signature(author, date)
    text = message if message.endswith("\n") else message + "\n"
    parents = [pygit2.Oid(hex=parent)] if parent else []
    return repo.create_commit(None, signature, signature, text, builder.write(), parents)


def _key(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8")).hexdigest()


def _ref(path: str) -> str:
    return DRAFT_REFS + _key(path)


def _draft(commit: pygit2.Commit) -> Draft:
    tree = commit.tree
    state_blob, document = tree[STATE_FILE], tree[DOCUMENT_FILE]
    if not isinstance(state_blob, pygit2.Blob) or not isinstance(document, pygit2.Blob):
        raise TypeError(f"commit {commit.id} is not a draft's: {STATE_FILE} or {DOCUMENT_FILE} is not a file")
    state = json.loads(state_blob.data.decode("utf-8"))
    return Draft(_revision(commit), DraftState(**state), document.data, str(document.id))


def _moved() -> Conflict:
    return Conflict("草稿已被他人修改，请刷新后重试 (the draft changed meanwhile)")


def _swap(repo: pygit2.Repository, name: str, expected: str | None, new: pygit2.Oid) -> None:
    """Point ref ``name`` at ``new`` only if it still points at ``expected`` (None: absent)."""
    try:
        if expected is None:
            repo.references.create(name, new)  # fails if the draft appeared meanwhile
            return
        ref = repo.references.get(name)
        if ref is None or str(ref.target) != expected:
            raise _moved()
        ref.set_target(new)
    except (pygit2.GitError, ValueError, OSError) as exc:  # ValueError: the ref already exists
        if disk_full(exc):
            raise  # a full disk is not a race: the unit of work answers 507
        raise _moved() from exc
