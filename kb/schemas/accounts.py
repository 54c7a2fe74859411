"""Tokens, users, the caller's own account, and health."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, StrictBool, StrictInt, model_validator

from kb.schemas.base import Answer, Body, Clearance, Query, Role, Time, line

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
    created_at: Time | None = None
    expires_at: Time | None = None
    last_used_at: Time | None = None
    revoked_at: Time | None = None


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
    created_at: Time | None = None


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


class DocumentCounts(Answer):
    total: int
    by_status: dict[str, int]
    by_access: dict[str, int]
    levels: list[str] = Field(description="the levels counted: those the caller's clearance reaches")


class HeadOut(Answer):
    commit: str = Field(validation_alias=AliasChoices("sha", "commit"))
    author: str
    email: str
    date: Time
    message: str | None = Field(description="null when it may name a document above the caller's clearance")


class GitState(Answer):
    head: HeadOut | None


class InStep(Answer):
    commit: str | None
    in_step: bool


class DraftCount(Answer):
    open: int


class UserCount(Answer):
    active: int
    disabled: int


class AuditState(Answer):
    entries: int
    last_at: Time | None


class FullCheck(Answer):
    ok: bool
    problems: list[str]


class Health(Answer):
    """Counts and whether the derived stores are in step with git, made from the report of
    ``kb.services.health``; ``check`` when the full check was asked for."""

    ok: bool
    documents: DocumentCounts
    git: GitState
    catalog: InStep
    index: InStep
    drafts: DraftCount
    users: UserCount
    audit: AuditState
    check: FullCheck | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_report(cls, report: Any) -> Any:
        """The flat report (``kb.services.health.Health``) in the answer's sections."""
        if isinstance(report, dict):
            return report
        sections = {
            "ok": report.ok,
            "documents": {
                "total": report.documents,
                "by_status": report.by_status,
                "by_access": report.by_access,
                "levels": report.levels,
            },
            "git": {"head": report.head},
            "catalog": {"commit": report.catalog_commit, "in_step": report.catalog_in_step},
            "index": {"commit": report.index_commit, "in_step": report.index_in_step},
            "drafts": {"open": report.open_drafts},
            "users": {"active": report.users_active, "disabled": report.users_disabled},
            "audit": {"entries": report.audit_entries, "last_at": report.last_audit_at},
        }
        if report.problems is not None:
            sections["check"] = {"ok": not report.problems, "problems": report.problems}
        return sections
