"""``kb check``: do the git store, the SQL catalog (its link table included) and the search
index agree, and can every stored document be read?"""

from __future__ import annotations

from sqlalchemy import select

from kb.document import UNREADABLE_ACCESS, DocumentFile
from kb.links import link_targets
from kb.models import Document, DocumentLink, SyncState, Version
from kb.stores import Stores
from kb.stores.catalog import CATALOG, read_document

MAX_LISTED = 20


def check(stores: Stores) -> list[str]:
    """Every disagreement found, as a readable line (empty when all agree). The index is
    first brought to the catalog's commit, as before a search: an update still pending after a
    save is no disagreement."""
    stores.refresh_index()
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
        recorded: dict[str, set[str]] = {}
        for source, target in session.execute(select(DocumentLink.source, DocumentLink.target)):
            recorded.setdefault(source, set()).add(target)
    problems += _compare("catalog", {p: r.blob for p, r in rows.items()}, in_git, "blob")
    for path, row in rows.items():
        version = latest.get(path)
        if version is None or version.blob != row.blob:
            problems.append(f"version table: latest version of {path} does not match the document")
    files = {path: read_document(stores.store, blob, path) for path, blob in in_git.items()}
    problems += _unreadable(files)
    links_in_git = {path: link_targets(file.body, path) for path, file in files.items()}
    problems += _compare("link table", _joined(recorded), _joined(links_in_git), "links")
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


def _unreadable(files: dict[str, DocumentFile]) -> list[str]:
    """Files kb cannot read (written into git by hand or by another tool): they count as
    ``UNREADABLE_ACCESS`` until someone mends them, so an administrator must hear of them."""
    broken = sorted(path for path, file in files.items() if file.problem)
    lines = [
        f"unreadable: {path}: {files[path].problem}; it counts as {UNREADABLE_ACCESS} until its front matter is mended"
        for path in broken[:MAX_LISTED]
    ]
    if len(broken) > MAX_LISTED:
        lines.append(f"unreadable: … and {len(broken) - MAX_LISTED} more unreadable documents")
    return lines


def _joined(links: dict[str, set[str]]) -> dict[str, str]:
    """Each document's links as one comparable value; documents without links left out."""
    return {path: "\n".join(sorted(targets)) for path, targets in links.items() if targets}


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "(none)"
