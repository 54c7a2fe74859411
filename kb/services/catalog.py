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

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from kb import document
from kb.document import DocumentFile, archived_time, review_date
from kb.errors import KBError
from kb.models import Document, DocumentLink, DocumentTag, SyncState, Version
from kb.search import IndexedDoc, SearchIndex
from kb.services.links import link_targets
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


def catch_up(store: GitStore, index: SearchIndex, sessions: sessionmaker) -> SyncReport:
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
        session.add(_version(change, revision, doc))
    rows = [{"source": source, "target": target} for source, targets in links.items() for target in sorted(targets)]
    if rows:  # in one statement
        session.execute(insert(DocumentLink), rows)


def record(sessions: sessionmaker, store: GitStore, index: SearchIndex, revision: Revision,
           changes: list[Change]) -> None:
    """After kb's own commit (caller holds the lock): catalog and index take exactly that commit.

    When a derived store is not at the commit's parent (an earlier process crashed between its
    commit and the update), it catches up over every missing commit instead.
    """
    parent = revision.parents[0] if revision.parents else None
    with sessions() as session:
        if synced_commit(session) != parent:
            catch_up(store, index, sessions)
            return
        apply_commit(session, store, revision, changes)
        _set_synced_commit(session, revision.id)
        session.commit()
        # the changes of this one commit, as the store reported them: no second diff of the commit.
        # The commit is already safe in git and the catalog: an index failure must not turn the
        # accepted save into an error. The index stays at its commit and catches up next time.
        try:
            if index.indexed_commit() == parent:
                _index_changes(session, store, index, changes, revision.id)
            else:
                _catch_up_index(session, store, index, index.indexed_commit(), revision.id)
        except Exception:
            log.exception("search index not updated to %s; it catches up on the next write", revision.id)


def rebuild(store: GitStore, index: SearchIndex, sessions: sessionmaker,
            progress: Progress | None = None) -> SyncReport:
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


def _catch_up_index(session: Session, store: GitStore, index: SearchIndex, since: str | None,
                    head: str) -> int:
    """Bring the index from ``since`` to ``head`` over every commit in between."""
    changes: list[Change] = []
    try:
        for _revision, commit_changes in store.walk(since, head):
            changes.extend(commit_changes)
    except KBError:
        since = None  # the indexed commit is unknown (history rewritten): rebuild
    return _index_changes(session, store, index, changes, head, rebuild=since is None)


def _index_changes(session: Session, store: GitStore, index: SearchIndex, changes: list[Change], head: str,
                   *, rebuild: bool = False) -> int:
    """Apply the documents ``changes`` touched as they are at ``head`` (the catalog already is),
    or rebuild the index with all cores when there are too many of them for one writer."""
    touched = {change.path for change in changes} | {change.old_path for change in changes if change.old_path}
    if rebuild or len(touched) > BULK_INDEX_THRESHOLD:
        total = session.scalar(select(func.count()).select_from(Document)) or 0
        index.rebuild(_indexed_docs(session, store, None), head, total=total)
        return total
    upserts = list(_indexed_docs(session, store, touched))
    index.apply(upserts, sorted(touched - {doc.path for doc in upserts}), head)
    return len(touched)


def _indexed_docs(session: Session, store: GitStore, paths: set[str] | None) -> Iterator[IndexedDoc]:
    query = select(Document)
    if paths is not None:
        query = query.where(Document.path.in_(paths))
    for row in session.scalars(query.execution_options(yield_per=500)):
        doc = read_document(store, row.blob, row.path)
        yield IndexedDoc(
            path=row.path, title=doc.title, body=doc.body, tags=doc.tags, access=doc.access,
            status=doc.status, owner=doc.owner, updated_at=row.updated_at, revision=row.revision,
        )


def _record_delete(session: Session, revision: Revision, change: Change) -> None:
    current = session.get(Document, change.path)
    version = _version(change, revision, None)
    if current is not None:
        version.access, version.title, version.status = current.access, current.title, current.status
        session.delete(current)  # its links cascade
    session.add(version)


def _upsert_document(session: Session, path: str, doc: DocumentFile, revision: Revision, blob: str) -> None:
    row = session.get(Document, path)
    if row is None:
        row = Document(path=path)
        session.add(row)
    else:  # a new row has no links yet: only a changed document's are replaced
        session.execute(delete(DocumentLink).where(DocumentLink.source == path))
    row.title = doc.title[:300]
    row.access = doc.access
    row.status = doc.status
    row.owner = doc.owner
    row.updated_at = revision.date
    row.updated_by = revision.author.name
    row.revision = revision.id
    row.blob = blob
    row.review_by = review_date(doc)
    archived = doc.status == "archived"
    row.archived_at = archived_time(doc) if archived else None
    row.archived_by = doc.archived_by[:64] if archived and doc.archived_by else None
    row.archive_reason = doc.archive_reason[:500] if archived and doc.archive_reason else None
    row.tags = [DocumentTag(path=path, tag=tag[:100], position=i) for i, tag in enumerate(doc.tags)]


def _version(change: Change, revision: Revision, doc: DocumentFile | None) -> Version:
    """One version row; a delete's row (``doc`` None) gets the last level, title and status."""
    return Version(
        path=change.path, file_path=change.path, kind=change.kind, revision=revision.id, blob=change.blob,
        access=doc and doc.access, title=doc and doc.title[:300], status=doc and doc.status,
        author_name=revision.author.name, author_email=revision.author.email,
        date=revision.date.astimezone(dt.UTC), message=revision.message,
    )


def synced_commit(session: Session) -> str | None:
    """The commit the catalog reflects (None before the first)."""
    return _state(session, CATALOG)


def _set_synced_commit(session: Session, commit: str | None) -> None:
    _set_state(session, CATALOG, commit)


def _state(session: Session, name: str) -> str | None:
    state = session.get(SyncState, name)
    return state.commit if state else None


def _set_state(session: Session, name: str, value: str | None) -> None:
    state = session.get(SyncState, name)
    if state is None:
        session.add(SyncState(name=name, commit=value))
    else:
        state.commit = value

