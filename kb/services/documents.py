"""Document use-cases: read (now, at a revision, at a date), list, save with merge, history,
diff, revert, move and delete.

Every function takes the caller (a ``Principal``) and asks ``kb.access`` before it reveals or
changes anything. Writes go through the one write path (``kb.stores.write_path.writing``): lock, commit
with trailers, audit entry, then catalog and index.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, lazyload

from kb import access, docpath
from kb.access import Principal
from kb.document import DocumentFile, check, decode, normalize_tags, read, serialize
from kb.errors import BadRequest, Conflict, Forbidden, InvalidDocument, Moved, NotFound, ReviewRequired, TooLarge
from kb.models import Document, DocumentTag, Version
from kb.moments import parse_moment
from kb.paging import MAX_PER_PAGE, Page
from kb.stores import Stores, catalog, write_path
from kb.versioning import Delete, GitStore, Move, Write
from kb.versioning.textdiff import merge3, unified_diff

log = logging.getLogger(__name__)

AUDITED_READ_LEVELS = ("confidential", "secret")


@dataclass
class DocumentView:
    path: str
    title: str
    body: str
    html: str
    tags: list[str]
    access: str
    status: str
    owner: str
    revision: str
    updated_at: dt.datetime
    updated_by: str
    review_by: str | None = None
    current: bool = True
    message: str = ""  # why this version was made (its commit message)
    archived_at: str | None = None
    archived_by: str | None = None
    archive_reason: str | None = None
    toc: list[tuple[int, str, str]] = field(default_factory=list)  # (level, anchor, text)


@dataclass
class SaveResult:
    path: str
    revision: str
    created: bool
    merged: bool = False


@dataclass
class Known:
    """What the catalog knows of a path, current or deleted, for the access check."""

    access: str
    status: str
    row: Document | None = None
    versions: list[Version] = field(default_factory=list)


# ---------------------------------------------------------------- reading


def in_folder(column: ColumnElement[str] | InstrumentedAttribute[str], folder: str) -> ColumnElement[bool]:
    """The SQL condition "the path in ``column`` is in ``folder``, or is ``folder``": a folder
    filter, so ``运维`` does not also take ``运维组/…``. Slashes around ``folder`` are ignored."""
    folder = folder.strip("/")
    return or_(column == folder, column.startswith(folder + "/", autoescape=True))


def list_documents(
    session: Session,
    user: Principal,
    prefix: str | None = None,
    tag: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[Document]:
    """A page of the documents the user may see, newest first."""
    access.require(user, "view")
    statuses = access.visible_statuses(user)
    if not status:
        wanted = ["published"]
    elif status == "all":
        wanted = statuses
    else:
        wanted = [status] if status in statuses else []
    query = select(Document).where(Document.access.in_(access.visible_levels(user)), Document.status.in_(wanted))
    if prefix:
        query = query.where(in_folder(Document.path, prefix))
    if tag:
        query = query.where(Document.path.in_(select(DocumentTag.path).where(DocumentTag.tag == tag)))
    return Page.of_query(session, query, (Document.updated_at.desc(), Document.path), page, per_page)


def documents_at(session: Session, user: Principal, paths: list[str]) -> list[Document]:
    """The documents at ``paths`` that exist and the user may see now, in the order given.

    For paths remembered outside the catalog (a browser's recently viewed list): whatever was
    deleted, moved or raised above the user's clearance since is silently left out.
    """
    access.require(user, "view")
    wanted = list(dict.fromkeys(p for p in paths if isinstance(p, str)))[:MAX_PER_PAGE]
    if not wanted:
        return []
    query = select(Document).where(
        Document.path.in_(wanted),
        Document.access.in_(access.visible_levels(user)),
        Document.status.in_(access.visible_statuses(user)),
    )
    found = {row.path: row for row in session.scalars(query) if access.can(user, "view", row)}
    return [found[path] for path in wanted if path in found]


def popular_tags(session: Session, user: Principal, limit: int = 20) -> list[tuple[str, int]]:
    """(tag, number of documents) over the published documents the user may see, most used first."""
    access.require(user, "view")
    levels = access.visible_levels(user)
    if not levels:
        return []
    count = func.count(DocumentTag.path)
    query = (
        select(DocumentTag.tag, count)
        .join(Document, Document.path == DocumentTag.path)
        .where(Document.access.in_(levels), Document.status == "published")
        .group_by(DocumentTag.tag)
        .order_by(count.desc(), DocumentTag.tag)
        .limit(min(max(limit, 1), MAX_PER_PAGE))
    )
    return [(tag, n) for tag, n in session.execute(query)]


def get_document(
    stores: Stores, session: Session, user: Principal, path: str, revision: str | None = None, at: str | None = None
) -> DocumentView:
    """The document now, at a revision (editors) or as it was at a date (archivists).

    Raises NotFound (also for documents above the caller's clearance), InvalidRevision,
    BadRequest for an unreadable date or one before the document's first version.
    """
    found = _locate(stores, session, user, path, revision, at)
    view = view_of(stores, found.path, found.blob, found.revision, found.date, found.author, found.doc)
    view.current = found.current
    view.message = stores.store.revision(found.revision).message
    audit_read(stores, user, "read", found.path, found.revision, found.level)
    return view


def get_raw(
    stores: Stores, session: Session, user: Principal, path: str, revision: str | None = None, at: str | None = None
) -> bytes:
    """The document's file (front matter and Markdown) as stored, now or in the past; checked
    and audited exactly as ``get_document``."""
    found = _locate(stores, session, user, path, revision, at)
    data = stores.store.read_blob(found.blob)
    audit_read(stores, user, "read_raw", found.path, found.revision, found.level)
    return data


@dataclass
class _Found:
    path: str
    blob: str
    revision: str
    date: dt.datetime
    author: str
    level: str
    current: bool
    doc: DocumentFile | None = None  # parsed already when a past version's level was checked


def _locate(
    stores: Stores, session: Session, user: Principal, path: str, revision: str | None, at: str | None
) -> _Found:
    """Find the version asked for and check the caller may see it (past versions: the stricter
    of their own level and the current one)."""
    path = docpath.validate(path)
    if revision is None and at is None:
        # the access check and the answer need the row's columns, not its tags (a second query)
        row = session.get(Document, path, options=[lazyload(Document.tags)])
        if row is None:
            raise missing(session, user, path)
        access.require(user, "view", row)
        return _Found(row.path, row.blob, row.revision, row.updated_at, row.updated_by, row.access, True)
    known = readable(session, user, path)
    action = "view_revision" if revision is not None else "view_at_date"
    access.require(user, action, known)
    if revision is not None:
        try:
            version, blob = version_at_revision(stores.store, known, path, revision)
        except NotFound as absent:
            return _draft_version(stores, user, known, path, revision, absent)
    else:
        version = _version_at_date(known, parse_moment(at, stores.timezone))
        blob = version.blob
    if blob is None:
        raise NotFound("该文档在此版本中已删除 (document deleted at that point)")
    doc = catalog.read_document(stores.store, blob, path)
    access.require(user, action, known, doc.access)
    return _Found(
        path,
        blob,
        version.revision,
        version.date,
        version.author_name,
        doc.access,
        known.row is not None and blob == known.row.blob,
        doc,
    )


def _draft_version(stores: Stores, user: Principal, known: Known, path: str, revision: str, absent: NotFound) -> _Found:
    """A version of one of the document's drafts (published, discarded or open), which stays
    retrievable by its revision like any other; ``absent`` is raised when it is none."""
    draft = stores.drafts.version(revision)
    if draft is None or draft.state.path not in {path, *(v.file_path for v in known.versions)}:
        raise absent
    doc = catalog.read_document(stores.store, draft.blob, path)
    access.require(user, "view_revision", known, doc.access)
    return _Found(
        path, draft.blob, draft.revision.id, draft.revision.date, draft.revision.author.name, doc.access, False, doc
    )


def history(stores: Stores, session: Session, user: Principal, path: str) -> list[Version]:
    """The document's versions, newest first; follows moves; deleted documents keep theirs."""
    path = docpath.validate(path)
    known = readable(session, user, path)
    access.require(user, "history", known)
    audit_read(stores, user, "read_history", path, None, known.access)
    return list(reversed(known.versions))


@dataclass(frozen=True)
class Comparison:
    """Two versions of a document file, for the API's unified diff or the page's side by side."""

    old: str
    new: str
    old_label: str  # "<path>@<revision>", or /dev/null before the first version
    new_label: str

    def unified(self) -> str:
        return unified_diff(self.old, self.new, self.old_label, self.new_label)


def diff(
    stores: Stores,
    session: Session,
    user: Principal,
    path: str,
    from_revision: str | None = None,
    to_revision: str | None = None,
) -> Comparison:
    """Two versions to compare (default: the previous version and the latest)."""
    path = docpath.validate(path)
    known = readable(session, user, path)
    access.require(user, "diff", known)
    live = [v for v in known.versions if v.blob]
    if not live:
        raise NotFound("文档没有可比较的版本 (no versions)")
    new = version_at_revision(stores.store, known, path, to_revision) if to_revision else (live[-1], live[-1].blob)
    old: tuple[Version | None, str | None]
    if from_revision:
        old = version_at_revision(stores.store, known, path, from_revision)
    else:
        earlier = [v for v in live if v.id < new[0].id]
        old = (earlier[-1], earlier[-1].blob) if earlier else (None, None)
    texts = []
    levels = [known.access]
    for version, blob in (old, new):
        data = stores.store.read_blob(blob) if blob else b""
        text = data.decode("utf-8", errors="replace")
        level = read(data, path).access if blob else None
        access.require(user, "diff", known, level)
        levels.append(level or "public")
        texts.append((text, f"{path}@{version.revision[:10]}" if version else "/dev/null"))
    audit_read(stores, user, "read_diff", path, new[0].revision, access.strictest(*levels))
    return Comparison(texts[0][0], texts[1][0], texts[0][1], texts[1][1])


# ---------------------------------------------------------------- writing


def save_document(
    stores: Stores,
    session: Session,
    user: Principal,
    path: str,
    *,
    title: str,
    body: str,
    tags: list[str] | None = None,
    access_level: str | None = None,
    review_by: str | None = None,
    message: str | None = None,
    base_revision: str | None = None,
) -> SaveResult:
    """Create or update a document.

    With ``base_revision`` older than the current revision the two edits are merged three-way;
    overlapping edits raise Conflict carrying both versions. Raises InvalidPath, InvalidDocument,
    TooLarge, NotFound/Forbidden from the access check, InvalidRevision, and ReviewRequired when
    the deployment publishes only reviewed drafts.
    """
    path = docpath.validate(path)
    if stores.require_review:
        raise ReviewRequired(
            "本系统要求评审：请保存为草稿并提交评审，由另一位编辑发布 "
            "(review required: save a draft and submit it for review)"
        )
    with write_path.writing(stores, user, "save", path) as w:
        with stores.sessions() as fresh:
            # the row's columns decide; its tags come from the file, its versions only for a merge
            current = fresh.get(Document, path, options=[lazyload(Document.tags)])
            stale = bool(current is not None and base_revision and not current.revision.startswith(base_revision))
            known = (
                known_document(fresh, path)
                if stale
                else Known(current.access, current.status, current)
                if current is not None
                else None
            )
        access.require(user, "edit", known)
        w.action = "update" if current else "create"
        old = catalog.read_document(stores.store, current.blob, path) if current is not None else None
        doc = compose(
            stores, user, old, title=title, body=body, tags=tags, access_level=access_level, review_by=review_by
        )
        text = serialize(doc)
        merged = False
        if stale:
            assert known is not None and current is not None and base_revision  # what makes it stale
            text = merge_edit(stores.store, known, path, base_revision, text, current.blob)
            merged = True
        revision = w.commit(
            [Write(path, text.encode("utf-8"))],
            commit_message(message, f"{'更新' if current else '新建'} {path}"),
            level=doc.access,
            detail="merged" if merged else "",
        )
    return SaveResult(path, revision, created=current is None, merged=merged)


def compose(
    stores: Stores,
    user: Principal,
    old: DocumentFile | None,
    *,
    title: str,
    body: str,
    tags: list[str] | None,
    access_level: str | None,
    review_by: str | None,
) -> DocumentFile:
    """The document file a save writes: the given fields over ``old`` (None: a new document,
    owned by the user); fields left None keep their value.

    The fields come validated (``kb.schemas.documents``); what is checked here is what only the
    deployment and the document know: the body's size (TooLarge), a real ``review_by`` date,
    the document's rules (``kb.document.check``) and that the level is within the user's
    clearance: nobody writes above their own (Forbidden).
    """
    if len(body.encode("utf-8", errors="replace")) > stores.max_body_bytes:
        raise TooLarge(f"正文超过上限 {stores.max_body_bytes} 字节 (body larger than the limit)")
    base = old or DocumentFile(
        title="", body="", access=default_level(user, stores.default_access), owner=user.username
    )
    doc = DocumentFile(
        title=title.strip(),
        body=body,
        tags=base.tags if tags is None else normalize_tags(tags),
        access=access_level or base.access,
        status=base.status,
        owner=base.owner,
        review_by=base.review_by if review_by is None else _review_date(review_by),
        archived_at=base.archived_at,
        archived_by=base.archived_by,
        archive_reason=base.archive_reason,
        meta=base.meta,
    )
    check(doc)
    if not access.can(user, "edit", doc):
        raise Forbidden("不能将文档设为高于您密级的访问级别 (access level above your clearance)")
    return doc


def _review_date(value: str) -> str | None:
    """``review_by`` as given: "" clears it, else it must be a date (YYYY-MM-DD)."""
    if value == "":
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise InvalidDocument(
            f"复审日期“{str(value)[:40]}”无效，请用 YYYY-MM-DD 格式 (invalid review_by date)"
        ) from exc


def revert(
    stores: Stores, session: Session, user: Principal, path: str, revision: str, message: str | None = None
) -> str:
    """Make the version at ``revision`` the current one, as a new commit (history is kept)."""
    path = docpath.validate(path)
    if not revision:
        raise BadRequest("需要 revision (revision required)")
    with write_path.writing(stores, user, "revert", path) as w:
        with stores.sessions() as fresh:
            known = known_document(fresh, path)
        access.require(user, "revert", known)
        version, blob = version_at_revision(stores.store, known, path, revision)
        if blob is None:
            raise NotFound("该文档在此版本中已删除 (document deleted at that point)")
        data = stores.store.read_blob(blob)
        level = read(data, path).access
        access.require(user, "revert", known, level)
        return w.commit(
            [Write(path, data)],
            commit_message(message, f"恢复 {path} 到 {version.revision[:10]}"),
            level=access.strictest(level, known.access),
            detail=f"to {version.revision}",
        )


def move(stores: Stores, session: Session, user: Principal, path: str, to: str) -> str:
    """Rename a document; its history follows it."""
    path = docpath.validate(path)
    target = docpath.validate(to)
    if target == path:
        raise BadRequest("目标路径与原路径相同 (target equals source)")
    with write_path.writing(stores, user, "move", path) as w:
        with stores.sessions() as fresh:
            known = known_document(fresh, path)
            occupied = fresh.get(Document, target)
        if known.row is None:
            raise NotFound("文档不存在 (document not found)")
        access.require(user, "move", known)
        if occupied is not None:
            raise Conflict(f"目标路径“{target}”已有文档 (target exists)")
        revision = w.commit([Move(path, target)], f"移动 {path} → {target}", level=known.access, detail=f"to {target}")
        _move_draft(stores, user, path, target)
    return revision


def _move_draft(stores: Stores, user: Principal, path: str, target: str) -> None:
    """The open draft of a moved document follows it: a commit on its ref of its own, audited
    (``draft_move``) like every commit, so reconciliation finds nothing unrecorded.

    The move itself is durable and audited by now, so a failure here does not fail it: the
    draft stays where it was (the step is undone) and the failure is logged."""
    draft = stores.drafts.get(path)
    if draft is None:
        return
    level = read(draft.data, path).access
    try:
        with write_path.writing(stores, user, "draft_move", path) as w:  # the lock is held already
            moved = stores.drafts.move(path, target, w.message(f"草稿随文档移动到 {target}", level))
            if moved is not None:
                previous, current = moved
                w.record(
                    current.id,
                    level=level,
                    detail=f"to {target}",
                    undo=lambda: stores.drafts.unmove(path, target, previous.id, current.id),
                )
    except Exception:
        log.exception("the draft of %s stayed there: following the move to %s failed", path, target)


def delete(stores: Stores, session: Session, user: Principal, path: str, message: str | None = None) -> str:
    """Remove a document from HEAD; its past versions stay readable by archivists."""
    path = docpath.validate(path)
    with write_path.writing(stores, user, "delete", path) as w:
        with stores.sessions() as fresh:
            known = known_document(fresh, path)
        if known.row is None:
            raise NotFound("文档不存在 (document not found)")
        access.require(user, "delete", known)
        return w.commit([Delete(path)], commit_message(message, f"删除 {path}"), level=known.access)


def default_level(user: Principal, default: str) -> str:
    """The instance's default access level, lowered to the highest the user may write."""
    levels = access.visible_levels(user)
    return default if default in levels or not levels else levels[-1]


# ---------------------------------------------------------------- helpers


def merge_edit(store: GitStore, known: Known, path: str, base_revision: str, ours: str, current_blob: str) -> str:
    _version, base_blob = version_at_revision(store, known, path, base_revision)
    base = decode(store.read_blob(base_blob)) if base_blob else ""
    theirs = decode(store.read_blob(current_blob))
    result = merge3(base, theirs, ours)
    if result.conflicts:
        assert known.row is not None
        raise Conflict(
            "文档已被他人修改，且修改内容重叠，无法自动合并 (the document changed since base_revision "
            "and the edits overlap)",
            current={"revision": known.row.revision, "text": theirs},
            yours={"base_revision": base_revision, "text": ours},
        )
    return result.text


def known_document(session: Session, path: str) -> Known:
    """The document's catalog entry and versions; a deleted document counts as archived."""
    row = session.get(Document, path)
    versions = list(session.scalars(select(Version).where(Version.path == path).order_by(Version.id)))
    if row is not None:
        return Known(row.access, row.status, row, versions)
    if not versions:
        raise NotFound("文档不存在 (document not found)")
    return deleted_standing(versions)


def deleted_standing(versions: list) -> Known:
    """How a deleted document counts for access: archived (archivists only), at its last level
    (the strictest when none is known)."""
    levels = [v.access for v in versions if v.access]
    return Known(levels[-1] if levels else access.CLEARANCES[-1], "archived", None, list(versions))


def readable(session: Session, user: Principal, path: str) -> Known:
    """``known_document`` for a read: a document moved away redirects to its new path."""
    try:
        return known_document(session, path)
    except NotFound:
        raise missing(session, user, path) from None


def missing(session: Session, user: Principal, path: str) -> NotFound | Moved:
    """What a read of a path with no document gets: Moved when the document that lived there
    was moved to a path the user may see (old links keep working), else NotFound."""
    target = session.scalar(
        select(Version.path).where(Version.file_path == path, Version.path != path).order_by(Version.id.desc()).limit(1)
    )
    row = session.get(Document, target) if target else None
    if row is not None and access.can(user, "view", row):
        return Moved(f"文档已移动到“{target}” (document moved)", location=target)
    return NotFound("文档不存在 (document not found)")


def version_at_revision(store: GitStore, known: Known, path: str, revision: str) -> tuple[Version, str | None]:
    """The version of this document that was current at ``revision`` and its blob."""
    commit = store.resolve(revision)
    for version in reversed(known.versions):
        if version.revision == commit:
            return version, version.blob
    # a commit that did not touch the document: find where its file lived then
    when = store.revision(commit).date
    earlier = [v for v in known.versions if v.date <= when]
    for version in reversed(earlier):
        blob = store.blob_id(version.file_path, commit)
        if blob is not None:
            return version, blob
    raise NotFound("该修订版本中没有此文档 (document not present at that revision)")


def _version_at_date(known: Known, when: dt.datetime) -> Version:
    earlier = [v for v in known.versions if v.date <= when]
    if not earlier:
        first = known.versions[0].date.isoformat() if known.versions else "?"
        raise BadRequest(f"该日期早于文档的第一个版本（{first}）(date before the first version)")
    return earlier[-1]


def view_of(
    stores: Stores,
    path: str,
    blob: str,
    revision: str,
    updated_at: dt.datetime,
    updated_by: str,
    doc: DocumentFile | None = None,
) -> DocumentView:
    doc = doc or _parsed(stores.store, blob, path)
    page = stores.renders.page(blob, path, doc.body)
    return DocumentView(
        path=path,
        title=doc.title,
        body=doc.body,
        html=page.html,
        toc=page.toc,
        tags=list(doc.tags),
        access=doc.access,
        status=doc.status,
        owner=doc.owner,
        revision=revision,
        updated_at=updated_at,
        updated_by=updated_by,
        review_by=doc.review_by,
        archived_at=doc.archived_at,
        archived_by=doc.archived_by,
        archive_reason=doc.archive_reason,
    )


_PARSED_SIZE = 256
_parsed_files: OrderedDict[tuple[str, str], DocumentFile] = OrderedDict()
_parsed_lock = threading.Lock()


def _parsed(store: GitStore, blob: str, path: str) -> DocumentFile:
    """``catalog.read_document`` memoised by (blob id, path) for views: a blob never changes,
    and parsing its front matter was a tenth of a page view. The cached value is shared, so
    callers must not change it (``view_of`` copies the one list it hands on)."""
    key = (blob, path)
    with _parsed_lock:
        doc = _parsed_files.get(key)
        if doc is not None:
            _parsed_files.move_to_end(key)
            return doc
    doc = catalog.read_document(store, blob, path)
    with _parsed_lock:
        _parsed_files[key] = doc
        while len(_parsed_files) > _PARSED_SIZE:
            _parsed_files.popitem(last=False)
    return doc


def commit_message(message: str | None, default: str) -> str:
    """The commit message a caller gave, trimmed, or ``default`` for none."""
    return (message or "").strip()[:2000] or default


def note(value: str | None, *, missing: str | None = None, one_line: bool = False) -> str:
    """A free-text note from a request (an archive reason, a review comment; its length is the
    request model's), trimmed (``one_line``: its whitespace runs made one space, for a commit
    subject or the front matter); ``missing`` is the message when it is required but empty."""
    text = " ".join((value or "").split()) if one_line else (value or "").strip()
    if missing and not text:
        raise BadRequest(missing)
    return text


def audit_read(stores: Stores, user: Principal, action: str, path: str, revision: str | None, level: str) -> None:
    """Reads of confidential and secret documents are audited; the rest would only be noise."""
    if level in AUDITED_READ_LEVELS:
        stores.audit.record(user, action, path, revision=revision, level=level)
