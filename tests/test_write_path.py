"""The one write path (``kb.stores.write_path``) under faults, on real git repositories and SQLite: a
process killed between commit and audit, a database error at the audit append, and a full disk
(ENOSPC) at every stage. Each fault is one function made to fail at its stage (or a real kill,
or a real full file system); what the client is told must be what stands in git and the trail.

libgit2 reports a full disk as an ``OSError`` without ``errno`` whose text names it; that is the
shape injected here (seen on a full tmpfs, see ``test_a_real_full_disk_answers_507``)."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner
from conftest import ApiClient, audit_entries, make_app, open_app, save, token_for
from flask import Flask
from sqlalchemy.exc import OperationalError

from kb.cli import main as kb_cli
from kb.stores import catalog
from kb.stores.audit import AuditTrail
from kb.stores.reconcile import RECOVERED, reconcile
from kb.versioning.store import BRANCH

ROOT = Path(__file__).resolve().parents[1]
NO_SPACE = "failed to write out file: No space left on device"  # what libgit2 raises, errno None


def no_space(*_args: object, **_kwargs: object) -> None:
    raise OSError(NO_SPACE)


def database_full(*_args: object, **_kwargs: object) -> None:
    raise OperationalError("INSERT INTO audit_trail", {}, sqlite3.OperationalError("database or disk is full"))


def database_gone(*_args: object, **_kwargs: object) -> None:
    raise OperationalError("INSERT INTO audit_trail", {}, sqlite3.OperationalError("disk I/O error"))


def token_api(app: Flask, user: str) -> ApiClient:
    return ApiClient(app.test_client(), token_for(app, user))


class FullDiskRef:
    """A reference whose ``set_target`` fails as libgit2 does on a full disk (pygit2's Reference
    is a C type: its method cannot be patched, so the reference handed out is wrapped)."""

    def __init__(self, ref: pygit2.Reference) -> None:
        self._ref = ref

    def __getattr__(self, name: str) -> object:
        return getattr(self._ref, name)

    def set_target(self, *_args: object, **_kwargs: object) -> None:
        no_space()


def standing(app: Flask, path: str) -> tuple[str | None, bytes | None, int]:
    """What stands: main's tip, the document's file in git, how many audit entries there are."""
    store = app.extensions["kb.stores"].store
    data = store.read(path) if store.exists(path) else None
    return store.head(), data, len(audit_entries(app))


def unrecorded(app: Flask) -> list[str]:
    """Every line reconciliation would report: nothing may stand unrecorded."""
    stores = app.extensions["kb.stores"]
    with stores.store.lock():
        return reconcile(stores, repair=False).lines()


def put(api, path: str, body: str):
    return api.put(f"docs/{path}", json={"title": "标题", "body": body})


# ---------------------------------------------------------------- a process killed after its commit

CHILD = textwrap.dedent("""
    import os, sys
    from kb import create_app
    from kb.stores import write_path

    def killed(self, revision, level, detail, *, undo):
        os._exit(17)  # kill -9 between the git commit and the audit append: no undo, no answer

    write_path.Writing._audit = killed
    app = create_app({"TESTING": True, "INSTANCE_DIR": sys.argv[1]})
    answer = app.test_client().put("/api/v1/" + sys.argv[2], json={"title": "标题", "body": sys.argv[3]},
                                   headers={"Authorization": "Bearer " + os.environ["KB_TEST_TOKEN"]})
    print("answered", answer.status_code)  # never reached
""")


def killed_while_saving(app: Flask, tmp_path: Path, url: str, body: str, user: str = "wang.editor") -> str:
    """Save ``body`` at ``url`` in a child process that dies right after the git commit; the
    commit it left."""
    stores = app.extensions["kb.stores"]
    before = stores.store.head()
    token = token_for(app, user)
    stores.close()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.run(
        [sys.executable, str(script), app.config["INSTANCE_DIR"], url, body],
        cwd=ROOT,
        env={**os.environ, "KB_TEST_TOKEN": token, "PYTHONPATH": str(ROOT)},  # the kb under test, not an installed one
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 17, child.stdout + child.stderr
    assert "answered" not in child.stdout
    return before


def test_a_process_killed_after_its_commit_is_recorded_at_the_next_start(app, editor, tmp_path):
    save(editor, "流程/变更", "第一版", access="confidential")
    before = killed_while_saving(app, tmp_path, "docs/流程/变更", "崩溃前保存的第二版")
    store = app.extensions["kb.stores"].store
    left = store.head()
    assert left != before  # the commit stands in git …
    assert dict(store.revision(left).trailers) == {
        "action": "update",
        "actor": "wang.editor",
        "path": "流程/变更",
        "level": "confidential",
    }
    assert not audit_entries(app, revision=left)  # … with no entry

    again = open_app({"TESTING": True, "INSTANCE_DIR": app.config["INSTANCE_DIR"]})
    [entry] = audit_entries(again, revision=left)
    assert (entry.actor, entry.action, entry.target, entry.level, entry.outcome, entry.detail) == (
        "wang.editor",
        "update",
        "流程/变更",
        "confidential",
        "ok",
        RECOVERED,
    )
    assert entry.at == store.revision(left).date
    stores = again.extensions["kb.stores"]
    with stores.sessions() as session:
        assert stores.audit.verify(session).ok
    assert unrecorded(again) == []
    assert "崩溃前保存的第二版" in token_api(again, "wang.editor").get("docs/流程/变更").get_json()["body"]
    stores.close()


def test_a_process_killed_after_a_draft_commit_is_recorded_by_kb_check(app, editor, tmp_path):
    save(editor, "流程/受理", "已发布")
    killed_while_saving(app, tmp_path, "docs/流程/受理/draft", "崩溃前的草稿")
    draft = app.extensions["kb.stores"].drafts.get("流程/受理")
    assert draft is not None and not audit_entries(app, revision=draft.revision.id)
    env = {"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]}

    result = CliRunner().invoke(kb_cli, ["check"], env=env)
    assert result.exit_code == 0, result.output  # repaired: nothing is left to do
    assert f"audit: recovered entry for {draft.revision.id[:10]} (draft_save 流程/受理 by wang.editor)" in result.output
    [entry] = audit_entries(app, revision=draft.revision.id)
    assert (entry.actor, entry.action, entry.target, entry.detail) == (
        "wang.editor",
        "draft_save",
        "流程/受理",
        RECOVERED,
    )
    verify = CliRunner().invoke(kb_cli, ["audit", "verify"], env=env)
    assert verify.exit_code == 0, verify.output


# ---------------------------------------------------------------- a database error at the audit append


def test_a_database_error_at_the_audit_append_moves_the_ref_back(app, editor, monkeypatch):
    first = save(editor, "流程/变更", "第一版", access="confidential")
    before = standing(app, "流程/变更")
    monkeypatch.setattr(AuditTrail, "append", database_gone)
    answer = put(editor, "流程/变更", "不会保存的第二版")
    assert answer.status_code == 500
    assert answer.get_json()["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert standing(app, "流程/变更") == before  # the document unchanged in git, no entry
    assert editor.get("docs/流程/变更").get_json()["revision"] == first["revision"]
    assert unrecorded(app) == []
    assert put(editor, "流程/变更", "之后的第二版").status_code == 200  # and the next save goes through


def test_a_database_error_at_a_draft_audit_moves_the_draft_ref_back(app, editor, monkeypatch):
    save(editor, "流程/受理", "已发布")
    assert editor.put("docs/流程/受理/draft", json={"title": "草稿", "body": "第一稿"}).status_code == 201
    tip = app.extensions["kb.stores"].drafts.get("流程/受理").revision.id
    count = len(audit_entries(app))
    monkeypatch.setattr(AuditTrail, "append", database_gone)
    assert editor.put("docs/流程/受理/draft", json={"title": "草稿", "body": "第二稿"}).status_code == 500
    assert editor.delete("docs/流程/受理/draft").status_code == 500  # a discard moves the ref back too
    monkeypatch.undo()
    assert app.extensions["kb.stores"].drafts.get("流程/受理").revision.id == tip
    assert len(audit_entries(app)) == count
    assert unrecorded(app) == []


# ---------------------------------------------------------------- a full disk at each stage


def _fail_the_branch_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main``'s ref write fails."""
    lookup = pygit2.Repository.lookup_reference

    def looked_up(repo: pygit2.Repository, name: str) -> object:
        ref = lookup(repo, name)
        return FullDiskRef(ref) if name == BRANCH else ref

    monkeypatch.setattr(pygit2.Repository, "lookup_reference", looked_up)


def _fail_the_draft_ref_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """A draft's ref write fails."""
    get = pygit2.references.References.get

    def looked_up(references: pygit2.references.References, name: str) -> object:
        ref = get(references, name)
        return FullDiskRef(ref) if ref is not None and name.startswith("refs/drafts/") else ref

    monkeypatch.setattr(pygit2.references.References, "get", looked_up)


STAGES = {
    "blob": lambda mp: mp.setattr(pygit2.Repository, "create_blob", no_space),
    "commit": lambda mp: mp.setattr(pygit2.Repository, "create_commit", no_space),
    "ref update": _fail_the_branch_update,
    "audit append": lambda mp: mp.setattr(AuditTrail, "append", database_full),
    "audit append (OSError)": lambda mp: mp.setattr(AuditTrail, "append", no_space),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_full_disk_before_the_save_is_durable_answers_507_and_commits_nothing(app, editor, monkeypatch, stage):
    first = save(editor, "流程/变更", "第一版")
    before = standing(app, "流程/变更")
    STAGES[stage](monkeypatch)
    answer = put(editor, "流程/变更", "磁盘满时的第二版")
    monkeypatch.undo()
    assert answer.status_code == 507, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "insufficient_storage"
    assert "insufficient storage" in error["message"] and "存储空间不足" in error["message"]
    assert standing(app, "流程/变更") == before
    assert editor.get("docs/流程/变更").get_json()["revision"] == first["revision"]
    assert unrecorded(app) == []
    assert put(editor, "流程/变更", "有空间后的第二版").status_code == 200  # once space is freed


DRAFT_STAGES = {
    "blob": lambda mp: mp.setattr(pygit2.Repository, "create_blob", no_space),
    "commit": lambda mp: mp.setattr(pygit2.Repository, "create_commit", no_space),
    "ref update": _fail_the_draft_ref_update,
    "audit append": lambda mp: mp.setattr(AuditTrail, "append", database_full),
}


@pytest.mark.parametrize("stage", sorted(DRAFT_STAGES))
def test_a_full_disk_while_saving_a_draft_answers_507(app, editor, monkeypatch, stage):
    save(editor, "流程/受理", "已发布")
    assert editor.put("docs/流程/受理/draft", json={"title": "草稿", "body": "第一稿"}).status_code == 201
    drafts = app.extensions["kb.stores"].drafts
    tip, count = drafts.get("流程/受理").revision.id, len(audit_entries(app))
    DRAFT_STAGES[stage](monkeypatch)
    answer = editor.put("docs/流程/受理/draft", json={"title": "草稿", "body": "第二稿"})
    monkeypatch.undo()
    assert answer.status_code == 507, answer.get_json()
    assert answer.get_json()["error"]["code"] == "insufficient_storage"
    assert drafts.get("流程/受理").revision.id == tip
    assert len(audit_entries(app)) == count
    assert unrecorded(app) == []


def test_a_full_disk_at_the_audit_anchor_does_not_deny_a_recorded_save(app, editor, monkeypatch):
    """The anchor file is written after the entry is committed: failing it must not move the ref
    back under a recorded entry (it used to), nor leave the anchor truncated."""
    save(editor, "流程/变更", "第一版")
    anchor = Path(app.config["INSTANCE_DIR"]) / "audit.head"
    old_anchor = anchor.read_text()
    replace = os.replace

    def full(source: object, target: object, *args: object, **kwargs: object) -> None:
        if Path(str(target)).name == "audit.head":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full)
    answer = put(editor, "流程/变更", "第二版")
    monkeypatch.undo()
    assert answer.status_code == 200, answer.get_json()
    revision = answer.get_json()["revision"]
    assert app.extensions["kb.stores"].store.head() == revision
    assert [e.action for e in audit_entries(app, revision=revision)] == ["update"]
    assert anchor.read_text() == old_anchor  # an older anchor, whole: verify accepts it
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        assert stores.audit.verify(session).ok
    assert unrecorded(app) == []


SUBSCRIBERS = {
    "catalog": lambda mp, app: mp.setattr(catalog, "record", no_space),
    "index": lambda mp, app: mp.setattr(app.extensions["kb.stores"].index, "apply", no_space),
}


@pytest.mark.parametrize("stage", sorted(SUBSCRIBERS))
def test_a_full_disk_after_the_durable_commit_and_entry_is_a_success_whose_revision_stands(
    app, editor, monkeypatch, stage
):
    save(editor, "流程/变更", "第一版")
    SUBSCRIBERS[stage](monkeypatch, app)
    answer = put(editor, "流程/变更", "磁盘满时的第二版")
    monkeypatch.undo()
    assert answer.status_code == 200, answer.get_json()
    revision = answer.get_json()["revision"]
    stores = app.extensions["kb.stores"]
    assert stores.store.head() == revision
    assert "磁盘满时的第二版" in stores.store.read("流程/变更").decode()
    assert [e.action for e in audit_entries(app, revision=revision)] == ["update"]
    assert unrecorded(app) == []
    save(editor, "其他", "之后的保存")  # the derived stores catch up on the next write
    assert editor.get("docs/流程/变更").get_json()["revision"] == revision
    hits = editor.get("search?q=磁盘满时的第二版").get_json()["hits"]
    assert [hit["path"] for hit in hits] == ["流程/变更"]


# ---------------------------------------------------------------- a real full file system


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs for the content repository (root only; skipped elsewhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


@pytest.mark.parametrize("size", ["small", "large"])
def test_a_real_full_disk_answers_507(full_disk, tmp_path, size):
    """No injection: the repository's file system is full. libgit2 fails a small write with an
    OSError without errno, a large blob with a GitError whose message is stale."""
    app = make_app(tmp_path / "instance", CONTENT_DIR=str(full_disk / "content.git"))
    try:
        api = token_api(app, "wang.editor")
        save(api, "流程/变更", "第一版")
        before = standing(app, "流程/变更")
        filler = _fill(full_disk)
        body = "短" if size == "small" else os.urandom(24_000).hex()
        answer = put(api, "流程/变更", body)
        assert answer.status_code == 507, answer.get_json()
        assert standing(app, "流程/变更") == before
        filler.unlink()
        assert put(api, "流程/变更", body).status_code == 200
        assert unrecorded(app) == []
    finally:
        app.extensions["kb.stores"].close()


def test_a_failure_when_the_draft_follows_a_move_leaves_the_move_and_the_draft_where_it_was(app, editor, monkeypatch):
    """The move is durable and recorded before its draft follows: a failure of the draft's own
    entry undoes only the draft's step, and the move answers success."""
    save(editor, "旧/位置", "正文")
    assert editor.put("docs/旧/位置/draft", json={"title": "草稿", "body": "草稿正文"}).status_code == 201
    drafts = app.extensions["kb.stores"].drafts
    tip = drafts.get("旧/位置").revision.id
    append = AuditTrail.append

    def failing_for_the_draft(self, session, who, action, *args, **kwargs):
        if action == "draft_move":
            database_gone()
        return append(self, session, who, action, *args, **kwargs)

    monkeypatch.setattr(AuditTrail, "append", failing_for_the_draft)
    moved = editor.post("docs/旧/位置/move", json={"to": "新/位置"})
    monkeypatch.undo()
    assert moved.status_code == 200
    assert [e.action for e in audit_entries(app, revision=moved.get_json()["revision"])] == ["move"]
    assert drafts.get("新/位置") is None and drafts.get("旧/位置").revision.id == tip
    assert unrecorded(app) == []
