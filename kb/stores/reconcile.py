"""Reconciling the audit trail with git: every commit kb made has its audit entry.

The write path (``kb.stores.write_path``) appends the entry while the write lock is held and moves the ref
back when the append fails, but a process killed between the git commit and the append leaves a
commit nobody is recorded as making. Every commit kb makes names its action, actor, document
and level in trailers (``kb.versioning.trailers``), so ``reconcile`` finds such commits on
``main`` and on the draft refs (open and discarded) and appends the entry they should have had,
dated by the commit and marked ``recovered from git trailers``. It runs at start-up (with the
catalog's catch-up) and in ``kb check``, with the store's write lock held, so no commit is
caught between its commit and its own append and two workers never recover the same one.

A commit without trailers and without an entry (written into the repository with plain git, or
made before kb wrote trailers) cannot be attributed: it is reported, never given an invented
entry, until an administrator who has looked at it vouches for it (``kb check --accept``): it
then gets an ``commit_accept`` entry naming that administrator, not its author.

A commit counts as recorded when an entry names its revision with the action of its trailers
(without trailers: any action that makes commits; a read names the revision it read). Entries that name a
revision without a commit of their own (a discarded draft's tip) name a commit recorded
already. After a run that found every commit recorded, the tip of ``main`` is remembered
(``SyncState('audit-reconciled')``) and the next run reads only the commits since; a run that
found commits it cannot attribute remembers nothing, so they are reported every time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kb.access import Principal
from kb.document import ACCESS_LEVELS
from kb.models import AuditEntry, SyncState
from kb.stores import Stores
from kb.stores.audit import MAX_SQL_TARGETS
from kb.versioning import Revision
from kb.versioning.drafts import DISCARDED_REFS, DRAFT_REFS
from kb.versioning.store import BRANCH

WATERMARK = "audit-reconciled"
RECOVERED = "recovered from git trailers"
# where kb's commits live: main (published drafts' history joins it as second parents) and the
# draft refs, open and discarded
REFS = (BRANCH, DRAFT_REFS, DISCARDED_REFS)
# the actions that make commits (reads and exports name the revision they read, not one they
# made): a commit without trailers counts as recorded by an entry of one of these
WRITE_ACTIONS = frozenset(
    {
        "create",
        "update",
        "revert",
        "move",
        "delete",
        "archive",
        "restore",
        "import",
        "publish",
        "draft_save",
        "draft_submit",
        "draft_return",
        "draft_discard",
        "draft_move",
        "synonyms_update",
    }
)
# an administrator vouching for a commit nobody else can be named for (``accept``)
ACCEPTED = "commit_accept"
MAX_LISTED = 20


@dataclass(frozen=True)
class Missing:
    """A commit with trailers and no entry: the entry it gets."""

    revision: str
    action: str
    path: str
    actor: str
    level: str
    at: dt.datetime

    def describe(self) -> str:
        return f"{self.revision[:10]} ({self.action} {self.path or '(many documents)'} by {self.actor})"


@dataclass(frozen=True)
class Unattributed:
    """A commit with no entry and no trailers to rebuild one from."""

    revision: str
    author: str
    at: dt.datetime
    reason: str

    def line(self) -> str:
        return (
            f"audit: unattributed commit {self.revision[:10]} by {self.author} on "
            f"{self.at.isoformat(timespec='seconds')}: {self.reason}; it cannot be recovered"
        )


@dataclass
class Report:
    """What one run found. ``recovered`` were appended (``repaired``) or would be (a dry run)."""

    commits: int = 0  # commits read
    recovered: list[Missing] = field(default_factory=list)
    unattributed: list[Unattributed] = field(default_factory=list)
    repaired: bool = True

    @property
    def ok(self) -> bool:
        """Whether every commit is, or now is, recorded."""
        return not self.unattributed and (self.repaired or not self.recovered)

    def recovered_lines(self) -> list[str]:
        verb = "recovered entry for" if self.repaired else "missing entry for"
        tail = "" if self.repaired else "; a restart or `kb check` recovers it"
        return _listed(
            [f"audit: {verb} {missing.describe()}{tail}" for missing in self.recovered],
            "recovered entries" if self.repaired else "missing entries",
        )

    def problems(self) -> list[str]:
        """What could not be repaired (and, in a dry run, what was not yet)."""
        lines = _listed([commit.line() for commit in self.unattributed], "unattributed commits")
        return lines if self.repaired else self.recovered_lines() + lines

    def lines(self) -> list[str]:
        return (self.recovered_lines() if self.repaired else []) + self.problems()


def reconcile(stores: Stores, *, repair: bool = True) -> Report:
    """Find the commits without an audit entry and, with ``repair``, append the entries their
    trailers describe. The caller holds the store's write lock (``stores.store.lock()``)."""
    report = Report(repaired=repair)
    head = stores.store.head()
    with stores.sessions() as session:
        state = session.get(SyncState, WATERMARK)
        known = state.commit if state is not None else None
    # commits reachable from the remembered tip were read before: only the newer ones and the
    # draft refs' are read again (a tip that is gone, history rewritten, hides nothing)
    commits = list(stores.store.every_commit(REFS, hide=[known] if known else []))
    report.commits = len(commits)
    recorded = _recorded(stores.sessions, [commit.id for commit in commits])
    for commit in reversed(commits):  # oldest first: recovered entries keep the commits' order
        found = _finding(commit, recorded.get(commit.id, set()))
        if isinstance(found, Missing):
            report.recovered.append(found)
        elif isinstance(found, Unattributed):
            report.unattributed.append(found)
    if repair:
        _repair(stores, report, head if head != known else None)
    return report


def _finding(commit: Revision, actions: set[str]) -> Missing | Unattributed | None:
    trailers = dict(commit.trailers)
    action = trailers.get("action", "")[:32]
    if action and action in actions:
        return None
    if not action and actions & WRITE_ACTIONS:
        return None  # recorded before kb wrote trailers
    if ACCEPTED in actions:
        return None  # an administrator vouched for it
    author = f"{commit.author.name} <{commit.author.email}>"
    if not action:
        return Unattributed(commit.id, author, commit.date, "no KB trailers and no audit entry")
    actor = trailers.get("actor", "")
    if not actor:
        return Unattributed(commit.id, author, commit.date, "its trailers name no actor and it has no audit entry")
    level = trailers.get("level", "")
    return Missing(
        revision=commit.id,
        action=action,
        path=trailers.get("path", ""),
        actor=actor,
        level=level if level in ACCESS_LEVELS else ACCESS_LEVELS[-1],  # unreadable: fails closed
        at=commit.date,
    )


def _recorded(sessions: sessionmaker[Session], revisions: list[str]) -> dict[str, set[str]]:
    """The actions of the entries naming each of ``revisions``: a few are looked up in SQL, a
    whole history in one pass over the entries that name a revision."""
    wanted = set(revisions)
    recorded: dict[str, set[str]] = {}
    if not wanted:
        return recorded
    query = select(AuditEntry.revision, AuditEntry.action)
    query = (
        query.where(AuditEntry.revision.in_(sorted(wanted)))
        if len(wanted) <= MAX_SQL_TARGETS
        else query.where(AuditEntry.revision.is_not(None))
    )
    with sessions() as session:
        for revision, action in session.execute(query.execution_options(yield_per=5000)):
            if revision in wanted:
                recorded.setdefault(revision, set()).add(action)
    return recorded


def _repair(stores: Stores, report: Report, head: str | None) -> None:
    """Append the missing entries and, when nothing is left unattributed, remember ``head``
    (None: nothing new to remember), in one transaction."""
    remember = head if not report.unattributed else None
    if not report.recovered and remember is None:
        return
    with stores.audit.transaction() as session:
        for missing in report.recovered:
            stores.audit.append(
                session,
                Principal(missing.actor, "", ""),
                missing.action,
                missing.path,
                revision=missing.revision,
                level=missing.level,
                detail=RECOVERED,
                at=missing.at,
            )
        if remember is not None:
            state = session.get(SyncState, WATERMARK)
            if state is None:
                session.add(SyncState(name=WATERMARK, commit=remember))
            else:
                state.commit = remember


def accept(stores: Stores, report: Report, operator: Principal) -> int:
    """Record that ``operator`` vouches for each commit ``report`` found unattributed (after
    reading them: ``kb check`` lists them first); how many. The caller holds the write lock."""
    with stores.audit.transaction() as session:
        for commit in report.unattributed:
            stores.audit.append(
                session,
                operator,
                ACCEPTED,
                revision=commit.revision,
                level=ACCESS_LEVELS[-1],
                detail=f"unattributed commit by {commit.author} on {commit.at.isoformat(timespec='seconds')} accepted"[
                    :500
                ],
            )
    return len(report.unattributed)


def _listed(lines: Iterable[str], what: str) -> list[str]:
    lines = list(lines)
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"audit: … and {len(lines) - MAX_LISTED} more {what}"]
