"""The stores: git (the truth), and what is derived from it (the catalog tables, the search
index, the prerendered pages), with the audit trail beside them.

``Stores`` bundles them for one app or command; ``kb.instance`` builds it from the settings.
The modules here are the layer every use-case stands on, free of Flask:

- ``write_path``: the one write path (lock, commit with trailers, audit entry, subscribers);
- ``catalog``: the SQL tables derived from git, and how they catch up;
- ``audit``: the append-only, hash-chained audit trail;
- ``reconcile``: the audit trail catching up with commits a crash left unrecorded;
- ``synonyms``: the synonym groups search applies, read from git;
- ``db``: the SQL engine and session factory.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from kb.render import RenderCache
from kb.search import SearchIndex
from kb.stores import catalog
from kb.stores.audit import AuditTrail
from kb.stores.synonyms import Synonyms
from kb.versioning import GitStore
from kb.versioning.drafts import DraftStore

log = logging.getLogger(__name__)

# seconds a search waits for the index's write lock to bring the index up to date
REFRESH_WAIT = 5.0


def _run_now(work: Callable[[], None]) -> None:
    work()


@dataclass
class Stores:
    """What the document use-cases work on; built once per app (see ``kb.extensions``)."""

    store: GitStore
    index: SearchIndex
    sessions: sessionmaker[Session]
    renders: RenderCache
    audit: AuditTrail
    max_body_bytes: int = 2 * 1024 * 1024
    default_access: str = "internal"
    # KB_REQUIRE_REVIEW: content reaches readers only as a draft another editor published
    require_review: bool = False
    # KB_TIMEZONE: how dates and times given without an offset are read
    timezone: dt.tzinfo = dt.UTC
    # how work the caller need not wait for is run: now (command line), or once the web app
    # has sent its response (see ``kb.extensions``)
    defer: Callable[[Callable[[], None]], None] = _run_now
    # held by ``kb.follow`` while it keeps index and pages up with the commits (``kb serve``)
    follower_lock: Path | None = None
    drafts: DraftStore = field(init=False)
    # the synonym groups search applies, read from git (``kb.services.synonyms``)
    synonyms: Synonyms = field(init=False)

    def __post_init__(self) -> None:
        self.drafts = DraftStore(self.store)
        self.synonyms = Synonyms(self.store)
        self.index.catch_up = self.refresh_index
        self.index.synonyms = self.synonyms.groups

    def refresh_index(self) -> None:
        """Bring the index to the catalog's commit before a search (see ``kb.stores.write_path``). When
        that fails, or the index's lock is held longer than ``REFRESH_WAIT`` (a rebuild), the
        search answers from the index as it is: a search never fails for it."""
        try:
            catalog.refresh_index(self.store, self.index, self.sessions, timeout=REFRESH_WAIT)
        except TimeoutError:
            log.warning("search index busy; searching it as it is")
        except Exception:
            log.exception("search index not brought up to date; searching it as it is")

    def close(self) -> None:
        """Release the index and the database connections (tests, short-lived commands)."""
        self.index.close()
        self.sessions.kw["bind"].dispose()
