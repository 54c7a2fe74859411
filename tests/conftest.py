"""One fixture builds a whole app on ``tmp_path``: its own git repository, SQLite file and
Whoosh index (copied from a template instance made once per test process). ``api_as`` gives a
client that sends a user's Bearer token; the apps' own test clients send the CSRF token as kb's
pages do (``CsrfClient``). ``clock`` moves kb's wall time forward instead of sleeping; ``kb_cli``
runs a command line in this process. The suite runs in parallel (pytest-xdist, scripts/test.sh):
session fixtures are per test process, servers take ports the kernel hands out."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from flask import Flask
from flask.ctx import RequestContext
from flask.testing import EnvironBuilder, FlaskClient
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from werkzeug.datastructures import Headers

import kb.cli
import kb.instance
from kb import clock as kb_clock
from kb import create_app
from kb.identity import users
from kb.identity.tokens import issue
from kb.instance import build_stores
from kb.instance import catch_up as bring_up_to_git
from kb.models import AuditEntry
from kb.security import SAFE_METHODS
from kb.stores import Stores

PASSWORD = "Pass-word-123"
# username -> (role, clearance)
PEOPLE = {
    "admin": ("admin", "secret"),
    "wang.editor": ("editor", "confidential"),
    "li.reader": ("reader", "internal"),
    "zhao.archivist": ("archivist", "secret"),
    "sun.public": ("reader", "public"),
}


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    """Argon2id with the smallest cost: hundreds of app fixtures each create five users."""
    original = users.HASHER
    users.HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users.HASHER = original


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every browser test (Playwright's sync API allows one per thread)."""
    from playwright.sync_api import sync_playwright
    from web_fixtures import CHROMIUM_ARGS, chromium_executable

    executable = chromium_executable()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Clock:
    """kb's wall clock (``kb.clock.now``) as the real time plus an offset that only grows, so
    a test moves time forward instead of sleeping (git's commit times have whole seconds) and
    time never runs backwards."""

    def __init__(self, real: Callable[[], dt.datetime]) -> None:
        self._real = real
        self.offset = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return self._real() + self.offset

    def advance(self, seconds: float) -> None:
        assert seconds > 0, "time only moves forward"
        self.offset += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``clock.advance(1.1)``: what kb writes down next (commits, archive stamps, table rows) is
    1.1 s later than it would have been; ``clock.now()`` reads the same clock. Reset after the test."""
    moved = Clock(kb_clock.now)
    monkeypatch.setattr(kb_clock, "now", moved.now)
    return moved


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One private PostgreSQL server per test process (each xdist worker starts its own, in its own
    folder on its own port); tests empty its database before use."""
    from postgres_server import postgres_server

    with postgres_server() as url:
        yield url


def kb_cli(instance: Path, *args: str, input: str | None = None, **env: str | None) -> Result:
    """``kb ARGS`` over ``instance`` as the console script runs it, but in this process through
    Click's runner (a ``python -m kb`` subprocess spends seconds importing); ``env`` sets more
    ``KB_*`` variables (None unsets one). Exceptions other than kb's own propagate.

    Some commands leave the stores they open for the process's exit to close; here they are
    closed once the command is done, so no index file outlives it."""
    opened: list[Stores] = []

    def build_and_remember(settings: dict[str, Any]) -> Stores:
        opened.append(build_stores(settings))
        return opened[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kb.instance, "build_stores", build_and_remember)
        try:
            return CliRunner().invoke(
                kb.cli.main,
                list(args),
                input=input,
                env={"KB_INSTANCE_DIR": str(instance), **env},
                catch_exceptions=False,
            )
        finally:
            for stores in opened:
                stores.close()


class CsrfClient(FlaskClient):
    """A test client that sends the CSRF token (``X-CSRFToken``) with every request that changes
    something, as kb's pages do with their forms and kb.js with its calls, unless the request
    brings its own token or a Bearer token. ``app.test_client(send_csrf=False)`` is the client of
    an attacker's page, which cannot read the token."""

    def __init__(self, *args: Any, send_csrf: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_csrf = send_csrf

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if self.send_csrf and args and isinstance(args[0], str):  # not a redirect being followed
            headers = Headers(kwargs.get("headers"))
            unsafe = str(kwargs.get("method", "GET")).upper() not in SAFE_METHODS
            if unsafe and "Authorization" not in headers and "X-CSRFToken" not in headers:
                headers["X-CSRFToken"] = self.csrf_token()
                kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """A token for this client's session, made by Flask-WTF as a page's form gets it (the
        session's secret half is created on the first call and kept in the session cookie)."""
        with self.session_transaction() as session:
            environ = EnvironBuilder(self.application).get_environ()
            with RequestContext(self.application, environ, session=session):
                return generate_csrf()


def create_test_app(config: dict[str, Any]) -> Flask:
    """``create_app(config)`` with ``CsrfClient`` as its test client (CSRF protection is on, as
    in production)."""
    app = create_app(config)
    app.test_client_class = CsrfClient
    return app


def open_app(config: dict[str, Any]) -> Flask:
    """An app as the entry points start one: built, then its stores brought up to git."""
    app = create_test_app(config)
    bring_up_to_git(app.extensions["kb.stores"])
    return app


def make_app(instance: Path, *, catch_up: bool = True, **config: Any) -> Flask:
    """An app on ``instance`` with the users of PEOPLE, started as the entry points start it
    unless ``catch_up`` is false."""
    app = (open_app if catch_up else create_test_app)(_test_config(instance, **config))
    with app.extensions["kb.stores"].sessions() as session:
        for name, (role, clearance) in PEOPLE.items():
            users.create_user(
                session, name, PASSWORD, role, clearance, display_name=name.title(), email=f"{name}@example.com"
            )
        session.commit()
    return app


def _test_config(instance: Path, **config: Any) -> dict[str, Any]:
    return {"TESTING": True, "INSTANCE_DIR": str(instance), "MAX_BODY_BYTES": 64 * 1024, "SEMANTIC": False, **config}


@pytest.fixture(scope="session")
def instance_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder as ``make_app`` leaves it (migrated database, the users of PEOPLE, empty
    repository and index), made once per test process: copying it costs a fraction of making it."""
    folder = tmp_path_factory.mktemp("template") / "instance"
    make_app(folder).extensions["kb.stores"].close()
    return folder


@pytest.fixture
def app(tmp_path: Path, instance_template: Path) -> Iterator[Flask]:
    """``make_app`` on ``tmp_path / "instance"``, from a copy of the template instance."""
    instance = shutil.copytree(instance_template, tmp_path / "instance")
    app = open_app(_test_config(instance))
    yield app
    app.extensions["kb.stores"].close()


def audit_entries(app: Flask, **where: Any) -> list[AuditEntry]:
    """Every audit entry matching ``where`` (column=value), oldest first, read from the table."""
    with app.extensions["kb.stores"].sessions() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows


def token_for(app: Flask, username: str) -> str:
    """A fresh API token for ``username``, issued as the service would (audited)."""
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        user = users.get_user(session, username)
    return issue(stores.audit, users.principal(user), user)[0]


class ApiClient:
    """A test client that calls /api/v1 as one user."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __getattr__(self, method: str) -> Any:
        def call(url: str, **kwargs: Any) -> Any:
            prefix = "" if url.startswith("/") else "/api/v1/"
            return getattr(self.client, method)(prefix + url, headers=self.headers, **kwargs)

        return call


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api_as(app: Flask, client: FlaskClient) -> Any:
    """``api_as("wang.editor").put("docs/a", json=...)``"""
    tokens: dict[str, str] = {}

    def make(username: str | None) -> ApiClient:
        if username is None:
            return ApiClient(client, None)
        if username not in tokens:
            tokens[username] = token_for(app, username)
        return ApiClient(client, tokens[username])

    return make


@pytest.fixture
def editor(api_as: Any) -> ApiClient:
    return api_as("wang.editor")


@pytest.fixture
def admin(api_as: Any) -> ApiClient:
    return api_as("admin")


def save(api: ApiClient, path: str, body: str = "正文", title: str = "标题", **fields: Any) -> Any:
    response = api.put(f"docs/{path}", json={"title": title, "body": body, **fields})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def web_as(app: Flask, username: str) -> FlaskClient:
    """A browser-like client logged in through the login form, so pages see a real session."""
    web = app.test_client()
    assert web.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return web


def page(web: FlaskClient, url: str, status: int = 200, **kwargs: Any) -> str:
    """The HTML of ``url`` with percent-escapes undone, so assertions can name Chinese paths."""
    response = web.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code)
    return unquote(response.get_data(as_text=True))
