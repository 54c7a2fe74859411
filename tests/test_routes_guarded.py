"""A walk over every registered route, as every kind of caller.

``ROUTES`` below says, for each endpoint, the least role DESIGN.md gives it and how to call it.
The walk calls each route as each role × clearance (and anonymously) and checks the answer:
refused below the role, 404 for a document above the clearance, through otherwise. A route
added without an entry here, or without the ``@checked`` guard, fails the suite.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import PASSWORD, ApiClient, open_app, token_for
from flask import Flask
from flask.testing import FlaskClient

from kb.identity import tokens, users
from kb.routes.guard import PUBLIC

ROLES = ("reader", "editor", "archivist", "admin")
LEVELS = ("public", "internal", "confidential", "secret")
RANK = {"anonymous": 0, "reader": 1, "editor": 2, "archivist": 3, "admin": 4}
OPEN = "open"  # anyone, logged in or not


@dataclass
class Call:
    """How the walk calls one route: ``api`` sends the caller's token, else the session cookie.
    ``doc`` routes are called once on a public and once on a secret document."""

    least: str
    method: str
    url: str
    doc: bool = False
    api: bool = False
    body: Callable[[Walker, str], dict] | None = None
    form: bool = False
    clearance: str = "public"  # the least clearance the route needs, besides the role


def _doc_body(_walker: Walker, _path: str) -> dict:
    return {"title": "走查文档", "body": "走查正文"}


def _revert_body(walker: Walker, path: str) -> dict:
    return {"revision": walker.first[path]}


def _move_body(_walker: Walker, path: str) -> dict:
    return {"to": f"{path}-{uuid.uuid4().hex[:8]}"}


def _new_user(_walker: Walker, _path: str) -> dict:
    return {"username": f"u{uuid.uuid4().hex[:10]}", "password": PASSWORD, "role": "reader", "clearance": "public"}


def _form_doc(walker: Walker, path: str) -> dict:
    return {"title": "走查文档", "body": "走查正文", "base_revision": ""}


def _new_doc_form(_walker: Walker, _path: str) -> dict:
    return {"path": f"走查/新建-{uuid.uuid4().hex[:8]}", "title": "新建", "body": "正文"}


ROUTES: dict[str, Call] = {
    "static": Call(OPEN, "GET", "/static/kb.css"),
    "auth.login": Call(OPEN, "GET", "/login"),
    "api.openapi": Call(OPEN, "GET", "/api/v1/openapi.json"),
    "accounts_api.create_token": Call(
        OPEN, "POST", "/api/v1/tokens", api=True, body=lambda w, p: {"username": "walk.target", "password": PASSWORD}
    ),
    "accounts_api.list_tokens": Call("reader", "GET", "/api/v1/tokens", api=True),
    "accounts_api.revoke_token": Call("reader", "DELETE", "/api/v1/tokens/{spare_token}", api=True),
    "accounts_api.me": Call("reader", "GET", "/api/v1/me", api=True),
    "accounts_api.create_user": Call("admin", "POST", "/api/v1/users", api=True, body=_new_user),
    "accounts_api.list_users": Call("admin", "GET", "/api/v1/users", api=True),
    "accounts_api.update_user": Call(
        "admin", "PATCH", "/api/v1/users/walk.target", api=True, body=lambda w, p: {"display_name": "走查对象"}
    ),
    "api.list_docs": Call("reader", "GET", "/api/v1/docs", api=True),
    "api.get_doc": Call("reader", "GET", "/api/v1/docs/{path}", doc=True, api=True),
    "api.get_raw": Call("reader", "GET", "/api/v1/docs/{path}/raw", doc=True, api=True),
    "api.put_doc": Call("editor", "PUT", "/api/v1/docs/{path}", doc=True, api=True, body=_doc_body),
    "api.delete_doc": Call("admin", "DELETE", "/api/v1/docs/{fresh}", doc=True, api=True),
    "api.doc_history": Call("editor", "GET", "/api/v1/docs/{path}/history", doc=True, api=True),
    "api.doc_diff": Call("editor", "GET", "/api/v1/docs/{path}/diff", doc=True, api=True),
    "api.revert_doc": Call("editor", "POST", "/api/v1/docs/{path}/revert", doc=True, api=True, body=_revert_body),
    "api.move_doc": Call("editor", "POST", "/api/v1/docs/{fresh}/move", doc=True, api=True, body=_move_body),
    "api.search_docs": Call("reader", "GET", "/api/v1/search?q=走查", api=True),
    "lifecycle_api.get_draft": Call("editor", "GET", "/api/v1/docs/{path}/draft", doc=True, api=True),
    "lifecycle_api.save_draft": Call("editor", "PUT", "/api/v1/docs/{path}/draft", doc=True, api=True, body=_doc_body),
    "lifecycle_api.discard_draft": Call("editor", "DELETE", "/api/v1/docs/{drafted}/draft", doc=True, api=True),
    "lifecycle_api.publish_draft": Call("editor", "POST", "/api/v1/docs/{drafted}/draft/publish", doc=True, api=True),
    "lifecycle_api.submit_draft": Call("editor", "POST", "/api/v1/docs/{drafted}/draft/submit", doc=True, api=True),
    # a draft that was never submitted cannot be sent back: 409, past the access check
    "lifecycle_api.return_draft": Call(
        "editor", "POST", "/api/v1/docs/{path}/draft/return", doc=True, api=True, body=lambda w, p: {"comment": "走查"}
    ),
    "lifecycle_api.list_drafts": Call("editor", "GET", "/api/v1/drafts", api=True),
    "lifecycle_api.archive_doc": Call(
        "archivist", "POST", "/api/v1/docs/{fresh}/archive", doc=True, api=True, body=lambda w, p: {"reason": "走查"}
    ),
    # the document is not archived: 409, past the access check
    "lifecycle_api.restore_doc": Call("archivist", "POST", "/api/v1/docs/{path}/restore", doc=True, api=True),
    "lifecycle_api.archived": Call("archivist", "GET", "/api/v1/archive", api=True),
    "lifecycle_api.deleted": Call("archivist", "GET", "/api/v1/deleted", api=True),
    "lifecycle_api.review_due": Call("editor", "GET", "/api/v1/review-due", api=True),
    "audit.api_entries": Call("archivist", "GET", "/api/v1/audit", api=True),
    "audit.api_export": Call("archivist", "GET", "/api/v1/audit/export", api=True),
    "audit.api_verify": Call("archivist", "GET", "/api/v1/audit/verify", api=True),
    "exports.export_zip": Call("archivist", "GET", "/api/v1/export?path={path}&history=latest", doc=True, api=True),
    # a bundle holds every level at once: refused below the highest clearance
    "exports.export_bundle": Call("archivist", "GET", "/api/v1/export/bundle", api=True, clearance="secret"),
    "audit.page": Call("archivist", "GET", "/audit"),
    "audit.export": Call("archivist", "GET", "/audit/export"),
    "web.home": Call("reader", "GET", "/"),
    "web.browse": Call("reader", "GET", "/browse"),
    "web.view_doc": Call("reader", "GET", "/docs/{path}", doc=True),
    "web.edit_doc": Call("editor", "GET", "/docs/{path}/edit", doc=True),
    "web.save_doc": Call("editor", "POST", "/docs/{path}/edit", doc=True, form=True, body=_form_doc),
    "web.new_doc": Call("editor", "GET", "/new"),
    "web.create_doc": Call("editor", "POST", "/new", form=True, body=_new_doc_form),
    "web.preview": Call("editor", "POST", "/preview", form=True, body=lambda w, p: {"body": "**预览**"}),
    "web.doc_history": Call("editor", "GET", "/docs/{path}/history", doc=True),
    "web.doc_diff": Call("editor", "GET", "/docs/{path}/diff", doc=True),
    "web.revert_doc": Call("editor", "POST", "/docs/{path}/revert", doc=True, form=True, body=_revert_body),
    "web.search_page": Call("reader", "GET", "/search?q=走查"),
    "lifecycle.draft_page": Call("editor", "GET", "/docs/{path}/draft", doc=True),
    "lifecycle.submit_draft": Call("editor", "POST", "/docs/{drafted}/draft/submit", doc=True, form=True),
    "lifecycle.return_draft": Call(
        "editor", "POST", "/docs/{path}/draft/return", doc=True, form=True, body=lambda w, p: {"comment": "走查"}
    ),
    "lifecycle.publish_draft": Call("editor", "POST", "/docs/{drafted}/draft/publish", doc=True, form=True),
    "lifecycle.discard_draft": Call("editor", "POST", "/docs/{drafted}/draft/discard", doc=True, form=True),
    "lifecycle.drafts_page": Call("editor", "GET", "/drafts"),
    "lifecycle.review_due_page": Call("editor", "GET", "/review-due"),
    "lifecycle.archive_doc": Call(
        "archivist", "POST", "/docs/{fresh}/archive", doc=True, form=True, body=lambda w, p: {"reason": "走查"}
    ),
    "lifecycle.restore_doc": Call("archivist", "POST", "/docs/{path}/restore", doc=True, form=True),
    "lifecycle.archive_page": Call("archivist", "GET", "/archive"),
    "lifecycle.asof_pick": Call("archivist", "GET", "/asof?date=2030-01-01"),
    "lifecycle.asof_home": Call("archivist", "GET", "/asof/2030-01-01/"),
    "lifecycle.asof_doc": Call("archivist", "GET", "/asof/2030-01-01/docs/{path}", doc=True),
    "admin.account": Call("reader", "GET", "/account"),
    "admin.change_password": Call(
        "reader",
        "POST",
        "/account/password",
        form=True,
        body=lambda w, p: {"current_password": PASSWORD, "new_password": "a" * 9, "confirm_password": "b" * 9},
    ),
    "admin.create_token": Call("reader", "POST", "/account/tokens", form=True, body=lambda w, p: {"name": "走查"}),
    "admin.revoke_token": Call("reader", "POST", "/account/tokens/{spare_token}/revoke", form=True),
    "admin.user_list": Call("admin", "GET", "/admin/users"),
    "admin.add_user": Call("admin", "POST", "/admin/users", form=True, body=_new_user),
    "admin.edit_user": Call("admin", "GET", "/admin/users/walk.target"),
    "admin.update_user": Call(
        "admin", "POST", "/admin/users/walk.target", form=True, body=lambda w, p: {"display_name": "走查对象"}
    ),
    "admin.set_language": Call("reader", "POST", "/account/language", form=True, body=lambda w, p: {"language": "zh"}),
    "admin.health": Call("admin", "GET", "/admin/health"),
    "accounts_api.health": Call("admin", "GET", "/api/v1/health", api=True),
    "synonyms_api.get_synonyms": Call("editor", "GET", "/api/v1/synonyms", api=True),
    "synonyms_api.put_synonyms": Call(
        "admin", "PUT", "/api/v1/synonyms", api=True, body=lambda w, p: {"text": "走查 = 巡检"}
    ),
    "admin.synonyms_page": Call("admin", "GET", "/admin/synonyms"),
    "admin.save_synonyms": Call(
        "admin", "POST", "/admin/synonyms", form=True, body=lambda w, p: {"text": "走查 = 巡检"}
    ),
    # last: these two change who the web client is
    "auth.logout": Call(OPEN, "POST", "/logout", form=True),
    "auth.login#POST": Call(
        OPEN, "POST", "/login", form=True, body=lambda w, p: {"username": "walk.target", "password": PASSWORD}
    ),
}


def endpoint_of(key: str) -> str:
    """``ROUTES`` keys are endpoints, with ``#METHOD`` for an endpoint's second method."""
    return key.split("#")[0]


CALLERS = [*itertools.product(ROLES, LEVELS), ("anonymous", "public")]


class Walker:
    """The app, a public and a secret document, and a logged-in client per caller."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stores = app.extensions["kb.stores"]
        self.admin = ApiClient(app.test_client(), token_for(app, "w.admin.secret"))
        self.first: dict[str, str] = {}
        for level in ("public", "secret"):
            path = f"走查/{level}"
            self.first[path] = self.save(path, level)
            self.draft(path)

    def draft(self, path: str) -> None:
        response = self.admin.put(f"docs/{path}/draft", json={"title": "走查", "body": "走查草稿"})
        assert response.status_code in (200, 201), response.get_json()

    def save(self, path: str, level: str) -> str:
        response = self.admin.put(f"docs/{path}", json={"title": "走查", "body": "走查正文", "access": level})
        assert response.status_code in (200, 201), response.get_json()
        return response.get_json()["revision"]

    def clients(self, role: str, clearance: str) -> tuple[FlaskClient, FlaskClient, dict[str, str]]:
        """(web client with a session, API client, headers with the token) for a caller."""
        web, api = self.app.test_client(), self.app.test_client()
        if role == "anonymous":
            return web, api, {}
        name = f"w.{role}.{clearance}"
        assert web.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302
        return web, api, {"Authorization": f"Bearer {token_for(self.app, name)}"}

    def spare_token(self, role: str, clearance: str) -> int:
        """A token of the caller's own to revoke (its id; anonymous: some other user's)."""
        name = "w.admin.secret" if role == "anonymous" else f"w.{role}.{clearance}"
        with self.stores.sessions() as session:
            user = users.get_user(session, name)
        return tokens.issue(self.stores.audit, users.principal(user), user)[1].id


@pytest.fixture(scope="module")
def walker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path_factory.mktemp("walk") / "instance")})
    with app.extensions["kb.stores"].sessions() as session:
        for role, clearance in itertools.product(ROLES, LEVELS):
            users.create_user(session, f"w.{role}.{clearance}", PASSWORD, role, clearance)
        users.create_user(session, "walk.target", PASSWORD, "reader", "public")
        session.commit()
    yield Walker(app)
    app.extensions["kb.stores"].close()


def test_every_route_declares_the_action_it_guards(walker):
    unguarded = [
        rule.rule
        for rule in walker.app.url_map.iter_rules()
        if rule.endpoint != "static" and getattr(walker.app.view_functions[rule.endpoint], "kb_access", None) is None
    ]
    assert unguarded == [], f"routes without @checked(...): {unguarded}"
    public = {
        rule.endpoint
        for rule in walker.app.url_map.iter_rules()
        if getattr(walker.app.view_functions[rule.endpoint], "kb_access", None) == PUBLIC
    }
    assert public == {endpoint_of(key) for key, call in ROUTES.items() if call.least == OPEN} - {"static"}


def test_the_walk_covers_every_registered_route(walker):
    registered = {
        (rule.endpoint, method)
        for rule in walker.app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(endpoint_of(key), call.method) for key, call in ROUTES.items()}
    assert registered == described, ("describe new routes in ROUTES", registered ^ described)


def _expected(call: Call, role: str, clearance: str, level: str) -> str:
    if call.least != OPEN and (RANK[role] < RANK[call.least] or LEVELS.index(clearance) < LEVELS.index(call.clearance)):
        return "refused"
    if call.doc and level == "secret" and clearance != "secret":
        return "missing"
    return "through"


def _outcome(response: Any) -> str:
    """refused (401, 403, or a page sending the browser to log in first), missing, or through."""
    code = response.status_code
    response.close()
    assert code < 500, (code, response.get_data(as_text=True)[:300])
    if code in (401, 403) or (code == 302 and "/login?next=" in response.headers.get("Location", "")):
        return "refused"
    return "missing" if code == 404 else "through"


@pytest.mark.parametrize(("role", "clearance"), CALLERS, ids=[f"{r}-{c}" for r, c in CALLERS])
def test_every_route_answers_each_caller_as_the_table_says(walker, role, clearance):
    web, api, headers = walker.clients(role, clearance)
    wrong = []
    for call in ROUTES.values():
        for level in ("public", "secret") if call.doc else ("public",):
            path = f"走查/{level}"
            url = call.url.format(
                path=path,
                spare_token=walker.spare_token(role, clearance) if "{spare_token}" in call.url else "",
                fresh=_fresh(walker, level) if "{fresh}" in call.url else "",
                drafted=_fresh(walker, level, drafted=True) if "{drafted}" in call.url else "",
            )
            target = url.split("/docs/", 1)[-1].split("/move")[0] if "{fresh}" in call.url else path
            body = call.body(walker, target) if call.body else None
            client = api if call.api else web
            kwargs: dict[str, Any] = {"headers": headers} if call.api else {}
            if body is not None:
                kwargs["data" if call.form else "json"] = body
            got = _outcome(client.open(url, method=call.method, **kwargs))
            want = _expected(call, role, clearance, level)
            if got != want:
                wrong.append(f"{call.method} {url}: expected {want}, got {got}")
    assert wrong == []


def _fresh(walker: Walker, level: str, *, drafted: bool = False) -> str:
    """A document of its own (with an open draft when ``drafted``) for a move, delete, archive
    or draft step that may succeed."""
    path = f"走查/{level}-{uuid.uuid4().hex[:8]}"
    walker.first[path] = walker.save(path, level)
    if drafted:
        walker.draft(path)
    return path


def test_anonymous_callers_get_no_document_data_from_any_route(walker):
    client = walker.app.test_client()
    for rule in walker.app.url_map.iter_rules():
        if ROUTES[rule.endpoint].least == OPEN:
            continue
        values = {
            name: {"path": "走查/secret", "username": "walk.target", "token_id": 1, "moment": "2030-01-01"}[name]
            for name in rule.arguments
        }
        url = rule.build(values, append_unknown=False)[1]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method, json={})
            assert response.status_code in (302, 401, 403, 404), (method, url, response.status_code)
            assert "走查正文" not in response.get_data(as_text=True)
