"""The OpenAPI 3 description of /api/v1, built from a compact table so it stays short to read."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/responses/Error"}
_PATH_PARAM = {"name": "path", "in": "path", "required": True, "schema": {"type": "string"},
               "description": "document path, e.g. 02-process/服务请求受理流程"}


def _in_path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, kind: str = "string", description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": description}


def _body(properties: dict[str, str], required: list[str]) -> dict[str, Any]:
    """A JSON body; each property is "string", "integer", "boolean" or "array" (of strings)."""
    schema = {"type": "object", **({"required": required} if required else {}),
              "properties": {name: ({"type": "array", "items": {"type": "string"}} if kind == "array"
                                    else {"type": kind}) for name, kind in properties.items()}}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: str, params: list | None = None, body: dict | None = None,
        errors: tuple[str, ...] = ("400", "401", "404"), media: str | None = None) -> dict[str, Any]:
    """One operation; ``media`` names the success response's type when it is not JSON."""
    code, _, description = ok.partition(" ")
    success: dict[str, Any] = {"description": description or "OK"}
    if media:
        success["content"] = {media: {"schema": {"type": "string"}}}
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {code: success, **{e: _ERROR for e in errors}},
    }
    if body:
        operation["requestBody"] = body
    return operation


_USER_FIELDS = {"role": "string", "clearance": "string", "display_name": "string", "email": "string"}
_AUDIT_FILTERS = [_query("user", description="actor's username"),
                  _query("path", description="a document path, or a folder: everything under it"),
                  _query("action", description="e.g. login, create, read, user_update"),
                  _query("outcome", description="ok|failed|denied|throttled"),
                  _query("since", description="ISO 8601 date or date-time"),
                  _query("until", description="ISO 8601 date (the whole day) or date-time")]
_ADMIN_ERRORS = ("400", "401", "403", "404")

_DOC_FIELDS = {"title": "string", "body": "string", "tags": "array", "access": "string", "review_by": "string",
               "message": "string", "base_revision": "string"}
_DRAFT_FIELDS = {**{k: v for k, v in _DOC_FIELDS.items() if k != "base_revision"}, "draft_revision": "string"}
_WRITE_ERRORS = ("400", "401", "403", "404", "409")


def _lifecycle(doc: list) -> dict[str, Any]:
    """Drafts, review, archive and restore, and the lists that go with them."""
    comment = _body({"comment": "string"}, [])
    return {
        "/api/v1/docs/{path}/draft": {
            "get": _op("The open draft with its versions (editors)", "200 draft", doc, errors=_WRITE_ERRORS),
            "put": _op("Save a draft version; readers keep seeing the published document",
                       "200 saved; 201 draft started {draft_revision}", doc, _body(_DRAFT_FIELDS, ["title", "body"]),
                       (*_WRITE_ERRORS, "413")),
            "delete": _op("Discard the draft (kept in git, out of sight)", "204 discarded", doc,
                          errors=_WRITE_ERRORS),
        },
        "/api/v1/docs/{path}/draft/publish": {"post": _op(
            "Publish the draft (merged with newer published changes, or 409 with both versions); "
            "with KB_REQUIRE_REVIEW only a submitted draft, by another editor", "200 updated; 201 created {revision}",
            doc, _body({"message": "string"}, []), _WRITE_ERRORS)},
        "/api/v1/docs/{path}/draft/submit": {"post": _op("Submit the draft for review", "200 {state}", doc, comment,
                                                         _WRITE_ERRORS)},
        "/api/v1/docs/{path}/draft/return": {"post": _op("Send a submitted draft back, saying why", "200 {state}",
                                                         doc, _body({"comment": "string"}, ["comment"]),
                                                         _WRITE_ERRORS)},
        "/api/v1/drafts": {"get": _op("Open drafts the caller may see (editors)", "200 {items}", [
            _query("state", description="draft|submitted|returned")], errors=("401", "403"))},
        "/api/v1/docs/{path}/archive": {"post": _op("Archive a document with a reason (archivists)",
                                                    "200 {revision}", doc, _body({"reason": "string"}, ["reason"]),
                                                    _WRITE_ERRORS)},
        "/api/v1/docs/{path}/restore": {"post": _op("Restore an archived document (archivists)", "200 {revision}",
                                                    doc, _body({"reason": "string"}, []), _WRITE_ERRORS)},
        "/api/v1/archive": {"get": _op("Archived documents, most recent first (archivists)", "200 {total, items}", [
            _query("prefix"), _query("tag"), _query("from", description="archived on or after (ISO 8601 date)"),
            _query("to", description="archived on or before"), _query("page", "integer"),
            _query("per_page", "integer")], errors=("400", "401", "403"))},
        "/api/v1/deleted": {"get": _op("Deleted documents whose past versions remain (archivists)",
                                       "200 {total, items}", [_query("prefix"), _query("page", "integer"),
                                                              _query("per_page", "integer")],
                                       errors=("400", "401", "403"))},
        "/api/v1/review-due": {"get": _op("Documents whose review_by date is past or near (editors)", "200 {items}", [
            _query("within", "integer", "days ahead (default 30)"), _query("mine", description="1: own documents")],
            errors=("400", "401", "403"))},
    }


def spec(version: str) -> dict[str, Any]:
    doc = [_PATH_PARAM]
    return {
        "openapi": "3.0.3",
        "info": {"title": "kb API", "version": version,
                 "description": "Knowledge base for IT service organisations. Auth: Bearer token from "
                                "POST /api/v1/tokens, or the web session cookie."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}}}}}}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/tokens": {
                "post": {**_op("Create an API token (shown once)", "201 {token, id, name, expires_at, ...}",
                               body=_body({"username": "string", "password": "string", "name": "string",
                                           "expires_in_days": "integer"}, ["username", "password"]),
                               errors=("400", "401", "429")), "security": []},
                "get": _op("The caller's tokens (never the tokens themselves)", "200 {tokens}", [
                    _query("user", description="another user's tokens (admin)")], errors=_ADMIN_ERRORS),
            },
            "/api/v1/tokens/{id}": {"delete": _op("Revoke a token (own; admin: anyone's)", "204 revoked",
                                                  [_in_path("id", "integer")], errors=("401", "404"))},
            "/api/v1/me": {"get": _op("The caller: role, clearance, visible levels, allowed actions",
                                      "200 {username, role, clearance, visible_levels, actions}",
                                      errors=("401",))},
            "/api/v1/users": {
                "post": _op("Create a user (admin)", "201 created", body=_body(
                    {"username": "string", "password": "string", **_USER_FIELDS}, ["username", "password"]),
                    errors=("400", "401", "403", "409")),
                "get": _op("List users (admin)", "200 {users}", errors=("401", "403")),
            },
            "/api/v1/users/{username}": {"patch": _op(
                "Change a user (admin); disabling or a password reset ends sessions and revokes tokens",
                "200 user", [_in_path("username")],
                _body({**_USER_FIELDS, "active": "boolean", "password": "string"}, []), _ADMIN_ERRORS)},
            "/api/v1/health": {"get": _op(
                "Health (admin): git HEAD, whether catalog and index are in step with it, counts of documents "
                "(up to the caller's clearance), open drafts, users and audit entries",
                "200 {ok, documents, git, catalog, index, drafts, users, audit, check?}",
                [_query("check", "integer", "1: also compare every document in git with the tables and the index "
                                            "(slow on a large store) -> check {ok, problems}")],
                errors=("401", "403"))},
            "/api/v1/docs": {"get": _op("List documents; with at= (archivists) as they were at a date",
                                        "200 {total, items}", [
                _query("prefix"), _query("tag"), _query("status", description="published|archived|all"),
                _query("at", description="ISO 8601 date (the end of that day) or date-time"),
                _query("page", "integer"), _query("per_page", "integer")], errors=("400", "401"))},
            "/api/v1/docs/{path}": {
                "get": _op("Read a document, now, at a revision or at a date", "200 document", [
                    *doc, _query("revision", description="commit id (4-40 hex)"),
                    _query("at", description="ISO 8601 date-time")]),
                "put": _op("Create or update a document", "200 updated; 201 created", doc,
                           _body(_DOC_FIELDS, ["title", "body"]), ("400", "401", "403", "404", "409", "413")),
                "delete": _op("Delete a document (admin); past versions stay", "204 deleted", doc,
                              errors=("400", "401", "403", "404")),
            },
            "/api/v1/docs/{path}/raw": {"get": _op("The stored file (front matter and Markdown)", "200 file", [
                *doc, _query("revision", description="commit id (4-40 hex)"),
                _query("at", description="ISO 8601 date-time")], media="text/markdown")},
            "/api/v1/docs/{path}/history": {"get": _op("Versions, newest first", "200 {versions}", doc)},
            "/api/v1/docs/{path}/diff": {"get": _op("Unified diff between two revisions", "200 {diff}", [
                *doc, _query("from"), _query("to")])},
            "/api/v1/docs/{path}/revert": {"post": _op("Restore the version at a revision", "200 {revision}", doc,
                                                       _body({"revision": "string", "message": "string"},
                                                             ["revision"]))},
            "/api/v1/docs/{path}/move": {"post": _op("Move a document (history follows)", "200 {revision}", doc,
                                                     _body({"to": "string"}, ["to"]),
                                                     ("400", "401", "403", "404", "409"))},
            "/api/v1/search": {"get": _op("Full-text search (Chinese and English)", "200 {total, hits}", [
                _query("q", description='words, "phrases", -exclude, prefix*, tag:, status:, path:'),
                _query("limit", "integer"), _query("offset", "integer"), _query("tag"), _query("status"),
                _query("path", description="path prefix")], errors=("400", "401"))},
            "/api/v1/audit": {"get": _op("Audit entries, newest first (archivist, up to clearance)",
                                         "200 {total, page, per_page, entries}",
                                         [*_AUDIT_FILTERS, _query("page", "integer"), _query("per_page", "integer")],
                                         errors=("400", "401", "403"))},
            "/api/v1/audit/export": {"get": _op("Audit entries as CSV, oldest first (audited)", "200 CSV",
                                                _AUDIT_FILTERS, errors=("400", "401", "403"), media="text/csv")},
            "/api/v1/audit/verify": {"get": _op("Check the audit trail's hash chain", "200 {ok, entries, problems}",
                                                errors=("401", "403"))},
            **_lifecycle(doc),
            "/api/v1/export": {"get": _op(
                "Export documents as a zip: current files, every version (history=all), manifest.json with "
                "author, date, message and SHA-256 of each file, and the audit entries about them (archivists, "
                "up to clearance; audited)", "200 zip", [
                    _query("path", description="one document"),
                    _query("prefix", description="a folder: every document under it"),
                    _query("history", description="all (default): every version | latest: current files only")],
                errors=("400", "401", "403", "404"), media="application/zip")},
            "/api/v1/export/bundle": {"get": _op(
                "The content repository (branch main) as a git bundle: every document and version; "
                "archivists with secret clearance only (audited)", "200 git bundle",
                errors=("401", "403", "404"), media="application/x-git-bundle")},
            "/api/v1/openapi.json": {"get": {**_op("This description", "200 OpenAPI 3", errors=()),
                                             "security": []}},
        },
    }
