"""The lifecycle API under /api/v1: drafts and review, archive and restore, the archive, deleted
and review-due lists. Each view parses the request and calls ``kb.services.drafts`` or
``kb.services.lifecycle``, which do the access checks with the document."""

from __future__ import annotations

from flask import Blueprint, Response

from kb import db, extensions
from kb.auth import current_user
from kb.moments import parse_moment
from kb.routes.guard import checked
from kb.routes.openapi import operation
from kb.routes.serialize import answer
from kb.schemas.documents import Saved
from kb.schemas.drafts import DraftList, DraftOut, DraftSaved, DraftsQuery, DraftWrite, Publish, SendBack, Submit
from kb.schemas.lifecycle import (
    Archive,
    ArchivedList,
    ArchiveQuery,
    DeletedList,
    DeletedQuery,
    DueList,
    Restore,
    ReviewDueQuery,
    StatusChanged,
)
from kb.services import drafts, editing, lifecycle
from kb.stores import Stores

bp = Blueprint("lifecycle_api", __name__)


@bp.get("/docs/<path:path>/draft")
@checked("draft")
@operation({200: DraftOut})
def get_draft(path: str) -> tuple[Response, int]:
    """The open draft with its versions (editors)."""
    return answer(DraftOut, drafts.get_draft(_stores(), db.session(), current_user(), path))


@bp.put("/docs/<path:path>/draft")
@checked("draft")
@operation({200: DraftSaved, 201: DraftSaved}, writes=True)
def save_draft(path: str, json: DraftWrite) -> tuple[Response, int]:
    """Save a draft version (201: the draft was started); readers keep seeing the published document."""
    edit = editing.Edit(**json.model_dump(mode="json", exclude={"draft_revision"}))
    saved = editing.save(
        _stores(), db.session(), current_user(), path, edit, intent="draft", draft_revision=json.draft_revision
    )
    return answer(DraftSaved, {"path": path, "draft_revision": saved.revision}, 201 if saved.created else 200)


@bp.delete("/docs/<path:path>/draft")
@checked("draft")
@operation({204: None}, writes=True)
def discard_draft(path: str) -> tuple[str, int]:
    """Discard the draft (kept in git, out of sight)."""
    drafts.discard_draft(_stores(), db.session(), current_user(), path)
    return "", 204


@bp.post("/docs/<path:path>/draft/publish")
@checked("publish")
@operation({200: Saved, 201: Saved}, writes=True)
def publish_draft(path: str, json: Publish) -> tuple[Response, int]:
    """Publish the draft, merged with newer published changes (or 409 with both versions); with
    KB_REQUIRE_REVIEW only a submitted draft, by another editor."""
    result = drafts.publish(_stores(), db.session(), current_user(), path, json.message)
    return answer(Saved, result, 201 if result.created else 200)


@bp.post("/docs/<path:path>/draft/submit")
@checked("review")
@operation({200: DraftSaved}, writes=True)
def submit_draft(path: str, json: Submit) -> tuple[Response, int]:
    """Submit the draft for review."""
    revision = drafts.submit(_stores(), db.session(), current_user(), path, json.comment)
    return answer(DraftSaved, {"path": path, "draft_revision": revision, "state": "submitted"})


@bp.post("/docs/<path:path>/draft/return")
@checked("review")
@operation({200: DraftSaved}, writes=True)
def return_draft(path: str, json: SendBack) -> tuple[Response, int]:
    """Send a submitted draft back, saying why."""
    revision = drafts.send_back(_stores(), db.session(), current_user(), path, json.comment)
    return answer(DraftSaved, {"path": path, "draft_revision": revision, "state": "returned"})


@bp.get("/drafts")
@checked("draft")
@operation({200: DraftList})
def list_drafts(query: DraftsQuery) -> tuple[Response, int]:
    """Open drafts the caller may see (editors)."""
    return answer(DraftList, {"items": drafts.list_drafts(_stores(), db.session(), current_user(), query.state)})


@bp.post("/docs/<path:path>/archive")
@checked("archive")
@operation({200: StatusChanged}, writes=True)
def archive_doc(path: str, json: Archive) -> tuple[Response, int]:
    """Archive a document with a reason (archivists)."""
    revision = lifecycle.archive(_stores(), db.session(), current_user(), path, json.reason)
    return answer(StatusChanged, {"path": path, "revision": revision, "status": "archived"})


@bp.post("/docs/<path:path>/restore")
@checked("restore")
@operation({200: StatusChanged}, writes=True)
def restore_doc(path: str, json: Restore) -> tuple[Response, int]:
    """Restore an archived document (archivists)."""
    revision = lifecycle.restore(_stores(), db.session(), current_user(), path, json.reason)
    return answer(StatusChanged, {"path": path, "revision": revision, "status": "published"})


@bp.get("/archive")
@checked("view_archived")
@operation({200: ArchivedList})
def archived(query: ArchiveQuery) -> tuple[Response, int]:
    """Archived documents, most recent first (archivists)."""
    zone = _stores().timezone
    found = lifecycle.archived_documents(
        db.session(),
        current_user(),
        prefix=query.prefix,
        tag=query.tag,
        since=parse_moment(query.from_, zone, start=True) if query.from_ else None,
        until=parse_moment(query.to, zone) if query.to else None,
        page=query.page,
        per_page=query.per_page,
    )
    return answer(ArchivedList, found)


@bp.get("/deleted")
@checked("view_archived")
@operation({200: DeletedList})
def deleted(query: DeletedQuery) -> tuple[Response, int]:
    """Deleted documents whose past versions remain (archivists)."""
    found = lifecycle.deleted_documents(
        db.session(), current_user(), prefix=query.prefix, page=query.page, per_page=query.per_page
    )
    return answer(DeletedList, found)


@bp.get("/review-due")
@checked("review_due")
@operation({200: DueList})
def review_due(query: ReviewDueQuery) -> tuple[Response, int]:
    """Documents whose review_by date is past or near (editors)."""
    user = current_user()
    rows = lifecycle.review_due(
        db.session(), user, within_days=query.within, owner=user.username if query.mine == "1" else None
    )
    return answer(DueList, {"items": rows})


def _stores() -> Stores:
    return extensions.stores()
