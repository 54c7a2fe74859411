"""The app's handles on its stores, created once per process by ``init_app``.

Routes reach them through these getters instead of module globals, so every test app on its
own ``tmp_path`` has its own repository, index and caches.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from kb.db import make_sessionmaker
from kb.render import RenderCache
from kb.search import SearchIndex
from kb.services.documents import Stores
from kb.versioning import GitStore


def build_stores(config: dict) -> Stores:
    """Open (creating where missing) the repository, index and database named by ``config``."""
    instance = Path(config["INSTANCE_DIR"])
    instance.mkdir(parents=True, exist_ok=True)
    return Stores(
        store=GitStore.init(Path(config["CONTENT_DIR"]), lock_path=instance / "write.lock",
                            lock_timeout=config["LOCK_TIMEOUT"]),
        index=SearchIndex(Path(config["INDEX_DIR"])),
        sessions=make_sessionmaker(config["DATABASE_URL"]),
        renders=RenderCache(instance / "cache" / "html"),
        max_body_bytes=config["MAX_BODY_BYTES"],
        default_access=config["DEFAULT_ACCESS"],
    )


def init_app(app: Flask) -> None:
    app.extensions["kb.stores"] = build_stores(app.config)


def stores() -> Stores:
    return current_app.extensions["kb.stores"]


def index() -> SearchIndex:
    return stores().index
