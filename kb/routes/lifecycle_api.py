"""The lifecycle API under /api/v1: drafts and review, archive and restore, the archive, deleted
and review-due lists. Each view parses the request and calls ``kb.services.drafts`` or
``kb.services.lifecycle``, which do the access checks with the document."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify

from kb import db, extensions
from kb.auth import current_user
from kb.moments import parse_moment
from kb.render import render
from kb.routes.guard import checked
from kb.routes.openapi import operation
from kb.routes.params import iso
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
from kb.services import drafts, lifecycle
from kb.stores import Stores

bp = Blueprint("lifecycle_api", __name__)


def draft_json(view: drafts.DraftView) -> dict:
    doc = view.doc
    return {
        "path": view.path,
        "title": doc.title,
        "body": doc.body,
        "html": render(doc.body, view.path),
        "tags": doc.tags,
        "access": doc.access,
        "review_by": doc.review_by,
        "state": view.state,
        "comment": view.comment,
        "submitted_by": view.submitted_by,
        "base_revision": view.base_revision,
        "revision": view.revision,
        "updated_at": iso(view.updated_at),
        "updated_by": view.updated_by,
        "authors": view.authors,
        "versions": [
            {"revision": v.revision, "author": v.author, "date": iso(v.date), "message": v.message, "state": v.state}
            for v in view.versions
        ],
    }


@bp.get("/docs/<path:path>/draft")
@checked("draft")
@operation({200: DraftOut})
def get_draft(path: str) -> Response:
    """The open draft with its versions (editors)."""
    return jsonify(draft_json(drafts.get_draft(_stores(), db.session(), current_user(), path)))


@bp.put("/docs/<path:path>/draft")
@checked("draft")
@operation({200: DraftSaved, 201: DraftSaved}, writes=True)
def save_draft(path: str, json: DraftWrite) -> tuple[Response, int]:
    """Save a draft version (201: the draft was started); readers keep seeing the published document."""
    data = json.model_dump(mode="json")
    revision, created = drafts.save_draft(
        _stores(),
        db.session(),
        current_user(),
        path,
        title=data["title"],
        body=data["body"],
        tags=data["tags"],
        access_level=data["access"],
        review_by=data["review_by"],
        message=data["message"],
        draft_revision=data["draft_revision"],
    )
    return jsonify(path=path, draft_revision=revision), 201 if created else 200


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
    return jsonify(path=result.path, revision=result.revision, merged=result.merged), 201 if result.created else 200


@bp.post("/docs/<path:path>/draft/submit")
@checked("review")
@operation({200: DraftSaved}, writes=True)
def submit_draft(path: str, json: Submit) -> Response:
    """Submit the draft for review."""
    revision = drafts.submit(_stores(), db.session(), current_user(), path, json.comment)
    return jsonify(path=path, draft_revision=revision, state="submitted")


@bp.post("/docs/<path:path>/draft/return")
@checked("review")
@operation({200: DraftSaved}, writes=True)
def return_draft(path: str, json: SendBack) -> Response:
    """Send a submitted draft back, saying why."""
    revision = drafts.send_back(_stores(), db.session(), current_user(), path, json.comment)
    return jsonify(path=path, draft_revision=revision, state="returned")


@bp.get("/drafts")
@checked("draft")
@operation({200: DraftList})
def list_drafts(query: DraftsQuery) -> Response:
    """Open drafts the caller may see (editors)."""
    views = drafts.list_drafts(_stores(), db.session(), current_user(), query.state)
    return jsonify(
        items=[
            {
                "path": v.path,
                "title": v.doc.title,
                "access": v.doc.access,
                "state": v.state,
                "comment": v.comment,
                "submitted_by": v.submitted_by,
                "base_revision": v.base_revision,
                "revision": v.revision,
                "updated_at": iso(v.updated_at),
                "updated_by": v.updated_by,
            }
            for v in views
        ]
    )


@bp.post("/docs/<path:path>/archive")
@checked("archive")
@operation({200: StatusChanged}, writes=True)
def archive_doc(path: str, json: Archive) -> Response:
    """Archive a document with a reason (archivists)."""
    revision = lifecycle.archive(_stores(), db.session(), current_user(), path, json.reason)
    return jsonify(path=path, revision=revision, status="archived")


@bp.post("/docs/<path:path>/restore")
@checked("restore")
@operation({200: StatusChanged}, writes=True)
def restore_doc(path: str, json: Restore) -> Response:
    """Restore an archived document (archivists)."""
    revision = lifecycle.restore(_stores(), db.session(), current_user(), path, json.reason)
    return jsonify(path=path, revision=revision, status="published")


@bp.get("/archive")
@checked("view_archived")
@operation({200: ArchivedList})
def archived(query: ArchiveQuery) -> Response:
    """Archived documents, most recent first (archivists)."""
    zone = _stores().timezone
    total, rows = lifecycle.archived_documents(
        db.session(),
        current_user(),
        prefix=query.prefix,
        tag=query.tag,
        since=parse_moment(query.from_, zone, start=True) if query.from_ else None,
        until=parse_moment(query.to, zone) if query.to else None,
        page=query.page,
        per_page=query.per_page,
    )
    return jsonify(
        total=total,
        items=[
            {
                "path": r.path,
                "title": r.title,
                "tags": r.tag_names,
                "access": r.access,
                "archived_at": iso(r.archived_at),
                "archived_by": r.archived_by,
                "reason": r.archive_reason,
                "revision": r.revision,
            }
            for r in rows
        ],
    )


@bp.get("/deleted")
@checked("view_archived")
@operation({200: DeletedList})
def deleted(query: DeletedQuery) -> Response:
    """Deleted documents whose past versions remain (archivists)."""
    total, items = lifecycle.deleted_documents(
        db.session(), current_user(), prefix=query.prefix, page=query.page, per_page=query.per_page
    )
    return jsonify(
        total=total,
        items=[
            {
                "path": d.path,
                "title": d.title,
                "access": d.access,
                "deleted_at": iso(d.deleted_at),
                "deleted_by": d.deleted_by,
                "revision": d.revision,
                "last_revision": d.last_revision,
            }
            for d in items
        ],
    )


@bp.get("/review-due")
@checked("review_due")
@operation({200: DueList})
def review_due(query: ReviewDueQuery) -> Response:
    """Documents whose review_by date is past or near (editors)."""
    user = current_user()
    rows = lifecycle.review_due(
        db.session(), user, within_days=query.within, owner=user.username if query.mine == "1" else None
    )
    today = dt.date.today()
    return jsonify(
        items=[
            {
                "path": r.path,
                "title": r.title,
                "owner": r.owner,
                "access": r.access,
                "review_by": iso(r.review_by),
                "overdue": r.review_by < today,
            }
            for r in rows
        ]
    )


def _stores() -> Stores:
    return extensions.stores()
