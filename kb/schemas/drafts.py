"""Drafts and their review."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kb.schemas.base import AccessLevel, Answer, Body, Query, Revision, Time, text
from kb.schemas.documents import MAX_TAGS, CommitMessage, Message, ReviewDate, Tags, Title

MAX_COMMENT = 2000
Comment = text(MAX_COMMENT)
State = Literal["draft", "submitted", "returned"]


class DraftWrite(Body):
    title: Title  # type: ignore[valid-type]
    body: text()  # type: ignore[valid-type]
    tags: Tags | None = Field(default=None, max_length=MAX_TAGS)
    access: AccessLevel | None = None
    review_by: str | None = ReviewDate
    message: Message | None = None  # type: ignore[valid-type]
    draft_revision: Revision | None = Field(default=None, description="the draft version the edit started from")


class Publish(CommitMessage):
    """Publishing a draft: the commit message, if any."""


class Submit(Body):
    comment: Comment | None = None  # type: ignore[valid-type]


class SendBack(Body):
    comment: Comment  # type: ignore[valid-type]


class DraftsQuery(Query):
    state: State | None = None


class DraftVersion(Answer):
    revision: str
    author: str | None = None
    date: Time | None = None
    message: str | None = None
    state: str | None = None


class DraftOut(Answer):
    path: str
    title: str
    body: str
    html: str
    tags: list[str]
    access: str
    review_by: str | None = None
    state: str
    comment: str | None = None
    submitted_by: str | None = None
    base_revision: str | None = None
    revision: str
    updated_at: Time | None = None
    updated_by: str | None = None
    authors: list[str] = Field(default_factory=list)
    versions: list[DraftVersion] = Field(default_factory=list)


class DraftSaved(Answer):
    path: str
    draft_revision: str
    state: str | None = None


class DraftListed(Answer):
    path: str
    title: str
    access: str
    state: str
    comment: str | None = None
    submitted_by: str | None = None
    base_revision: str | None = None
    revision: str
    updated_at: Time | None = None
    updated_by: str | None = None


class DraftList(Answer):
    items: list[DraftListed]
