"""The audit trail."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from kb.schemas.base import Answer, Moment, Page, Query, Time, line


class AuditQuery(Query):
    user: line(256) | None = Field(default=None, description="actor's username")  # type: ignore[valid-type]
    path: line(256) | None = Field(default=None, description="a document path, or a folder")  # type: ignore[valid-type]
    action: line(256) | None = Field(default=None, description="e.g. login, create, read, user_update")  # type: ignore[valid-type]
    outcome: Literal["ok", "failed", "denied", "throttled"] | None = None
    since: Moment | None = None
    until: Moment | None = None


class AuditPageQuery(AuditQuery):
    page: Page = 1
    per_page: int = Field(default=50, ge=1, le=500)


class Entry(Answer):
    """One entry of the trail, with the hashes that chain it (see ``kb.stores.audit``)."""

    id: int
    at: Time
    actor: str
    address: str
    action: str
    target: str
    revision: str | None = None
    level: str | None = None
    outcome: str
    detail: str
    prev_hash: str
    hash: str


class Entries(Answer):
    """A page of the trail (``kb.paging.Page``), whose items are called entries here."""

    total: int
    page: int
    per_page: int
    entries: list[Entry] = Field(validation_alias=AliasChoices("items", "entries"))


class Verification(Answer):
    ok: bool
    entries: int
    problems: list[dict]


class ExportQuery(Query):
    path: line(200) | None = Field(default=None, description="one document")  # type: ignore[valid-type]
    prefix: line(200) | None = Field(default=None, description="a folder: every document under it")  # type: ignore[valid-type]
    history: Literal["all", "latest"] = "all"
