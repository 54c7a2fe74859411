"""The ``kb`` command line: init, migrate, serve, import, export, reindex, check, users and tokens."""

from __future__ import annotations

import getpass
import os
import secrets
import sys
import time
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy import select

from kb import config, instance, migrations
from kb.access import CLEARANCES, Principal
from kb.errors import KBError
from kb.identity import tokens, users
from kb.models import User
from kb.schemas.accounts import TokenName, UserCreate, UserUpdate
from kb.schemas.base import validated
from kb.schemas.documents import CommitMessage
from kb.services import bulk, consistency, synonyms
from kb.services.export import export_zip, git_bundle
from kb.stores import Stores, catalog, reconcile
from kb.stores.audit import Filters

# text from the command line is held to the API's models; refusals read as all kb messages do
LANGUAGE = "zh"


def _stores(*, catch_up: bool = True) -> Stores:
    """The instance's stores (``KB_*`` settings), brought up to git first unless ``catch_up`` is
    false (the checks, which report what is behind rather than repair it). No Flask app: a
    command needs none."""
    stores = instance.build_stores(config.load())
    if catch_up:
        instance.catch_up(stores)
    return stores


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
    _migrate()
    stores = _stores()
    with stores.sessions() as session:
        exists = session.scalar(select(User).where(User.username == "admin")) is not None
    if exists:
        click.echo("user admin exists")
    else:
        password = os.environ.get("KB_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.add_user(
            stores.audit,
            _operator(),
            users.NewAccount("admin", password, role="admin", clearance="secret", display_name="管理员"),
        )
        shown = "(from KB_ADMIN_PASSWORD)" if os.environ.get("KB_ADMIN_PASSWORD") else password
        click.echo(f"created user admin, password: {shown}")
    if demo:
        if stores.store.head() is not None:
            click.echo("the content repository already has documents; demo content not imported")
        else:
            count = bulk.import_demo(stores, Path(__file__).resolve().parent.parent / "content")
            click.echo(f"imported {count} demo documents with history")
    if synonyms.seed(stores, _operator()):
        click.echo(f"starter synonym list written to {synonyms.PATH}")
    stores.close()  # the index's files, for callers in the same process (tests)
    click.echo(f"instance: {config.load()['INSTANCE_DIR']}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", type=int, default=None, help="Worker processes (default KB_WORKERS).")
@click.option("--threads", type=int, default=None, help="Threads per worker (default KB_THREADS).")
def serve(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve with gunicorn: several workers with threads (git and index writes are serialized by a
    file lock). Migrates and catches the stores up first, then becomes the server process."""
    _migrate()
    _stores().close()  # derived stores caught up once, before the workers start
    settings = config.load()
    workers, threads = workers or settings["WORKERS"], threads or settings["THREADS"]
    sys.stdout.flush()
    # the server process keeps this one's pid, environment and folder, not its imports
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "kb.server",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
    )


@main.command()
def migrate() -> None:
    """Upgrade the database to this kb's schema (back it up first); a database made before
    migrations is adopted. Safe to run again: a database at head is left alone."""
    _migrate()


def _migrate() -> None:
    settings = config.load()
    # the default SQLite database lives in the instance folder, which may not exist yet
    Path(settings["INSTANCE_DIR"]).mkdir(mode=config.INSTANCE_MODE, parents=True, exist_ok=True)
    click.echo(migrations.upgrade(settings["DATABASE_URL"]))


@main.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--message", default="", help="Commit message.")
def import_(directory: Path, message: str) -> None:
    """Import a folder of .md files (front matter optional) as one commit."""
    message = validated(CommitMessage, {"message": message}, LANGUAGE).message or ""
    stores = _stores()
    files = bulk.find_markdown(directory)
    try:
        with click.progressbar(length=max(len(files), 1), label="importing") as bar:
            report = bulk.import_files(stores, directory, files, message=message, progress=bar.update, user=_operator())
    finally:
        stores.close()  # the index's files, for callers in the same process (tests)
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(
        f"imported {report.imported} documents"
        + (f" in {report.revision[:10]}" if report.revision else "")
        + f" ({report.seconds:.1f} s)"
    )
    if report.skipped:
        sys.exit(1)


@main.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--path", "doc_path", default=None, help="Zip: only this document.")
@click.option("--prefix", default=None, help="Zip: only the documents under this folder.")
@click.option("--latest", is_flag=True, help="Zip: only the current file of each document, no history.")
@click.option("--bundle", is_flag=True, help="Write a git bundle of the content repository to TARGET.")
def export(target: Path, doc_path: str | None, prefix: str | None, latest: bool, bundle: bool) -> None:
    """Export to TARGET: a .zip gets the documents with every version, a manifest (author, date,
    message, SHA-256 of each file) and their audit entries; with --bundle, a git bundle of the
    whole content repository; any other TARGET is a directory that gets every current document
    as <path>.md."""
    zipped = target.suffix.lower() == ".zip" and not bundle
    if (doc_path or prefix or latest) and not zipped:
        raise click.UsageError("--path, --prefix and --latest apply to a .zip export")
    if not zipped and not bundle and target.exists() and not target.is_dir():
        raise click.BadParameter(f"{target} is a file, not a directory", param_hint="TARGET")
    stores = _stores()
    if bundle:
        done = git_bundle(stores, _operator(), target)
        click.echo(f"wrote a git bundle of {done.head[:10]} to {target} ({done.bytes} bytes)")
    elif zipped:
        _export_zip(stores, target, doc_path, prefix, history=not latest)
    else:
        count = bulk.export_directory(stores, target)
        stores.audit.record(_operator(), "export", detail=f"{count} documents to {target}"[:500])
        click.echo(f"exported {count} documents to {target}")


def _export_zip(stores: Stores, target: Path, doc_path: str | None, prefix: str | None, *, history: bool) -> None:
    """Write the zip beside TARGET first and move it into place once complete, so a failed
    export never leaves a truncated archive under the name asked for."""
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as out, click.progressbar(length=0, label="exporting") as bar:

            def step(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)

            report = export_zip(stores, _operator(), out, path=doc_path, prefix=prefix, history=history, progress=step)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"exported {report.documents} documents, {report.files} files to {target}")


@main.command()
def reindex() -> None:
    """Rebuild the document tables and the search index from git alone."""
    stores = _stores()
    try:
        with (
            stores.store.lock(),
            click.progressbar(length=stores.store.count_documents() or 1, label="indexing") as bar,
        ):
            report = catalog.rebuild(stores.store, stores.index, stores.sessions, progress=bar.update)
    finally:
        stores.close()  # the index's files, for callers in the same process (tests)
    click.echo(f"replayed {report.commits} commits, indexed {report.indexed} documents")


@main.command()
def embed() -> None:
    """Compute the meaning vectors that questions are ranked with, for every document that
    lacks one (``kb serve`` does this in the background; this does it now, e.g. after a large
    import, with all the CPU it can get)."""
    stores = _stores()
    index = stores.index
    try:
        if index.vectors is None:
            click.echo("meaning vectors are off (KB_SEMANTIC=0, or the model's package is missing)")
            return
        pending = index.vectors_pending()
        started = time.monotonic()
        with click.progressbar(length=pending or 1, label="embedding") as bar:
            done = index.embed_pending(progress=bar.update)
        took = time.monotonic() - started
    finally:
        stores.close()
    click.echo(f"computed {done} meaning vectors in {took:.1f} s")


@main.command()
@click.option(
    "--accept",
    is_flag=True,
    help="Vouch, in the audit trail under your name, for the unattributed commits listed by a "
    "previous `kb check` (made with plain git or by a kb from before trailers).",
)
def check(accept: bool) -> None:
    """Check that the git store, the tables, the index and the audit trail agree (exit 1 when they
    do not). Commits a killed process left without their audit entry are recorded from their
    trailers first and listed; commits nobody can be named for are problems until accepted."""
    stores = _stores(catch_up=False)
    try:
        with stores.store.lock():
            audited = reconcile.reconcile(stores)
            if accept and audited.unattributed:
                click.echo(f"accepted {reconcile.accept(stores, audited, _operator())} unattributed commit(s)")
                audited = reconcile.reconcile(stores)
        derived = consistency.check(stores)
        pending = stores.index.vectors_pending()
    finally:
        stores.close()  # the index's files, for callers in the same process (tests)
    for line in audited.recovered_lines():
        click.echo(line)
    problems = audited.problems() + derived
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        hint = "; `kb reindex` rebuilds tables and index from git" if derived else ""
        click.echo(f"{len(problems)} problem(s){hint}", err=True)
        sys.exit(1)
    click.echo("store, tables, index and audit trail agree")
    if pending:  # not a disagreement: a cache still filling
        click.echo(
            f"{pending} document(s) still without a meaning vector: kb serve computes them in the "
            f"background, kb embed now"
        )


def _operator() -> Principal:
    """Who the command line acts as: whoever can run it holds the instance folder, so an
    administrator with the highest clearance, named after the OS account for the audit trail."""
    return Principal(f"cli:{getpass.getuser()}"[:64], "admin", "secret", address="local")


@main.group()
def user() -> None:
    """Manage users (every change is audited)."""


@user.command("add")
@click.argument("username")
@click.option("--role", default="reader", show_default=True, type=click.Choice(users.ASSIGNABLE_ROLES))
@click.option("--clearance", default="internal", show_default=True, type=click.Choice(CLEARANCES))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="", help="Display name (used as the git author).")
@click.option("--email", default="")
def user_add(username: str, role: str, clearance: str, password: str, display_name: str, email: str) -> None:
    """Add a user."""
    account = validated(
        UserCreate,
        {
            "username": username,
            "password": password,
            "role": role,
            "clearance": clearance,
            "display_name": display_name,
            "email": email,
        },
        LANGUAGE,
    )
    users.add_user(_stores().audit, _operator(), users.NewAccount(**account.model_dump(mode="json")))
    click.echo(f"created {role} {username} with clearance {clearance}")


@user.command("list")
def user_list() -> None:
    """List users with role, clearance and state."""
    with _stores().sessions() as session:
        for account in users.list_users(session, _operator()):
            state = "active" if account.active else "disabled"
            click.echo(f"{account.username:24} {account.role:10} {account.clearance:13} {state}")


@user.command("set")
@click.argument("username")
@click.option("--role", type=click.Choice(users.ASSIGNABLE_ROLES))
@click.option("--clearance", type=click.Choice(CLEARANCES))
@click.option("--name", "display_name", default=None)
@click.option("--email", default=None)
def user_set(
    username: str, role: str | None, clearance: str | None, display_name: str | None, email: str | None
) -> None:
    """Change a user's role, clearance, display name or e-mail."""
    changes = {
        key: value
        for key, value in (("role", role), ("clearance", clearance), ("display_name", display_name), ("email", email))
        if value is not None
    }
    _update(username, changes)


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable an account: its sessions end and its API tokens are revoked."""
    _update(username, {"active": False})


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Enable a disabled account (its old tokens stay revoked)."""
    _update(username, {"active": True})


@user.command("passwd")
@click.argument("username")
@click.option("--password", prompt="New password", hide_input=True, confirmation_prompt=True)
def user_passwd(username: str, password: str) -> None:
    """Reset a password: the user's sessions end and their API tokens are revoked."""
    _update(username, {"password": password})


def _update(username: str, changes: dict) -> None:
    checked = validated(UserUpdate, changes, LANGUAGE).model_dump(mode="json")
    account = users.update_user(_stores().audit, _operator(), username, users.AccountChanges(**checked))
    click.echo(
        f"{account.username}: {account.role}, clearance {account.clearance}, "
        f"{'active' if account.active else 'disabled'}"
    )


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days.")
def token_create(username: str, name: str, expires_days: int | None) -> None:
    """Create an API token for USERNAME and print it (shown once)."""
    name = validated(TokenName, {"name": name}, LANGUAGE).name
    stores = _stores()
    with stores.sessions() as session:
        account = users.get_user(session, username)
    value, _row = tokens.issue(stores.audit, _operator(), account, name, expires_days)
    click.echo(value)


@token.command("list")
@click.argument("username")
def token_list(username: str) -> None:
    """List a user's tokens (never the tokens themselves, which are not stored)."""
    with _stores().sessions() as session:
        for row in tokens.list_tokens(session, _operator(), username):
            state = (
                "revoked" if row.revoked_at else f"expires {row.expires_at:%Y-%m-%d}" if row.expires_at else "active"
            )
            click.echo(f"{row.id:6} {row.name:20} created {row.created_at:%Y-%m-%d} {state}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id."""
    tokens.revoke(_stores().audit, _operator(), token_id)
    click.echo(f"revoked token {token_id}")


@main.group()
def audit() -> None:
    """Check and export the audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and name each entry where it breaks."""
    stores = _stores(catch_up=False)
    with stores.sessions() as session:
        result = stores.audit.check(session, _operator())  # recorded: the audit page shows it
    for problem in result.problems:
        click.echo(f"entry {problem['id']}: {problem['message']}", err=True)
    if not result.ok:
        click.echo(f"audit trail BROKEN: {len(result.problems)} problem(s) in {result.entries} entries", err=True)
        sys.exit(1)
    click.echo(f"audit trail intact: {result.entries} entries")


@audit.command("export")
@click.argument("output", type=click.File("w", encoding="utf-8"))
@click.option("--user", default=None)
@click.option("--path", default=None)
@click.option("--action", default=None)
@click.option("--since", default=None, help="ISO 8601 date or date-time.")
@click.option("--until", default=None, help="ISO 8601 date or date-time.")
def audit_export(output: TextIO, **filters: str | None) -> None:
    """Write the (filtered) audit trail as CSV to OUTPUT ('-' for standard output)."""
    stores = _stores(catch_up=False)
    for chunk in stores.audit.export_csv(_operator(), Filters.parse(filters, stores.timezone)):
        output.write(chunk)
