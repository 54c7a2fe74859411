"""Signing in: passwords checked with throttling, and server-side login sessions.

Failed sign-ins are read back from the audit trail, so every worker process and machine sees the
same count. After ``FREE_FAILURES`` failures within ``WINDOW`` for one account (or
``FREE_FAILURES_PER_ADDRESS`` from one address), each further attempt must wait twice as long as
the one before (1 s, 2 s, 4 s … at most ``MAX_WAIT``); an attempt that comes too early is
refused with 429 without checking the password, and logged.

Writes (a login session, an upgraded password hash) are committed in transactions of their own,
never left pending in the request's session: with SQLite, a request holding the write lock
would block the audit trail's own connection.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from kb.access import Principal
from kb.errors import BadRequest, TooManyRequests, Unauthorized
from kb.identity import users
from kb.models import LoginSession, User, utcnow
from kb.stores.audit import AuditTrail

FREE_FAILURES = 5
FREE_FAILURES_PER_ADDRESS = 20
WINDOW = dt.timedelta(minutes=15)
MAX_WAIT = dt.timedelta(minutes=15)
WRONG = "用户名或密码错误 (wrong username or password)"


def sign_in(
    trail: AuditTrail, session: Session, username: str, password: str, address: str, purpose: str = "login"
) -> User:
    """The active user with this name and password; every attempt is audited.

    Raises BadRequest for an empty field, TooManyRequests while throttled, Unauthorized for a
    wrong name or password or a disabled account (the same message, and the same time, for each).
    """
    if not username or not password:
        raise BadRequest("需要用户名和密码 (username and password required)")
    username = username.strip()[:64]
    who = Principal(username, "anonymous", "public", address=address)
    wait = _wait(trail, session, username, address)
    if wait > 0:
        trail.record(who, purpose, outcome="throttled", detail=f"retry after {wait} s")
        raise TooManyRequests(
            f"登录失败次数过多，请 {wait} 秒后再试 (too many failed attempts; retry in {wait} s)", retry_after=wait
        )
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        users.spend_a_hash(password)
        matches, upgraded = False, None
    else:
        matches, upgraded = users.check_password(user.password_hash, password)
    if not matches or not user or not user.active:
        reason = "no such user" if user is None else ("disabled" if not user.active else "wrong password")
        trail.record(who, purpose, outcome="failed", detail=reason)
        raise Unauthorized(WRONG)
    with trail.transaction() as writing:
        if upgraded:
            writing.execute(update(User).where(User.id == user.id).values(password_hash=upgraded))
        trail.append(writing, users.principal(user, address=address), purpose)
    return user


def _wait(trail: AuditTrail, session: Session, username: str, address: str) -> int:
    """Seconds the next attempt must still wait (0: go ahead)."""
    now = utcnow()
    longest = 0.0
    for free, kwargs in ((FREE_FAILURES, {"actor": username}), (FREE_FAILURES_PER_ADDRESS, {"address": address})):
        count, latest = trail.failures_since(session, now - WINDOW, **kwargs)
        if count >= free and latest is not None:
            delay = min(2.0 ** (count - free), MAX_WAIT.total_seconds())
            longest = max(longest, delay - (now - latest).total_seconds())
    return math.ceil(longest) if longest > 0 else 0


# ---------------------------------------------------------------- login sessions


def start_session(sessions: sessionmaker, user: User, address: str, lifetime: dt.timedelta) -> str:
    """A new login session, committed at once; the returned key goes into the session cookie."""
    key = secrets.token_urlsafe(32)
    with sessions.begin() as session:
        session.add(
            LoginSession(
                user_id=user.id, key_hash=users.digest(key), address=address[:64], expires_at=utcnow() + lifetime
            )
        )
    return key


def session_user(session: Session, key: str) -> User | None:
    """The active user of a live login session, else None."""
    found = session.execute(
        select(LoginSession.expires_at, User).join(User).where(LoginSession.key_hash == users.digest(key))
    ).first()
    if found is None or found.expires_at <= utcnow() or not found.User.active:
        return None
    return found.User


def end_session(trail: AuditTrail, who: Principal, key: str) -> None:
    """Log out: the login session ends on the server, and the logout is audited."""
    with trail.transaction() as session:
        session.execute(delete(LoginSession).where(LoginSession.key_hash == users.digest(key)))
        trail.append(session, who, "logout")
