"""Who is calling: a Bearer token (API) or the session cookie (web pages), else anonymous.

Resolved once per request and kept in ``g``; every route passes it to ``kb.access``.
"""

from __future__ import annotations

from flask import current_app, g, request, session

from kb import db
from kb.access import Principal, anonymous
from kb.errors import Unauthorized
from kb.models import User
from kb.services import users


def current_user() -> Principal:
    if "kb_user" not in g:
        g.kb_user = _resolve()
    return g.kb_user


def _resolve() -> Principal:
    anonymous_read = current_app.config["ANONYMOUS_READ"]
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization 头应为 “Bearer <token>” (malformed Authorization header)")
        user = users.user_for_token(db.session(), token.strip())
        if user is None:
            raise Unauthorized("令牌无效或已撤销 (invalid or revoked token)")
        return users.principal(user, anonymous_read)
    user_id = session.get("user_id")
    if user_id is not None:
        user = db.session().get(User, user_id)
        if user is not None and user.active:
            return users.principal(user, anonymous_read)
        session.clear()
    return anonymous(anonymous_read)


def log_in(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session.permanent = True


def log_out() -> None:
    session.clear()
