"""An instance's stores opened from its settings, without Flask: the app (``kb.extensions``)
and the follower process (``kb.follow``, which never imports Flask) both start here."""

from __future__ import annotations

from pathlib import Path

from kb.config import INSTANCE_MODE, zone
from kb.db import make_sessionmaker
from kb.render import RenderCache
from kb.search import SearchIndex
from kb.services.audit import AuditTrail
from kb.services.documents import Stores
from kb.stores import FOLLOWER_LOCK
from kb.versioning import GitStore


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
