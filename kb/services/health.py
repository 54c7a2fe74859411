"""The health of the store, the catalog and the index, for administrators.

``health`` is cheap enough for every visit of the page: counts come from the catalog (grouped
queries), git gives its HEAD commit and nothing else, the index its recorded commit; no tree of
git is walked. ``full_check`` runs ``kb check`` (``consistency.check``), which compares every
document in git with the tables and the index, and looks for commits without their audit entry
(``kb.stores.reconcile``, without repairing): on demand only, it can be slow at 10,000
documents.

An administrator cleared below the highest level gets counts of the documents up to their
clearance only, and neither the HEAD commit's message nor a check's lines when they could name
a document above it (DESIGN.md: such a document does not exist for them, counts included).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import access
from kb.access import CLEARANCES, Principal
from kb.models import AuditEntry, Document, User, Version
from kb.services import consistency, drafts
from kb.stores import Stores, catalog, reconcile


@dataclass(frozen=True)
class HeadCommit:
    """git's HEAD: what the catalog and the index should reflect."""

    sha: str
    author: str
    email: str
    date: dt.datetime
    # None when it may name a document above the viewer's clearance
    message: str | None

    @property
    def short(self) -> str:
        return self.sha[:10]


@dataclass
class Health:
    documents: int
    by_status: dict[str, int]
    by_access: dict[str, int]
    head: HeadCommit | None
    catalog_commit: str | None
    index_commit: str | None
    open_drafts: int
    users_active: int
    users_disabled: int
    audit_entries: int
    last_audit_at: dt.datetime | None
    # the levels the counts cover (the viewer's clearance)
    levels: list[str] = field(default_factory=lambda: list(CLEARANCES))
    # what the full check found (``full_check``), when it was asked for
    problems: list[str] | None = None

    @property
    def catalog_in_step(self) -> bool:
        return self.catalog_commit == (self.head.sha if self.head else None)

    @property
    def index_in_step(self) -> bool:
        # an index never written (None) is in step with an empty repository only
        return self.index_commit == (self.head.sha if self.head else None)

    @property
    def ok(self) -> bool:
        return self.catalog_in_step and self.index_in_step

    @property
    def partial(self) -> bool:
        """Whether the counts leave out levels above the viewer's clearance."""
        return len(self.levels) < len(CLEARANCES)


def health(stores: Stores, session: Session, user: Principal | None = None, *, check: bool = False) -> Health:
    """The state of store, catalog and index, and a few counts. With ``user`` (an administrator,
    else Forbidden), limited to what their clearance reaches; without, everything (commands).
    ``check`` also runs the full check (``full_check``, slow), for the health page and the API alike."""
    if user is not None:
        access.require(user, "health")
    levels = access.visible_levels(user) if user is not None else list(CLEARANCES)
    sees_all = len(levels) == len(CLEARANCES)
    shown = Document.access.in_(levels)
    by_status = {
        status: n
        for status, n in session.execute(select(Document.status, func.count()).where(shown).group_by(Document.status))
    }
    by_access = {
        level: n
        for level, n in session.execute(select(Document.access, func.count()).where(shown).group_by(Document.access))
    }
    users = {bool(active): n for active, n in session.execute(select(User.active, func.count()).group_by(User.active))}
    audit_entries, last_audit_at = session.execute(select(func.count(AuditEntry.id), func.max(AuditEntry.at))).one()
    stores.refresh_index()  # as before a search: an index update pending after a save is no lag
    head_sha = stores.store.head()
    head = None
    if head_sha is not None:
        revision = stores.store.revision(head_sha)
        message = revision.message.strip() if sees_all or _touches_only(session, head_sha, levels) else None
        head = HeadCommit(head_sha, revision.author.name, revision.author.email, revision.date, message)
    return Health(
        documents=sum(by_status.values()),
        by_status={status: by_status[status] for status in sorted(by_status)},
        by_access={level: by_access[level] for level in CLEARANCES if level in by_access},
        head=head,
        catalog_commit=catalog.synced_commit(session),
        index_commit=stores.index.indexed_commit(),
        open_drafts=_open_drafts(stores, session, user),
        users_active=users.get(True, 0),
        users_disabled=users.get(False, 0),
        audit_entries=audit_entries or 0,
        last_audit_at=_aware(last_audit_at),
        levels=levels,
        problems=full_check(stores, user) if check else None,
    )


def _touches_only(session: Session, revision: str, levels: list[str]) -> bool:
    """Whether the catalog knows commit ``revision`` and every document it changed is at one of
    ``levels`` (a commit the catalog has not caught up with: not known, so not shown)."""
    changed = list(session.scalars(select(Version.access).where(Version.revision == revision)))
    return bool(changed) and all(level in levels for level in changed)


def _open_drafts(stores: Stores, session: Session, user: Principal | None) -> int:
    if user is None:
        return sum(1 for _draft in stores.drafts.all())
    return len(drafts.list_drafts(stores, session, user))


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """``max()`` comes back without the column's type on SQLite: a naive UTC time."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


# ``consistency.check`` and reconciliation lines that name no document
_NAMES_NO_DOCUMENT = re.compile(
    r"^((catalog|index) reflects commit |audit: unattributed commit "
    r"|audit: … and \d+ more unattributed)"
)


def full_check(stores: Stores, user: Principal | None = None) -> list[str]:
    """``kb check``: every disagreement between git, the tables, the index and the audit trail
    (empty when they agree), as English technical lines. Slow on a large store: on demand only.
    Unlike ``kb check`` it repairs nothing: a commit missing its audit entry is listed.

    A ``user`` cleared below the highest level gets the lines that name no document, and a count
    of the others (they may name documents above their clearance)."""
    if user is not None:
        access.require(user, "health")
    with stores.store.lock():  # a commit whose entry is being appended is not missing it
        audited = reconcile.reconcile(stores, repair=False)  # a GET repairs nothing: kb check does
    problems = consistency.check(stores) + audited.problems()
    if user is None or len(access.visible_levels(user)) == len(CLEARANCES):
        return problems
    kept = [line for line in problems if _NAMES_NO_DOCUMENT.match(line)]
    if len(kept) < len(problems):
        kept.append(
            f"{len(problems) - len(kept)} more problem lines name documents; "
            f"an administrator cleared for {CLEARANCES[-1]} sees them"
        )
    return kept
