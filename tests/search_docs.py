"""Documents for the search tests that work on a bare ``SearchIndex`` (no app)."""

from __future__ import annotations

import datetime as dt

from kb.search import IndexedDoc

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# what a reader cleared for internal documents may see
INTERNAL = {"public", "internal"}


def doc(path: str, title: str, body: str, access: str = "internal") -> IndexedDoc:
    """A published document; its revision is derived from its path."""
    return IndexedDoc(
        path=path,
        title=title,
        body=body,
        tags=[],
        access=access,
        status="published",
        owner="t",
        updated_at=NOW,
        revision=f"r-{path}",
    )
