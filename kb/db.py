"""The SQL database: one engine per app, one session per request.

Request code takes ``session()``; it is committed once after a successful response and rolled
back otherwise. Work that must be committed at a precise moment (the catalog, under the git
write lock) opens its own session with ``new_session()``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import Session, sessionmaker

from kb import migrations


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL (readers never wait for the writer) and a busy timeout.

    SQLite commits with ``synchronous=NORMAL``: in WAL mode a commit then survives the process
    but not necessarily a power cut, which is right for the catalog and the other caches of git
    (they catch up from it). A transaction that must be on disk before anyone is answered (an
    audit entry, ``durable``) syncs the log at its commit.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _back_to_normal(connection: object, record: object) -> None:
            if record is not None and record.info.pop(_DURABLE, False):  # type: ignore[attr-defined]
                cursor = connection.cursor()  # type: ignore[attr-defined]
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


_DURABLE = "kb_durable"


def rowcount(result: Result[Any]) -> int:
    """How many rows the UPDATE or DELETE that gave ``result`` matched (``Session.execute`` types
    every result as a plain Result; a DML statement's is a CursorResult)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {type(result).__name__}")
    return result.rowcount


def durable(session: Session) -> None:
    """Make the commit of ``session``'s transaction durable: on SQLite its connection syncs the
    write-ahead log at the commit (``synchronous=FULL``) until it goes back to the pool. Call it
    before the transaction writes anything. PostgreSQL commits durably anyway."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.info.get(_DURABLE):
        connection.exec_driver_sql("PRAGMA synchronous=FULL")
        connection.info[_DURABLE] = True


def make_sessionmaker(url: str) -> sessionmaker:
    """Engine and session factory for ``url``, whose schema must be at the code's migration head
    (``kb.migrations.require_head``: a database with no tables is created, any other is refused
    with a ``SchemaError`` naming ``kb migrate``)."""
    engine = make_engine(url)
    try:
        migrations.require_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return sessionmaker(engine, expire_on_commit=False)


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
