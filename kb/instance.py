"""An instance's stores opened from its settings, and brought up to git, without Flask: the app
(``kb.extensions``), the commands and the follower process (``kb.follow``, which never imports
Flask) all start here."""

from __future__ import annotations

import logging
from pathlib import Path

from kb.config import INSTANCE_MODE, zone
from kb.render import RenderCache
from kb.search import SearchIndex
from kb.stores import Stores, catalog, reconcile
from kb.stores.audit import AuditTrail
from kb.stores.db import make_sessionmaker
from kb.stores.write_path import FOLLOWER_LOCK
from kb.versioning import GitStore

log = logging.getLogger(__name__)


def build_stores(config: dict) -> Stores:
    """Open (creating where missing) the repository, index and database named by ``config``."""
    instance = Path(config["INSTANCE_DIR"])
    instance.mkdir(mode=INSTANCE_MODE, parents=True, exist_ok=True)
    sessions = make_sessionmaker(config["DATABASE_URL"])
    return Stores(
        store=GitStore.init(
            Path(config["CONTENT_DIR"]), lock_path=instance / "write.lock", lock_timeout=config["LOCK_TIMEOUT"]
        ),
        index=SearchIndex(Path(config["INDEX_DIR"]), semantic=config.get("SEMANTIC", False)),
        sessions=sessions,
        renders=RenderCache(instance / "cache" / "html"),
        audit=AuditTrail(sessions, instance / "audit.lock"),
        max_body_bytes=config["MAX_BODY_BYTES"],
        default_access=config["DEFAULT_ACCESS"],
        require_review=config["REQUIRE_REVIEW"],
        timezone=zone(config["TIMEZONE"]),
        follower_lock=instance / FOLLOWER_LOCK,
    )


def catch_up(stores: Stores) -> None:
    """Bring the catalog, the index and the audit trail up to git (commits made by plain git, or
    left unrecorded by a killed process, see ``kb.stores.reconcile``), logging what was found.
    Under the write lock: two workers starting at once never recover the same entry."""
    with stores.store.lock():
        catalog.catch_up(stores.store, stores.index, stores.sessions)
        report = reconcile.reconcile(stores)
    for line in report.lines():
        log.warning("%s", line)
