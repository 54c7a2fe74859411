"""The SQL database: one engine per app, one session per request.

Request code takes ``session()``; it is committed once after a successful response and rolled
back otherwise. Work that must be committed at a precise moment (the catalog, under the git
write lock) opens its own session with ``new_session()``.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kb.models import Base


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL (readers never wait for the writer) and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: object, _record: object) -> None:
            cursor = connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(url: str) -> sessionmaker:
    """Engine, tables (created when missing, older ones given their new columns) and a session
    factory for ``url``."""
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    add_missing_columns(engine)
    return sessionmaker(engine, expire_on_commit=False)


def add_missing_columns(engine: Engine) -> list[str]:
    """Bring tables made by an older kb up to date where that is safe: a new column that may be
    NULL is added (``ALTER TABLE … ADD COLUMN``), and a new index is created. Anything else is
    refused with a clear error instead of failing later on the first query that needs the
    column. Returns the columns added."""
    inspector = inspect(engine)
    added = []
    for table in Base.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(f"table {table.name} lacks the required column {column.name}: "
                                   "the database was made by an incompatible kb")
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as connection:
                connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
            added.append(f"{table.name}.{column.name}")
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    return added


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
