"""API tokens: issued once, stored as SHA-256, optionally expiring, revocable.

A token is shown to its owner once, when it is made; the database only holds its hash, so a
leaked database does not leak working tokens. A token stops working when it expires, when it is
revoked, or when its owner is disabled.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kb import access
from kb.access import Principal
from kb.errors import BadRequest, NotFound
from kb.identity.users import digest, get_user
from kb.models import ApiToken, User, utcnow
from kb.schemas.accounts import MAX_DAYS
from kb.stores.audit import AuditTrail

PREFIX = "kb_"

OUT_OF_RANGE = f"expires_in_days 须为 1 到 {MAX_DAYS} 的整数 (expires_in_days out of range)"
# how stale ``last_used_at`` may get: a write on every API call would cost more than it tells
_TOUCH_EVERY = dt.timedelta(minutes=5)


def issue(
    trail: AuditTrail, who: Principal, user: User, name: str = "", expires_in_days: int | None = None
) -> tuple[str, ApiToken]:
    """A new token for ``user`` (the caller signed in as them), expiring after 1 to ``MAX_DAYS``
    days or never; audited. Returns (token, row). Raises BadRequest for a lifetime out of range."""
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_DAYS:
            raise BadRequest(OUT_OF_RANGE)
        expires_at = utcnow() + dt.timedelta(days=expires_in_days)
    token = PREFIX + secrets.token_urlsafe(32)
    with trail.transaction() as session:
        row = ApiToken(user_id=user.id, token_hash=digest(token), name=name.strip()[:128], expires_at=expires_at)
        session.add(row)
        session.flush()
        trail.append(
            session,
            who,
            "token_create",
            detail=f"user={user.username}; token={row.id}; expires={expires_at.date() if expires_at else 'never'}",
        )
    return token, row


def user_for_token(session: Session, sessions: sessionmaker, token: str) -> User | None:
    """The active owner of a valid token, else None (unknown, revoked, expired, owner disabled).

    Read in the request's ``session``; the occasional ``last_used_at`` update is committed in a
    short transaction of its own, so the request never holds the database's write lock.
    """
    found = session.execute(select(ApiToken, User).join(User).where(ApiToken.token_hash == digest(token))).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.state != "active" or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        with sessions.begin() as writing:
            writing.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return user


def list_tokens(session: Session, actor: Principal, username: str | None = None) -> list[ApiToken]:
    """The caller's own tokens, or (administrators) another user's; newest first."""
    access.require(actor, "account")
    if username and username != actor.username:
        access.require(actor, "manage_users")
    owner = get_user(session, username or actor.username)
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id).order_by(ApiToken.id.desc())))


def revoke(trail: AuditTrail, actor: Principal, token_id: int) -> ApiToken:
    """Revoke one of the caller's tokens (administrators: anyone's); audited.

    Another user's token is NotFound for a non-administrator, so ids do not tell what exists.
    """
    access.require(actor, "account")
    with trail.transaction() as session:
        row = session.get(ApiToken, token_id)
        if row is None or (row.user.username != actor.username and not access.can(actor, "manage_users")):
            raise NotFound("令牌不存在 (no such token)")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            trail.append(session, actor, "token_revoke", detail=f"user={row.user.username}; token={row.id}")
    return row
