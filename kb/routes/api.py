"""The JSON API under /api/v1 (see DESIGN.md's table and ``/api/v1/openapi.json``). Each view's
query and body are validated by its models (``kb.schemas``) before it runs."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from kb import db, extensions
from kb.auth import current_user
from kb.routes.guard import PUBLIC, checked
from kb.routes.openapi import description, operation
from kb.routes.serialize import answer
from kb.schemas.documents import (
    DeleteQuery,
    Diff,
    DiffQuery,
    DocumentList,
    DocumentOut,
    DocumentWrite,
    History,
    ListQuery,
    Move,
    NewRevision,
    ReadQuery,
    Revert,
    Saved,
)
from kb.schemas.search import SearchQuery, SearchResult
from kb.services import documents, editing, lifecycle, search

bp = Blueprint("api", __name__)


@bp.get("/docs")
@checked("view")
@operation({200: DocumentList})
def list_docs(query: ListQuery) -> tuple[Response, int]:
    """The documents now, or (``at``: archivists) the knowledge base as it was at a date."""
    if query.at:
        return _list_as_of(query, query.at)
    found = documents.list_documents(
        db.session(),
        current_user(),
        prefix=query.prefix,
        tag=query.tag,
        status=query.status,
        page=query.page,
        per_page=query.per_page,
    )
    return answer(DocumentList, found)


def _list_as_of(query: ListQuery, at: str) -> tuple[Response, int]:
    past = lifecycle.list_as_of(
        _stores(), db.session(), current_user(), at, prefix=query.prefix, page=query.page, per_page=query.per_page
    )
    return answer(DocumentList, past)


@bp.get("/docs/<path:path>")
@checked("view")
@operation({200: DocumentOut}, moves=True)
def get_doc(path: str, query: ReadQuery) -> tuple[Response, int]:
    """Read a document, now, at a revision or at a date."""
    view = documents.get_document(_stores(), db.session(), current_user(), path, revision=query.revision, at=query.at)
    return answer(DocumentOut, view)


@bp.get("/docs/<path:path>/raw")
@checked("view")
@operation({200: None}, moves=True, media="text/markdown")
def get_raw(path: str, query: ReadQuery) -> Response:
    """The stored file (front matter and Markdown), now, at a revision or at a date."""
    data = documents.get_raw(_stores(), db.session(), current_user(), path, revision=query.revision, at=query.at)
    return Response(data, mimetype="text/markdown; charset=utf-8")


@bp.put("/docs/<path:path>")
@checked("edit")
@operation({200: Saved, 201: Saved}, writes=True)
def put_doc(path: str, json: DocumentWrite) -> tuple[Response, int]:
    """Create (201) or update (200) a document; a stale ``base_revision`` is merged, or 409."""
    edit = editing.Edit(**json.model_dump(mode="json", exclude={"base_revision"}))
    saved = editing.save(_stores(), db.session(), current_user(), path, edit, base_revision=json.base_revision)
    return answer(Saved, saved, 201 if saved.created else 200)


@bp.delete("/docs/<path:path>")
@checked("delete")
@operation({204: None}, writes=True)
def delete_doc(path: str, query: DeleteQuery) -> tuple[str, int]:
    """Delete a document (admin); its past versions stay retrievable by archivists."""
    documents.delete(_stores(), db.session(), current_user(), path, query.message)
    return "", 204


@bp.get("/docs/<path:path>/history")
@checked("history")
@operation({200: History}, moves=True)
def doc_history(path: str) -> tuple[Response, int]:
    """Versions, newest first."""
    versions = documents.history(extensions.stores(), db.session(), current_user(), path)
    return answer(History, {"path": path, "versions": versions})


@bp.get("/docs/<path:path>/diff")
@checked("diff")
@operation({200: Diff}, moves=True)
def doc_diff(path: str, query: DiffQuery) -> tuple[Response, int]:
    """A unified diff between two revisions (default: the last change)."""
    comparison = documents.diff(_stores(), db.session(), current_user(), path, query.from_ or None, query.to or None)
    return answer(Diff, {"path": path, "diff": comparison.unified()})


@bp.post("/docs/<path:path>/revert")
@checked("revert")
@operation({200: NewRevision}, writes=True)
def revert_doc(path: str, json: Revert) -> tuple[Response, int]:
    """Make the version at a revision the current one, as a new commit."""
    revision = documents.revert(_stores(), db.session(), current_user(), path, json.revision, json.message)
    return answer(NewRevision, {"path": path, "revision": revision})


@bp.post("/docs/<path:path>/move")
@checked("move")
@operation({200: NewRevision}, writes=True)
def move_doc(path: str, json: Move) -> tuple[Response, int]:
    """Move a document; its history follows it."""
    revision = documents.move(_stores(), db.session(), current_user(), path, json.to)
    return answer(NewRevision, {"path": json.to, "revision": revision})


@bp.get("/search")
@checked("search")
@operation({200: SearchResult})
def search_docs(query: SearchQuery) -> tuple[Response, int]:
    """Full-text search, Chinese and English."""
    result = search.search(
        extensions.index(),
        extensions.stores().audit,
        current_user(),
        query.q,
        tag=query.tag,
        status=query.status,
        path_prefix=query.path,
        limit=query.limit,
        offset=query.offset,
    )
    return answer(SearchResult, result)


@bp.get("/openapi.json")
@checked(PUBLIC)
@operation({200: None}, public=True)
def openapi() -> Response:
    """This description (OpenAPI 3), generated from the models the views validate with."""
    return jsonify(description(current_app.config.get("KB_VERSION", "0.1.0")))


def _stores() -> documents.Stores:
    return extensions.stores()
