"""Archive and restore, and the archivists' lists."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from kb.schemas.base import Answer, Body, Moment, Page, Query, Time, line, text
from kb.schemas.documents import MAX_PATH, Tag

MAX_REASON = 500
Reason = text(MAX_REASON)


class Archive(Body):
    reason: Reason  # type: ignore[valid-type]


class Restore(Body):
    reason: Reason | None = None  # type: ignore[valid-type]


class ArchiveQuery(Query):
    prefix: line(MAX_PATH) | None = None  # type: ignore[valid-type]
    tag: Tag | None = None  # type: ignore[valid-type]
    from_: Moment | None = Field(default=None, alias="from", description="archived on or after")
    to: Moment | None = Field(default=None, description="archived on or before")
    page: Page = 1
    per_page: int = Field(default=50, ge=1, le=200)


class DeletedQuery(Query):
    prefix: line(MAX_PATH) | None = None  # type: ignore[valid-type]
    page: Page = 1
    per_page: int = Field(default=50, ge=1, le=200)


class ReviewDueQuery(Query):
    within: int = Field(default=30, ge=0, le=3650, description="days ahead")
    mine: str | None = Field(default=None, pattern="^[01]?$", description="1: own documents only")


class StatusChanged(Answer):
    path: str
    revision: str
    status: str


class ArchivedItem(Answer):
    path: str
    title: str
    tags: list[str] = Field(default_factory=list, validation_alias=AliasChoices("tag_names", "tags"))
    access: str
    archived_at: Time | None = None
    archived_by: str | None = None
    reason: str | None = Field(default=None, validation_alias=AliasChoices("archive_reason", "reason"))
    revision: str | None = None


class ArchivedList(Answer):
    total: int
    items: list[ArchivedItem]


class DeletedItem(Answer):
    path: str
    title: str
    access: str
    deleted_at: Time | None = None
    deleted_by: str | None = None
    revision: str | None = None
    last_revision: str | None = None


class DeletedList(Answer):
    total: int
    items: list[DeletedItem]


class DueItem(Answer):
    path: str
    title: str
    owner: str | None = None
    access: str
    review_by: Time | None = None
    overdue: bool


class DueList(Answer):
    items: list[DueItem]
