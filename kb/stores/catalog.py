"""Keeping the derived stores (SQL catalog and search index) in step with git.

Git is the truth. After every commit, and on start-up, the catalog (``Document``,
``DocumentTag``, ``Version``) and the Whoosh index catch up from the commit they record to
``HEAD``; ``rebuild`` recreates both from nothing. Callers hold the store's write lock, so the
derived stores advance one commit at a time, in order, whichever process made the commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from kb import document
from kb.document import DocumentFile, archived_time, review_date
from kb.errors import KBError
from kb.links import link_targets
from kb.models import Document, DocumentLink, DocumentTag, SyncState, Version, table_of
from kb.search import IndexedDoc, SearchIndex
from kb.stores.db import rowcount
from kb.versioning import Change, GitStore, Revision

log = logging.getLogger(__name__)

CATALOG = "catalog"
# what the catalog records per document and version; a catalog written with another layout is
# rebuilt from git on start-up (it is a cache), so new columns never stay empty for old rows
LAYOUT = "catalog-layout"
LAYOUT_VERSION = "3"  # 3: the links between documents (DocumentLink)
# a catch-up touching more documents than this rebuilds the index with all cores instead
BULK_INDEX_THRESHOLD = 500

Progress = Callable[[int], None]


def read_document(store: GitStore, blob: str, path: str) -> DocumentFile:
    """Parse a stored blob. Commits made outside kb may hold malformed files: they are still
    listed (title from the path, the whole text as body), but at the strictest level
    (``kb.document.read``), never at a default one."""
    return document.read(store.read_blob(blob), path)


@dataclass
class SyncReport:
    commits: int = 0
    indexed: int = 0


def catch_up(store: GitStore, index: SearchIndex, sessions: sessionmaker[Session]) -> SyncReport:
    """Bring catalog and index from the commits they reflect up to HEAD. Caller holds the lock."""
    report = SyncReport()
    head = store.head()
    with sessions() as session:
        if _state(session, LAYOUT) != LAYOUT_VERSION:
            report.commits = _rebuild_catalog(session, store, head)
        since = synced_commit(session)
        if since != head:
            for revision, changes in store.walk(since, head):
                apply_commit(session, store, revision, changes)
                report.commits += 1
            _set_synced_commit(session, head)
            session.commit()
        indexed = index.indexed_commit()
        if indexed != head and head is not None:
            report.indexed = _catch_up_index(session, store, index, indexed, head)
    return report


def apply_commit(session: Session, store: GitStore, revision: Revision, changes: Iterable[Change]) -> None:
    """Record one commit's changes in the catalog (the caller commits the session)."""
    links: dict[str, set[str]] = {}  # the documents' links, written after the documents
    for change in changes:
        if change.kind == "delete":
            links.pop(change.path, None)
            _record_delete(session, revision, change)
            session.flush()  # in commit order with the rows written by plain statements below
            continue
        if change.kind == "move" and change.old_path:
            links.pop(change.old_path, None)
            session.execute(update(Version).where(Version.path == change.old_path).values(path=change.path))
            session.execute(delete(Document).where(Document.path == change.old_path))  # its links cascade
            session.flush()
        assert change.blob is not None
        doc = read_document(store, change.blob, change.path)
        _upsert_document(session, change.path, doc, revision, change.blob)
        links[change.path] = link_targets(doc.body, change.path)
        session.execute(_INSERT_VERSION, [_version_row(change, revision, doc)])
    rows = [{"source": source, "target": target} for source, targets in links.items() for target in sorted(targets)]
    if rows:  # in one statement
        session.execute(insert(DocumentLink), rows)


def record(
    sessions: sessionmaker[Session], store: GitStore, index: SearchIndex, revision: Revision, changes: list[Change]
) -> None:
    """After kb's own commit (caller holds the lock): the catalog takes exactly that commit, with
    the changes the store reported (no second diff of the commit). The index follows with
    ``refresh_index``, once the save is answered or before the next search, whichever is first.

    When the catalog is not at the commit's parent (an earlier process crashed between its
    commit and the update), catalog and index catch up over every missing commit instead.
    """
    parent = revision.parents[0] if revision.parents else None
    with sessions() as session:
        if synced_commit(session) != parent:
            catch_up(store, index, sessions)
            return
        apply_commit(session, store, revision, changes)
        _set_synced_commit(session, revision.id)
        session.commit()


def refresh_index(
    store: GitStore,
    index: SearchIndex,
    sessions: sessionmaker[Session],
    *,
    merge: bool = False,
    timeout: float | None = None,
) -> int:
    """Bring the index to the commit the catalog reflects; how many documents it touched.

    Needs no store lock: it takes the index's own write lock, and the catalog only ever records
    commits that stand (their audit entries are written), so its commit is never one a failed
    audit undoes. Cheap when there is nothing to do: HEAD and the index's commit are compared
    first, the catalog is read only when they differ. The index takes every commit it missed in
    one Whoosh commit. ``merge`` merges small segments afterwards (work for after the answer);
    ``timeout`` bounds the wait for the write lock (a search does not wait for a rebuild, it
    answers from the index as it is: TimeoutError).
    """
    head = store.head()
    if head is None or index.indexed_commit() == head:
        return 0
    with sessions() as session:
        target = synced_commit(session)
        if target is None or target == index.indexed_commit():
            return 0
        with index.writing(timeout=timeout if timeout is not None else 600.0):
            indexed = index.indexed_commit()  # again, under the lock: another process may have done it
            touched = 0
            if indexed != target:
                touched = _catch_up_index(session, store, index, indexed, target, merge=False)
    if merge:
        index.merge()
    return touched


def rebuild(
    store: GitStore, index: SearchIndex, sessions: sessionmaker[Session], progress: Progress | None = None
) -> SyncReport:
    """Recreate catalog and index from git alone (``kb reindex``). Caller holds the lock."""
    report = SyncReport()
    head = store.head()
    with sessions() as session:
        report.commits = _rebuild_catalog(session, store, head)
        if head is not None:
            total = session.scalar(select(func.count()).select_from(Document)) or 0
            index.rebuild(_indexed_docs(session, store, None), head, total=total, progress=progress)
            report.indexed = total
    return report


def _rebuild_catalog(session: Session, store: GitStore, head: str | None) -> int:
    """Replay every commit into empty catalog tables; returns how many. Commits the session."""
    session.execute(delete(Version))
    session.execute(delete(DocumentLink))
    session.execute(delete(DocumentTag))
    session.execute(delete(Document))
    commits = 0
    for revision, changes in store.walk(None, head):
        apply_commit(session, store, revision, changes)
        commits += 1
    _set_synced_commit(session, head)
    _set_state(session, LAYOUT, LAYOUT_VERSION)
    session.commit()
    return commits


def _catch_up_index(
    session: Session, store: GitStore, index: SearchIndex, since: str | None, head: str, *, merge: bool = True
) -> int:
    """Bring the index from ``since`` to ``head`` over every commit in between; how many
    documents that touched.

    The documents come from git, as the commits left them (the revision and date of the last
    commit that changed each, as the catalog records them); too many for one writer, or an
    indexed commit git does not know (history rewritten), and the index is rebuilt from the
    catalog with all cores instead.
    """
    final: dict[str, tuple[Revision, str] | None] = {}  # path -> (last revision, blob), None: gone
    commits = 0
    unknown = False
    try:
        for revision, commit_changes in store.walk(since, head):
            commits += 1
            for change in commit_changes:  # a move's old path first: the same commit may reuse it
                if change.old_path:
                    final[change.old_path] = None
            for change in commit_changes:
                if change.kind == "delete":
                    final[change.path] = None
                elif change.blob is None:
                    raise ValueError(f"a {change.kind} of {change.path} without a blob")  # only deletes have none
                else:
                    final[change.path] = (revision, change.blob)
            if len(final) > BULK_INDEX_THRESHOLD:
                break  # a rebuild it is: no need to read the rest
    except KBError:
        unknown = True
    if not unknown and not commits:
        return 0  # ``head`` is not after ``since`` (the index is ahead): never move it back
    if unknown or len(final) > BULK_INDEX_THRESHOLD or index.outdated():
        # an index of an older format takes no update: a new generation has the new schema
        total = session.scalar(select(func.count()).select_from(Document)) or 0
        index.rebuild(_indexed_docs(session, store, None), head, total=total)
        return total
    upserts = [
        _indexed(store, path, blob, revision)
        for path, state in final.items()
        if state is not None
        for revision, blob in [state]
    ]
    index.apply(upserts, sorted(path for path, state in final.items() if state is None), head, merge=merge)
    return len(final)


def _indexed(store: GitStore, path: str, blob: str, revision: Revision) -> IndexedDoc:
    doc = read_document(store, blob, path)
    return IndexedDoc(
        path=path,
        title=doc.title,
        body=doc.body,
        tags=doc.tags,
        access=doc.access,
        status=doc.status,
        owner=doc.owner,
        updated_at=revision.date.astimezone(dt.UTC),
        revision=revision.id,
    )


def _indexed_docs(session: Session, store: GitStore, paths: set[str] | None) -> Iterator[IndexedDoc]:
    query = select(Document)
    if paths is not None:
        query = query.where(Document.path.in_(paths))
    for row in session.scalars(query.execution_options(yield_per=500)):
        doc = read_document(store, row.blob, row.path)
        yield IndexedDoc(
            path=row.path,
            title=doc.title,
            body=doc.body,
            tags=doc.tags,
            access=doc.access,
            status=doc.status,
            owner=doc.owner,
            updated_at=row.updated_at,
            revision=row.revision,
        )


def _record_delete(session: Session, revision: Revision, change: Change) -> None:
    current = session.get(Document, change.path)
    version = _version(change, revision, None)
    if current is not None:
        version.access, version.title, version.status = current.access, current.title, current.status
        session.delete(current)  # its links cascade
    session.add(version)


def _upsert_document(session: Session, path: str, doc: DocumentFile, revision: Revision, blob: str) -> None:
    """The document's row, its tags and (for a changed document) no links yet, in plain
    statements: this runs for every document of every commit the catalog records, a save's
    among them, and the ORM's unit of work cost more than the statements."""
    archived = doc.status == "archived"
    values = {
        "title": doc.title[:300],
        "access": doc.access,
        "status": doc.status,
        "owner": doc.owner,
        "updated_at": revision.date,
        "updated_by": revision.author.name,
        "revision": revision.id,
        "blob": blob,
        "review_by": review_date(doc),
        "archived_at": archived_time(doc) if archived else None,
        "archived_by": doc.archived_by[:64] if archived and doc.archived_by else None,
        "archive_reason": doc.archive_reason[:500] if archived and doc.archive_reason else None,
    }
    if rowcount(session.execute(_UPDATE_DOCUMENT, {**values, "the_path": path})):
        # a new row has no links or tags yet: only a changed document's are replaced
        session.execute(_DELETE_LINKS, {"the_path": path})
        session.execute(_DELETE_TAGS, {"the_path": path})
    else:
        session.execute(_INSERT_DOCUMENT, {**values, "path": path})
    if doc.tags:
        session.execute(
            _INSERT_TAGS, [{"path": path, "tag": tag[:100], "position": i} for i, tag in enumerate(doc.tags)]
        )


# built once: they run for every document of every commit recorded
_DOCUMENTS, _LINKS, _TAGS = table_of(Document), table_of(DocumentLink), table_of(DocumentTag)
_UPDATE_DOCUMENT = update(_DOCUMENTS).where(_DOCUMENTS.c.path == bindparam("the_path"))
_INSERT_DOCUMENT = insert(_DOCUMENTS)
_DELETE_LINKS = delete(_LINKS).where(_LINKS.c.source == bindparam("the_path"))
_DELETE_TAGS = delete(_TAGS).where(_TAGS.c.path == bindparam("the_path"))
_INSERT_TAGS = insert(_TAGS)
_INSERT_VERSION = insert(table_of(Version))


def _version_row(change: Change, revision: Revision, doc: DocumentFile) -> dict[str, Any]:
    """The values of ``_version`` for a plain INSERT."""
    return {
        "path": change.path,
        "file_path": change.path,
        "kind": change.kind,
        "revision": revision.id,
        "blob": change.blob,
        "access": doc.access,
        "title": doc.title[:300],
        "status": doc.status,
        "author_name": revision.author.name,
        "author_email": revision.author.email,
        "date": revision.date.astimezone(dt.UTC),
        "message": revision.message,
    }


def _version(change: Change, revision: Revision, doc: DocumentFile | None) -> Version:
    """One version row; a delete's row (``doc`` None) gets the last level, title and status."""
    return Version(
        path=change.path,
        file_path=change.path,
        kind=change.kind,
        revision=revision.id,
        blob=change.blob,
        access=doc and doc.access,
        title=doc and doc.title[:300],
        status=doc and doc.status,
        author_name=revision.author.name,
        author_email=revision.author.email,
        date=revision.date.astimezone(dt.UTC),
        message=revision.message,
    )


def synced_commit(session: Session) -> str | None:
    """The commit the catalog reflects (None before the first)."""
    return _state(session, CATALOG)


def _set_synced_commit(session: Session, commit: str | None) -> None:
    _set_state(session, CATALOG, commit)


# plain statements: read and written under the lock on every recorded commit
_SYNC = table_of(SyncState)
_READ_STATE = select(_SYNC.c.commit).where(_SYNC.c.name == bindparam("the_name"))
_WRITE_STATE = update(_SYNC).where(_SYNC.c.name == bindparam("the_name"))


def _state(session: Session, name: str) -> str | None:
    return session.execute(_READ_STATE, {"the_name": name}).scalar()


def _set_state(session: Session, name: str, value: str | None) -> None:
    if not rowcount(session.execute(_WRITE_STATE, {"the_name": name, "commit": value})):
        session.execute(insert(_SYNC), {"name": name, "commit": value})
