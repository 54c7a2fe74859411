"""The JSON API under /api/v1 (see DESIGN.md's table and ``/api/v1/openapi.json``)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from kb import db, extensions
from kb.auth import current_user
from kb.routes.guard import PUBLIC, checked
from kb.routes.openapi import spec
from kb.routes.params import int_arg, iso, json_body, known_fields
from kb.services import documents, lifecycle, search
from kb.services.documents import DocumentView

bp = Blueprint("api", __name__)



def _document_json(view: DocumentView) -> dict:
    return {
        "path": view.path, "title": view.title, "body": view.body, "html": view.html, "tags": view.tags,
        "access": view.access, "status": view.status, "owner": view.owner, "revision": view.revision,
        "updated_at": iso(view.updated_at), "updated_by": view.updated_by, "review_by": view.review_by,
        "current": view.current, "message": view.message, "archived_at": view.archived_at,
        "archived_by": view.archived_by, "archive_reason": view.archive_reason,
    }


@bp.get("/docs")
@checked("view")
def list_docs() -> Response:
    """The documents now, or (``at``: archivists) the knowledge base as it was at a date."""
    if request.args.get("at"):
        return _list_as_of(request.args["at"])
    total, rows = documents.list_documents(
        db.session(), current_user(), prefix=request.args.get("prefix"), tag=request.args.get("tag"),
        status=request.args.get("status"), page=int_arg("page", 1, 1), per_page=int_arg("per_page", 50, 1, 200),
    )
    items = [{"path": r.path, "title": r.title, "tags": r.tag_names, "access": r.access, "status": r.status,
              "updated_at": iso(r.updated_at), "updated_by": r.updated_by, "revision": r.revision}
             for r in rows]
    return jsonify(total=total, items=items)


def _list_as_of(at: str) -> Response:
    past = lifecycle.list_as_of(_stores(), db.session(), current_user(), at, prefix=request.args.get("prefix"),
                                page=int_arg("page", 1, 1), per_page=int_arg("per_page", 50, 1, 200))
    return jsonify(total=past.total, at=iso(past.when), revision=past.revision.id if past.revision else None,
                   items=[{"path": d.path, "title": d.title, "access": d.access, "status": d.status,
                           "current_path": d.current_path} for d in past.items])


@bp.get("/docs/<path:path>")
@checked("view")
def get_doc(path: str) -> Response:
    view = documents.get_document(_stores(), db.session(), current_user(), path,
                                  revision=request.args.get("revision"), at=request.args.get("at"))
    return jsonify(_document_json(view))


@bp.get("/docs/<path:path>/raw")
@checked("view")
def get_raw(path: str) -> Response:
    """The stored file (front matter and Markdown), now, at a revision or at a date."""
    data = documents.get_raw(_stores(), db.session(), current_user(), path,
                             revision=request.args.get("revision"), at=request.args.get("at"))
    return Response(data, mimetype="text/markdown; charset=utf-8")


# what a PUT may carry: status and owner change through the lifecycle, never through a save
PUT_FIELDS = ("title", "body", "tags", "access", "review_by", "message", "base_revision")


@bp.put("/docs/<path:path>")
@checked("edit")
def put_doc(path: str) -> tuple[Response, int]:
    data = known_fields(json_body(), PUT_FIELDS)
    result = documents.save_document(
        _stores(), db.session(), current_user(), path, title=data.get("title"), body=data.get("body"),
        tags=data.get("tags"), access_level=data.get("access"), review_by=data.get("review_by"),
        message=data.get("message"), base_revision=data.get("base_revision"),
    )
    return jsonify(path=result.path, revision=result.revision, merged=result.merged), 201 if result.created else 200


@bp.delete("/docs/<path:path>")
@checked("delete")
def delete_doc(path: str) -> tuple[str, int]:
    documents.delete(_stores(), db.session(), current_user(), path, request.args.get("message"))
    return "", 204


@bp.get("/docs/<path:path>/history")
@checked("history")
def doc_history(path: str) -> Response:
    versions = documents.history(extensions.stores(), db.session(), current_user(), path)
    return jsonify(path=path, versions=[
        {"revision": v.revision, "author": v.author_name, "email": v.author_email, "date": iso(v.date),
         "message": v.message, "kind": v.kind, "path": v.file_path} for v in versions])


@bp.get("/docs/<path:path>/diff")
@checked("diff")
def doc_diff(path: str) -> Response:
    comparison = documents.diff(_stores(), db.session(), current_user(), path,
                                request.args.get("from") or None, request.args.get("to") or None)
    return jsonify(path=path, diff=comparison.unified())


@bp.post("/docs/<path:path>/revert")
@checked("revert")
def revert_doc(path: str) -> Response:
    data = json_body()
    revision = documents.revert(_stores(), db.session(), current_user(), path, data.get("revision"),
                                data.get("message"))
    return jsonify(path=path, revision=revision)


@bp.post("/docs/<path:path>/move")
@checked("move")
def move_doc(path: str) -> Response:
    data = json_body()
    revision = documents.move(_stores(), db.session(), current_user(), path, data.get("to"))
    return jsonify(path=data.get("to"), revision=revision)


@bp.get("/search")
@checked("search")
def search_docs() -> Response:
    result = search.search(
        extensions.index(), extensions.stores().audit, current_user(), request.args.get("q", ""),
        tag=request.args.get("tag"),
        status=request.args.get("status"), path_prefix=request.args.get("path"),
        limit=int_arg("limit", 10, 1, 100), offset=int_arg("offset", 0, 0, 100_000),
    )
    return jsonify(total=result.total, suggestion=result.suggestion, hits=[
        {"path": h.path, "title": h.title, "snippet": h.snippet, "score": round(h.score, 4), "tags": h.tags,
         "access": h.access, "status": h.status, "updated_at": iso(h.updated_at)} for h in result.hits])


@bp.get("/openapi.json")
@checked(PUBLIC)
def openapi() -> Response:
    return jsonify(spec(current_app.config.get("KB_VERSION", "0.1.0")))


def _stores() -> documents.Stores:
    return extensions.stores()
