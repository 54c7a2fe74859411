"""The values that cross the boundary between the search package and its callers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class IndexedDoc:
    """One document as the index needs it; ``revision`` is the commit that last changed it."""

    path: str
    title: str
    body: str
    tags: list[str]
    access: str
    status: str
    owner: str
    updated_at: dt.datetime
    revision: str


@dataclass
class Hit:
    """One search result. ``snippet`` is safe HTML: escaped text with ``<mark>`` around matches."""

    path: str
    title: str
    snippet: str
    score: float
    access: str
    status: str
    tags: list[str]
    updated_at: dt.datetime
    section: str | None = None  # the heading above the snippet


@dataclass
class SearchResult:
    """A page of hits; ``total`` counts every visible match, not just this page."""

    total: int
    hits: list[Hit] = field(default_factory=list)
    suggestion: str | None = None
    query: str = ""
    related: list[str] = field(default_factory=list)  # other searches worth a try
