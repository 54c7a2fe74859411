"""Documents: listing, reading, saving, history, diff, revert, move, delete."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from kb.document import MAX_NAME, MAX_TAG_LENGTH, MAX_TAGS, MAX_TITLE
from kb.schemas.base import AccessLevel, Answer, Body, Moment, Page, Query, Revision, Time, line, text

MAX_PATH = 200  # kb.docpath's limit
MAX_MESSAGE = 2000  # a commit message

Title = line(MAX_TITLE, minimum=1)
Tag = line(MAX_TAG_LENGTH)
Tags = list[Tag]  # type: ignore[valid-type]
Message = text(MAX_MESSAGE)
DocPath = line(MAX_PATH, minimum=1)
Name = line(MAX_NAME)
ReviewDate = Field(default=None, pattern=r"^(\d{4}-\d{2}-\d{2})?$", description="YYYY-MM-DD; empty clears it")


class DocumentWrite(Body):
    """``PUT /docs/<path>``. The body's size limit is KB_MAX_BODY_BYTES (413 above it); status and
    owner change through the lifecycle, never through a save."""

    title: Title  # type: ignore[valid-type]
    body: text()  # type: ignore[valid-type]
    tags: Tags | None = Field(default=None, max_length=MAX_TAGS)
    access: AccessLevel | None = None
    review_by: str | None = ReviewDate
    message: Message | None = None  # type: ignore[valid-type]
    base_revision: Revision | None = Field(
        default=None, description="the revision the edit started from: a newer one is merged, or 409"
    )


class DocumentForm(Query):
    """The web edit form: the fields of ``DocumentWrite`` as a browser posts them (tags comma-
    separated; an empty string for what is left out)."""

    path: line(MAX_PATH)  # type: ignore[valid-type]
    title: Title  # type: ignore[valid-type]
    body: text()  # type: ignore[valid-type]
    tags: line(MAX_TAGS * (MAX_TAG_LENGTH + 2))  # type: ignore[valid-type]
    access: AccessLevel | Literal[""]
    review_by: str = ReviewDate  # type: ignore[assignment]  # default None (pydantic does not validate defaults)
    message: Message  # type: ignore[valid-type]
    base_revision: Revision | Literal[""]
    draft_revision: Revision | Literal[""]


class CommitMessage(Body):
    message: Message | None = None  # type: ignore[valid-type]


class Revert(Body):
    revision: Revision
    message: Message | None = None  # type: ignore[valid-type]


class Move(Body):
    to: DocPath  # type: ignore[valid-type]


class ListQuery(Query):
    prefix: line(MAX_PATH) | None = None  # type: ignore[valid-type]
    tag: Tag | None = None  # type: ignore[valid-type]
    status: Literal["published", "archived", "all"] | None = None
    at: Moment | None = Field(default=None, description="archivists: the knowledge base as it was then")
    page: Page = 1
    per_page: int = Field(default=50, ge=1, le=200)


class ReadQuery(Query):
    revision: Revision | None = None
    at: Moment | None = None


class DiffQuery(Query):
    """An end left empty (or out) is the default: the last change."""

    from_: Revision | Literal[""] | None = Field(default=None, alias="from")
    to: Revision | Literal[""] | None = None


class DeleteQuery(Query):
    message: Message | None = None  # type: ignore[valid-type]


class Listed(Answer):
    """A document in a listing: now (a catalog row), or as it was at a date (``current_path``)."""

    path: str
    title: str
    tags: list[str] = Field(default_factory=list, validation_alias=AliasChoices("tag_names", "tags"))
    access: str
    status: str
    updated_at: Time | None = None
    updated_by: str | None = None
    revision: str | None = None
    current_path: str | None = None


class DocumentList(Answer):
    """A page of documents (``kb.paging.Page``); as of a date, with that date and its commit."""

    total: int
    items: list[Listed]
    at: Time | None = None
    revision: str | None = None


class DocumentOut(Answer):
    path: str
    title: str
    body: str
    html: str
    tags: list[str]
    access: str
    status: str
    owner: str | None = None
    revision: str | None = None
    updated_at: Time | None = None
    updated_by: str | None = None
    review_by: str | None = None
    current: bool | None = None
    message: str | None = None
    archived_at: str | None = None
    archived_by: str | None = None
    archive_reason: str | None = None


class Saved(Answer):
    path: str
    revision: str
    merged: bool = False


class NewRevision(Answer):
    path: str
    revision: str


class Version(Answer):
    """A version of a document (``path``: where its file was then)."""

    revision: str
    author: str | None = Field(default=None, validation_alias=AliasChoices("author_name", "author"))
    email: str | None = Field(default=None, validation_alias=AliasChoices("author_email", "email"))
    date: Time | None = None
    message: str | None = None
    kind: str | None = None
    path: str | None = Field(default=None, validation_alias=AliasChoices("file_path", "path"))


class History(Answer):
    path: str
    versions: list[Version]


class Diff(Answer):
    path: str
    diff: str
