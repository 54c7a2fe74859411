"""Draft use-cases: save, read, discard, submit for review, send back, publish.

A draft is what an editor prepares before readers see it (the storage is ``kb.versioning.drafts``).
Its access check treats it as the document it will become: the stricter of the draft's own level
and the published document's, with the published document's lifecycle (an archived document is
read-only, drafts included). With ``KB_REQUIRE_REVIEW`` a draft must be submitted and published
by another editor (four eyes); without it the author may publish it directly.

Every step is a commit on the draft's ref (or, for publishing, on ``main``) and an audit entry,
made through the one write path (``kb.stores.write_path.writing``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from kb import access, docpath
from kb.access import Principal
from kb.document import DocumentFile, check, decode, parse, read, serialize
from kb.errors import Conflict, Forbidden, NotFound
from kb.models import Document
from kb.render import render
from kb.services.documents import SaveResult, commit_message, compose, known_document, merge_edit, note
from kb.stores import Stores, catalog, write_path
from kb.versioning import Write, merge3
from kb.versioning.drafts import Draft, DraftState

# reading a draft is reading an unpublished version: what editors may do with past versions
READ = "view_revision"


@dataclass
class DraftVersion:
    revision: str
    author: str
    date: dt.datetime
    message: str
    state: str


@dataclass
class DraftView:
    """An open draft as its page and the API show it."""

    path: str
    doc: DocumentFile
    state: str
    comment: str
    submitted_by: str
    base_revision: str | None  # the published revision it started from; None: a new document
    revision: str  # the draft's newest version
    updated_at: dt.datetime
    updated_by: str
    authors: list[str]  # who has worked on it, first to last
    versions: list[DraftVersion]

    # the document it holds, as its page and the API show it
    @property
    def title(self) -> str:
        return self.doc.title

    @property
    def body(self) -> str:
        return self.doc.body

    @property
    def tags(self) -> list[str]:
        return list(self.doc.tags)

    @property
    def access(self) -> str:
        return self.doc.access

    @property
    def review_by(self) -> str | None:
        return self.doc.review_by

    @property
    def html(self) -> str:
        """The body as sanitized HTML, rendered when asked for (a list shows none)."""
        return render(self.doc.body, self.path)


def get_draft(stores: Stores, session: Session, user: Principal, path: str) -> DraftView:
    """The open draft of ``path`` with its versions. NotFound without one (or when the user may
    not see it: the same answer)."""
    path = docpath.validate(path)
    # a read: a draft of a document archived since can still be looked at (not changed)
    draft = _open_draft(stores, session, user, READ, path)
    history = stores.drafts.history(path)
    authors = list(dict.fromkeys(version.revision.author.name for version in reversed(history)))
    return DraftView(
        path=path,
        doc=_document(draft),
        state=draft.state.state,
        comment=draft.state.comment,
        submitted_by=draft.state.submitted_by,
        base_revision=draft.state.base,
        revision=draft.revision.id,
        updated_at=draft.revision.date,
        updated_by=draft.revision.author.name,
        authors=authors,
        versions=[
            DraftVersion(v.revision.id, v.revision.author.name, v.revision.date, v.revision.message, v.state.state)
            for v in history
        ],
    )


def list_drafts(stores: Stores, session: Session, user: Principal, state: str | None = None) -> list[DraftView]:
    """The open drafts the user may see (optionally only those in one review state), newest
    first: the editors' worklist and the review queue."""
    access.require(user, "draft")
    drafts = []
    for draft in stores.drafts.all():
        if state and draft.state.state != state:
            continue
        doc = _document(draft)
        if access.can(user, READ, _target(session, draft.state.path, doc), doc.access):
            drafts.append(
                DraftView(
                    path=draft.state.path,
                    doc=doc,
                    state=draft.state.state,
                    comment=draft.state.comment,
                    submitted_by=draft.state.submitted_by,
                    base_revision=draft.state.base,
                    revision=draft.revision.id,
                    updated_at=draft.revision.date,
                    updated_by=draft.revision.author.name,
                    authors=[],
                    versions=[],
                )
            )
    return sorted(drafts, key=lambda view: view.updated_at, reverse=True)


def save_draft(
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
    draft_revision: str | None = None,
) -> tuple[str, bool]:
    """Save a new version of the draft of ``path`` (starting one from the published document, or
    a new document, when there is none); returns (draft revision, created).

    ``draft_revision`` is the draft version the editor started from: when another editor saved
    the draft since, the two edits are merged three-way, and overlapping ones raise Conflict with
    both versions. Without it, the save goes on top (the other version stays in the history).
    Saving a submitted or returned draft makes it a plain draft again: what was reviewed changed.
    """
    path = docpath.validate(path)
    with write_path.writing(stores, user, "draft_save", path) as w:
        draft = stores.drafts.get(path)
        with stores.sessions() as fresh:
            current = fresh.get(Document, path)
            known = known_document(fresh, path) if current is not None else None
        access.require(user, "draft", known)
        if draft is not None:
            draft_doc = _document(draft)
            access.require(user, "draft", known or access.Standing(draft_doc.access), draft_doc.access)
            old: DocumentFile | None = draft_doc
        else:
            old = catalog.read_document(stores.store, current.blob, path) if current is not None else None
        doc = compose(
            stores, user, old, title=title, body=body, tags=tags, access_level=access_level, review_by=review_by
        )
        text = serialize(doc)
        if draft is not None and draft_revision and not draft.revision.id.startswith(draft_revision):
            text = _merge_drafts(stores, path, draft, draft_revision, text)
        state = DraftState(path, draft.state.base if draft else (current.revision if current else None))
        revision = w.draft(
            text.encode("utf-8"),
            state,
            commit_message(message, f"草稿 {path}"),
            expected=draft.revision.id if draft else None,
            level=doc.access,
            detail="new draft" if draft is None else "",
        )
    return revision.id, draft is None


def discard_draft(stores: Stores, session: Session, user: Principal, path: str) -> None:
    """Close the draft without publishing it (its history is kept in git, out of sight)."""
    path = docpath.validate(path)
    with write_path.writing(stores, user, "draft_discard", path) as w:
        draft = _open_draft(stores, session, user, "draft", path)
        stores.drafts.discard(path, draft.revision.id)
        w.record(
            draft.revision.id,
            level=_document(draft).access,
            undo=lambda: stores.drafts.restore(path, "", draft.revision.id),
        )


def submit(stores: Stores, session: Session, user: Principal, path: str, comment: str | None = None) -> str:
    """Ask for review: the draft is frozen for the reviewer until it is saved again."""
    return _review_step(stores, session, user, path, "submitted", comment, required=False)


def send_back(stores: Stores, session: Session, user: Principal, path: str, comment: str) -> str:
    """The reviewer returns a submitted draft to its authors, saying why (required)."""
    return _review_step(stores, session, user, path, "returned", comment, required=True)


def publish(stores: Stores, session: Session, user: Principal, path: str, message: str | None = None) -> SaveResult:
    """Make the draft the published document, as one commit whose second parent is the draft's
    history, and close the draft.

    When the published document changed since the draft began, the two are merged three-way;
    overlapping edits raise Conflict with both versions (nothing is lost: the draft stays open).
    With review required, only a submitted draft may be published, and not by its submitter.
    """
    path = docpath.validate(path)
    with write_path.writing(stores, user, "publish", path) as w:
        draft = _open_draft(stores, session, user, "publish", path)
        with stores.sessions() as fresh:
            current = fresh.get(Document, path)
            known = known_document(fresh, path) if current is not None else None
        if stores.require_review:
            _check_four_eyes(user, draft)
        text = decode(draft.data)
        base = draft.state.base
        merged = False
        if (current is None) != (base is None):
            raise Conflict(
                "草稿开始后，已发布的文档被创建、删除或移动；请先查看当前版本 "
                "(the published document appeared or disappeared since the draft began)",
                current={
                    "revision": current.revision if current else None,
                    "text": decode(stores.store.read_blob(current.blob)) if current else "",
                },
                yours={"draft_revision": draft.revision.id, "text": text},
            )
        if known is not None and current is not None and base is not None and current.revision != base:
            text = merge_edit(stores.store, known, path, base, text, current.blob)
            merged = True
        doc = parse(text)  # what is about to be published is checked, not read: unreadable is refused
        check(doc)
        if not access.can(user, "publish", doc):
            raise Forbidden("不能发布高于您密级的文档 (access level above your clearance)")
        detail = "; ".join(
            part
            for part in (
                "merged" if merged else "",
                f"reviewed; submitted by {draft.state.submitted_by}" if draft.state.state == "submitted" else "",
            )
            if part
        )
        revision = w.commit(
            [Write(path, text.encode("utf-8"))],
            commit_message(message, f"发布 {path}"),
            level=doc.access,
            detail=detail,
            merge=draft.revision.id,
        )
        stores.drafts.close(path, draft.revision.id)
    return SaveResult(path, revision, created=current is None, merged=merged)


# ---------------------------------------------------------------- helpers


def _open_draft(stores: Stores, session: Session, user: Principal, action: str, path: str) -> Draft:
    """The open draft of ``path`` if ``user`` may do ``action`` on it; NotFound otherwise."""
    access.require(user, action)
    draft = stores.drafts.get(path)
    if draft is None:
        raise NotFound("该文档没有草稿 (no draft for this document)")
    doc = _document(draft)
    access.require(user, action, _target(session, path, doc), doc.access)
    return draft


def _target(session: Session, path: str, doc: DocumentFile) -> Document | access.Standing:
    """The published document a draft will become, or the draft itself for a new document."""
    return session.get(Document, path) or access.Standing(doc.access)


def _document(draft: Draft) -> DocumentFile:
    return read(draft.data, draft.state.path)


def _review_step(
    stores: Stores,
    session: Session,
    user: Principal,
    path: str,
    state: str,
    comment: str | None,
    *,
    required: bool,
) -> str:
    """Submit or send back: a new draft version with the same document and a new state."""
    path = docpath.validate(path)
    text = note(comment, missing="请说明退回的原因 (a comment is required)" if required else None)
    action = "draft_submit" if state == "submitted" else "draft_return"
    with write_path.writing(stores, user, action, path) as w:
        draft = _open_draft(stores, session, user, "review", path)
        if state == "submitted" and draft.state.state == "submitted":
            raise Conflict("草稿已提交评审 (the draft is already submitted)")
        if state == "returned" and draft.state.state != "submitted":
            raise Conflict("只能退回已提交评审的草稿 (only a submitted draft can be sent back)")
        submitter = user.username if state == "submitted" else draft.state.submitted_by
        new_state = replace(draft.state, state=state, comment=text, submitted_by=submitter)
        label = "提交评审" if state == "submitted" else "退回修改"
        revision = w.draft(
            draft.data,
            new_state,
            f"{label} {path}" + (f"：{text}" if text else ""),
            expected=draft.revision.id,
            level=_document(draft).access,
            detail=text[:500],
        )
    return revision.id


def _check_four_eyes(user: Principal, draft: Draft) -> None:
    if draft.state.state != "submitted":
        raise Conflict("本系统要求评审：请先提交评审 (review required: submit the draft first)")
    if draft.state.submitted_by == user.username:
        raise Forbidden(
            "四眼原则：提交人不能发布自己提交的草稿，请由另一位编辑评审发布 "
            "(four eyes: another editor must publish a draft you submitted)"
        )


def _merge_drafts(stores: Stores, path: str, draft: Draft, draft_revision: str, ours: str) -> str:
    """Merge an edit based on an older draft version with the newest one."""
    versions = {version.revision.id: version for version in stores.drafts.history(path)}
    base = next((v for rev, v in versions.items() if rev.startswith(draft_revision)), None)
    if base is None:
        raise NotFound("草稿中没有该版本 (unknown draft revision)")
    theirs = decode(draft.data)
    result = merge3(decode(base.data), theirs, ours)
    if result.conflicts:
        raise Conflict(
            "草稿已被他人修改，且修改内容重叠 (the draft changed meanwhile and the edits overlap)",
            current={"draft_revision": draft.revision.id, "text": theirs},
            yours={"draft_revision": draft_revision, "text": ours},
        )
    return result.text
