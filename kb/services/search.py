"""Search on behalf of a user: the caller's clearance and role become part of the query.

A page of hits whose snippets show confidential or secret documents is a read of them, and is
audited as one entry naming those documents.
"""

from __future__ import annotations

from kb import access
from kb.access import Principal
from kb.search import SearchIndex, SearchResult
from kb.services.documents import AUDITED_READ_LEVELS
from kb.stores.audit import AuditTrail

MAX_LIMIT = 100


def search(
    index: SearchIndex,
    trail: AuditTrail,
    user: Principal,
    q: str,
    *,
    tag: str | None = None,
    status: str | None = None,
    path_prefix: str | None = None,
    limit: int = 10,
    offset: int = 0,
) -> SearchResult:
    """Hits the user may see, with a total counted under the same filter (nothing leaks)."""
    access.require(user, "search")
    result = index.search(
        q,
        access_levels=access.visible_levels(user),
        statuses=access.visible_statuses(user),
        tag=tag or None,
        status=status or None,
        path_prefix=path_prefix or None,
        limit=min(max(limit, 1), MAX_LIMIT),
        offset=max(offset, 0),
    )
    sensitive = [hit for hit in result.hits if hit.access in AUDITED_READ_LEVELS]
    if sensitive:
        trail.record(
            user,
            "search",
            sensitive[0].path,
            level=access.strictest(*(hit.access for hit in sensitive)),
            detail=f"q={q[:200]}; hits: " + ", ".join(hit.path for hit in sensitive),
        )
    return result
