"""Full-text search."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from kb.schemas.base import Answer, Query, Time, line
from kb.schemas.documents import MAX_PATH, Tag

MAX_Q = 2000  # characters; a longer query is a 400, not a proxy's 414 page


class SearchQuery(Query):
    q: line(MAX_Q) = Field(default="", description='words, "phrases", -exclude, prefix*, tag:, status:, path:')  # type: ignore[valid-type]
    limit: int = Field(default=10, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)
    tag: Tag | None = None  # type: ignore[valid-type]
    status: Literal["published", "archived", "all"] | None = None
    path: line(MAX_PATH) | None = Field(default=None, description="path prefix")  # type: ignore[valid-type]


class Hit(Answer):
    path: str
    title: str
    snippet: str
    section: str | None = Field(default=None, description="the heading of the section the snippet comes from")
    score: Annotated[float, AfterValidator(lambda score: round(score, 4))]
    tags: list[str] = Field(default_factory=list)
    access: str
    status: str
    updated_at: Time | None = None


class SearchResult(Answer):
    total: int
    suggestion: str | None = None
    related: list[str] = Field(default_factory=list, description="other searches worth a try")
    hits: list[Hit]
