"""Bad input and attacks: each gets a clear 4xx in Chinese (English in brackets), changes nothing,
and leaves an audit entry where an auditor would look for one.

Covers git option injection, path traversal, open redirects, disabled accounts, forged and expired
tokens, CSRF, session fixation, XSS, SQL-like filters, over-long fields and privilege escalation,
login throttling, security headers and cookie flags.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from conftest import PASSWORD, PEOPLE, save
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import func, select, update

from kb.identity import logins
from kb.models import ApiToken, AuditEntry, User

# ---------------------------------------------------------------- helpers

_CJK = re.compile(r"[\u3400-\u9fff]")
_ENGLISH_IN_BRACKETS = re.compile(r"\([^()]*[A-Za-z][^()]*\)")
_SESSION_COOKIE = "session"


def assert_refused(response: Any, *statuses: int) -> dict:
    """A clear 4xx (never a 500) whose JSON error message is Chinese with English in brackets."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    payload = response.get_json(silent=True)
    assert payload and "error" in payload, response.get_data(as_text=True)[:300]
    message = payload["error"]["message"]
    assert _CJK.search(message), message
    assert _ENGLISH_IN_BRACKETS.search(message), message
    return payload["error"]


def assert_refused_page(response: Any, *statuses: int) -> str:
    """A 4xx HTML page (not a 500) that says what went wrong in Chinese."""
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if statuses:
        assert response.status_code in statuses, response.status_code
    text = response.get_data(as_text=True)
    assert _CJK.search(text)
    return text


def head(app: Flask) -> str | None:
    return app.extensions["kb.stores"].store.head()


def audit_entries(app: Flask, **where: str) -> list[AuditEntry]:
    with app.extensions["kb.stores"].sessions() as session:
        query = select(AuditEntry)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(session.scalars(query.order_by(AuditEntry.id)))


def user_row(app: Flask, username: str) -> dict:
    with app.extensions["kb.stores"].sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return {
            "role": user.role,
            "clearance": user.clearance,
            "active": user.active,
            "password_hash": user.password_hash,
            "display_name": user.display_name,
            "email": user.email,
        }


def user_count(app: Flask) -> int:
    with app.extensions["kb.stores"].sessions() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def web_login(app: Flask, username: str, password: str = PASSWORD, **kwargs: Any) -> FlaskClient:
    """A browser-like client logged in through the login form (it sends the CSRF token itself)."""
    browser = app.test_client()
    response = browser.post("/login", data={"username": username, "password": password}, **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser


def session_cookie(browser: FlaskClient) -> str | None:
    cookie = browser.get_cookie(_SESSION_COOKIE)
    return cookie.value if cookie is not None else None


def with_cookie(app: Flask, value: str) -> FlaskClient:
    """A fresh client carrying a copied session cookie, as an attacker holding it would."""
    browser = app.test_client()
    browser.set_cookie(_SESSION_COOKIE, value)
    return browser


def is_anonymous(browser: FlaskClient) -> bool:
    return browser.get("/api/v1/me").status_code == 401


def document(admin: Any, path: str) -> dict:
    response = admin.get(f"docs/{path}")
    assert response.status_code == 200
    return response.get_json()


def history_of(admin: Any, path: str) -> list[dict]:
    return admin.get(f"docs/{path}/history").get_json()["versions"]


class _Tags(HTMLParser):
    """Every start tag with its attributes, to look for live script in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def assert_no_live_script(html: str) -> None:
    """No injected <script>, no event-handler attribute, no javascript: URL anywhere in the page."""
    assert "<script>alert" not in html.lower()
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        names = {name.lower(): (value or "") for name, value in attrs}
        assert not [name for name in names if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert names.get("src", "").startswith("/static/"), (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            assert not names.get(name, "").strip().lower().startswith("javascript:"), (tag, attrs)
        assert tag not in ("svg", "iframe", "object", "embed"), (tag, attrs)


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_from(browser: FlaskClient, url: str = "/login") -> str:
    match = _CSRF_FIELD.search(browser.get(url).get_data(as_text=True))
    assert match, "no csrf_token field on " + url
    return match.group(1)


def csrf_login(app: Flask, username: str = "wang.editor") -> tuple[FlaskClient, str]:
    """Log in through the form with the CSRF token scraped from the login page; the client sends
    no token of its own after that, as the page of another site could not."""
    browser = app.test_client(send_csrf=False)
    token = csrf_token_from(browser)
    response = browser.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser, csrf_token_from(browser, "/new")


# ---------------------------------------------------------------- git option injection

GIT_OPTIONS = ["--output=x", "-Ox", "-O/tmp/kb-pwned", "--contents=.env", "--exec=touch x", "-p", "--all"]
NOT_A_REVISION = [
    *GIT_OPTIONS,
    "HEAD",
    "HEAD~1",
    "main",
    "refs/heads/main",
    "HEAD@{0}",
    ":/正文",
    "@{-1}",
    "a" * 41,
    "zzzz",
    "",
]
WATCHED_NAMES = {"x", ".env", "kb-pwned", "x.md", ".env.md"}


def no_planted_files(app: Flask) -> None:
    """Nothing named after an injected option appeared in the instance, the working directory or /tmp."""
    instance = Path(app.config["INSTANCE_DIR"])
    for root, _dirs, files in os.walk(instance):
        planted = WATCHED_NAMES.intersection(files)
        assert not planted, (root, planted)
    assert not WATCHED_NAMES.intersection(os.listdir(os.getcwd()))
    assert not Path("/tmp/kb-pwned").exists()


@pytest.fixture
def doc_with_history(app: Flask, admin: Any) -> str:
    save(admin, "运维/备份策略", "每日凌晨两点全量备份。", title="备份策略")
    save(admin, "运维/备份策略", "每日凌晨三点全量备份。", title="备份策略")
    return "运维/备份策略"


# every API route that takes a document path: (method, suffix, JSON body)
PATH_ROUTES = [
    ("get", "", None),
    ("get", "/raw", None),
    ("get", "/history", None),
    ("get", "/diff", None),
    ("put", "", {"title": "标题", "body": "正文"}),
    ("delete", "", None),
    ("post", "/revert", {"revision": "0000"}),
    ("post", "/move", {"to": "新位置"}),
]


@pytest.mark.parametrize("option", GIT_OPTIONS)
def test_a_git_option_as_the_document_path_is_400_on_every_route_and_plants_nothing(
    app, admin, doc_with_history, option
):
    before = head(app)
    for method, suffix, body in PATH_ROUTES:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(admin, method)(f"docs/{quote(option)}{suffix}", **kwargs)
        assert_refused(response, 400)
    assert head(app) == before
    no_planted_files(app)


@pytest.mark.parametrize("revision", NOT_A_REVISION)
def test_a_revision_that_is_not_a_commit_id_is_400_in_every_parameter(app, admin, doc_with_history, revision):
    path = doc_with_history
    for url in (
        f"docs/{path}?revision=",
        f"docs/{path}/raw?revision=",
        f"docs/{path}/diff?from=",
        f"docs/{path}/diff?to=",
    ):
        response = admin.get(url + quote(revision))
        if revision == "" and "diff" in url:  # an empty from/to means the default versions
            assert response.status_code == 200
        else:
            assert_refused(response, 400)
    no_planted_files(app)


@pytest.mark.parametrize("at", [*GIT_OPTIONS, "yesterday", "'; DROP TABLE documents; --", "2026-13-45", "@0"])
def test_an_at_date_that_is_not_iso_8601_is_400(app, admin, doc_with_history, at):
    response = admin.get(f"docs/{doc_with_history}?at={quote(at)}")
    assert_refused(response, 400)
    no_planted_files(app)


@pytest.mark.parametrize("revision", [r for r in NOT_A_REVISION if r])
def test_a_revert_to_a_git_option_is_400_and_commits_nothing(app, admin, doc_with_history, revision):
    before, body = head(app), document(admin, doc_with_history)["body"]
    response = admin.post(f"docs/{doc_with_history}/revert", json={"revision": revision})
    assert_refused(response, 400)
    assert head(app) == before
    assert document(admin, doc_with_history)["body"] == body
    no_planted_files(app)


@pytest.mark.parametrize(
    "target",
    [
        *GIT_OPTIONS,
        "运维/--output=x",
        "运维/-O",
        "a/--contents=.env",
        "../x",
        "a/../../etc/passwd",
        "..\\x",
        "a\\b",
        "/etc/passwd",
        "a/\x00b",
        "a/./b",
        ".git/hooks/post-commit",
        "a//b",
        "运维/../../逃逸",
        "x" * 201,
    ],
)
def test_a_move_to_a_git_option_or_out_of_the_tree_is_400_and_the_document_stays(app, admin, doc_with_history, target):
    before = head(app)
    response = admin.post(f"docs/{doc_with_history}/move", json={"to": target})
    assert_refused(response, 400)
    assert head(app) == before
    assert admin.get(f"docs/{doc_with_history}").status_code == 200
    no_planted_files(app)


@pytest.mark.parametrize("option", GIT_OPTIONS)
@pytest.mark.parametrize("url", ["docs?prefix={}", "search?q=备份&path={}", "search?q={}"])
def test_a_git_option_in_a_filter_finds_nothing_and_plants_nothing(app, admin, doc_with_history, option, url):
    response = admin.get(url.format(quote(option)))
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    if response.status_code == 400:
        assert_refused(response)
    else:
        data = response.get_json()
        assert data["total"] == 0
    no_planted_files(app)


@pytest.mark.parametrize("option", GIT_OPTIONS)
def test_a_git_option_in_a_web_page_path_is_400(app, admin, doc_with_history, option):
    browser = web_login(app, "admin")
    for url in (
        f"/docs/{quote(option)}",
        f"/docs/{quote(option)}/history",
        f"/docs/{quote(option)}/diff",
        f"/docs/{doc_with_history}?revision={quote(option)}",
        f"/docs/{doc_with_history}/diff?from={quote(option)}",
    ):
        assert_refused_page(browser.get(url), 400)
    no_planted_files(app)


# ---------------------------------------------------------------- path traversal

TRAVERSALS = [
    "../x",
    "..%2fx",
    "%2e%2e/x",
    "%2e%2e%2fx",
    "a/../../etc/passwd",
    "a/%2e%2e/%2e%2e/etc/passwd",
    "..\\x",
    "a\\..\\..\\etc\\passwd",
    "%5c..%5cx",
    "a/%00b",
    "a%00.md",
    "C:\\Windows\\win.ini",
    "a/./b",
    ".git/config",
    "a/.git/HEAD",
    "~/.ssh/id_rsa",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_a_traversal_in_the_document_path_is_refused_on_every_route_and_commits_nothing(
    app, admin, doc_with_history, path
):
    before = head(app)
    for method, suffix, body in PATH_ROUTES:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(admin, method)(f"docs/{path}{suffix}", **kwargs)
        assert_refused(response, 400, 404)
    assert head(app) == before
    assert admin.get(f"docs/{doc_with_history}").status_code == 200


@pytest.mark.parametrize("method, suffix", [("get", ""), ("get", "/history"), ("put", ""), ("delete", "")])
def test_an_absolute_document_path_is_refused(app, admin, doc_with_history, method, suffix):
    before = head(app)
    kwargs = {"json": {"title": "标题", "body": "正文"}} if method == "put" else {}
    response = getattr(admin.client, method)(f"/api/v1/docs//etc/passwd{suffix}", headers=admin.headers, **kwargs)
    assert_refused(response, 400, 404)
    assert head(app) == before


@pytest.mark.parametrize("path", ["../逃逸", "a/../../etc/passwd", "..\\逃逸", "a/\x00b", ".git/config", "a/../b"])
def test_a_traversal_in_the_new_document_form_is_refused(app, path):
    browser = web_login(app, "wang.editor")
    response = browser.post("/new", data={"path": path, "title": "标题", "body": "正文"})
    assert_refused_page(response, 400)
    assert head(app) is None


@pytest.mark.parametrize("path", ["..%2f逃逸", "%2e%2e/逃逸", "a/..%5c..%5cetc", "a%00b"])
def test_a_traversal_in_a_web_page_path_is_refused(app, doc_with_history, path):
    browser = web_login(app, "admin")
    before = head(app)
    for url in (f"/docs/{path}", f"/docs/{path}/history", f"/docs/{path}/edit"):
        assert_refused_page(browser.get(url), 400, 404)
    assert_refused_page(browser.post(f"/docs/{path}/edit", data={"title": "t", "body": "b"}), 400, 404)
    assert head(app) == before


# ---------------------------------------------------------------- open redirect after login

EVIL_NEXT = [
    "//evil.example",
    "%2F%2Fevil.example",
    "%5C%5Cevil.example",
    "/%5Cevil.example",
    "/%5C/evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "///evil.example",
    "////evil.example",
    "https:%2F%2Fevil.example",
    "%0a//evil.example",
    "evil.example",
    "/%0aSet-Cookie:%20x=1",
    "data:text/html,<script>alert(1)</script>",
]


@pytest.mark.parametrize("raw_next", EVIL_NEXT)
def test_login_never_redirects_to_another_site(app, raw_next):
    browser = app.test_client()
    response = browser.post(f"/login?next={raw_next}", data={"username": "li.reader", "password": PASSWORD})
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost"), location
    assert parts.scheme in ("", "http", "https"), location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert "\n" not in location and "\r" not in location and "\t" not in location
    assert location == "/"
    assert "Set-Cookie" not in location
    assert not is_anonymous(browser)  # the login itself still succeeded


@pytest.mark.parametrize("target", ["/docs/运维/备份策略", "/search?q=备份", "/docs/a?revision=abcd"])
def test_login_returns_to_a_page_on_this_site(app, target):
    browser = app.test_client()
    response = browser.post(
        "/login", query_string={"next": target}, data={"username": "li.reader", "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost")
    assert location.endswith(target) or location.endswith(quote(target, safe="/?=&"))


def test_a_failed_login_with_an_evil_next_does_not_redirect(app):
    response = app.test_client().post("/login?next=//evil.example", data={"username": "li.reader", "password": "错"})
    assert response.status_code == 401
    assert "Location" not in response.headers


# ---------------------------------------------------------------- disabled accounts, resets, old credentials


def _disable(admin: Any, username: str) -> None:
    response = admin.patch(f"users/{username}", json={"active": False})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False


def test_a_disabled_user_cannot_log_in_on_the_web(app, admin):
    _disable(admin, "li.reader")
    browser = app.test_client()
    response = browser.post("/login", data={"username": "li.reader", "password": PASSWORD})
    assert response.status_code == 401
    assert is_anonymous(browser)
    failed = audit_entries(app, action="login", actor="li.reader", outcome="failed")
    assert failed and failed[-1].detail == "disabled"


def test_a_disabled_user_cannot_get_a_token(app, admin, client):
    _disable(admin, "li.reader")
    response = client.post("/api/v1/tokens", json={"username": "li.reader", "password": PASSWORD})
    error = assert_refused(response, 401)
    # the same answer as a wrong password: nobody learns the account exists but is disabled
    wrong = client.post("/api/v1/tokens", json={"username": "没有这个人", "password": PASSWORD})
    assert assert_refused(wrong, 401)["message"] == error["message"]
    assert audit_entries(app, action="token_login", actor="li.reader", outcome="failed")


def test_a_disabled_users_old_token_is_refused(app, admin, api_as):
    reader = api_as("li.reader")
    assert reader.get("me").status_code == 200
    _disable(admin, "li.reader")
    assert_refused(reader.get("me"), 401)
    assert_refused(reader.get("docs"), 401)
    assert audit_entries(app, action="token_use", outcome="failed")


def test_a_disabled_users_old_session_is_refused(app, admin):
    browser = web_login(app, "li.reader")
    assert not is_anonymous(browser)
    copy = session_cookie(browser)
    _disable(admin, "li.reader")
    assert is_anonymous(browser)
    assert is_anonymous(with_cookie(app, copy))
    page = browser.get("/")
    assert page.status_code == 302 and urlsplit(page.headers["Location"]).path == "/login"


def test_re_enabling_a_user_does_not_revive_old_tokens_or_sessions(app, admin, api_as):
    reader = api_as("li.reader")
    browser = web_login(app, "li.reader")
    _disable(admin, "li.reader")
    assert admin.patch("users/li.reader", json={"active": True}).status_code == 200
    assert_refused(reader.get("me"), 401)
    assert is_anonymous(browser)
    assert not is_anonymous(web_login(app, "li.reader"))  # a new login works again


def test_a_password_reset_ends_old_sessions_and_tokens(app, admin, api_as):
    reader = api_as("li.reader")
    browser = web_login(app, "li.reader")
    copy = session_cookie(browser)
    assert admin.patch("users/li.reader", json={"password": "新的密码-2026"}).status_code == 200
    assert_refused(reader.get("me"), 401)
    assert is_anonymous(browser)
    assert is_anonymous(with_cookie(app, copy))
    refused = app.test_client().post("/login", data={"username": "li.reader", "password": PASSWORD})
    assert refused.status_code == 401
    assert not is_anonymous(web_login(app, "li.reader", "新的密码-2026"))
    assert audit_entries(app, action="user_update", actor="admin")[-1].detail == "user=li.reader; password reset"


def test_a_revoked_token_is_refused(app, client, admin):
    created = client.post("/api/v1/tokens", json={"username": "li.reader", "password": PASSWORD}).get_json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer).status_code == 204
    assert_refused(client.get("/api/v1/me", headers=bearer), 401)


# ---------------------------------------------------------------- forged and expired tokens

FORGED = ["kb_", "kb_" + "A" * 43, "kb_伪造的令牌", "kb_' OR '1'='1", "not-a-token", "x" * 5000, "kb_../../etc/passwd"]


@pytest.mark.parametrize("token", FORGED)
def test_a_forged_token_is_401_and_audited(app, client, token):
    before = len(audit_entries(app, action="token_use", outcome="failed"))
    response = client.get("/api/v1/docs", headers={"Authorization": f"Bearer {token}"})
    assert_refused(response, 401)
    after = audit_entries(app, action="token_use", outcome="failed")
    assert len(after) == before + 1
    assert after[-1].actor == "anonymous" and "/api/v1/docs" in after[-1].detail


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer    ", "Basic YWRtaW46UGFzcw==", "Token kb_abc", "kb_abc", "Bearer\tkb_abc"]
)
def test_a_malformed_authorization_header_is_401_with_a_message(client, header):
    assert_refused(client.get("/api/v1/me", headers={"Authorization": header}), 401)


def test_a_forged_token_cannot_write(app, client):
    response = client.put(
        "/api/v1/docs/伪造", headers={"Authorization": "Bearer kb_forged"}, json={"title": "标题", "body": "正文"}
    )
    assert_refused(response, 401)
    assert head(app) is None


def test_an_expired_token_is_401_and_audited(app, client):
    created = client.post(
        "/api/v1/tokens", json={"username": "wang.editor", "password": PASSWORD, "expires_in_days": 1}
    ).get_json()
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    with app.extensions["kb.stores"].sessions() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == created["id"])
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        session.commit()
    before = len(audit_entries(app, action="token_use", outcome="failed"))
    assert_refused(client.get("/api/v1/me", headers=bearer), 401)
    response = client.put("/api/v1/docs/过期", headers=bearer, json={"title": "标题", "body": "正文"})
    assert_refused(response, 401)
    assert head(app) is None
    assert len(audit_entries(app, action="token_use", outcome="failed")) == before + 2


@pytest.mark.parametrize("days", [0, -1, 3651, "7", 1.5, True, None])
def test_a_token_lifetime_out_of_range_is_400(client, days):
    if days is None:
        return  # None means "never expires": allowed
    response = client.post(
        "/api/v1/tokens", json={"username": "wang.editor", "password": PASSWORD, "expires_in_days": days}
    )
    assert_refused(response, 400)


# ---------------------------------------------------------------- CSRF


def test_logout_without_a_csrf_token_is_400_and_the_session_survives(app):
    browser, _token = csrf_login(app)
    response = browser.post("/logout")
    text = assert_refused_page(response, 400)
    assert "表单已过期" in text and "CSRF" in text
    assert not is_anonymous(browser)
    denied = audit_entries(app, action="csrf", outcome="denied")
    assert denied and denied[-1].actor == "wang.editor" and denied[-1].target == "/logout"


def test_an_edit_form_without_a_csrf_token_is_400_and_commits_nothing(app):
    browser, token = csrf_login(app)
    assert (
        browser.post(
            "/new", data={"path": "值班/交接", "title": "交接", "body": "原文", "csrf_token": token}
        ).status_code
        == 302
    )
    before = head(app)
    response = browser.post("/docs/值班/交接/edit", data={"title": "篡改", "body": "篡改的正文"})
    assert_refused_page(response, 400)
    forged = browser.post("/docs/值班/交接/edit", data={"title": "篡改", "body": "篡改", "csrf_token": "伪造"})
    assert_refused_page(forged, 400)
    assert head(app) == before
    assert audit_entries(app, action="csrf", outcome="denied")


def test_the_user_admin_form_without_a_csrf_token_is_400_and_creates_nobody(app):
    browser, _token = csrf_login(app, "admin")
    before = user_count(app)
    response = browser.post(
        "/admin/users", data={"username": "hacker", "password": "Pass-word-999", "role": "admin", "clearance": "secret"}
    )
    assert_refused_page(response, 400)
    response = browser.post("/admin/users/li.reader", data={"role": "admin"})
    assert_refused_page(response, 400)
    assert user_count(app) == before
    assert user_row(app, "li.reader")["role"] == "reader"


def test_the_login_form_without_a_csrf_token_is_400(app):
    browser = app.test_client(send_csrf=False)
    response = browser.post("/login", data={"username": "wang.editor", "password": PASSWORD})
    assert_refused_page(response, 400)
    assert is_anonymous(browser)


def test_an_api_write_riding_on_the_session_cookie_needs_the_csrf_header(app):
    browser, token = csrf_login(app)
    document_body = {"title": "变更流程", "body": "正文"}
    response = browser.put("/api/v1/docs/变更/流程", json=document_body)
    error = assert_refused(response, 400)
    assert "CSRF" in error["message"]
    assert head(app) is None
    assert_refused(browser.put("/api/v1/docs/变更/流程", json=document_body, headers={"X-CSRFToken": "伪造"}), 400)
    assert_refused(browser.patch("/api/v1/users/li.reader", json={"role": "admin"}), 400)
    assert head(app) is None
    # the same call with the page's CSRF token works, so the refusal was the missing header
    assert browser.put("/api/v1/docs/变更/流程", json=document_body, headers={"X-CSRFToken": token}).status_code == 201


def test_an_api_write_with_a_bearer_token_needs_no_csrf_token(app):
    client = app.test_client(send_csrf=False)
    token = client.post("/api/v1/tokens", json={"username": "wang.editor", "password": PASSWORD}).get_json()["token"]
    response = client.put(
        "/api/v1/docs/变更/流程",
        headers={"Authorization": f"Bearer {token}"},
        json={"title": "变更流程", "body": "正文"},
    )
    assert response.status_code == 201


def test_an_api_read_on_the_session_cookie_needs_no_csrf_token(app):
    browser, _token = csrf_login(app)
    assert browser.get("/api/v1/me").get_json()["username"] == "wang.editor"


# ---------------------------------------------------------------- session fixation and logout


def test_a_cookie_planted_before_login_is_worthless_after_it(app):
    victim = app.test_client()
    victim.get("/login")
    planted = session_cookie(victim)
    assert planted is not None
    victim.post("/login", data={"username": "admin", "password": PASSWORD})
    assert not is_anonymous(victim)
    assert session_cookie(victim) != planted
    assert is_anonymous(with_cookie(app, planted))


def test_a_cookie_an_attacker_sets_in_the_victims_browser_does_not_log_the_attacker_in(app):
    attacker = app.test_client()
    attacker.get("/login")
    cookie = session_cookie(attacker)
    victim = with_cookie(app, cookie)
    assert victim.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    assert not is_anonymous(victim)
    assert is_anonymous(attacker)


def test_each_login_gets_a_new_session_cookie(app):
    browser = web_login(app, "li.reader")
    first = session_cookie(browser)
    browser.post("/login", data={"username": "li.reader", "password": PASSWORD})
    second = session_cookie(browser)
    assert first != second
    assert not is_anonymous(with_cookie(app, second))


def test_logout_ends_the_session_on_the_server(app):
    browser = web_login(app, "wang.editor")
    copy = session_cookie(browser)
    assert not is_anonymous(with_cookie(app, copy))
    response = browser.post("/logout")
    assert response.status_code == 302
    assert is_anonymous(browser)
    assert is_anonymous(with_cookie(app, copy))
    assert audit_entries(app, action="logout", actor="wang.editor")


def test_a_forged_session_cookie_is_anonymous(app):
    assert is_anonymous(with_cookie(app, "eyJfdXNlcl9pZCI6ImFkbWluIn0.forged.signature"))


# ---------------------------------------------------------------- XSS

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "'><iframe src=javascript:alert(1)>",
]


@pytest.fixture
def admin_browser(app: Flask) -> FlaskClient:
    return web_login(app, "admin")


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_title_tags_body_and_message_is_escaped_on_every_page(app, admin, admin_browser, payload):
    path = "安全/跨站脚本"
    save(
        admin,
        path,
        f"应急预案第一版 {payload}",
        title=f"标题 {payload}",
        tags=[payload, "安全"],
        message=f"提交说明 {payload}",
    )
    links = '[点我](javascript:alert(1))\n\n<a href="javascript:alert(2)">x</a>'
    save(
        admin,
        path,
        f"应急预案第二版 {payload}\n\n{links}",
        title=f"标题 {payload}",
        tags=[payload, "安全"],
        message=f"第二次 {payload}",
    )
    for url in (
        "/",
        f"/docs/{path}",
        f"/docs/{path}/history",
        f"/docs/{path}/diff",
        f"/docs/{path}/edit",
        f"/search?q={quote('应急预案')}",
        f"/search?q={quote(payload)}",
        f"/browse?tag={quote(payload)}",
        f"/search?q={quote('应急预案')}&tag={quote(payload)}",
    ):
        response = admin_browser.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_no_live_script(response.get_data(as_text=True))
    for url in ("/", f"/docs/{path}", f"/docs/{path}/history", f"/search?q={quote(payload)}"):
        assert str(escape(payload)) in admin_browser.get(url).get_data(as_text=True), url  # shown, as text


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_a_display_name_or_email_is_escaped_on_the_user_pages(app, admin, admin_browser, payload):
    response = admin.post(
        "users",
        json={
            "username": "zhou.author",
            "password": PASSWORD,
            "role": "editor",
            "clearance": "internal",
            "display_name": payload,
            "email": f"{payload}@example.com",
        },
    )
    assert response.status_code in (201, 400), response.get_json()
    for url in (
        "/admin/users",
        "/admin/users/zhou.author" if response.status_code == 201 else "/admin/users",
        "/audit",
    ):
        page = admin_browser.get(url)
        assert page.status_code == 200, (url, page.status_code)
        assert_no_live_script(page.get_data(as_text=True))


@pytest.mark.parametrize("payload", ['" onmouseover="alert(1)', "' autofocus onfocus='alert(1)", "x&quot; onclick=x"])
def test_xss_in_an_authors_display_name_is_escaped_on_document_pages(app, admin, api_as, admin_browser, payload):
    response = admin.post(
        "users",
        json={
            "username": "zhou.author",
            "password": PASSWORD,
            "role": "editor",
            "clearance": "internal",
            "display_name": f"周{payload}",
        },
    )
    assert response.status_code == 201, response.get_json()
    save(api_as("zhou.author"), "值班/交接", "交接记录", title="交接")
    save(api_as("zhou.author"), "值班/交接", "交接记录第二版", title="交接")
    for url in ("/", "/docs/值班/交接", "/docs/值班/交接/history", "/docs/值班/交接/diff", "/admin/users"):
        page = admin_browser.get(url)
        assert page.status_code == 200, (url, page.status_code)
        assert_no_live_script(page.get_data(as_text=True))


@pytest.mark.parametrize(
    "fields", [{"display_name": "周<管理员>"}, {"email": "<zhou>@example.com"}, {"display_name": "周\n管理员"}]
)
def test_a_display_name_or_email_git_cannot_take_is_refused_when_the_user_is_made(app, admin, api_as, fields):
    response = admin.post(
        "users",
        json={"username": "zhou.author", "password": PASSWORD, "role": "editor", "clearance": "internal", **fields},
    )
    if response.status_code == 201:  # accepted: then the account must be able to do its job
        saved = api_as("zhou.author").put("docs/值班/交接", json={"title": "交接", "body": "交接记录"})
        assert saved.status_code == 201, saved.get_json()
    else:
        assert_refused(response, 400)


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_a_search_query_is_escaped(admin_browser, payload):
    response = admin_browser.get("/search", query_string={"q": payload})
    assert response.status_code == 200
    assert_no_live_script(response.get_data(as_text=True))


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_a_path_is_escaped_on_the_error_page(admin_browser, payload):
    response = admin_browser.get(f"/docs/{quote(payload)}")
    assert_refused_page(response, 400, 404)
    assert_no_live_script(response.get_data(as_text=True))


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_a_login_username_is_escaped_on_the_login_page(app, payload):
    response = app.test_client().post("/login", data={"username": payload, "password": "错误的密码"})
    assert response.status_code == 401
    assert_no_live_script(response.get_data(as_text=True))


@pytest.mark.parametrize("payload", XSS)
def test_xss_in_audited_fields_is_escaped_on_the_audit_page(app, admin, admin_browser, payload):
    app.test_client().post("/login", data={"username": payload, "password": "错误的密码"})
    save(admin, "机密/跨站", f"应急预案 {payload}", title=payload, access="confidential")
    admin.get(f"search?q={quote('应急预案 ' + payload)}")
    admin.get(f"search?q={quote('应急预案')}")
    assert audit_entries(app, actor=payload[:64])
    response = admin_browser.get("/audit")
    assert response.status_code == 200
    assert_no_live_script(response.get_data(as_text=True))
    assert str(escape(payload)) in response.get_data(as_text=True)  # the entry is shown, as text
    filtered = admin_browser.get("/audit", query_string={"user": payload, "action": payload, "path": payload})
    assert filtered.status_code == 200
    assert_no_live_script(filtered.get_data(as_text=True))


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"])
def test_a_formula_typed_as_a_login_name_is_defused_in_the_audit_csv(app, admin, name):
    app.test_client().post("/login", data={"username": name, "password": "错误的密码"})
    response = admin.get("audit/export")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    actors = [row[rows[0].index("actor")] for row in rows[1:]]
    assert "'" + name in actors
    assert name not in actors


# ---------------------------------------------------------------- SQL-like strings in filters

SQLISH = [
    "' OR '1'='1",
    "%' --",
    '"; DROP TABLE users; --',
    "1; DELETE FROM documents",
    "%",
    "_",
    "' UNION SELECT password_hash FROM users --",
    "\\",
    "*",
]


@pytest.fixture
def two_documents(admin: Any) -> None:
    save(admin, "运维/备份策略", "每日凌晨两点全量备份。", title="备份策略", tags=["运维"])
    save(admin, "服务台/服务时间", "工作日受理请求。", title="服务时间", tags=["服务台"])


def _tables_intact(app: Flask, admin: Any) -> None:
    assert user_count(app) == len(PEOPLE)
    assert admin.get("docs").get_json()["total"] == 2
    assert len(admin.get("users").get_json()["users"]) == len(PEOPLE)


def _matches_nothing(response: Any) -> None:
    """200 with no rows, or a clear 400; never a 500 and never rows the filter did not ask for."""
    assert response.status_code in (200, 400), (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code == 400:
        assert_refused(response)
    else:
        assert response.get_json()["total"] == 0, response.get_json()


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_any_document_list_filter_matches_nothing(app, admin, two_documents, value):
    for name in ("prefix", "tag", "status"):
        _matches_nothing(admin.get("docs", query_string={name: value}))
    _tables_intact(app, admin)


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_any_search_filter_matches_nothing(app, admin, two_documents, value):
    for name in ("q", "tag", "status", "path"):
        _matches_nothing(admin.get("search", query_string={"q": "备份"} | {name: value}))
    _tables_intact(app, admin)


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_any_audit_filter_matches_nothing(app, admin, two_documents, value):
    for name in ("user", "path", "action", "outcome"):
        _matches_nothing(admin.get("audit", query_string={name: value}))
        export = admin.get("audit/export", query_string={name: value})
        assert export.status_code in (200, 400)
        if export.status_code == 200:
            assert len(export.get_data(as_text=True).strip().splitlines()) == 1  # the header row only
    _tables_intact(app, admin)


@pytest.mark.parametrize("value", [*SQLISH, "yesterday", "2026-02-30"])
def test_sql_in_an_audit_date_is_400(app, admin, value):
    for name in ("since", "until"):
        assert_refused(admin.get("audit", query_string={name: value}), 400)
        assert_refused(admin.get("audit/export", query_string={name: value}), 400)


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_the_web_filters_is_harmless(app, admin, admin_browser, two_documents, value):
    for url in ("/", "/search"):
        for name in ("prefix", "tag", "status", "q"):
            response = admin_browser.get(
                url, query_string={name: value, "q": value} if url == "/search" else {name: value}
            )
            assert response.status_code in (200, 400), (url, name, response.status_code)
    _tables_intact(app, admin)


@pytest.mark.parametrize("value", SQLISH)
def test_sql_in_a_login_is_just_a_wrong_password(app, client, value):
    response = client.post("/api/v1/tokens", json={"username": value, "password": value})
    assert_refused(response, 400, 401)
    response = client.post("/api/v1/tokens", json={"username": "admin", "password": value})
    assert_refused(response, 400, 401)
    assert user_count(app) == len(PEOPLE)


# ---------------------------------------------------------------- over-long fields


def test_a_title_over_300_characters_is_400_and_commits_nothing(app, editor):
    save(editor, "文档", "正文", title="原标题")
    before = head(app)
    assert_refused(editor.put("docs/文档", json={"title": "长" * 301, "body": "正文"}), 400)
    assert head(app) == before


def test_a_tag_over_100_characters_is_400_and_commits_nothing(app, editor):
    save(editor, "文档", "正文", title="标题")
    before = head(app)
    response = editor.put("docs/文档", json={"title": "标题", "body": "正文", "tags": ["签" * 101]})
    assert_refused(response, 400)
    assert head(app) == before


@pytest.mark.parametrize("target", ["长" * 201, "a/" * 100 + "b"])
def test_a_path_over_200_characters_is_400_everywhere(app, editor, target):
    save(editor, "文档")
    before = head(app)
    assert_refused(editor.put(f"docs/{target}", json={"title": "标题", "body": "正文"}), 400)
    assert_refused(editor.get(f"docs/{target}"), 400)
    assert_refused(editor.post("docs/文档/move", json={"to": target}), 400)
    assert head(app) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "长" * 65},
        {"username": "a" * 65},
        {"username": "王"},
        {"username": "../admin"},
        {"username": "admin; DROP TABLE users"},
        {"password": "p" * 1025},
        {"password": "短"},
        {"display_name": "名" * 129},
        {"email": "e" * 257},
        {"role": "superuser"},
        {"role": "anonymous"},
        {"clearance": "top-secret"},
    ],
)
def test_invalid_or_over_long_user_fields_are_400_and_create_nobody(app, admin, fields):
    data = {
        "username": "zhou.new",
        "password": "Pass-word-456",
        "role": "reader",
        "clearance": "internal",
        "display_name": "周新",
        "email": "zhou@example.com",
    } | fields
    before = user_count(app)
    assert_refused(admin.post("users", json=data), 400)
    assert user_count(app) == before


@pytest.mark.parametrize(
    "change",
    [
        {"password": "p" * 1025},
        {"display_name": "名" * 129},
        {"email": "e" * 257},
        {"active": "false"},
        {"role": "root"},
        {"clearance": "绝密"},
        {"password_hash": "x"},
        {"username": "li.admin"},
    ],
)
def test_invalid_or_over_long_user_changes_are_400_and_change_nothing(app, admin, change):
    before = user_row(app, "li.reader")
    assert_refused(admin.patch("users/li.reader", json=change), 400)
    assert user_row(app, "li.reader") == before


def test_an_over_long_audit_filter_is_400(admin):
    for name in ("user", "path", "action", "outcome"):
        assert_refused(admin.get("audit", query_string={name: "长" * 257}), 400)
        assert_refused(admin.get("audit/export", query_string={name: "长" * 257}), 400)


def test_a_very_long_search_query_is_not_a_server_error(admin):
    response = admin.get("search", query_string={"q": "备份 " * 5000})
    assert response.status_code in (200, 400, 414)
    if response.status_code != 200:
        assert_refused(response)


def test_an_over_long_login_name_is_refused_without_a_server_error(app, client):
    response = client.post("/api/v1/tokens", json={"username": "长" * 10_000, "password": PASSWORD})
    assert_refused(response, 400, 401)
    response = client.post("/api/v1/tokens", json={"username": "admin", "password": "p" * 100_000})
    assert_refused(response, 400, 401, 413)


# ---------------------------------------------------------------- readers, editors and administrators


@pytest.mark.parametrize(
    "fields", [{"access": "public"}, {"status": "archived"}, {"access": "secret"}, {"owner": "li.reader"}]
)
def test_a_reader_may_not_set_access_or_status(app, admin, api_as, fields):
    save(admin, "政策/密码策略", "至少十二位。", title="密码策略", access="internal")
    before, body = head(app), document(admin, "政策/密码策略")
    response = api_as("li.reader").put("docs/政策/密码策略", json={"title": "密码策略", "body": "改了", **fields})
    assert_refused(response, 403)
    assert head(app) == before
    assert document(admin, "政策/密码策略") == body
    denied = audit_entries(app, action="edit", actor="li.reader", outcome="denied")
    assert denied and denied[-1].target == "/api/v1/docs/政策/密码策略"


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "archived"},
        {"status": "published"},
        {"owner": "wang.editor"},
        {"archived_at": "2020-01-01"},
        {"review_by": "明天"},
    ],
)
def test_an_editor_may_not_set_status_or_owner_through_a_save(app, admin, editor, fields):
    save(admin, "政策/密码策略", "至少十二位。", title="密码策略")
    before, doc = head(app), document(admin, "政策/密码策略")
    response = editor.put("docs/政策/密码策略", json={"title": "密码策略", "body": "改了", **fields})
    assert_refused(response, 400)
    assert head(app) == before
    assert document(admin, "政策/密码策略") == doc


def test_an_editor_may_not_raise_their_own_role(app, editor):
    before = user_row(app, "wang.editor")
    assert_refused(editor.patch("users/wang.editor", json={"role": "admin"}), 403)
    assert_refused(editor.patch("users/wang.editor", json={"clearance": "secret"}), 403)
    assert user_row(app, "wang.editor") == before
    denied = audit_entries(app, action="manage_users", actor="wang.editor", outcome="denied")
    assert len(denied) == 2
    assert denied[0].target == "/api/v1/users/wang.editor" and denied[0].detail.startswith("PATCH")
    assert editor.get("me").get_json()["role"] == "editor"


def test_an_editor_may_not_raise_their_role_through_the_web_form(app):
    browser = web_login(app, "wang.editor")
    before = user_row(app, "wang.editor")
    response = browser.post("/admin/users/wang.editor", data={"role": "admin", "clearance": "secret"})
    assert_refused_page(response, 403)
    assert user_row(app, "wang.editor") == before
    assert audit_entries(app, action="manage_users", actor="wang.editor", outcome="denied")


@pytest.mark.parametrize("who", ["li.reader", "wang.editor", "zhao.archivist"])
def test_only_administrators_create_users_or_read_others_tokens(app, api_as, who):
    caller = api_as(who)
    before = user_count(app)
    assert_refused(
        caller.post(
            "users", json={"username": "后门", "password": "Pass-word-999", "role": "admin", "clearance": "secret"}
        ),
        403,
    )
    assert_refused(caller.get("users"), 403)
    assert_refused(caller.get("tokens?user=admin"), 403)
    assert user_count(app) == before


def test_a_user_cannot_revoke_someone_elses_token(app, client, api_as):
    created = client.post("/api/v1/tokens", json={"username": "admin", "password": PASSWORD}).get_json()
    assert_refused(api_as("wang.editor").delete(f"tokens/{created['id']}"), 404)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"}).status_code == 200


@pytest.mark.parametrize("change", [{"active": False}, {"role": "editor"}, {"role": "reader"}, {"clearance": "public"}])
def test_an_administrator_may_not_change_their_own_role_clearance_or_state(app, admin, change):
    before = user_row(app, "admin")
    assert_refused(admin.patch("users/admin", json=change), 403)
    assert user_row(app, "admin") == before
    assert audit_entries(app, action="manage_users", actor="admin", outcome="denied")


@pytest.fixture
def low_admin(app: Flask, admin: Any, api_as: Any) -> Any:
    """An administrator cleared only for internal documents."""
    response = admin.post(
        "users",
        json={
            "username": "chen.admin",
            "password": PASSWORD,
            "role": "admin",
            "clearance": "internal",
            "display_name": "陈管理员",
        },
    )
    assert response.status_code == 201, response.get_json()
    return api_as("chen.admin")


def test_an_administrator_may_not_raise_their_own_clearance(app, low_admin):
    before = user_row(app, "chen.admin")
    assert_refused(low_admin.patch("users/chen.admin", json={"clearance": "secret"}), 403)
    assert user_row(app, "chen.admin") == before
    assert audit_entries(app, action="manage_users", actor="chen.admin", outcome="denied")


@pytest.mark.parametrize("clearance", ["confidential", "secret"])
def test_an_administrator_may_not_grant_a_clearance_above_their_own(app, low_admin, clearance):
    before, count = user_row(app, "sun.public"), user_count(app)
    assert_refused(low_admin.patch("users/sun.public", json={"clearance": clearance}), 403)
    assert_refused(
        low_admin.post(
            "users", json={"username": "zhou.new", "password": PASSWORD, "role": "reader", "clearance": clearance}
        ),
        403,
    )
    assert user_row(app, "sun.public") == before
    assert user_count(app) == count
    assert len(audit_entries(app, action="manage_users", actor="chen.admin", outcome="denied")) == 2


@pytest.mark.parametrize(
    "change", [{"display_name": "改名"}, {"password": "Pass-word-777"}, {"active": False}, {"role": "reader"}]
)
def test_an_administrator_may_not_manage_an_account_cleared_above_their_own(app, low_admin, change):
    before = user_row(app, "wang.editor")
    assert_refused(low_admin.patch("users/wang.editor", json=change), 403)
    assert user_row(app, "wang.editor") == before


def test_an_administrator_may_not_take_over_a_higher_clearance_admin(app, low_admin, admin):
    before = user_row(app, "admin")
    assert_refused(low_admin.patch("users/admin", json={"password": "Pass-word-777"}), 403)
    assert_refused(low_admin.patch("users/admin", json={"active": False}), 403)
    assert user_row(app, "admin") == before
    assert admin.get("me").status_code == 200


# ---------------------------------------------------------------- login throttling


def _fail(browser: FlaskClient, username: str, times: int) -> None:
    for _ in range(times):
        assert browser.post("/login", data={"username": username, "password": "错误的密码"}).status_code == 401


def _freeze_at_latest_failure(app: Flask, monkeypatch: pytest.MonkeyPatch, username: str) -> None:
    """The clock stops at the last failure, so the one-second wait cannot run out on a slow machine."""
    latest = audit_entries(app, actor=username, outcome="failed")[-1].at
    monkeypatch.setattr(logins, "utcnow", lambda: latest)


def test_after_five_wrong_passwords_the_right_one_is_throttled_on_the_web(app, monkeypatch):
    browser = app.test_client()
    _fail(browser, "li.reader", logins.FREE_FAILURES)
    _freeze_at_latest_failure(app, monkeypatch, "li.reader")
    response = browser.post("/login", data={"username": "li.reader", "password": PASSWORD})
    assert response.status_code == 429
    assert _CJK.search(response.get_data(as_text=True))
    assert is_anonymous(browser)
    throttled = audit_entries(app, action="login", actor="li.reader", outcome="throttled")
    assert throttled and throttled[-1].detail.startswith("retry after")


def test_a_throttled_web_login_says_when_to_retry(app, monkeypatch):
    browser = app.test_client()
    _fail(browser, "li.reader", logins.FREE_FAILURES)
    _freeze_at_latest_failure(app, monkeypatch, "li.reader")
    response = browser.post("/login", data={"username": "li.reader", "password": PASSWORD})
    assert response.status_code == 429
    assert response.headers.get("Retry-After") is not None
    assert int(response.headers["Retry-After"]) >= 1


def test_after_five_wrong_passwords_a_token_request_is_throttled_too(app, client, monkeypatch):
    _fail(app.test_client(), "li.reader", logins.FREE_FAILURES)
    _freeze_at_latest_failure(app, monkeypatch, "li.reader")
    response = client.post("/api/v1/tokens", json={"username": "li.reader", "password": PASSWORD})
    error = assert_refused(response, 429)
    assert int(response.headers["Retry-After"]) >= 1
    assert error["retry_after"] >= 1
    assert "token" not in response.get_json()
    assert audit_entries(app, action="token_login", actor="li.reader", outcome="throttled")


def test_wrong_passwords_through_the_token_api_are_throttled(app, client, monkeypatch):
    for _ in range(logins.FREE_FAILURES):
        wrong = client.post("/api/v1/tokens", json={"username": "li.reader", "password": "错误的密码"})
        assert wrong.status_code == 401
    _freeze_at_latest_failure(app, monkeypatch, "li.reader")
    response = client.post("/api/v1/tokens", json={"username": "li.reader", "password": PASSWORD})
    assert_refused(response, 429)
    assert "Retry-After" in response.headers


def test_throttling_one_account_does_not_lock_out_another(app, monkeypatch):
    _fail(app.test_client(), "li.reader", logins.FREE_FAILURES)
    _freeze_at_latest_failure(app, monkeypatch, "li.reader")
    assert web_login(app, "wang.editor") is not None


# ---------------------------------------------------------------- headers and cookies


def _assert_security_headers(response: Any) -> None:
    csp = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


@pytest.mark.parametrize(
    "url",
    ["/login", "/", "/search?q=备份", "/docs/不存在", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/../x"],
)
def test_every_response_carries_the_security_headers(app, admin_browser, url):
    _assert_security_headers(admin_browser.get(url))


def test_an_api_error_carries_the_security_headers(client):
    response = client.get("/api/v1/docs", headers={"Authorization": "Bearer kb_forged"})
    assert response.status_code == 401
    _assert_security_headers(response)


def test_pages_are_not_cached(admin_browser):
    assert "no-store" in admin_browser.get("/").headers["Cache-Control"]


def _session_set_cookie(response: Any) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(_SESSION_COOKIE + "=")]
    assert cookies, response.headers.getlist("Set-Cookie")
    return cookies[-1]


def test_the_session_cookie_is_httponly_and_samesite_lax(app):
    response = app.test_client().post("/login", data={"username": "li.reader", "password": PASSWORD})
    cookie = _session_set_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_the_session_cookie_is_secure_over_https(app):
    response = app.test_client().post(
        "/login", data={"username": "li.reader", "password": PASSWORD}, base_url="https://localhost"
    )
    cookie = _session_set_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_holds_no_user_name_or_role(app):
    browser = web_login(app, "admin")
    value = session_cookie(browser) or ""
    import base64
    import zlib

    payload = value.split(".")[1] if value.startswith(".") else value.split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if value.startswith("."):
        raw = zlib.decompress(raw)
    text = raw.decode("utf-8", errors="replace")
    assert "admin" not in text and "secret" not in text


@pytest.mark.parametrize("header", ["Basic YWRtaW46YWRtaW4=", "Bearer kb_forged", "Bearer"])
@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/"), ("GET", "/docs/文档"), ("POST", "/logout"), ("POST", "/docs/文档/edit"), ("GET", "/no-such-page")],
)
def test_bad_credentials_on_a_web_page_are_refused_cleanly_and_audited_once(app, header, method, url):
    """The refusal page itself must not trip over the refused credentials (it once answered 500)."""
    before = _count(app, "token_use")
    response = app.test_client().open(url, method=method, headers={"Authorization": header})
    assert response.status_code in (400, 401, 404), response.status_code
    assert _count(app, "token_use") - before <= 1


def _count(app: Flask, action: str) -> int:
    with app.extensions["kb.stores"].sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))
