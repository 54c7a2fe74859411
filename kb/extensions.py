"""The app's handles on its stores, created once per process by ``init_app``.

Routes reach them through these getters instead of module globals, so every test app on its
own ``tmp_path`` has its own repository, index and caches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, after_this_request, current_app, has_request_context

from kb.config import INSTANCE_MODE, zone
from kb.db import make_sessionmaker
from kb.render import RenderCache
from kb.search import SearchIndex
from kb.services.audit import AuditTrail
from kb.services.documents import Stores
from kb.stores import FOLLOWER_LOCK, answered
from kb.versioning import GitStore


def build_stores(config: dict) -> Stores:
    """Open (creating where missing) the repository, index and database named by ``config``."""
    instance = Path(config["INSTANCE_DIR"])
    instance.mkdir(mode=INSTANCE_MODE, parents=True, exist_ok=True)
    sessions = make_sessionmaker(config["DATABASE_URL"])
    return Stores(
        store=GitStore.init(Path(config["CONTENT_DIR"]), lock_path=instance / "write.lock",
                            lock_timeout=config["LOCK_TIMEOUT"]),
        index=SearchIndex(Path(config["INDEX_DIR"])),
        sessions=sessions,
        renders=RenderCache(instance / "cache" / "html"),
        audit=AuditTrail(sessions, instance / "audit.lock"),
        max_body_bytes=config["MAX_BODY_BYTES"],
        default_access=config["DEFAULT_ACCESS"],
        require_review=config["REQUIRE_REVIEW"],
        timezone=zone(config["TIMEZONE"]),
        follower_lock=instance / FOLLOWER_LOCK,
    )


def init_app(app: Flask) -> None:
    stores = build_stores(app.config)
    stores.defer = after_reply
    app.extensions["kb.stores"] = stores


def after_reply(work: Callable[[], None]) -> None:
    """Run ``work`` once the response has been sent, so the client does not wait for it
    (e.g. rendering the page of a saved document); outside a request, run it now."""
    if not has_request_context():
        work()
        return

    def run() -> None:
        with answered():
            work()

    @after_this_request
    def attach(response: Response) -> Response:
        response.call_on_close(run)
        return response


def stores() -> Stores:
    return current_app.extensions["kb.stores"]


def index() -> SearchIndex:
    return stores().index
