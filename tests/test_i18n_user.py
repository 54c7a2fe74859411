"""The UI language a signed-in user chose follows them to every browser: ``?lang=`` > the
user's saved language > cookie > Accept-Language > KB_LANGUAGE."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD, make_app, token_for
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, inspect, text

from kb import migrations
from kb.identity import users
from kb.models import User
from kb.stores.db import make_sessionmaker

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def language_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def log_in(app: Flask, username: str, headers: dict | None = None) -> FlaskClient:
    """A fresh browser (no cookie) logging in."""
    web = app.test_client()
    response = web.post("/login", data={"username": username, "password": PASSWORD}, headers=headers or {})
    assert response.status_code == 302
    return web


def saved(app: Flask, username: str) -> str | None:
    with app.extensions["kb.stores"].sessions() as session:
        return users.get_user(session, username).language


def choose(web: FlaskClient, language: str, page: str = "/") -> None:
    """Click the language switch in ``page``'s header: a form posting to /account/language."""
    html = web.get(page).get_data(as_text=True)
    form = html.split('action="/account/language"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'name="(language|next)" value="([^"]*)"', form))
    assert fields["language"] == language, fields
    response = web.post("/account/language", data=fields)
    assert response.status_code == 302 and response.headers["Location"] == fields["next"], response.headers


def test_a_language_chosen_in_one_browser_follows_the_user_to_another(app):
    first = log_in(app, "li.reader", ZH)
    assert language_of(first.get("/", headers=ZH)) == "zh-CN"
    choose(first, "en", "/search?q=%E5%A4%87%E4%BB%BD")
    assert saved(app, "li.reader") == "en"
    assert language_of(first.get("/", headers=ZH)) == "en"
    other = log_in(app, "li.reader", ZH)  # another browser: no cookie, asks for Chinese
    assert other.get_cookie("kb_lang") is None
    assert language_of(other.get("/", headers=ZH)) == "en"
    assert language_of(other.get("/account", headers=ZH)) == "en"
    # another user is not affected
    someone = log_in(app, "sun.public", ZH)
    assert language_of(someone.get("/", headers=ZH)) == "zh-CN"
    assert saved(app, "sun.public") is None


def test_the_switch_goes_back_to_the_page_without_its_lang(app):
    web = log_in(app, "li.reader")
    html = web.get("/search?q=x&lang=zh").get_data(as_text=True)
    form = html.split('action="/account/language"', 1)[1].split("</form>", 1)[0]
    assert 'name="next" value="/search?q=x"' in form and 'name="language" value="en"' in form


def test_lang_in_the_address_wins_for_the_page_and_saves_nothing(app):
    web = log_in(app, "li.reader")
    assert language_of(web.get("/?lang=en", headers=ZH)) == "en"
    assert language_of(web.get("/", headers=ZH)) == "en"  # the cookie
    assert saved(app, "li.reader") is None
    choose(web, "zh")
    assert language_of(web.get("/?lang=en", headers=ZH)) == "en"
    assert saved(app, "li.reader") == "zh"
    assert language_of(web.get("/", headers=EN)) == "zh-CN"  # the saved language beats the cookie


def test_the_saved_language_beats_the_cookie(app):
    web = log_in(app, "li.reader")
    choose(web, "en")
    web.set_cookie("kb_lang", "zh")
    assert language_of(web.get("/")) == "en"


def test_anonymous_visitors_still_use_the_cookie(app):
    visitor = app.test_client()
    assert language_of(visitor.get("/login", headers=ZH)) == "zh-CN"
    assert 'action="/account/language"' not in visitor.get("/login").get_data(as_text=True)
    assert language_of(visitor.get("/login?lang=en", headers=ZH)) == "en"
    assert language_of(visitor.get("/login", headers=ZH)) == "en"  # the cookie
    assert all(saved(app, name) is None for name in ("li.reader", "admin"))


def test_a_token_callers_lang_answers_in_it_and_saves_nothing(app):
    headers = {"Authorization": f"Bearer {token_for(app, 'wang.editor')}", **ZH}
    response = app.test_client().get("/api/v1/me?lang=en", headers=headers)
    assert response.status_code == 200
    assert saved(app, "wang.editor") is None


def test_a_get_never_writes_the_users_row_and_a_post_writes_it_once(app):
    web = log_in(app, "li.reader")
    engine = app.extensions["kb.stores"].sessions.kw["bind"]
    updates: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE USERS"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            web.get("/?lang=en")
        web.get("/")
        assert updates == []
        choose(web, "zh")  # the cookie left English on: the switch offers Chinese
        choose(web, "en")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(updates) == 2 and all("language" in update for update in updates)


def test_the_account_page_sets_the_language(app):
    web = log_in(app, "li.reader", ZH)
    page = web.get("/account", headers=ZH).get_data(as_text=True)
    assert 'action="/account/language"' in page and '<option value="zh" lang="zh-CN" selected>' in page
    response = web.post("/account/language", data={"language": "en"}, headers=ZH)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    assert saved(app, "li.reader") == "en"
    page = web.get("/account", headers=ZH)
    assert language_of(page) == "en"
    assert '<option value="en" lang="en" selected>' in page.get_data(as_text=True)
    assert "Language saved." in page.get_data(as_text=True)  # the flash, in the language chosen
    assert language_of(log_in(app, "li.reader", ZH).get("/", headers=ZH)) == "en"


@pytest.mark.parametrize("value", ["fr", "", "zh-TW", "<script>"])
def test_a_language_kb_does_not_speak_is_refused_in_both_languages(app, value):
    web = log_in(app, "li.reader")
    response = web.post("/account/language", data={"language": value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "未知语言" in html and "(unknown language)" in html
    assert "<script>" not in html
    assert saved(app, "li.reader") is None


def test_the_language_form_needs_its_csrf_token(tmp_path):
    app = make_app(tmp_path / "instance")
    web = app.test_client(send_csrf=False)
    login = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    web.post("/login", data={"username": "li.reader", "password": PASSWORD, "csrf_token": token})
    assert web.post("/account/language", data={"language": "en"}).status_code == 400
    assert saved(app, "li.reader") is None
    account = web.get("/account").get_data(as_text=True)
    form = account.split('action="/account/language"', 1)[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert web.post("/account/language", data={"language": "en", "csrf_token": token}).status_code == 302
    assert saved(app, "li.reader") == "en"
    app.extensions["kb.stores"].close()


def test_a_broken_lookup_of_the_saved_language_falls_back(app, monkeypatch):
    web = log_in(app, "li.reader")
    choose(web, "en")

    def broken(*_args, **_kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr("kb.auth.viewer", broken)
    web.delete_cookie("kb_lang")
    response = web.get("/login", headers=ZH)  # the page still renders, in the browser's language
    assert language_of(response) == "zh-CN"


def test_a_users_table_from_an_older_kb_gains_the_language_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(64) NOT NULL UNIQUE, "
                "password_hash VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL, clearance VARCHAR(16) NOT NULL, "
                "display_name VARCHAR(128) NOT NULL, email VARCHAR(256) NOT NULL, active BOOLEAN NOT NULL, "
                "created_at DATETIME NOT NULL)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO users VALUES (1, 'old.user', 'x', 'reader', 'internal', 'Old', '', 1, "
                "'2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    migrations.upgrade(url)
    sessions = make_sessionmaker(url)
    engine = sessions.kw["bind"]
    assert "language" in {column["name"] for column in inspect(engine).get_columns("users")}
    with sessions() as session:
        user = session.get(User, 1)
        assert (user.username, user.language) == ("old.user", None)
        assert users.principal(user).language is None
        assert users.set_language(session, users.principal(user), "en") is True
        session.commit()
    with sessions() as session:
        assert session.get(User, 1).language == "en"
    engine.dispose()
