"""The lifecycle API under /api/v1: drafts and review, archive and restore, the archive, deleted
and review-due lists. Each view parses the request and calls ``kb.services.drafts`` or
``kb.services.lifecycle``, which do the access checks with the document."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, request

from kb import db, extensions
from kb.auth import current_user
from kb.render import render
from kb.routes.guard import checked
from kb.routes.params import date_arg, int_arg, iso, json_body, known_fields
from kb.services import drafts, lifecycle
from kb.services.documents import Stores

bp = Blueprint("lifecycle_api", __name__)

DRAFT_FIELDS = ("title", "body", "tags", "access", "review_by", "message", "draft_revision")



def draft_json(view: drafts.DraftView) -> dict:
    doc = view.doc
    return {
        "path": view.path, "title": doc.title, "body": doc.body, "html": render(doc.body, view.path),
        "tags": doc.tags, "access": doc.access, "review_by": doc.review_by, "state": view.state,
        "comment": view.comment, "submitted_by": view.submitted_by, "base_revision": view.base_revision,
        "revision": view.revision, "updated_at": iso(view.updated_at), "updated_by": view.updated_by,
        "authors": view.authors,
        "versions": [{"revision": v.revision, "author": v.author, "date": iso(v.date), "message": v.message,
                      "state": v.state} for v in view.versions],
    }


@bp.get("/docs/<path:path>/draft")
@checked("draft")
def get_draft(path: str) -> Response:
    return jsonify(draft_json(drafts.get_draft(_stores(), db.session(), current_user(), path)))


@bp.put("/docs/<path:path>/draft")
@checked("draft")
def save_draft(path: str) -> tuple[Response, int]:
    data = known_fields(json_body(), DRAFT_FIELDS)
    revision, created = drafts.save_draft(
        _stores(), db.session(), current_user(), path, title=data.get("title"), body=data.get("body"),
        tags=data.get("tags"), access_level=data.get("access"), review_by=data.get("review_by"),
        message=data.get("message"), draft_revision=data.get("draft_revision"))
    return jsonify(path=path, draft_revision=revision), 201 if created else 200


@bp.delete("/docs/<path:path>/draft")
@checked("draft")
def discard_draft(path: str) -> tuple[str, int]:
    drafts.discard_draft(_stores(), db.session(), current_user(), path)
    return "", 204


@bp.post("/docs/<path:path>/draft/publish")
@checked("publish")
def publish_draft(path: str) -> tuple[Response, int]:
    data = known_fields(_optional_body(), ("message",))
    result = drafts.publish(_stores(), db.session(), current_user(), path, data.get("message"))
    return jsonify(path=result.path, revision=result.revision, merged=result.merged), 201 if result.created else 200


@bp.post("/docs/<path:path>/draft/submit")
@checked("review")
def submit_draft(path: str) -> Response:
    data = known_fields(_optional_body(), ("comment",))
    revision = drafts.submit(_stores(), db.session(), current_user(), path, data.get("comment"))
    return jsonify(path=path, draft_revision=revision, state="submitted")


@bp.post("/docs/<path:path>/draft/return")
@checked("review")
def return_draft(path: str) -> Response:
    data = known_fields(json_body(), ("comment",))
    revision = drafts.send_back(_stores(), db.session(), current_user(), path, data.get("comment"))
    return jsonify(path=path, draft_revision=revision, state="returned")


@bp.get("/drafts")
@checked("draft")
def list_drafts() -> Response:
    views = drafts.list_drafts(_stores(), db.session(), current_user(), request.args.get("state") or None)
    return jsonify(items=[{"path": v.path, "title": v.doc.title, "access": v.doc.access, "state": v.state,
                           "comment": v.comment, "submitted_by": v.submitted_by, "base_revision": v.base_revision,
                           "revision": v.revision, "updated_at": iso(v.updated_at), "updated_by": v.updated_by}
                          for v in views])


@bp.post("/docs/<path:path>/archive")
@checked("archive")
def archive_doc(path: str) -> Response:
    data = known_fields(json_body(), ("reason",))
    revision = lifecycle.archive(_stores(), db.session(), current_user(), path, data.get("reason"))
    return jsonify(path=path, revision=revision, status="archived")


@bp.post("/docs/<path:path>/restore")
@checked("restore")
def restore_doc(path: str) -> Response:
    data = known_fields(_optional_body(), ("reason",))
    revision = lifecycle.restore(_stores(), db.session(), current_user(), path, data.get("reason"))
    return jsonify(path=path, revision=revision, status="published")


@bp.get("/archive")
@checked("view_archived")
def archived() -> Response:
    total, rows = lifecycle.archived_documents(
        db.session(), current_user(), prefix=request.args.get("prefix"), tag=request.args.get("tag"),
        since=date_arg("from", start=True), until=date_arg("to"), page=int_arg("page", 1, 1),
        per_page=int_arg("per_page", 50, 1, 200))
    return jsonify(total=total, items=[
        {"path": r.path, "title": r.title, "tags": r.tag_names, "access": r.access, "archived_at": iso(r.archived_at),
         "archived_by": r.archived_by, "reason": r.archive_reason, "revision": r.revision} for r in rows])


@bp.get("/deleted")
@checked("view_archived")
def deleted() -> Response:
    total, items = lifecycle.deleted_documents(db.session(), current_user(), prefix=request.args.get("prefix"),
                                               page=int_arg("page", 1, 1), per_page=int_arg("per_page", 50, 1, 200))
    return jsonify(total=total, items=[
        {"path": d.path, "title": d.title, "access": d.access, "deleted_at": iso(d.deleted_at),
         "deleted_by": d.deleted_by, "revision": d.revision, "last_revision": d.last_revision} for d in items])


@bp.get("/review-due")
@checked("review_due")
def review_due() -> Response:
    user = current_user()
    rows = lifecycle.review_due(db.session(), user, within_days=int_arg("within", 30, 0, 3650),
                                owner=user.username if request.args.get("mine") == "1" else None)
    today = dt.date.today()
    return jsonify(items=[{"path": r.path, "title": r.title, "owner": r.owner, "access": r.access,
                           "review_by": iso(r.review_by), "overdue": r.review_by < today} for r in rows])


def _optional_body() -> dict:
    """Actions whose fields are all optional accept an empty body as well as a JSON object."""
    return json_body() if request.get_data() else {}


def _stores() -> Stores:
    return extensions.stores()
