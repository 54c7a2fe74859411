"""Accounts: creating users, changing their role, clearance, password and state, and passwords.

Passwords are hashed with Argon2id (argon2-cffi, memory-hard); a hash made with older
parameters, or by werkzeug before kb used Argon2, is replaced at the next successful login.

Administrators manage users through ``add_user`` / ``update_user``, which check the rules an
administrator is held to and write the change and its audit entry in one transaction:
nobody grants a clearance above their own, manages an account cleared above their own, or
changes their own role or state (another administrator must).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from kb import access
from kb.access import CLEARANCES, ROLES, Principal
from kb.errors import BadRequest, Conflict, Forbidden, NotFound
from kb.locales import LANGUAGES
from kb.models import ApiToken, LoginSession, User, utcnow
from kb.schemas.accounts import MAX_PASSWORD, MIN_PASSWORD
from kb.stores.audit import AuditTrail
from kb.stores.db import rowcount

# argon2-cffi's defaults (RFC 9106's second recommendation); the test suite swaps in a cheap one
HASHER = PasswordHasher()
ASSIGNABLE_ROLES = ROLES[1:]


def principal(user: User, anonymous_read: bool = False, address: str = "") -> Principal:
    return Principal(
        user.username, user.role, user.clearance, user.display_name, user.email, anonymous_read, address, user.language
    )


@dataclass(frozen=True)
class Reach:
    """Who a caller is and what their role and clearance let them see and do."""

    username: str
    role: str
    clearance: str
    display_name: str
    visible_levels: list[str]
    visible_statuses: list[str]
    actions: list[str]


def reach(user: Principal) -> Reach:
    """What ``user`` may see and do: the quickest way to see a role's reach."""
    return Reach(
        user.username,
        user.role,
        user.clearance,
        user.display_name,
        access.visible_levels(user),
        access.visible_statuses(user),
        sorted(action for action in access.ACTION_ROLE if access.can(user, action)),
    )


# ---------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def check_password(stored: str, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches the ``stored`` hash, and the hash to store instead when the
    stored one is outdated (older Argon2 parameters, or werkzeug's from before Argon2)."""
    if stored.startswith("$argon2"):
        try:
            HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, hash_password(password) if HASHER.check_needs_rehash(stored) else None
    if check_password_hash(stored, password):
        return True, hash_password(password)
    return False, None


def spend_a_hash(password: str) -> None:
    """Take as long as a real check, so a response does not tell whether the user exists."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        HASHER.verify(_dummy_hash(), password)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")


def _check_password_rules(password: str) -> str:
    """The password policy, for every way a password is set (``kb init`` takes one from the
    environment, unchecked by any request model)."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"密码至少 {MIN_PASSWORD} 个字符 (password shorter than {MIN_PASSWORD})")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"密码不能超过 {MAX_PASSWORD} 个字符 (password too long)")
    return password


def digest(secret: str) -> str:
    """SHA-256 of a random secret (an API token, a session key): stored instead of the secret.
    A fast hash suffices for 256 random bits, which cannot be guessed the way passwords are."""
    return hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()


# ---------------------------------------------------------------- users


def _check_role(role: str) -> str:
    if role not in ASSIGNABLE_ROLES:
        raise BadRequest(f"未知角色“{role[:40]}”，应为 {', '.join(ASSIGNABLE_ROLES)} (unknown role)")
    return role


def _check_clearance(clearance: str) -> str:
    if clearance not in CLEARANCES:
        raise BadRequest(f"未知密级“{clearance[:40]}”，应为 {', '.join(CLEARANCES)} (unknown clearance)")
    return clearance


def _check_text(value: str, name: str) -> str:
    """A display name or e-mail (its length is the request model's). They become the git author
    of the user's commits, which git refuses with angle brackets or control characters: refused
    here, not at the first save."""
    if any(ch in "<>" or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise BadRequest(f"{name} 不能包含尖括号或控制字符 ({name} may not hold < > or control characters)")
    return value.strip()


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str = "reader",
    clearance: str = "internal",
    display_name: str = "",
    email: str = "",
) -> User:
    """Add a user (no permission check: ``kb init``, the CLI and ``add_user`` call this), with
    the fields a request model (``kb.schemas.accounts.UserCreate``) has validated.

    Raises BadRequest for an unknown role or clearance, a password the policy refuses or a name
    git cannot take; Conflict when the name is taken.
    """
    role, clearance = _check_role(role), _check_clearance(clearance)
    password = _check_password_rules(password)
    display_name = _check_text(display_name, "display_name")
    email = _check_text(email, "email")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"用户“{username}”已存在 (user exists)")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        clearance=clearance,
        display_name=display_name or username,
        email=email,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username[:64]}”不存在 (no such user)")
    return user


def list_users(session: Session, actor: Principal) -> list[User]:
    access.require(actor, "manage_users")
    return list(session.scalars(select(User).order_by(User.username)))


@dataclass(frozen=True)
class NewAccount:
    """What an administrator gives to add a user (``kb.schemas.accounts.UserCreate``, validated)."""

    username: str
    password: str
    role: str = "reader"
    clearance: str = "internal"
    display_name: str = ""
    email: str = ""


@dataclass(frozen=True)
class AccountChanges:
    """What an administrator changes of a user (``kb.schemas.accounts.UserUpdate``, validated);
    None leaves a field as it is."""

    role: str | None = None
    clearance: str | None = None
    active: bool | None = None
    password: str | None = None
    display_name: str | None = None
    email: str | None = None


def add_user(trail: AuditTrail, actor: Principal, account: NewAccount) -> User:
    """An administrator adds a user; audited. Raises Forbidden for a clearance above the
    administrator's own, else as ``create_user``."""
    access.require(actor, "manage_users")
    clearance = _check_clearance(account.clearance)
    _may_grant(actor, clearance)
    with trail.transaction() as session:
        user = create_user(
            session,
            account.username,
            account.password,
            account.role,
            clearance,
            account.display_name,
            account.email,
        )
        trail.append(
            session, actor, "user_create", detail=f"user={user.username}; role={user.role}; clearance={user.clearance}"
        )
    return user


def update_user(trail: AuditTrail, actor: Principal, username: str, changes: AccountChanges) -> User:
    """Change a user's role, clearance, state, password, name or e-mail; audited, with each change.

    Disabling an account or resetting its password ends its login sessions and revokes its API
    tokens, so neither an old cookie nor an old token gets back in. Raises Forbidden (rules
    above), NotFound, BadRequest for values the rules refuse.
    """
    access.require(actor, "manage_users")
    with trail.transaction() as session:
        user = get_user(session, username)
        _may_grant(actor, user.clearance)
        described = _apply(actor, user, changes)
        if not described:
            return user
        if "disabled" in described or "password reset" in described:
            end_all_sessions(session, user)
            revoke_all_tokens(session, user)
        trail.append(session, actor, "user_update", detail=f"user={user.username}; " + "; ".join(described))
    return user


def _apply(actor: Principal, user: User, changes: AccountChanges) -> list[str]:
    """Apply checked changes to ``user``; returns what changed, in words for the audit trail."""
    described = []
    own = user.username == actor.username
    if changes.role is not None and changes.role != user.role:
        if own:
            raise Forbidden("不能修改自己的角色，请由另一位管理员操作 (you may not change your own role)")
        described.append(f"role: {user.role} → {_check_role(changes.role)}")
        user.role = changes.role
    if changes.clearance is not None and changes.clearance != user.clearance:
        _may_grant(actor, _check_clearance(changes.clearance))
        if own:
            raise Forbidden("不能修改自己的密级，请由另一位管理员操作 (you may not change your own clearance)")
        described.append(f"clearance: {user.clearance} → {changes.clearance}")
        user.clearance = changes.clearance
    if changes.active is not None and changes.active != user.active:
        if own:
            raise Forbidden("不能停用自己的账户 (you may not disable your own account)")
        described.append("enabled" if changes.active else "disabled")
        user.active = changes.active
    if changes.password:
        user.password_hash = hash_password(_check_password_rules(changes.password))
        described.append("password reset")
    for name in ("display_name", "email"):
        given = getattr(changes, name)
        value = _check_text(given, name) if given is not None else getattr(user, name)
        if value != getattr(user, name):
            setattr(user, name, value)
            described.append(f"{name} changed")
    return described


def _may_grant(actor: Principal, clearance: str) -> None:
    if CLEARANCES.index(clearance) > CLEARANCES.index(actor.clearance):
        raise Forbidden("不能授予或管理高于自己密级的账户 (clearance above your own)")


def change_own_password(trail: AuditTrail, actor: Principal, current: str, new: str) -> None:
    """A user changes their own password (the current one is asked for); other sessions end."""
    access.require(actor, "account")
    with trail.transaction() as session:
        user = get_user(session, actor.username)
        if not check_password(user.password_hash, current)[0]:
            raise BadRequest("当前密码不正确 (current password is wrong)")
        user.password_hash = hash_password(_check_password_rules(new))
        end_all_sessions(session, user)
        trail.append(session, actor, "password_change")


def set_language(session: Session, actor: Principal, language: str) -> bool:
    """Remember the UI language ``actor`` chose; one UPDATE, and only when it changes (the caller
    commits). Returns whether it changed. Raises BadRequest for a language kb does not speak."""
    access.require(actor, "account")
    if language not in LANGUAGES:
        raise BadRequest(f"未知语言“{language[:20]}”，应为 {', '.join(LANGUAGES)} (unknown language)")
    if language == actor.language:
        return False
    changed = session.execute(
        update(User)
        .where(User.username == actor.username, or_(User.language.is_(None), User.language != language))
        .values(language=language)
    )
    return bool(rowcount(changed))


def end_all_sessions(session: Session, user: User) -> None:
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def revoke_all_tokens(session: Session, user: User) -> None:
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
