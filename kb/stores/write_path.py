"""The one write path: every change to the content repository is one unit of work.

``with writing(stores, user, "update", path) as w: w.commit(ops, message, level=...)`` takes the
store's write lock, commits with trailers naming the action and the actor, appends the audit
entry while the lock is still held, and then hands the commit to the subscribers (catalog
tables now; the search index and the prerendered page once the answer is sent). So:

- a failure before the commit leaves nothing;
- a failure of the audit append after the commit moves the ref back: nothing stands that
  nobody is recorded as making, and the caller is told the change failed;
- a process killed between the commit and the audit leaves a commit whose trailers let
  ``kb.stores.reconcile`` record it at the next start or ``kb check``;
- a subscriber failing after the durable commit and its entry does not turn the answer into
  an error: the derived stores catch up from git (``catalog.record`` / ``catalog.catch_up``);
- the saver's next search finds the change although the index is written after the answer:
  every search first brings the index to the catalog's commit (``catalog.refresh_index``),
  which the update after the answer has usually done already. Writing a Whoosh segment (and
  now and then merging segments) was most of a save's time.

A full disk (ENOSPC) anywhere before the answer is ``InsufficientStorage`` (507), and then
nothing was committed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from kb.access import Principal
from kb.errors import InsufficientStorage
from kb.stores import catalog
from kb.versioning import Author, Change, Operation, Revision
from kb.versioning.drafts import DraftState
from kb.versioning.store import disk_full
from kb.versioning.trailers import with_trailers

if TYPE_CHECKING:
    from kb.stores import Stores

log = logging.getLogger(__name__)

# seconds an index update after an answer lets a recently written index settle (see index_later)
COALESCE = 0.03
# the instance's file ``kb.follow`` holds while it runs (see ``followed``)
FOLLOWER_LOCK = "follower.lock"

Subscriber = Callable[["Stores", Revision, list[Change]], None]


def update_catalog(stores: Stores, revision: Revision, changes: list[Change]) -> None:
    """The catalog tables take the commit before the lock is released, so the saver's next
    read finds it (read-your-writes)."""
    catalog.record(stores.sessions, stores.store, stores.index, revision, changes)


def followed(stores: Stores) -> bool:
    """Whether a follower (``kb.follow``, started by ``kb serve``) is keeping the index and the
    prerendered pages up with the commits, so work after a web answer can be left to it: it
    holds its lock file while it runs."""
    if stores.follower_lock is None:
        return False
    try:
        fd = os.open(stores.follower_lock, os.O_RDONLY)
    except OSError:
        return False  # never started here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a lock taken just now
    return False


def index_later(stores: Stores, revision: Revision, changes: list[Change]) -> None:
    """The search index takes the commit once the answer is sent (and merges its small
    segments); a search before that brings it up to date itself (``SearchIndex.refresh``).

    After a web answer, an index written less than ``COALESCE`` seconds ago is left to settle
    that long first: during a burst of saves one update then takes several commits, so fewer,
    larger segments are written and merged (each update has a fixed cost, and a segment of one
    document is the dearest to merge per document).
    """

    def update() -> None:
        try:
            if after_an_answer():
                if followed(stores):
                    return  # the follower does it, in a process of its own
                wait = COALESCE - stores.index.written_ago()
                if wait > 0:
                    time.sleep(wait)
            catalog.refresh_index(stores.store, stores.index, stores.sessions, merge=True)
        except Exception:  # the next search or write catches up
            log.exception("search index not updated after commit %s", revision.id)

    stores.defer(update)


_answered = threading.local()


@contextmanager
def answered() -> Iterator[None]:
    """Around work that runs once a web answer has been sent (``kb.extensions.after_reply``):
    it may take its time (``index_later``), nobody waits for it."""
    _answered.active = True
    try:
        yield
    finally:
        _answered.active = False


def after_an_answer() -> bool:
    return getattr(_answered, "active", False)


def prerender_later(stores: Stores, revision: Revision, changes: list[Change]) -> None:
    """Render the changed pages once the answer is sent, so the first view is a cache hit."""

    def warm() -> None:
        if after_an_answer() and followed(stores):
            return  # the follower does it, in a process of its own
        stores.renders.warm(
            (change.blob, change.path, catalog.read_document(stores.store, change.blob, change.path).body)
            for change in changes
            if change.blob
        )

    stores.defer(warm)


# run in this order after every commit on main; later issues append notifications, webhooks
SUBSCRIBERS: list[Subscriber] = [update_catalog, index_later, prerender_later]


@dataclass
class Writing:
    """One change in progress, inside ``writing``: the lock is held for its whole life."""

    stores: Stores
    user: Principal
    action: str
    path: str

    @property
    def author(self) -> Author:
        return Author(self.user.author_name, self.user.author_email)

    def message(self, text: str, level: str | None) -> str:
        """The commit message with the trailers the audit can be rebuilt from."""
        return with_trailers(text, action=self.action, actor=self.user.username, path=self.path, level=level)

    def commit(
        self,
        ops: Sequence[Operation],
        message: str,
        *,
        level: str,
        detail: str = "",
        merge: str | None = None,
        date: dt.datetime | None = None,
        author: Author | None = None,
    ) -> str:
        """Commit ``ops`` on main, audit it, hand it to the subscribers; the new revision.
        ``date`` and ``author`` let an importer back-date history under its own names."""
        revision, changes = self.stores.store.commit(
            ops, author or self.author, self.message(message, level), merge=merge, date=date
        )
        self._audit(revision.id, level, detail, undo=lambda: self.stores.store.undo(revision))
        for subscriber in SUBSCRIBERS:
            try:
                subscriber(self.stores, revision, changes)
            except Exception:  # the commit and its entry are durable; catch-up repairs the rest
                log.exception("subscriber %s failed after commit %s", subscriber.__name__, revision.id)
        return revision.id

    def draft(
        self, data: bytes, state: DraftState, message: str, *, expected: str | None, level: str, detail: str = ""
    ) -> Revision:
        """Commit a draft version on its ref (see ``DraftStore.save``) and audit it."""
        revision = self.stores.drafts.save(data, state, self.author, self.message(message, level), expected=expected)
        self._audit(
            revision.id, level, detail, undo=lambda: self.stores.drafts.restore(state.path, revision.id, expected)
        )
        return revision

    def record(self, revision: str, *, level: str, detail: str = "", undo: Callable[[], None] | None = None) -> None:
        """Audit a step that moved refs without a new commit (a discarded draft)."""
        self._audit(revision, level, detail, undo=undo or (lambda: None))

    def _audit(self, revision: str, level: str, detail: str, *, undo: Callable[[], None]) -> None:
        try:
            self.stores.audit.record(self.user, self.action, self.path, revision=revision, level=level, detail=detail)
        except BaseException:
            undo()  # nobody was answered yet: the change must not stand unrecorded
            raise


@contextmanager
def writing(stores: Stores, user: Principal, action: str, path: str) -> Iterator[Writing]:
    """Hold the write lock for one change by ``user``; see the module docstring.

    Raises InsufficientStorage when the disk is full (nothing was committed), and whatever the
    body raises (the store's StoreBusy, Conflict, …).
    """
    try:
        with stores.store.lock():
            yield Writing(stores, user, action, path)
    except OSError as exc:
        if disk_full(exc):  # libgit2's carry no errno, only the text
            raise InsufficientStorage() from exc
        raise
    except OperationalError as exc:
        if _database_full(exc):
            raise InsufficientStorage() from exc
        raise


def _database_full(exc: OperationalError) -> bool:
    """SQLite: "database or disk is full"; PostgreSQL: SQLSTATE 53100 (disk_full)."""
    return "full" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "53100"
