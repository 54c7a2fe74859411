"""The request's SQL session: one per request, committed once after a successful response
and rolled back otherwise. Work that must be committed at a precise moment (the catalog, under
the git write lock) opens its own session with ``new_session()``. The engine and the session
factory are ``kb.stores.db``'s.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session


def init_app(app: Flask) -> None:
    """Request sessions come from the app's stores (see ``kb.extensions``), committed once."""
    app.after_request(_commit_on_success)
    app.teardown_appcontext(_close_session)


def new_session() -> Session:
    return current_app.extensions["kb.stores"].sessions()


def session() -> Session:
    """The request's session, created on first use."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def _commit_on_success(response: Response) -> Response:
    db = g.get("db_session")
    if db is not None:
        if response.status_code < 400:
            db.commit()
        else:
            db.rollback()
    return response


def _close_session(_exc: BaseException | None) -> None:
    db = g.pop("db_session", None)
    if db is not None:
        db.rollback()
        db.close()
