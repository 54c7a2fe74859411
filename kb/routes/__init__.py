"""Blueprints: ``api`` (JSON under /api/v1), ``web`` (HTML pages), ``auth`` (login/logout)."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from kb import access
from kb.auth import current_user
from kb.routes import api, auth, web

csrf = CSRFProtect()


def register_blueprints(app: Flask) -> None:
    csrf.init_app(app)
    csrf.exempt(api.bp)  # the API authenticates every call with a token, not a cookie
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.jinja_env.globals.update(kb_user=current_user, kb_can=lambda action, doc=None: access.can(
        current_user(), action, doc))
