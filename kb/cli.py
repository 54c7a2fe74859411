"""The ``kb`` command line: init, serve, import, export, reindex, check, users and tokens."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from kb import create_app
from kb.errors import KBError
from kb.models import User
from kb.services import bulk, catalog, consistency, users


def _app() -> Flask:
    return create_app()


class _Group(click.Group):
    """Shows kb's own errors as a one-line message and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KBError as error:
            raise click.ClickException(error.message) from error


@click.group(cls=_Group, help="kb: knowledge base for IT service organisations. Settings: KB_* variables.")
def main() -> None:
    pass


@main.command()
@click.option("--demo", is_flag=True, help="Import the starter content in content/ with some history.")
def init(demo: bool) -> None:
    """Create the instance folder, database, content repository and the admin user."""
    app = _app()
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        if session.scalar(select(User).where(User.username == "admin")) is None:
            password = os.environ.get("KB_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            users.create_user(session, "admin", password, role="admin", clearance="secret",
                              display_name="管理员")
            session.commit()
            shown = "(from KB_ADMIN_PASSWORD)" if os.environ.get("KB_ADMIN_PASSWORD") else password
            click.echo(f"created user admin, password: {shown}")
        else:
            click.echo("user admin exists")
    if demo:
        if stores.store.head() is not None:
            click.echo("the content repository already has documents; demo content not imported")
        else:
            count = bulk.import_demo(stores, Path(__file__).resolve().parent.parent / "content")
            click.echo(f"imported {count} demo documents with history")
    click.echo(f"instance: {app.config['INSTANCE_DIR']}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", type=int, default=None, help="Worker processes (default KB_WORKERS).")
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve with gunicorn (several workers; git and index writes are serialized by a file lock)."""
    from kb.server import run

    app = _app()  # catches derived stores up once, before the workers start
    run(host, port, workers or app.config["WORKERS"])


@main.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--message", default="", help="Commit message.")
def import_(directory: Path, message: str) -> None:
    """Import a folder of .md files (front matter optional) as one commit."""
    app = _app()
    files = bulk.find_markdown(directory)
    with click.progressbar(length=max(len(files), 1), label="importing") as bar:
        report = bulk.import_files(app.extensions["kb.stores"], directory, files, message=message,
                                   progress=bar.update)
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"imported {report.imported} documents"
               + (f" in {report.revision[:10]}" if report.revision else "") + f" ({report.seconds:.1f} s)")
    if report.skipped:
        sys.exit(1)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export(directory: Path) -> None:
    """Write every current document as <path>.md into DIRECTORY."""
    app = _app()
    count = bulk.export_directory(app.extensions["kb.stores"], directory)
    click.echo(f"exported {count} documents to {directory}")


@main.command()
def reindex() -> None:
    """Rebuild the document tables and the search index from git alone."""
    app = _app()
    stores = app.extensions["kb.stores"]
    with stores.store.lock(), click.progressbar(length=stores.store.count_documents() or 1,
                                                label="indexing") as bar:
        report = catalog.rebuild(stores.store, stores.index, stores.sessions, progress=bar.update)
    click.echo(f"replayed {report.commits} commits, indexed {report.indexed} documents")


@main.command()
def check() -> None:
    """Check that the git store, the tables and the index agree (exit 1 when they do not)."""
    app = _app_without_catch_up()
    problems = consistency.check(app.extensions["kb.stores"])
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s); `kb reindex` rebuilds tables and index from git", err=True)
        sys.exit(1)
    click.echo("store, tables and index agree")


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option("--role", default="reader", show_default=True,
              type=click.Choice(["reader", "editor", "archivist", "admin"]))
@click.option("--clearance", default="internal", show_default=True,
              type=click.Choice(["public", "internal", "confidential", "secret"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="", help="Display name (used as the git author).")
@click.option("--email", default="")
def user_add(username: str, role: str, clearance: str, password: str, display_name: str, email: str) -> None:
    """Add a user."""
    app = _app()
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, username, password, role, clearance, display_name, email)
        session.commit()
    click.echo(f"created {role} {username} with clearance {clearance}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli")
def token_create(username: str, name: str) -> None:
    """Create an API token for USERNAME and print it (shown once)."""
    app = _app()
    with app.extensions["kb.stores"].sessions() as session:
        value = users.create_token(session, users.get_user(session, username), name)
        session.commit()
    click.echo(value)


def _app_without_catch_up() -> Flask:
    return create_app({"CATCH_UP": False})
