"""The lifecycle beyond editing: archive and restore, the archive and deleted lists, documents due
for review, and the whole knowledge base as it was at a date.

Archiving is a commit that sets ``status: archived`` with when, by whom and why in the front
matter, so the reason travels with the document and its history; restoring is a commit that
takes them away again. The lists read the catalog; the past reads git's own trees, so "as of a
date" shows exactly the files that were there, with titles and levels from the catalog's
version rows (one bulk lookup by blob instead of parsing thousands of files).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from kb import access, clock, docpath
from kb.access import Principal
from kb.document import serialize
from kb.errors import Conflict, NotFound
from kb.models import Document, DocumentTag, Version
from kb.moments import parse_moment
from kb.paging import MAX_PER_PAGE, Page
from kb.services.documents import DocumentView, audit_read, deleted_standing, in_folder, known_document, note, view_of
from kb.stores import Stores, catalog, write_path
from kb.versioning import Revision, Write

_CHUNK = 2000  # bound parameters per IN (…) query: well under SQLite's and PostgreSQL's limits


# ---------------------------------------------------------------- archive and restore


def archive(stores: Stores, session: Session, user: Principal, path: str, reason: str) -> str:
    """Archive a published document, saying why: it leaves readers' listings and search and
    becomes read-only. Returns the commit."""
    text = note(reason, missing="请填写归档原因 (a reason is required)", one_line=True)
    return _set_archived(stores, user, docpath.validate(path), text)


def restore(stores: Stores, session: Session, user: Principal, path: str, reason: str | None = None) -> str:
    """Publish an archived document again, as it was. Returns the commit."""
    return _set_archived(stores, user, docpath.validate(path), note(reason, one_line=True), restore=True)


def _set_archived(stores: Stores, user: Principal, path: str, reason: str, *, restore: bool = False) -> str:
    action = "restore" if restore else "archive"
    with write_path.writing(stores, user, action, path) as w:
        with stores.sessions() as fresh:
            known = known_document(fresh, path)
        if known.row is None:
            raise NotFound("文档不存在 (document not found)")
        access.require(user, action, known)
        if (known.status == "archived") != restore:
            raise Conflict(
                "文档未归档，无需恢复 (the document is not archived)"
                if restore
                else "文档已归档 (the document is archived already)"
            )
        doc = catalog.read_document(stores.store, known.row.blob, path)
        if restore:
            doc = replace(doc, status="published", archived_at=None, archived_by=None, archive_reason=None)
            message = f"恢复 {path}" + (f"：{reason}" if reason else "")
        else:
            now = clock.now().replace(microsecond=0).isoformat()
            doc = replace(doc, status="archived", archived_at=now, archived_by=user.username, archive_reason=reason)
            message = f"归档 {path}：{reason}"
        return w.commit([Write(path, serialize(doc).encode("utf-8"))], message, level=doc.access, detail=reason)


# ---------------------------------------------------------------- lists


def archived_documents(
    session: Session,
    user: Principal,
    *,
    prefix: str | None = None,
    tag: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Document]:
    """Archived documents the user may see, most recently archived first."""
    access.require(user, "view_archived")
    query = select(Document).where(Document.status == "archived", Document.access.in_(access.visible_levels(user)))
    if prefix:
        query = query.where(in_folder(Document.path, prefix))
    if tag:
        query = query.where(Document.path.in_(select(DocumentTag.path).where(DocumentTag.tag == tag)))
    if since:
        query = query.where(Document.archived_at >= since)
    if until:
        query = query.where(Document.archived_at <= until)
    order = (Document.archived_at.is_(None), Document.archived_at.desc(), Document.path)
    return Page.of_query(session, query, order, page, per_page)


@dataclass
class DeletedDocument:
    path: str
    title: str
    access: str
    deleted_at: dt.datetime
    deleted_by: str
    revision: str  # the commit that deleted it
    last_revision: str | None  # the last commit that had it: read it with ?revision=


def deleted_documents(
    session: Session, user: Principal, *, prefix: str | None = None, page: int = 1, per_page: int = 50
) -> Page[DeletedDocument]:
    """Documents deleted from the live view whose past versions the user may retrieve."""
    access.require(user, "view_archived")
    last = select(func.max(Version.id)).group_by(Version.path).scalar_subquery()
    query = select(Version).where(
        Version.id.in_(last),
        Version.kind == "delete",
        Version.path.not_in(select(Document.path)),
        Version.access.in_(access.visible_levels(user)),
    )
    if prefix:
        query = query.where(in_folder(Version.path, prefix))
    found = Page.of_query(session, query, (Version.id.desc(),), page, per_page)
    before = _last_versions(session, found.items)
    items = [
        DeletedDocument(
            row.path,
            row.title or row.path,
            row.access or "secret",
            row.date,
            row.author_name,
            row.revision,
            before.get(row.path),
        )
        for row in found.items
    ]
    return Page(items, found.total, found.page, found.per_page)


def _last_versions(session: Session, deletes: list[Version]) -> dict[str, str]:
    """The revision of each deleted document's last version that had content."""
    if not deletes:
        return {}
    bound = {row.path: row.id for row in deletes}
    found: dict[str, str] = {}
    rows = session.execute(
        select(Version.path, Version.id, Version.revision)
        .where(Version.path.in_(bound), Version.blob.is_not(None))
        .order_by(Version.id)
    )
    for path, version_id, revision in rows:
        if version_id < bound[path]:
            found[path] = revision
    return found


def review_due(
    session: Session, user: Principal, *, within_days: int = 30, owner: str | None = None, today: dt.date | None = None
) -> list[Document]:
    """Published documents whose ``review_by`` date is past or within ``within_days``, soonest
    first; ``owner`` narrows them to one owner's (an editor's own list)."""
    access.require(user, "review_due")
    today = today or dt.date.today()
    query = select(Document).where(
        Document.review_by.is_not(None),
        Document.review_by <= today + dt.timedelta(days=within_days),
        Document.status == "published",
        Document.access.in_(access.visible_levels(user)),
    )
    if owner:
        query = query.where(Document.owner == owner)
    return list(session.scalars(query.order_by(Document.review_by, Document.path).limit(MAX_PER_PAGE * 5)))


# ---------------------------------------------------------------- the past


@dataclass
class PastDocument:
    path: str  # where it was then
    title: str
    access: str  # its level then
    status: str
    current_path: str | None  # where it is now (None: deleted since)


@dataclass(frozen=True)
class PastListing(Page[PastDocument]):
    """A page of the knowledge base as it was ``at``."""

    at: dt.datetime
    commit: Revision | None  # the last commit at or before ``at``; None: history starts later

    @property
    def revision(self) -> str | None:
        return self.commit.id if self.commit else None


def list_as_of(
    stores: Stores,
    session: Session,
    user: Principal,
    at: str,
    *,
    prefix: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> PastListing:
    """The knowledge base as it was at ``at``: the documents of the last commit before it that
    the user may see, by path. Each counts at the stricter of its level then and now."""
    access.require(user, "view_at_date")
    when = parse_moment(at, stores.timezone)
    revision = stores.store.revision_at(when)
    if revision is None:
        return PastListing([], 0, *Page.bounds(page, per_page), when, None)
    folder = docpath.validate(prefix.strip("/")) if prefix and prefix.strip("/") else None
    files = list(stores.store.documents(revision.id, folder=folder))
    known = _versions_by_blob(session, files)
    standing = _standing(session, {version.path for version in known.values()})
    visible = []
    # the decision depends only on the two levels: ask the access function once per pair
    allowed = functools.cache(lambda now, then: access.can(user, "view_at_date", access.Standing(now), then))
    for path, blob in files:
        version = known.get((path, blob))
        if version is None:  # a commit the catalog has not seen: judge it by its own file
            doc = catalog.read_document(stores.store, blob, path)
            item, now = PastDocument(path, doc.title, doc.access, doc.status, None), doc.access
        else:
            now, exists = standing[version.path]
            item = PastDocument(
                path,
                version.title or path,
                version.access or access.CLEARANCES[-1],
                version.status or "",
                version.path if exists else None,
            )
        if allowed(now, item.access):
            visible.append(item)
    found = Page.of_list(visible, page, per_page)
    return PastListing(found.items, found.total, found.page, found.per_page, when, revision)


def get_as_of(stores: Stores, session: Session, user: Principal, at: str, path: str) -> DocumentView:
    """The document that was at ``path`` at ``at`` (moved or deleted since, or not), as it was."""
    access.require(user, "view_at_date")
    path = docpath.validate(path)
    when = parse_moment(at, stores.timezone)
    revision = stores.store.revision_at(when)
    blob = stores.store.blob_id(path, revision.id) if revision else None
    if revision is None or blob is None:
        raise NotFound("该日期时没有此文档 (no such document at that date)")
    version = _versions_by_blob(session, [(path, blob)]).get((path, blob))
    doc = catalog.read_document(stores.store, blob, path)
    now = _standing(session, {version.path})[version.path][0] if version else doc.access
    access.require(user, "view_at_date", access.Standing(now), doc.access)
    made = session.get(Version, version.id) if version else None  # who wrote this content, when, why
    view = view_of(
        stores,
        path,
        blob,
        revision.id,
        made.date if made else revision.date,
        made.author_name if made else revision.author.name,
        doc,
    )
    view.current = False
    view.message = made.message if made else revision.message
    audit_read(stores, user, "read_as_of", path, revision.id, access.strictest(now, doc.access))
    return view


def _versions_by_blob(session: Session, files: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Row]:
    """The catalog's version row of each (path then, blob): the newest that wrote that content
    there. Looked up by blob in bulk (plain rows, not ORM objects: there are thousands), then
    matched on the path."""
    wanted = dict(files)
    blobs = list(set(wanted.values()))
    columns = (Version.id, Version.file_path, Version.blob, Version.path, Version.title, Version.access, Version.status)
    found: dict[tuple[str, str], Row] = {}
    for start in range(0, len(blobs), _CHUNK):
        for row in session.execute(
            select(*columns).where(Version.blob.in_(blobs[start : start + _CHUNK])).order_by(Version.id)
        ):
            if wanted.get(row.file_path) == row.blob:
                found[(row.file_path, row.blob)] = row
    return found


def _standing(session: Session, paths: set[str]) -> dict[str, tuple[str, bool]]:
    """(level now, still exists) of each of these documents: a deleted one counts at its last
    level, as ``documents.deleted_standing`` has it."""
    names = sorted(paths)
    if len(names) > _CHUNK:  # most of the knowledge base: one plain read beats many IN lists
        rows = session.execute(select(Document.path, Document.access))
        standing = {path: (level, True) for path, level in rows if path in paths}
    else:
        standing = {
            path: (level, True)
            for path, level in session.execute(select(Document.path, Document.access).where(Document.path.in_(names)))
        }
    gone = sorted(set(names) - set(standing))
    for start in range(0, len(gone), _CHUNK):
        rows = session.execute(
            select(Version.path, Version.access)
            .where(Version.path.in_(gone[start : start + _CHUNK]))
            .order_by(Version.id)
        )
        for path, rows_of_path in itertools.groupby(sorted(rows, key=lambda r: r.path), key=lambda r: r.path):
            standing[path] = (deleted_standing(list(rows_of_path)).access, False)
    return standing
