"""``kb check``: do the git store, the SQL catalog and the search index agree?"""

from __future__ import annotations

from sqlalchemy import select

from kb.models import Document, SyncState, Version
from kb.services.catalog import CATALOG
from kb.services.documents import Stores

MAX_LISTED = 20


def check(stores: Stores) -> list[str]:
    """Every disagreement found, as a readable line (empty when all agree)."""
    problems: list[str] = []
    head = stores.store.head()
    in_git = dict(stores.store.documents()) if head else {}
    with stores.sessions() as session:
        state = session.get(SyncState, CATALOG)
        synced = state.commit if state else None
        if synced != head:
            problems.append(f"catalog reflects commit {_short(synced)}, git HEAD is {_short(head)}")
        rows = {row.path: row for row in session.scalars(select(Document))}
        latest = {v.path: v for v in session.scalars(select(Version).order_by(Version.id))}
    problems += _compare("catalog", {p: r.blob for p, r in rows.items()}, in_git, "blob")
    for path, row in rows.items():
        version = latest.get(path)
        if version is None or version.blob != row.blob:
            problems.append(f"version table: latest version of {path} does not match the document")
    indexed_commit = stores.index.indexed_commit()
    if indexed_commit != head:
        problems.append(f"index reflects commit {_short(indexed_commit)}, git HEAD is {_short(head)}")
    revisions = {p: r.revision for p, r in rows.items()}
    problems += _compare("index", stores.index.indexed_revisions(), revisions, "revision")
    return problems


def _compare(name: str, derived: dict[str, str], truth: dict[str, str], what: str) -> list[str]:
    missing = sorted(truth.keys() - derived.keys())
    extra = sorted(derived.keys() - truth.keys())
    stale = sorted(p for p in truth.keys() & derived.keys() if truth[p] != derived[p])
    lines = []
    for label, paths in (("missing from", missing), ("only in", extra), (f"stale {what} in", stale)):
        lines += [f"{name}: {label} {name}: {path}" for path in paths[:MAX_LISTED]]
        if len(paths) > MAX_LISTED:
            lines.append(f"{name}: … and {len(paths) - MAX_LISTED} more {label} {name}")
    return lines


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "(none)"
