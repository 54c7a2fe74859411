"""``python -m kb.follow``: the search index and the prerendered pages follow the commits in a
process of their own, beside ``kb serve``'s workers (``kb.server`` starts and stops it).

A save is answered once its commit, its audit entry and the catalog are written (``kb.stores.write_path``);
indexing the new text, merging index segments and rendering the page come after. In a worker
that work would compete with the requests for the worker's interpreter; here it runs at a lower
priority (``NICE``), so requests go first, and a burst of saves is indexed in fewer, larger
updates (each round takes every commit the catalog recorded since the last one). Nothing
depends on its being quick: every search first brings the index up to the catalog's commit
itself (``SearchIndex.refresh``), and a page not yet rendered is rendered when first viewed.

While it runs it holds ``FOLLOWER_LOCK`` in the instance folder; workers that find the lock held
leave the work to it (``kb.stores.write_path.followed``), and do it themselves after each answer otherwise
(the follower not started, or gone). It stops when its parent (the server's master process) is
gone, or on SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

from kb.errors import KBError
from kb.search.generations import holding
from kb.stores import Stores, catalog

log = logging.getLogger(__name__)

# seconds between two looks at the branch (a stat-sized read of the ref when nothing changed)
POLL = 0.025
# at most this long between looks while HEAD is ahead of the catalog and nothing changes (a commit
# made behind kb's back waits for the next write or start): the catalog is read at every look
MAX_BACKOFF = 1.0
# added to the process's nice value: the workers' requests go first
NICE = 10
# seconds to wait for the lock: a worker's look at it (``followed``) holds it for microseconds
_LOCK_WAIT = 2.0


class Follower:
    """One round at a time (``step``): the index to the catalog's commit, segments merged,
    the pages of the documents changed since the last round rendered."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self._done: str | None = None  # the HEAD everything has been brought up to
        self._rendered = self._catalog_commit()  # pages are rendered from here on, not the whole past
        self._seen: tuple[str | None, str | None] = (None, None)  # (HEAD, catalog) of the last round
        self.waiting = False  # the last round found HEAD ahead of the catalog, and nothing changed

    def _catalog_commit(self) -> str | None:
        with self.stores.sessions() as session:
            return catalog.synced_commit(session)

    def step(self) -> bool:
        """One round; whether there was anything to do."""
        stores = self.stores
        head = stores.store.head()
        self.waiting = False
        if head is None or head == self._done:
            return False
        target = self._catalog_commit()
        if (head, target) == self._seen:
            self.waiting = True
            return False
        self._seen = (head, target)
        catalog.refresh_index(stores.store, stores.index, stores.sessions)
        stores.index.merge()
        if target is not None and target != self._rendered:
            self._render(self._rendered, target)
            self._rendered = target
        if target == head:  # else a commit is on its way to the catalog (or was made behind kb's back)
            self._done = head
        return True

    def _render(self, since: str | None, until: str) -> None:
        stores = self.stores
        latest: dict[str, str | None] = {}
        try:
            for _revision, changes in stores.store.walk(since, until):
                for change in changes:
                    if change.old_path:
                        latest[change.old_path] = None
                    latest[change.path] = change.blob
        except KBError:
            return  # history rewritten: pages are rendered when first viewed
        stores.renders.warm(
            (blob, path, catalog.read_document(stores.store, blob, path).body) for path, blob in latest.items() if blob
        )

    def run(self, stop: threading.Event, parent: int | None = None) -> None:
        """Rounds until ``stop`` is set or the ``parent`` process is gone."""
        wait = POLL
        while not stop.is_set() and (parent is None or os.getppid() == parent):
            try:
                busy = self.step()
            except Exception:  # searches and the workers catch up; try again next round
                log.exception("follower round failed")
                busy, self.waiting = False, True
            wait = min(wait * 2, MAX_BACKOFF) if self.waiting else POLL
            if not busy:
                stop.wait(wait)


def main() -> None:
    from kb import config as settings
    from kb.instance import build_stores

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    with contextlib.suppress(OSError):
        os.nice(NICE)
    stores = build_stores(settings.load())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    assert stores.follower_lock is not None
    try:
        with holding(stores.follower_lock, _LOCK_WAIT, mode=0o600) as held:
            if not held:
                print("kb.follow: another follower runs for this instance", file=sys.stderr)
                return
            Follower(stores).run(stop, parent=os.getppid())
    finally:
        stores.close()


if __name__ == "__main__":
    main()
