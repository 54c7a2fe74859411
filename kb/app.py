"""The Flask app, put together: settings, extensions, blueprints, error handlers.

Building an app runs no use-case: bringing the stores up to git is ``kb.instance.catch_up``,
which the entry points (``wsgi.py``, the commands, ``kb serve`` before its workers start)
call once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

import kb
from kb import auth, db, extensions, i18n, security
from kb import config as settings
from kb.routes import register_blueprints
from kb.routes.errors import register_errorhandlers


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The app for ``config`` (over the KB_* settings, see ``kb.config``)."""
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
    i18n.init_app(app, saved_language=auth.saved_language)
    register_blueprints(app)
    register_errorhandlers(app)
    return app
