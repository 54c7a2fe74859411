"""The access table of DESIGN.md, checked on every surface for every kind of caller.

Roles × clearances × document levels × statuses × surfaces: each cell's expected answer comes
from the table below, written out again on purpose (the code's own table in ``kb.access`` is
what is under test), so removing or weakening any check in the code fails a cell here.

- "shown": the caller gets the document (or finds it in a listing or search).
- "missing": the document behaves exactly as if it did not exist: 404, absent from listings,
  search hits and totals.
- "refused": the caller's role may not use the surface at all (401 / 403 / sent to log in),
  whatever the document.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, ApiClient, open_app, token_for
from flask import Flask

from kb.identity import users
from kb.services import bulk

ROLES = ("reader", "editor", "archivist", "admin")
LEVELS = ("public", "internal", "confidential", "secret")
STATUSES = ("published", "archived")
ANONYMOUS_READER = "anonymous-read"  # anonymous, with KB_ANONYMOUS_READ=1
ANONYMOUS = "anonymous"
CALLERS = [
    *((role, clearance) for role in ROLES for clearance in LEVELS),
    (ANONYMOUS, "public"),
    (ANONYMOUS_READER, "public"),
]

# the least role each surface needs (DESIGN.md: readers view and search; editors see history,
# past versions and diffs; archivists see archived documents and point-in-time views)
SURFACE_ROLE = {
    "page": "reader",
    "api": "reader",
    "raw": "reader",
    "listing": "reader",
    "home": "reader",
    "search": "reader",
    "history": "editor",
    "history_page": "editor",
    "diff": "editor",
    "diff_page": "editor",
    "revision": "editor",
    "revision_raw": "editor",
    "at_date": "archivist",
    "asof_listing": "archivist",
    "asof_page": "archivist",
    "archive_list": "archivist",
    "archive_page": "archivist",
}
# surfaces that list archived documents only: a published one is never there
ARCHIVED_ONLY = {"archive_list", "archive_page"}
WRITE_ROLE = {"edit": "editor", "revert": "editor", "move": "editor", "delete": "admin"}
RANK = {ANONYMOUS: -1, ANONYMOUS_READER: 0, "reader": 1, "editor": 2, "archivist": 3, "admin": 4}
WORDS = dict(
    zip(
        itertools.product(LEVELS, STATUSES),
        ["zebrafish", "kangaroo", "platypus", "wombat", "narwhal", "axolotl", "pangolin", "capybara"],
        strict=True,
    )
)


def visible(role: str, clearance: str, level: str, status: str) -> bool:
    if role == ANONYMOUS:
        return False
    if role == ANONYMOUS_READER:
        return level == "public" and status == "published"
    return LEVELS.index(level) <= LEVELS.index(clearance) and (status == "published" or RANK[role] >= 3)


def role_may(role: str, least: str) -> bool:
    if role == ANONYMOUS_READER:
        return least == "reader"  # anonymous reading covers viewing and searching only
    return RANK[role] >= RANK[least]


def expected(role: str, clearance: str, level: str, status: str, surface: str) -> str:
    if not role_may(role, SURFACE_ROLE[surface]):
        return "refused"
    if surface in ARCHIVED_ONLY and status != "archived":
        return "missing"
    return "shown" if visible(role, clearance, level, status) else "missing"


def path_of(level: str, status: str) -> str:
    return f"矩阵/{level}-{status}"


class World:
    """One app with a user for every role × clearance and a document for every level × status,
    each with two versions."""

    def __init__(self, app: Flask, first_revision: str, tokens: dict[tuple[str, str], str]) -> None:
        self.app = app
        self.first_revision = first_revision
        self.tokens = tokens

    def caller(self, role: str, clearance: str) -> Caller:
        return Caller(self, role, clearance)


class Caller:
    """Calls the API with the caller's token and the pages with their session."""

    def __init__(self, world: World, role: str, clearance: str) -> None:
        self.world = world
        self.role = role
        self.api = ApiClient(world.app.test_client(), world.tokens.get((role, clearance)))
        self.web = world.app.test_client()
        if (role, clearance) in world.tokens:
            response = self.web.post("/login", data={"username": f"m.{role}.{clearance}", "password": PASSWORD})
            assert response.status_code == 302

    def __enter__(self) -> Caller:
        self.world.app.config["ANONYMOUS_READ"] = self.role == ANONYMOUS_READER
        return self

    def __exit__(self, *exc: object) -> None:
        self.world.app.config["ANONYMOUS_READ"] = False


def _write(folder: Path, version: int) -> list[Path]:
    files = []
    for (level, status), word in WORDS.items():
        file = folder / f"{path_of(level, status)}.md"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(
            f"---\ntitle: 矩阵文档{word}\naccess: {level}\nstatus: {status}\n---\n"
            f"第 {version} 版正文 {word} 处置步骤。\n",
            encoding="utf-8",
        )
        files.append(file)
    return files


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("matrix")
    app = open_app({"TESTING": True, "INSTANCE_DIR": str(root / "instance")})
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        for role, clearance in itertools.product(ROLES, LEVELS):
            users.create_user(session, f"m.{role}.{clearance}", PASSWORD, role, clearance)
        session.commit()
    tokens = {
        (role, clearance): token_for(app, f"m.{role}.{clearance}")
        for role, clearance in itertools.product(ROLES, LEVELS)
    }
    first = bulk.import_files(stores, root / "v1", _write(root / "v1", 1)).revision
    bulk.import_files(stores, root / "v2", _write(root / "v2", 2))
    assert first
    yield World(app, first, tokens)
    stores.close()


def _status(code: int) -> str:
    if code == 200:
        return "shown"
    if code == 404:
        return "missing"
    assert code in (302, 401, 403), code
    return "refused"


def observe(caller: Caller, level: str, status: str, surface: str, first_revision: str) -> str:
    """What ``caller`` gets for the document (level, status) on ``surface``."""
    path = path_of(level, status)
    word = WORDS[(level, status)]
    now = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    # as a person picks a moment: no offset, in the deployment's zone
    moment = (dt.datetime.now(ZoneInfo(caller.world.app.config["TIMEZONE"])) + dt.timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    direct = {
        "page": lambda: caller.web.get(f"/docs/{path}"),
        "api": lambda: caller.api.get(f"docs/{path}"),
        "raw": lambda: caller.api.get(f"docs/{path}/raw"),
        "history": lambda: caller.api.get(f"docs/{path}/history"),
        "history_page": lambda: caller.web.get(f"/docs/{path}/history"),
        "diff": lambda: caller.api.get(f"docs/{path}/diff"),
        "diff_page": lambda: caller.web.get(f"/docs/{path}/diff"),
        "revision": lambda: caller.api.get(f"docs/{path}?revision={first_revision}"),
        "revision_raw": lambda: caller.api.get(f"docs/{path}/raw?revision={first_revision}"),
        "at_date": lambda: caller.api.get(f"docs/{path}", query_string={"at": now}),
        "asof_page": lambda: caller.web.get(f"/asof/{moment}/docs/{path}"),
    }
    listed = {
        "listing": lambda: caller.api.get("docs", query_string={"status": "all", "per_page": 200}),
        "asof_listing": lambda: caller.api.get("docs", query_string={"at": now, "per_page": 200}),
        "archive_list": lambda: caller.api.get("archive", query_string={"per_page": 200}),
    }
    if surface in direct:
        response = direct[surface]()
        outcome = _status(response.status_code)
        if outcome != "shown":
            assert word not in response.get_data(as_text=True), (surface, "leaked the body")
        return outcome
    if surface in listed:
        response = listed[surface]()
        if response.status_code != 200:
            return _status(response.status_code)
        paths = [item["path"] for item in response.get_json()["items"]]
        return "shown" if path in paths else "missing"
    if surface in ("home", "archive_page"):
        response = caller.web.get("/browse" if surface == "home" else "/archive", query_string={"status": "all"})
        if response.status_code != 200:
            return _status(response.status_code)
        return "shown" if word in response.get_data(as_text=True) else "missing"
    assert surface == "search"
    response = caller.api.get("search", query_string={"q": word, "status": "all"})
    if response.status_code != 200:
        return _status(response.status_code)
    found = response.get_json()
    paths = [hit["path"] for hit in found["hits"]]
    if path in paths:
        assert found["total"] == 1 and word in found["hits"][0]["snippet"]
        return "shown"
    assert found["total"] == 0 and paths == [] and not found.get("suggestion"), "a hidden document was counted"
    return "missing"


@pytest.mark.parametrize(("role", "clearance"), CALLERS, ids=[f"{r}-{c}" for r, c in CALLERS])
def test_every_caller_gets_what_the_table_says_on_every_read_surface(world, role, clearance):
    wrong = []
    with world.caller(role, clearance) as caller:
        for level, status, surface in itertools.product(LEVELS, STATUSES, SURFACE_ROLE):
            want = expected(role, clearance, level, status, surface)
            got = observe(caller, level, status, surface, world.first_revision)
            if got != want:
                wrong.append(f"{level}/{status}/{surface}: expected {want}, got {got}")
    assert wrong == []


def test_a_past_version_is_judged_by_the_stricter_of_its_level_and_the_current_one(world):
    """Lowered since: an old secret version stays hidden from a confidential editor."""
    admin = world.caller("admin", "secret")
    secret = admin.api.put("docs/矩阵/降级", json={"title": "降级", "body": "曾为绝密", "access": "secret"})
    admin.api.put("docs/矩阵/降级", json={"title": "降级", "body": "现为内部", "access": "internal"})
    editor = world.caller("editor", "confidential")
    old = secret.get_json()["revision"]
    assert editor.api.get("docs/矩阵/降级").status_code == 200
    for url in (
        f"docs/矩阵/降级?revision={old}",
        f"docs/矩阵/降级/raw?revision={old}",
        f"docs/矩阵/降级/diff?from={old}",
    ):
        response = editor.api.get(url)
        assert response.status_code == 404, url
        assert "曾为绝密" not in response.get_data(as_text=True)
    assert editor.api.post("docs/矩阵/降级/revert", json={"revision": old}).status_code == 404
    assert admin.api.get(f"docs/矩阵/降级?revision={old}").status_code == 200


# ---------------------------------------------------------------- writes


def expected_write(role: str, clearance: str, level: str, status: str, action: str) -> int:
    if not role_may(role, WRITE_ROLE[action]) or role == ANONYMOUS_READER:
        return 401 if role in (ANONYMOUS, ANONYMOUS_READER) else 403
    if not visible(role, clearance, level, status):
        return 404
    if status == "archived" and action != "delete":
        return 409  # archived documents are read-only
    return 204 if action == "delete" else 200


def attempt(world: World, caller: Caller, path: str, action: str) -> int:
    if action == "edit":
        return caller.api.put(f"docs/{path}", json={"title": "矩阵文档", "body": "改动"}).status_code
    if action == "revert":
        return caller.api.post(f"docs/{path}/revert", json={"revision": world.first_revision}).status_code
    if action == "move":
        response = caller.api.post(f"docs/{path}/move", json={"to": f"{path}-移走"})
        if response.status_code == 200:  # put it back for the next caller
            world.caller("admin", "secret").api.post(f"docs/{path}-移走/move", json={"to": path})
        return response.status_code
    return caller.api.delete(f"docs/{path}").status_code


@pytest.mark.parametrize("action", list(WRITE_ROLE))
def test_every_caller_may_write_exactly_what_the_table_says(world, action):
    store = world.app.extensions["kb.stores"].store
    wrong = []
    for (role, clearance), (level, status) in itertools.product(CALLERS, WORDS):
        want = expected_write(role, clearance, level, status, action)
        path = path_of(level, status)
        if action == "delete" and want == 204:
            path = _fresh_copy(world, level, status, f"{role}-{clearance}")
        before = store.head()
        with world.caller(role, clearance) as caller:
            got = attempt(world, caller, path, action)
        if got != want:
            wrong.append(f"{role}/{clearance} {action} {level}/{status}: expected {want}, got {got}")
        if want >= 400 and store.head() != before:
            wrong.append(f"{role}/{clearance} {action} {level}/{status}: refused but committed")
    assert wrong == []


def _fresh_copy(world: World, level: str, status: str, tag: str) -> str:
    """A document of this level and status of its own, for a delete that will succeed."""
    folder = Path(world.app.config["INSTANCE_DIR"]).parent / "copies" / tag / level / status
    file = folder / "副本.md"
    folder.mkdir(parents=True, exist_ok=True)
    file.write_text(f"---\ntitle: 副本\naccess: {level}\nstatus: {status}\n---\n副本正文\n", encoding="utf-8")
    stores = world.app.extensions["kb.stores"]
    bulk.import_files(stores, folder.parent.parent.parent, [file])
    return f"{tag}/{level}/{status}/副本"


@pytest.mark.parametrize(("clearance", "target"), list(itertools.product(LEVELS, LEVELS)))
def test_an_editor_writes_no_higher_than_their_own_clearance(world, clearance, target):
    editor = world.caller("editor", clearance)
    path = f"矩阵/新建-{clearance}-{target}"
    response = editor.api.put(f"docs/{path}", json={"title": "新文档", "body": "正文", "access": target})
    allowed = LEVELS.index(target) <= LEVELS.index(clearance)
    assert response.status_code == (201 if allowed else 403)
