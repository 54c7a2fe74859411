"""Schema migrations (Alembic): ``kb migrate`` adopts a database made before migrations and keeps
its users, tokens, documents and audit chain; every other start refuses a database that is not at
the code's head. Each test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import Result
from conftest import PEOPLE, ApiClient, kb_cli
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import DBAPIError
from web_fixtures import KbServer

from kb import create_app, migrations
from kb.errors import SchemaError
from kb.models import Base, User

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Database:
    """One database under test, with the instance folder the app and the CLI use beside it."""

    url: str
    instance: Path

    @property
    def dump(self) -> Path:
        return FIXTURES / f"pre_alembic.{self.url.split(':')[0].split('+')[0]}.sql"

    @property
    def token(self) -> str:
        """wang.editor's API token, issued by the kb that wrote the dump."""
        found = re.search(r"API token: (\S+)", self.dump.read_text())
        assert found
        return found.group(1)

    def load_dump(self) -> None:
        """Fill the database as kb wrote it before it had migrations."""
        script = self.dump.read_text()
        if self.url.startswith("sqlite"):
            with closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as db:
                db.executescript(script)
        else:
            with psycopg.connect(self.url.replace("+psycopg", "")) as db:
                db.execute(script)

    def kb(self, *args: str) -> Result:
        return kb_cli(self.instance, *args, **self.settings())

    def settings(self) -> dict[str, str]:
        """The ``KB_*`` variables of a kb on this database."""
        return {
            "KB_INSTANCE_DIR": str(self.instance),
            "KB_DATABASE_URL": self.url,
            "KB_ADMIN_PASSWORD": "Admin-pass-123",
        }

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.settings()}

    def execute(self, statement: str) -> Any:
        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(statement))
                return result.all() if result.returns_rows else None
        finally:
            engine.dispose()

    def version(self) -> list[str]:
        return [row[0] for row in self.execute("select version_num from alembic_version")]

    def schema(self) -> dict[str, Any]:
        """Tables, columns and indexes as the database reports them."""
        engine = create_engine(self.url)
        try:
            inspector = inspect(engine)
            return {
                table: (
                    [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                    sorted(i["name"] for i in inspector.get_indexes(table)),
                )
                for table in inspector.get_table_names()
            }
        finally:
            engine.dispose()

    def app(self) -> Any:
        return create_app({"TESTING": True, "INSTANCE_DIR": str(self.instance), "DATABASE_URL": self.url})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    instance = tmp_path / "instance"
    instance.mkdir()
    if request.param == "sqlite":
        return Database(f"sqlite:///{instance / 'kb.sqlite3'}", instance)
    from postgres_server import empty_database

    url = request.getfixturevalue("postgres_url")
    empty_database(url)
    return Database(url, instance)


def test_migrate_adopts_a_database_made_before_migrations_with_its_users_tokens_documents_and_audit(database):
    database.load_dump()
    done = database.kb("migrate")
    assert done.exit_code == 0, done.stderr
    assert f"made before migrations: recognised as revision {migrations.head()}" in done.stdout
    assert database.version() == [migrations.head()]
    verified = database.kb("audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert "audit trail intact: 5 entries" in verified.stdout
    app = database.app()
    with app.extensions["kb.stores"].sessions() as session:
        assert set(session.scalars(select(User.username))) == set(PEOPLE)
    listing = ApiClient(app.test_client(), database.token).get("docs")  # the old token still signs in
    assert listing.status_code == 200
    assert sorted(item["path"] for item in listing.get_json()["items"]) == ["机密/事件", "流程/变更"]
    app.extensions["kb.stores"].close()
    with pytest.raises(DBAPIError, match="append-only"):  # the trail's triggers survived adoption
        database.execute("update audit_trail set actor = 'someone.else'")


def test_a_database_behind_the_code_is_refused_with_a_message_naming_kb_migrate(database):
    database.load_dump()
    with pytest.raises(SchemaError, match="`kb migrate`"):
        database.app()
    refused = database.kb("user", "list")
    assert refused.exit_code == 1
    assert "kb migrate" in refused.stderr and "Traceback" not in refused.stderr
    assert "alembic_version" not in database.schema()  # refusing changed nothing


@pytest.fixture
def newer_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """kb's migrations plus a revision 0002 that adds a column, as the next kb will ship."""
    folder = tmp_path / "migrations"
    shutil.copytree(Path(migrations.__file__).parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0002_users_team.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '0002'\ndown_revision = '0001'\n"
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n"
        "    op.add_column('users', sa.Column('team', sa.String(64)))\n"
    )
    monkeypatch.setattr(migrations, "_FOLDER", folder)
    migrations._scripts.cache_clear()
    yield "0002"
    migrations._scripts.cache_clear()


def _require_head(url: str) -> None:
    engine = create_engine(url)
    try:
        migrations.require_head(engine)
    finally:
        engine.dispose()


def test_a_database_one_revision_behind_is_refused_then_upgraded_by_migrate(database, newer_code, monkeypatch):
    database.load_dump()
    with pytest.raises(SchemaError, match="needs 0002"):
        _require_head(database.url)
    report = migrations.upgrade(database.url)
    assert str(report).splitlines() == [
        "database made before migrations: recognised as revision 0001",
        "upgraded 0001 → 0002",
    ]
    assert database.version() == ["0002"]
    assert "team" in [name for name, _type, _null in database.schema()["users"][0]]
    monkeypatch.setattr(migrations, "_FOLDER", Path(migrations.__file__).parent)  # the older kb again
    migrations._scripts.cache_clear()
    with pytest.raises(SchemaError, match=r"at revision 0002.*`kb migrate`"):
        _require_head(database.url)


def test_a_database_ahead_of_the_code_is_refused(database):
    migrations.upgrade(database.url)
    database.execute("update alembic_version set version_num = 'f00d'")
    with pytest.raises(SchemaError, match=r"f00d.*`kb migrate`"):
        database.app()
    refused = database.kb("migrate")  # never downgrades
    assert refused.exit_code == 1 and "f00d" in refused.stderr and "Traceback" not in refused.stderr
    assert database.version() == ["f00d"]


def test_migrate_twice_is_a_no_op(database):
    database.load_dump()
    assert database.kb("migrate").exit_code == 0
    before = database.schema()
    again = database.kb("migrate")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.strip() == f"database at revision {migrations.head()} (head): nothing to do"
    assert database.schema() == before


def test_init_leaves_the_database_at_head(database):
    done = database.kb("init")
    assert done.exit_code == 0, done.stderr
    assert f"database created at revision {migrations.head()}" in done.stdout
    assert database.version() == [migrations.head()]


def test_an_empty_database_is_created_at_head_by_the_app(database):
    """What the test fixtures and a first ``gunicorn wsgi:app`` rely on."""
    database.app().extensions["kb.stores"].close()
    assert database.version() == [migrations.head()]


def test_the_head_revision_matches_the_models(database):
    """A change to kb.models without its revision fails here."""
    migrations.upgrade(database.url)
    engine = create_engine(database.url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_the_revisions_read_from_file_names_are_the_chain_alembic_reads(newer_code):
    """require_head reads the ids from the file names without Alembic: they must agree."""
    chain = [script.revision for script in reversed(list(migrations._scripts().walk_revisions()))]
    assert migrations.revisions() == chain == ["0001", newer_code]
    assert migrations.head() == newer_code


def test_a_worker_start_does_not_import_alembic(tmp_path):
    assert kb_cli(tmp_path / "instance", "migrate").exit_code == 0
    env = dict(os.environ, KB_INSTANCE_DIR=str(tmp_path / "instance"))
    probe = (
        "import sys; from kb.app import create_app; create_app(); "
        "print(any(m.startswith('alembic') for m in sys.modules))"
    )
    seen = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert seen.stdout.split()[-1:] == ["False"], seen.stderr


def test_two_migrations_at_once_wait_for_each_other(database):
    """Both start while a third party holds the migration lock; once it is released one creates
    the schema and the other finds it done."""
    holder = _hold_migration_lock(database.url)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "kb", "migrate"],
            cwd=ROOT,
            env=database.env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        _wait_until_both_wait(database.url, runs)
        assert [run.poll() for run in runs] == [None, None]
    finally:
        holder.close()
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(out.strip() for out, _err in outputs) == [
        f"database at revision {migrations.head()} (head): nothing to do",
        f"database created at revision {migrations.head()}",
    ]
    assert database.version() == [migrations.head()]


def _hold_migration_lock(url: str) -> Any:
    """A connection holding the lock ``kb.migrations`` takes, until closed."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        return db
    db = psycopg.connect(url.replace("+psycopg", ""))
    db.execute("SELECT pg_advisory_xact_lock(hashtext('kb_migrations'))")
    return db


def _wait_until_both_wait(url: str, runs: list[subprocess.Popen]) -> None:
    """Until both migrators are queued on the lock: on PostgreSQL, as pg_locks shows them; on
    SQLite (which does not show who waits), once both have the database file open."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and all(run.poll() is None for run in runs):
        if url.startswith("sqlite"):
            database = os.path.realpath(url.removeprefix("sqlite:///"))
            if all(database in _open_files(run.pid) for run in runs):
                return
        else:
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as db:
                waiting = db.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
            if waiting and waiting[0] == 2:
                return
        time.sleep(0.05)


def _open_files(pid: int) -> set[str]:
    """The files process ``pid`` has open (Linux's /proc)."""
    folder = Path(f"/proc/{pid}/fd")
    found = set()
    for fd in folder.iterdir() if folder.exists() else ():
        with contextlib.suppress(OSError):  # closed meanwhile
            found.add(os.readlink(fd))
    return found


def test_serve_migrates_before_its_workers_start(database):
    import requests

    database.load_dump()
    # the dump has no content repository beside it: forget the catalog (a cache of git) so that
    # serve rebuilds it from the empty repository instead of looking for the dump's commits
    database.execute("delete from sync_state")
    with KbServer(database.instance, database.settings()) as server:
        answer = requests.get(
            f"{server.url}/api/v1/docs", timeout=5, headers={"Authorization": f"Bearer {database.token}"}
        )
        assert answer.status_code == 200  # the old token signs in
    assert "recognised as revision 0001" in server.log.read_text()
    assert database.version() == [migrations.head()]
