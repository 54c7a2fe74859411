"""Users, passwords and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from kb.access import CLEARANCES, ROLES, Principal
from kb.errors import BadRequest, Conflict, NotFound, Unauthorized
from kb.models import ApiToken, User

_USERNAME = re.compile(r"^[\w.\-@]{2,64}$")
MIN_PASSWORD = 8
# werkzeug's default (scrypt); the test suite lowers it to keep hundreds of app fixtures fast
HASH_METHOD = "scrypt"
# a fixed hash to compare against when the user does not exist, so timing does not tell
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def principal(user: User, anonymous_read: bool = False) -> Principal:
    return Principal(user.username, user.role, user.clearance, user.display_name, user.email,
                     anonymous_read)


def create_user(session: Session, username: str, password: str, role: str = "reader",
                clearance: str = "internal", display_name: str = "", email: str = "") -> User:
    """Add a user. Raises BadRequest for an invalid name, role, clearance or short password;
    Conflict when the name is taken."""
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise BadRequest("用户名须为 2–64 个字母、数字或 . _ - @ (invalid username)")
    if role not in ROLES[1:]:
        raise BadRequest(f"未知角色“{role}”，应为 {', '.join(ROLES[1:])} (unknown role)")
    if clearance not in CLEARANCES:
        raise BadRequest(f"未知密级“{clearance}”，应为 {', '.join(CLEARANCES)} (unknown clearance)")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise BadRequest(f"密码至少 {MIN_PASSWORD} 个字符 (password too short)")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"用户“{username}”已存在 (user exists)")
    user = User(username=username, password_hash=generate_password_hash(password, method=HASH_METHOD), role=role,
                clearance=clearance, display_name=display_name or username, email=email)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: object, password: object) -> User:
    """The active user with this name and password, else Unauthorized (same message either way)."""
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("需要用户名和密码 (username and password required)")
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized("用户名或密码错误 (wrong username or password)")
    if not check_password_hash(user.password_hash, password):
        raise Unauthorized("用户名或密码错误 (wrong username or password)")
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在 (no such user)")
    return user


def create_token(session: Session, user: User, name: str = "") -> str:
    """A new API token for ``user``; only its hash is stored, the token is shown once."""
    token = "kb_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), name=name[:128]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    user = session.scalar(select(User).join(ApiToken).where(ApiToken.token_hash == _digest(token)))
    return user if user is not None and user.active else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()
