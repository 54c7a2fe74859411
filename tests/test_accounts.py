"""Accounts: password hashing, API tokens, the caller's account, user management by API, pages
and command line, login sessions, and the API description covering all of it."""

from __future__ import annotations

import datetime as dt
import getpass
import re
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from conftest import PASSWORD, PEOPLE, audit_entries, save
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from kb.cli import main as kb_cli
from kb.models import ApiToken, LoginSession, User, utcnow

NEW_PASSWORD = "Brand-new-pass-9"
TOKEN = re.compile(r"kb_[A-Za-z0-9_\-]{40,}")


# ---------------------------------------------------------------- helpers


def db(app):
    return app.extensions["kb.stores"].sessions()


def user_row(app, username: str) -> User:
    with db(app) as session:
        user = session.scalar(select(User).where(User.username == username))
        session.expunge_all()
    return user


def login_sessions(app, username: str) -> list[LoginSession]:
    with db(app) as session:
        user = session.scalar(select(User).where(User.username == username))
        rows = list(session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)))
        session.expunge_all()
    return rows


audit = audit_entries


def set_column(app, model, where, **values) -> None:
    with db(app) as session:
        session.execute(update(model).where(where).values(**values))
        session.commit()


def web_login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password})


def signed_in(client) -> bool:
    """Whether the client's cookie still opens a page (not a redirect to the login form)."""
    response = client.get("/account")
    return response.status_code == 200


def new_token(client, username: str, password: str = PASSWORD, **fields) -> dict:
    response = client.post("/api/v1/tokens", json={"username": username, "password": password, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- passwords


def test_passwords_are_stored_as_argon2id(app, admin):
    assert admin.post("users", json={"username": "zhou.new", "password": "Long-enough-1"}).status_code == 201
    for name in (*PEOPLE, "zhou.new"):
        assert user_row(app, name).password_hash.startswith("$argon2id$"), name


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256"])
def test_a_legacy_werkzeug_hash_still_logs_in_and_is_upgraded(app, client, method):
    legacy = generate_password_hash(PASSWORD, method=method)
    assert not legacy.startswith("$argon2")
    set_column(app, User, User.username == "li.reader", password_hash=legacy)

    assert (
        client.post("/api/v1/tokens", json={"username": "li.reader", "password": "wrong-password"}).status_code == 401
    )
    assert user_row(app, "li.reader").password_hash == legacy
    new_token(client, "li.reader")
    upgraded = user_row(app, "li.reader").password_hash
    assert upgraded.startswith("$argon2id$")
    new_token(client, "li.reader")  # the new hash checks the same password
    assert web_login(client, "li.reader").status_code == 302


def test_a_legacy_hash_is_upgraded_at_a_web_login(app, client):
    set_column(
        app, User, User.username == "li.reader", password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256")
    )
    assert web_login(client, "li.reader").status_code == 302
    assert user_row(app, "li.reader").password_hash.startswith("$argon2id$")
    assert signed_in(client)


# ---------------------------------------------------------------- tokens


def test_a_token_is_shown_once_and_never_listed(app, client):
    made = new_token(client, "li.reader", name="monitoring")
    assert TOKEN.fullmatch(made["token"])
    assert (made["name"], made["username"], made["role"], made["expires_at"]) == (
        "monitoring",
        "li.reader",
        "reader",
        None,
    )
    listing = client.get("/api/v1/tokens", headers=bearer(made["token"]))
    assert listing.status_code == 200
    assert made["token"] not in listing.get_data(as_text=True)
    rows = listing.get_json()["tokens"]
    assert [(row["id"], row["name"]) for row in rows] == [(made["id"], "monitoring")]
    assert "token" not in rows[0] and "token_hash" not in rows[0]
    with db(app) as session:
        stored = session.get(ApiToken, made["id"]).token_hash
    assert made["token"] not in stored


def test_expires_in_days_sets_expires_at(client):
    made = new_token(client, "li.reader", expires_in_days=30)
    expires = dt.datetime.fromisoformat(made["expires_at"])
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert abs((expires - expected).total_seconds()) < 120


@pytest.mark.parametrize("days", [0, -1, 3651, "30", 1.5, True])
def test_an_invalid_expires_in_days_is_a_400(client, days):
    response = client.post(
        "/api/v1/tokens", json={"username": "li.reader", "password": PASSWORD, "expires_in_days": days}
    )
    assert response.status_code == 400
    assert "expires_in_days" in response.get_json()["error"]["message"]


def test_token_lists_show_only_ones_own_tokens_except_to_admins(client, admin):
    mine = [new_token(client, "li.reader", name=f"r{i}") for i in range(2)]
    theirs = new_token(client, "wang.editor", name="e1")
    listed = client.get("/api/v1/tokens", headers=bearer(mine[0]["token"])).get_json()["tokens"]
    assert [row["id"] for row in listed] == [mine[1]["id"], mine[0]["id"]]  # newest first
    assert client.get("/api/v1/tokens?user=wang.editor", headers=bearer(mine[0]["token"])).status_code == 403
    by_admin = admin.get("tokens?user=wang.editor").get_json()["tokens"]
    assert theirs["id"] in [row["id"] for row in by_admin]
    assert mine[0]["id"] not in [row["id"] for row in by_admin]


def test_revoking_tokens(app, client, admin):
    mine = new_token(client, "li.reader")
    spare = new_token(client, "li.reader")
    theirs = new_token(client, "wang.editor")
    assert client.get("/api/v1/me", headers=bearer(mine["token"])).status_code == 200

    # someone else's token is "not found" for a non-administrator, and keeps working
    assert client.delete(f"/api/v1/tokens/{theirs['id']}", headers=bearer(mine["token"])).status_code == 404
    assert client.delete("/api/v1/tokens/99999", headers=bearer(mine["token"])).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(theirs["token"])).status_code == 200

    assert client.delete(f"/api/v1/tokens/{spare['id']}", headers=bearer(mine["token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(spare["token"])).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(mine["token"])).status_code == 200
    revoked = [
        row
        for row in client.get("/api/v1/tokens", headers=bearer(mine["token"])).get_json()["tokens"]
        if row["id"] == spare["id"]
    ]
    assert revoked[0]["revoked_at"] is not None

    assert admin.delete(f"tokens/{theirs['id']}").status_code == 204
    assert client.get("/api/v1/me", headers=bearer(theirs["token"])).status_code == 401
    assert [e.detail for e in audit(app, action="token_revoke")] == [
        f"user=li.reader; token={spare['id']}",
        f"user=wang.editor; token={theirs['id']}",
    ]


def test_an_expired_token_is_refused(app, client):
    made = new_token(client, "li.reader", expires_in_days=1)
    assert client.get("/api/v1/me", headers=bearer(made["token"])).status_code == 200
    set_column(app, ApiToken, ApiToken.id == made["id"], expires_at=utcnow() - dt.timedelta(seconds=1))
    response = client.get("/api/v1/me", headers=bearer(made["token"]))
    assert response.status_code == 401
    assert "error" in response.get_json()


def test_the_account_page_shows_an_expired_token_as_expired(app, client):
    made = new_token(client, "li.reader", expires_in_days=1)
    web_login(client, "li.reader")
    row = re.compile(rf"<tr>\s*<td>[^<]*<span class=\"path\">#{made['id']}</span>.*?</tr>", re.S)
    assert "有效" in row.search(client.get("/account").get_data(as_text=True)).group(0)
    set_column(app, ApiToken, ApiToken.id == made["id"], expires_at=utcnow() - dt.timedelta(seconds=1))
    assert "已过期" in row.search(client.get("/account").get_data(as_text=True)).group(0)


def test_last_used_at_is_set_when_a_token_is_used(client):
    made = new_token(client, "li.reader")
    assert made["last_used_at"] is None
    before = dt.datetime.now(dt.UTC)
    rows = client.get("/api/v1/tokens", headers=bearer(made["token"])).get_json()["tokens"]
    used = dt.datetime.fromisoformat(rows[0]["last_used_at"])
    assert before - dt.timedelta(seconds=5) <= used <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)


# ---------------------------------------------------------------- the caller's account


@pytest.mark.parametrize(
    ("username", "levels", "has", "lacks"),
    [
        ("sun.public", ["public"], {"view", "search", "account"}, {"edit", "history"}),
        ("li.reader", ["public", "internal"], {"view", "search", "account"}, {"edit", "audit"}),
        ("wang.editor", ["public", "internal", "confidential"], {"edit", "revert", "history"}, {"audit", "archive"}),
        (
            "zhao.archivist",
            ["public", "internal", "confidential", "secret"],
            {"audit", "archive", "view_at_date"},
            {"delete", "manage_users"},
        ),
        ("admin", ["public", "internal", "confidential", "secret"], {"delete", "manage_users", "audit"}, set()),
    ],
)
def test_me_shows_role_clearance_levels_and_actions(api_as, username, levels, has, lacks):
    me = api_as(username).get("me").get_json()
    role, clearance = PEOPLE[username]
    assert (me["username"], me["role"], me["clearance"]) == (username, role, clearance)
    assert me["visible_levels"] == levels
    assert has <= set(me["actions"])
    assert not lacks & set(me["actions"])
    if role == "reader":
        assert me["actions"] == ["account", "search", "view"]


def test_me_needs_a_login(client):
    assert client.get("/api/v1/me").status_code == 401


# ---------------------------------------------------------------- users by API


def test_admins_create_and_list_users(app, admin):
    response = admin.post(
        "users",
        json={
            "username": "zhou.new",
            "password": "Long-enough-1",
            "role": "editor",
            "clearance": "confidential",
            "display_name": "周新",
            "email": "zhou@example.com",
        },
    )
    assert response.status_code == 201
    assert response.get_json() | {"created_at": None} == {
        "username": "zhou.new",
        "role": "editor",
        "clearance": "confidential",
        "display_name": "周新",
        "email": "zhou@example.com",
        "active": True,
        "created_at": None,
    }
    again = admin.post("users", json={"username": "zhou.new", "password": "Long-enough-1"})
    assert again.status_code == 409
    listed = admin.get("users")
    assert listed.status_code == 200
    names = [user["username"] for user in listed.get_json()["users"]]
    assert names == sorted([*PEOPLE, "zhou.new"])
    assert "$argon2" not in listed.get_data(as_text=True)
    assert [e.detail for e in audit(app, action="user_create")] == [
        "user=zhou.new; role=editor; clearance=confidential"
    ]


def test_only_admins_manage_users(api_as):
    for who in ("li.reader", "wang.editor", "zhao.archivist"):
        api = api_as(who)
        assert api.get("users").status_code == 403, who
        assert api.patch("users/sun.public", json={"display_name": "x"}).status_code == 403, who


def test_each_change_to_a_user_is_applied_and_audited(app, admin):
    changes = [
        ({"role": "editor"}, "role: reader → editor"),
        ({"clearance": "confidential"}, "clearance: internal → confidential"),
        ({"display_name": "李读者"}, "display_name changed"),
        ({"email": "li@example.org"}, "email changed"),
        ({"active": False}, "disabled"),
        ({"active": True}, "enabled"),
        ({"password": NEW_PASSWORD}, "password reset"),
    ]
    for change, described in changes:
        response = admin.patch("users/li.reader", json=change)
        assert response.status_code == 200, (change, response.get_json())
        body = response.get_json()
        for name, value in change.items():
            if name != "password":
                assert body[name] == value
        assert audit(app, action="user_update")[-1].detail == f"user=li.reader; {described}"
        assert audit(app, action="user_update")[-1].actor == "admin"
    user = user_row(app, "li.reader")
    assert (user.role, user.clearance, user.display_name, user.email, user.active) == (
        "editor",
        "confidential",
        "李读者",
        "li@example.org",
        True,
    )
    assert len(audit(app, action="user_update")) == len(changes)
    # a change to nothing is not an entry
    assert admin.patch("users/li.reader", json={"role": "editor"}).status_code == 200
    assert len(audit(app, action="user_update")) == len(changes)


def test_a_patch_with_unknown_fields_or_bad_values_is_a_400(admin):
    assert admin.patch("users/li.reader", json={"username": "x"}).status_code == 400
    assert admin.patch("users/li.reader", json={"role": "overlord"}).status_code == 400
    assert admin.patch("users/li.reader", json={"clearance": "cosmic"}).status_code == 400
    assert admin.patch("users/li.reader", json={"active": "no"}).status_code == 400
    assert admin.patch("users/li.reader", json={"password": "short"}).status_code == 400
    assert admin.patch("users/nobody.here", json={"role": "editor"}).status_code == 404


def test_the_rules_administrators_are_held_to(app, admin, client):
    assert (
        admin.post(
            "users",
            json={"username": "wu.admin", "password": "Long-enough-1", "role": "admin", "clearance": "confidential"},
        ).status_code
        == 201
    )
    lesser = {"Authorization": f"Bearer {new_token(client, 'wu.admin', 'Long-enough-1')['token']}"}
    assert (
        client.post(
            "/api/v1/users",
            headers=lesser,
            json={"username": "x.secret", "password": "Long-enough-1", "clearance": "secret"},
        ).status_code
        == 403
    )
    assert client.patch("/api/v1/users/li.reader", headers=lesser, json={"clearance": "secret"}).status_code == 403
    assert client.patch("/api/v1/users/zhao.archivist", headers=lesser, json={"display_name": "x"}).status_code == 403
    assert (
        client.patch("/api/v1/users/li.reader", headers=lesser, json={"clearance": "confidential"}).status_code == 200
    )
    for change in ({"role": "reader"}, {"clearance": "public"}, {"active": False}):
        assert admin.patch("users/admin", json=change).status_code == 403, change
    assert user_row(app, "admin").role == "admin" and user_row(app, "admin").active


def test_disabling_ends_sessions_and_revokes_tokens_and_enabling_does_not_revive_them(app, admin):
    browser = app.test_client()
    assert web_login(browser, "li.reader").status_code == 302
    assert signed_in(browser) and login_sessions(app, "li.reader")
    token = new_token(app.test_client(), "li.reader")

    assert admin.patch("users/li.reader", json={"active": False}).status_code == 200
    assert login_sessions(app, "li.reader") == []
    assert not signed_in(browser)
    assert admin.client.get("/api/v1/me", headers=bearer(token["token"])).status_code == 401
    rows = admin.get("tokens?user=li.reader").get_json()["tokens"]
    assert rows[0]["revoked_at"] is not None

    assert admin.patch("users/li.reader", json={"active": True}).status_code == 200
    assert admin.client.get("/api/v1/me", headers=bearer(token["token"])).status_code == 401
    assert admin.get("tokens?user=li.reader").get_json()["tokens"][0]["revoked_at"] is not None
    fresh = new_token(app.test_client(), "li.reader")
    assert admin.client.get("/api/v1/me", headers=bearer(fresh["token"])).status_code == 200


def test_a_password_reset_ends_sessions_and_revokes_tokens(app, admin):
    browser = app.test_client()
    assert web_login(browser, "li.reader").status_code == 302
    token = new_token(app.test_client(), "li.reader")
    assert admin.patch("users/li.reader", json={"password": NEW_PASSWORD}).status_code == 200
    assert not signed_in(browser)
    assert login_sessions(app, "li.reader") == []
    assert admin.client.get("/api/v1/me", headers=bearer(token["token"])).status_code == 401
    other = app.test_client()
    assert web_login(other, "li.reader").status_code == 401
    assert web_login(other, "li.reader", NEW_PASSWORD).status_code == 302


# ---------------------------------------------------------------- pages


@pytest.fixture
def admin_browser(app):
    browser = app.test_client()
    assert web_login(browser, "admin").status_code == 302
    return browser


def test_the_user_list_page_lists_users_and_creates_one(app, admin_browser):
    page = admin_browser.get("/admin/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in PEOPLE:
        assert name in html
    created = admin_browser.post(
        "/admin/users",
        data={
            "username": "zhou.new",
            "password": "Long-enough-1",
            "role": "editor",
            "clearance": "confidential",
            "display_name": "周新",
            "email": "",
        },
    )
    assert created.status_code == 302
    assert created.headers["Location"].endswith("/admin/users")
    user = user_row(app, "zhou.new")
    assert (user.role, user.clearance, user.display_name) == ("editor", "confidential", "周新")
    assert "zhou.new" in admin_browser.get("/admin/users").get_data(as_text=True)

    refused = admin_browser.post(
        "/admin/users",
        data={"username": "zhou.new", "password": "Long-enough-1", "role": "reader", "clearance": "internal"},
    )
    assert refused.status_code == 409
    assert "已存在" in refused.get_data(as_text=True)
    short = admin_browser.post(
        "/admin/users", data={"username": "x.short", "password": "short", "role": "reader", "clearance": "internal"}
    )
    assert short.status_code == 400
    assert user_row(app, "x.short") is None


def test_the_user_page_updates_a_user(app, admin_browser):
    assert admin_browser.get("/admin/users/li.reader").status_code == 200
    saved = admin_browser.post(
        "/admin/users/li.reader",
        data={"role": "editor", "clearance": "confidential", "display_name": "李", "email": "li@example.org"},
    )
    assert saved.status_code == 302
    user = user_row(app, "li.reader")
    assert (user.role, user.clearance, user.display_name, user.email) == (
        "editor",
        "confidential",
        "李",
        "li@example.org",
    )
    assert admin_browser.post("/admin/users/li.reader", data={"active": "0"}).status_code == 302
    assert user_row(app, "li.reader").active is False
    assert admin_browser.post("/admin/users/li.reader", data={"active": "1"}).status_code == 302
    assert user_row(app, "li.reader").active is True
    assert admin_browser.post("/admin/users/li.reader", data={"password": NEW_PASSWORD}).status_code == 302
    assert web_login(app.test_client(), "li.reader", NEW_PASSWORD).status_code == 302
    assert admin_browser.post("/admin/users/li.reader", data={"role": "overlord"}).status_code == 400
    assert admin_browser.get("/admin/users/nobody.here").status_code == 404


def test_user_pages_are_for_admins_only(app):
    browser = app.test_client()
    web_login(browser, "zhao.archivist")
    assert browser.get("/admin/users").status_code == 403
    assert browser.post("/admin/users/li.reader", data={"role": "admin"}).status_code == 403
    assert user_row(app, "li.reader").role == "reader"


def test_changing_ones_own_password_on_the_account_page(app):
    browser = app.test_client()
    assert web_login(browser, "li.reader").status_code == 302
    assert browser.get("/account").status_code == 200
    wrong = browser.post(
        "/account/password",
        data={"current_password": "not-my-password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    differ = browser.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": "Other-pass-99"},
    )
    assert differ.status_code == 400
    assert web_login(app.test_client(), "li.reader").status_code == 302  # still the old password

    changed = browser.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert "/login" in changed.headers["Location"]
    assert not signed_in(browser)
    assert login_sessions(app, "li.reader") == []
    assert web_login(app.test_client(), "li.reader").status_code == 401
    assert web_login(app.test_client(), "li.reader", NEW_PASSWORD).status_code == 302
    assert [e.actor for e in audit(app, action="password_change")] == ["li.reader"]


def test_tokens_on_the_account_page(app):
    browser = app.test_client()
    assert web_login(browser, "li.reader").status_code == 302
    made = browser.post("/account/tokens", data={"name": "页面令牌", "expires_in_days": "7"})
    assert made.status_code == 201
    shown = TOKEN.findall(made.get_data(as_text=True))
    assert len(set(shown)) == 1
    token = shown[0]
    assert browser.get("/api/v1/me", headers=bearer(token)).get_json()["username"] == "li.reader"
    again = browser.get("/account").get_data(as_text=True)
    assert token not in again and "页面令牌" in again

    row = browser.get("/api/v1/tokens", headers=bearer(token)).get_json()["tokens"][0]
    assert row["name"] == "页面令牌" and row["expires_at"] is not None
    revoked = browser.post(f"/account/tokens/{row['id']}/revoke")
    assert revoked.status_code == 302
    assert revoked.headers["Location"].endswith("/account")
    assert browser.get("/api/v1/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("days", ["-5", "0", "abc", "1.5", "99999"])
def test_an_expiry_the_account_page_cannot_take_is_refused_not_made_never(app, days):
    browser = app.test_client()
    assert web_login(browser, "li.reader").status_code == 302
    made = browser.post("/account/tokens", data={"name": "坏期限", "expires_in_days": days})
    assert made.status_code == 400
    assert "expires_in_days" in made.get_data(as_text=True)
    assert audit(app, action="token_create") == []


# ---------------------------------------------------------------- logging in and out


def test_web_login_goes_to_next_and_logout_ends_the_server_side_session(app, editor):
    save(editor, "流程/变更", "正文")
    browser = app.test_client()
    assert browser.get("/docs/流程/变更").status_code == 302  # to the login form
    response = web_login(browser, "li.reader", next_url="/docs/流程/变更")
    assert response.status_code == 302
    assert unquote(response.headers["Location"]) == "/docs/流程/变更"
    assert browser.get("/docs/流程/变更").status_code == 200
    assert len(login_sessions(app, "li.reader")) == 1

    cookie = browser.get_cookie("session")
    assert browser.post("/logout").status_code == 302
    assert login_sessions(app, "li.reader") == []
    assert browser.get("/docs/流程/变更").status_code == 302
    # the old cookie, replayed, no longer works: the session ended on the server
    replay = app.test_client()
    replay.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
    assert replay.get("/account").status_code == 302


def test_wrong_password_on_the_login_page(app):
    browser = app.test_client()
    response = web_login(browser, "li.reader", "wrong-password")
    assert response.status_code == 401
    assert login_sessions(app, "li.reader") == []
    assert not signed_in(browser)


def test_an_expired_login_session_is_not_accepted(app):
    browser = app.test_client()
    assert web_login(browser, "li.reader").status_code == 302
    assert signed_in(browser)
    row = login_sessions(app, "li.reader")[0]
    set_column(app, LoginSession, LoginSession.id == row.id, expires_at=utcnow() - dt.timedelta(seconds=1))
    assert not signed_in(browser)
    assert browser.get("/").status_code == 302


def test_a_login_session_lasts_session_hours(app):
    browser = app.test_client()
    before = dt.datetime.now(dt.UTC)
    assert web_login(browser, "li.reader").status_code == 302
    expires = login_sessions(app, "li.reader")[0].expires_at
    hours = app.config["SESSION_HOURS"]
    assert before + dt.timedelta(hours=hours) - dt.timedelta(seconds=5) <= expires
    assert expires <= dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours, seconds=5)


def test_anonymous_readers_see_public_documents_only_when_allowed(app, client, admin):
    save(admin, "公开/指南", "公开正文", access="public")
    save(admin, "内部/手册", "内部正文", access="internal")
    assert client.get("/api/v1/docs/公开/指南").status_code == 401
    assert client.get("/docs/公开/指南").status_code == 302
    app.config["ANONYMOUS_READ"] = True
    assert client.get("/api/v1/docs/公开/指南").get_json()["body"].strip() == "公开正文"
    assert client.get("/docs/公开/指南").status_code == 200
    assert client.get("/api/v1/docs/内部/手册").status_code == 404
    assert "内部/手册" not in client.get("/api/v1/docs").get_data(as_text=True)
    assert client.put("/api/v1/docs/公开/指南", json={"title": "t", "body": "b"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401


# ---------------------------------------------------------------- command line


@pytest.fixture
def kb(app):
    """Runs ``kb …`` in-process against the test app's instance folder."""
    env = {"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]}

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(kb_cli, list(args), env=env, input=input)

    return run


def operator() -> str:
    return f"cli:{getpass.getuser()}"[:64]


def test_kb_user_commands(app, kb):
    added = kb(
        "user",
        "add",
        "chen.jie",
        "--role",
        "editor",
        "--clearance",
        "confidential",
        "--password",
        "Chen-pass-123",
        "--name",
        "陈杰",
        "--email",
        "chen@example.com",
    )
    assert added.exit_code == 0, added.output
    user = user_row(app, "chen.jie")
    assert (user.role, user.clearance, user.display_name, user.email) == (
        "editor",
        "confidential",
        "陈杰",
        "chen@example.com",
    )
    assert user.password_hash.startswith("$argon2id$")
    assert kb("user", "add", "chen.jie", "--password", "Chen-pass-123").exit_code == 1

    listed = kb("user", "list")
    assert listed.exit_code == 0
    line = next(line for line in listed.output.splitlines() if line.startswith("chen.jie "))
    assert line.split() == ["chen.jie", "editor", "confidential", "active"]

    assert kb("user", "set", "chen.jie", "--role", "archivist", "--clearance", "secret").exit_code == 0
    assert (user_row(app, "chen.jie").role, user_row(app, "chen.jie").clearance) == ("archivist", "secret")
    assert kb("user", "disable", "chen.jie").exit_code == 0
    assert user_row(app, "chen.jie").active is False
    assert "chen.jie" in kb("user", "list").output and "disabled" in kb("user", "list").output
    assert kb("user", "enable", "chen.jie").exit_code == 0
    assert user_row(app, "chen.jie").active is True
    passwd = kb("user", "passwd", "chen.jie", input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert passwd.exit_code == 0, passwd.output
    assert web_login(app.test_client(), "chen.jie", NEW_PASSWORD).status_code == 302
    assert kb("user", "set", "nobody.here", "--role", "editor").exit_code == 1

    entries = [(e.action, e.detail) for e in audit(app, actor=operator())]
    assert entries == [
        ("user_create", "user=chen.jie; role=editor; clearance=confidential"),
        ("user_update", "user=chen.jie; role: editor → archivist; clearance: confidential → secret"),
        ("user_update", "user=chen.jie; disabled"),
        ("user_update", "user=chen.jie; enabled"),
        ("user_update", "user=chen.jie; password reset"),
    ]
    assert {e.address for e in audit(app, actor=operator())} == {"local"}


def test_kb_token_commands(app, kb, client):
    created = kb("token", "create", "li.reader", "--name", "backup", "--expires-days", "10")
    assert created.exit_code == 0, created.output
    token = created.output.strip()
    assert TOKEN.fullmatch(token)
    assert client.get("/api/v1/me", headers=bearer(token)).get_json()["username"] == "li.reader"
    assert kb("token", "create", "li.reader", "--expires-days", "0").exit_code == 2

    listed = kb("token", "list", "li.reader")
    assert listed.exit_code == 0
    assert token not in listed.output
    line = next(line for line in listed.output.splitlines() if "backup" in line)
    token_id = int(line.split()[0])
    expected = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).date()
    assert "expires" in line and (str(expected) in line or str(expected - dt.timedelta(days=1)) in line)

    revoked = kb("token", "revoke", str(token_id))
    assert revoked.exit_code == 0
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert "revoked" in kb("token", "list", "li.reader").output

    entries = [(e.action, e.detail) for e in audit(app, actor=operator())]
    assert [action for action, _ in entries] == ["token_create", "token_revoke"]
    assert entries[0][1].startswith(f"user=li.reader; token={token_id}; expires=")
    assert entries[1][1] == f"user=li.reader; token={token_id}"


# ---------------------------------------------------------------- the API description


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<[^>]+>", "{}", path))


def test_the_openapi_description_covers_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    described = {_shape(path): {method.upper() for method in operations} for path, operations in spec["paths"].items()}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method not in described.get(_shape(rule.rule), set()):
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_the_openapi_description_of_the_new_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths, schemas = spec["paths"], spec["components"]["schemas"]

    def body(path: str, method: str) -> dict:
        ref = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]["properties"]

    def query(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"] if p["in"] == "query"} - {"lang"}

    lifetime = body("/api/v1/tokens", "post")["expires_in_days"]["anyOf"][0]
    assert lifetime == {"type": "integer", "minimum": 1, "maximum": 3650}
    assert body("/api/v1/tokens", "post")["name"]["maxLength"] == 128
    assert paths["/api/v1/tokens"]["post"]["security"] == []
    patch = body("/api/v1/users/{username}", "patch")
    assert set(patch) == {"role", "clearance", "active", "password", "display_name", "email"}
    assert patch["active"]["anyOf"][0] == {"type": "boolean"}
    assert "user" in query("/api/v1/tokens")
    assert {"revision", "at"} <= query("/api/v1/docs/{path}/raw")
    assert "text/markdown" in paths["/api/v1/docs/{path}/raw"]["get"]["responses"]["200"]["content"]
    filters = {"user", "path", "action", "outcome", "since", "until"}
    assert query("/api/v1/audit") == filters | {"page", "per_page"}
    assert query("/api/v1/audit/export") == filters
    assert "text/csv" in paths["/api/v1/audit/export"]["get"]["responses"]["200"]["content"]
    assert "delete" in paths["/api/v1/tokens/{token_id}"]
    assert "get" in paths["/api/v1/me"] and "get" in paths["/api/v1/audit/verify"]
