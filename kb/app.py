"""The Flask app: settings, stores, blueprints and error handlers put together."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

import kb
from kb import auth, db, extensions, i18n, security
from kb import config as settings
from kb.routes import register_blueprints
from kb.routes.errors import register_errorhandlers
from kb.services import catalog, reconcile

log = logging.getLogger(__name__)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, stores (catching up with git: the catalog, the index and the
    audit trail, see ``kb.services.reconcile``), blueprints, error handlers."""
    app = Flask(__name__, instance_path=None)
    # "//etc/passwd" must reach the path check (a clear 400), not be merged into a redirect
    app.url_map.merge_slashes = False
    app.config.update(settings.load(config))
    if not app.config.get("SECRET_KEY"):  # not setdefault: Flask's defaults hold SECRET_KEY = None
        app.config["SECRET_KEY"] = settings.secret_key(Path(app.config["INSTANCE_DIR"]))
    app.config["KB_VERSION"] = kb.__version__
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    extensions.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    register_blueprints(app)
    register_errorhandlers(app)

    if app.config.get("CATCH_UP", True):
        stores = app.extensions["kb.stores"]
        with stores.store.lock():  # one worker at a time: two never recover the same entry
            catalog.catch_up(stores.store, stores.index, stores.sessions)
            report = reconcile.reconcile(stores)
        for line in report.lines():
            log.warning("%s", line)
    return app
