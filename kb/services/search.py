"""Search on behalf of a user: the caller's clearance and role become part of the query."""

from __future__ import annotations

from kb import access
from kb.access import Principal
from kb.search import SearchIndex, SearchResult

MAX_LIMIT = 100


def search(index: SearchIndex, user: Principal, q: str, *, tag: str | None = None, status: str | None = None,
           path_prefix: str | None = None, limit: int = 10, offset: int = 0) -> SearchResult:
    """Hits the user may see, with a total counted under the same filter (nothing leaks)."""
    access.require(user, "search")
    return index.search(
        q, access_levels=access.visible_levels(user), statuses=access.visible_statuses(user),
        tag=tag or None, status=status or None, path_prefix=path_prefix or None,
        limit=min(max(limit, 1), MAX_LIMIT), offset=max(offset, 0),
    )
