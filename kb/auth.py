"""Who is calling: a Bearer token (API) or a login session (web pages, Flask-Login), else anonymous.

Resolved once per request and kept in ``g``; every route passes it to ``kb.access``. The session
cookie holds only the key of a server-side login session (``kb.identity.logins``): logging in
starts a new one (so a session planted before login is worthless), and logging out, a password
reset or disabling the account ends it on the server.
"""

from __future__ import annotations

import datetime as dt

import flask_login
from flask import Flask, current_app, g, request, session
from flask_login import LoginManager, UserMixin

from kb import db, extensions
from kb.access import Principal, anonymous
from kb.errors import Unauthorized
from kb.identity import logins, tokens, users
from kb.models import User


class _LoggedIn(UserMixin):
    """What Flask-Login keeps for a request: the user and the key of their login session."""

    def __init__(self, user: User, key: str) -> None:
        self.user = user
        self.key = key

    def get_id(self) -> str:
        return self.key


def _load(key: str) -> _LoggedIn | None:
    user = logins.session_user(db.session(), key)
    return _LoggedIn(user, key) if user is not None else None


def init_app(app: Flask) -> None:
    manager = LoginManager()
    manager.user_loader(_load)
    manager.init_app(app)


def address() -> str:
    """The caller's address (behind a proxy, set KB_PROXY_COUNT so it is the client's)."""
    return (request.remote_addr or "")[:64]


def current_user() -> Principal:
    """The caller; raises Unauthorized for credentials that were sent but are not valid (once
    resolved, the same answer for the rest of the request, audited once)."""
    if "kb_user" not in g:
        try:
            g.kb_user = _resolve()
        except Unauthorized as refused:
            g.kb_user, g.kb_user_refused = None, refused
    if g.kb_user is None:
        raise g.kb_user_refused
    return g.kb_user


def viewer() -> Principal:
    """``current_user()``, or anonymous when the credentials were refused: what templates and
    error pages show, so rendering a refusal never fails on the refusal itself."""
    try:
        return current_user()
    except Unauthorized:
        return anonymous(current_app.config["ANONYMOUS_READ"], address())


def saved_language() -> str | None:
    """The UI language the signed-in caller saved (None: anonymous, or none saved)."""
    user = viewer()
    return user.language if user.is_authenticated else None


def _resolve() -> Principal:
    anonymous_read = current_app.config["ANONYMOUS_READ"]
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization 头应为 “Bearer <token>” (malformed Authorization header)")
        user = tokens.user_for_token(db.session(), extensions.stores().sessions, token.strip())
        if user is None:
            extensions.stores().audit.record(
                anonymous(address=address()),
                "token_use",
                outcome="failed",
                detail=f"{request.method} {request.path}"[:200],
            )
            raise Unauthorized("令牌无效、已过期或已撤销 (invalid, expired or revoked token)")
        return users.principal(user, anonymous_read, address())
    account = flask_login.current_user
    if account.is_authenticated:
        return users.principal(account.user, anonymous_read, address())
    return anonymous(anonymous_read, address())


def session_authenticated() -> bool:
    """Whether the caller is signed in by the session cookie (not a token)."""
    return not request.headers.get("Authorization") and flask_login.current_user.is_authenticated


def log_in(user: User) -> None:
    """Start a new login session: the old cookie's contents are dropped first."""
    session.clear()
    lifetime = dt.timedelta(hours=current_app.config["SESSION_HOURS"])
    key = logins.start_session(extensions.stores().sessions, user, address(), lifetime)
    flask_login.login_user(_LoggedIn(user, key), fresh=True)
    session.permanent = True
    g.pop("kb_user", None)


def log_out() -> None:
    account = flask_login.current_user
    if account.is_authenticated:
        logins.end_session(extensions.stores().audit, current_user(), account.key)
    flask_login.logout_user()
    session.clear()
