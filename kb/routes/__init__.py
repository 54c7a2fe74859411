"""Blueprints: ``api`` and ``accounts_api`` (JSON under /api/v1), ``web`` (document pages),
``auth`` (login/logout), ``admin`` (account, user and synonym pages), ``synonyms_api`` (the
synonym list under /api/v1), ``audit`` (the trail, both)."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFProtect

from kb import access
from kb.auth import session_authenticated, viewer
from kb.routes import (
    accounts_api,
    admin,
    api,
    audit,
    auth,
    chrome,
    exports,
    lifecycle_api,
    lifecycle_web,
    synonyms_api,
    web,
)
from kb.routes.params import readable_json
from kb.security import SAFE_METHODS

csrf = CSRFProtect()


def _csrf_for_cookie_calls() -> None:
    """An API call that changes something and rides on the session cookie (not a token) must
    carry the CSRF token (``X-CSRFToken``), or another site could make it in the user's name."""
    if (
        request.path.startswith("/api/")
        and request.method not in SAFE_METHODS
        and current_app.config["WTF_CSRF_ENABLED"]
        and session_authenticated()
    ):
        csrf.protect()


def register_blueprints(app: Flask) -> None:
    csrf.init_app(app)
    # API calls with a token need no CSRF token; calls riding on the session cookie do (above)
    csrf.exempt(api.bp)
    csrf.exempt(accounts_api.bp)
    csrf.exempt(lifecycle_api.bp)
    csrf.exempt(exports.bp)
    csrf.exempt(synonyms_api.bp)
    app.before_request(_csrf_for_cookie_calls)
    app.before_request(readable_json)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(accounts_api.bp, url_prefix="/api/v1")
    app.register_blueprint(lifecycle_api.bp, url_prefix="/api/v1")
    app.register_blueprint(exports.bp, url_prefix="/api/v1")
    app.register_blueprint(synonyms_api.bp, url_prefix="/api/v1")
    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(lifecycle_web.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.jinja_env.globals.update(kb_user=viewer, kb_can=lambda action, doc=None: access.can(viewer(), action, doc))
    chrome.init_app(app)
