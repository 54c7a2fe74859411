"""The SQL database: its engine, its session factory, and the two helpers services need
(``rowcount``, ``durable``). No Flask here: the request's session is ``kb.db``'s."""

from __future__ import annotations

from typing import Any

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


def make_sessionmaker(url: str) -> sessionmaker[Session]:
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
