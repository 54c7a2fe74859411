"""Tokens, users, the caller's own account, and health."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt

from kb.schemas.base import Answer, Body, Clearance, Query, Role, line

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
# the longest an API token may be asked to live
MAX_DAYS = 3650

Username = line(64, minimum=1)
Password = line(MAX_PASSWORD, minimum=1)
NewPassword = line(MAX_PASSWORD, minimum=MIN_PASSWORD)
DisplayName = line(128)
Email = line(256)


class TokenName(Body):
    name: line(128) = "api"  # type: ignore[valid-type]


class TokenRequest(TokenName):
    username: Username  # type: ignore[valid-type]
    password: Password  # type: ignore[valid-type]
    expires_in_days: StrictInt | None = Field(default=None, ge=1, le=MAX_DAYS)


class UserCreate(Body):
    username: str = Field(pattern=r"^[\w.\-@]{2,64}$")
    password: NewPassword  # type: ignore[valid-type]
    role: Role = Role["reader"]
    clearance: Clearance = Clearance["internal"]
    display_name: DisplayName = ""  # type: ignore[valid-type]
    email: Email = ""  # type: ignore[valid-type]


class PasswordChange(Body):
    password: NewPassword  # type: ignore[valid-type]


class UserUpdate(Body):
    role: Role | None = None
    clearance: Clearance | None = None
    active: StrictBool | None = None
    password: NewPassword | None = None  # type: ignore[valid-type]
    display_name: DisplayName | None = None  # type: ignore[valid-type]
    email: Email | None = None  # type: ignore[valid-type]


class TokensQuery(Query):
    user: line(64) | None = Field(default=None, description="another user's tokens (admin)")  # type: ignore[valid-type]


class HealthQuery(Query):
    check: str | None = Field(
        default=None,
        pattern="^[01]?$",
        description="1: also compare every document in git with the tables and the index",
    )


class TokenOut(Answer):
    id: int
    name: str
    created_at: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None


class NewToken(TokenOut):
    token: str
    username: str
    role: str


class TokenList(Answer):
    tokens: list[TokenOut]


class UserOut(Answer):
    username: str
    role: str
    clearance: str
    display_name: str | None = None
    email: str | None = None
    active: bool
    created_at: str | None = None


class UserList(Answer):
    users: list[UserOut]


class Me(Answer):
    username: str
    role: str
    clearance: str
    display_name: str | None = None
    visible_levels: list[str]
    visible_statuses: list[str]
    actions: list[str]


class Health(Answer):
    """Counts and whether the derived stores are in step with git (see kb.services.health)."""
