"""The database schema's versions (Alembic), configured in code: no alembic.ini at run time.

``upgrade`` is what ``kb migrate`` runs (and ``kb init``, and ``kb serve`` before its workers
start): one migrator at a time (``BEGIN EXCLUSIVE`` on SQLite, ``pg_advisory_xact_lock`` on
PostgreSQL), all steps in that one transaction. Every other start calls ``require_head``, which
refuses a database behind or ahead of the code instead of failing later on a query; only a
database with no tables at all is created at head there, as kb always did.

A new revision: change ``kb.models``, then add ``versions/NNNN_what_changed.py`` whose
``down_revision`` is the previous head (``script.py.mako`` is the template; Alembic's
``command.revision(..., autogenerate=True)`` on ``_config(connection)`` of a database at head
drafts one), and review it like code. ``tests/test_migrations.py`` checks that head matches
``kb.models``. A revision's id is its file name's number: ``require_head`` reads the ids from the
file names, so a worker's start never imports Alembic (about 11 MB per process); the tests check
that Alembic reads the same chain.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from kb.errors import SchemaError
from kb.migrations import baseline

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

VERSION_TABLE = "alembic_version"
_FOLDER = Path(__file__).resolve().parent


@dataclass
class Report:
    """What ``upgrade`` found and did."""

    before: str | None  # the revision found; None: no version recorded
    after: str
    created: bool = False  # the database had no tables
    adopted: list[str] | None = None  # made before migrations: what adoption mended
    steps: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.created:
            return f"database created at revision {self.after}"
        lines = []
        if self.adopted is not None:
            mended = f", mended: {', '.join(self.adopted)}" if self.adopted else ""
            lines.append(f"database made before migrations: recognised as revision {baseline.REVISION}{mended}")
        if self.steps:
            lines.append(f"upgraded {' → '.join([self.before or baseline.REVISION, *self.steps])}")
        if not lines:
            lines.append(f"database at revision {self.after} (head): nothing to do")
        return "\n".join(lines)


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_FOLDER))
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def revisions() -> list[str]:
    """The revisions this code ships, oldest first: ``versions/NNNN_what_changed.py`` is NNNN."""
    return sorted(file.name.split("_", 1)[0] for file in (_FOLDER / "versions").glob("[0-9]*_*.py"))


def head() -> str:
    """The revision this code expects."""
    found = revisions()
    assert found, "kb/migrations/versions holds no revision"
    return found[-1]


def current(connection: Connection) -> str | None:
    """The revision recorded in the database, None when there is none."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names()) - {VERSION_TABLE}


def _known(revision: str) -> bool:
    return revision in revisions()


def _too_new(revision: str) -> SchemaError:
    return SchemaError(
        f"数据库结构版本 {revision} 比本程序新（本程序为 {head()}），`kb migrate` 不会降级，"
        f"请使用创建它的 kb 版本 (the database schema is at revision {revision}, newer than this "
        f"kb's {head()}: run the kb that migrated it; `kb migrate` does not downgrade)"
    )


def require_head(engine: Engine) -> None:
    """Refuse (``SchemaError``) a database that is not at this code's head; create an empty one."""
    with engine.connect() as connection:
        found = current(connection)
        empty = found is None and not _tables(connection)
    if empty:
        upgrade(engine.url)
        return
    if found == head():
        return
    if found is not None and not _known(found):
        raise _too_new(found)
    if found is None:
        where_zh, where_en = "未记录版本（建于迁移机制之前）", "has no recorded revision (made before migrations)"
    else:
        where_zh, where_en = f"为版本 {found}", f"is at revision {found}"
    raise SchemaError(
        f"数据库结构{where_zh}，本程序需要 {head()}：请先备份数据库，再运行 `kb migrate` "
        f"(the database schema {where_en}; this kb needs {head()}: back it up, then run `kb migrate`)"
    )


def upgrade(url: str | sa.URL) -> Report:
    """Bring the database at ``url`` to head: create it, adopt one made before migrations, or
    run the revisions it lacks. Safe to run twice at once: the second waits, then finds it done."""
    from alembic import command

    from kb.migrations.adopt import adopt

    with _migrating(url) as connection:
        before = current(connection)
        report = Report(before=before, after=head())
        if before is None:
            if _tables(connection):
                report.adopted = adopt(connection)
                command.stamp(_config(connection), baseline.REVISION)
                before = baseline.REVISION
            else:
                report.created = True
        elif not _known(before):
            raise _too_new(before)
        if before is not None:
            report.steps = [script.revision for script in reversed(list(_scripts().iterate_revisions(head(), before)))]
        command.upgrade(_config(connection), "head")
        return report


@contextmanager
def _migrating(url: str | sa.URL) -> Iterator[Connection]:
    """A connection inside a transaction that no other migrator can hold at the same time."""
    engine = _locking_engine(sa.make_url(url))
    try:
        with engine.connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('kb_migrations'))"))
            yield connection
    finally:
        engine.dispose()


def _locking_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, poolclass=NullPool)
    # the driver's own transaction handling off, so DDL is transactional and BEGIN is ours
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"timeout": 600, "isolation_level": None})

    @sa.event.listens_for(engine, "begin")
    def _exclusive(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")

    return engine
