"""Reconciling the audit trail with git (``kb.stores.reconcile``): a commit left without its
audit entry is recorded from its trailers, at start-up and by ``kb check``; a commit without
trailers is reported, never given an invented entry; nothing kb does itself is reported."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

from click.testing import CliRunner
from conftest import audit_entries, make_app, open_app, save
from flask import Flask
from test_fail_closed import commit_straight_into_git

from kb import create_app
from kb.access import Principal
from kb.cli import main as kb_cli
from kb.document import ACCESS_LEVELS, DocumentFile, serialize
from kb.models import SyncState
from kb.services import bulk, health
from kb.stores import catalog
from kb.stores.reconcile import RECOVERED, WATERMARK, reconcile
from kb.versioning import Author, Write
from kb.versioning.drafts import DraftState
from kb.versioning.trailers import with_trailers

CONTENT = Path(__file__).resolve().parent.parent / "content"


def commit_left_by_a_killed_process(
    app: Flask, path: str, body: str, *, actor: str = "wang.editor", action: str = "update", level: str = "confidential"
) -> str:
    """What a process killed between its git commit and its audit append leaves: the commit,
    with the trailers the write path gives it, and no entry."""
    store = app.extensions["kb.stores"].store
    known = level if level in ACCESS_LEVELS else "internal"
    data = serialize(DocumentFile(title="标题", body=body, access=known)).encode()
    message = with_trailers(f"更新 {path}", action=action, actor=actor, path=path, level=level)
    revision, _changes = store.commit([Write(path, data)], Author("Wang.Editor", "wang.editor@example.com"), message)
    return revision.id


def run(app: Flask, *, repair: bool = True):
    stores = app.extensions["kb.stores"]
    with stores.store.lock():
        return reconcile(stores, repair=repair)


def verified(app: Flask) -> bool:
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        return stores.audit.verify(session).ok


def watermark(app: Flask) -> str | None:
    with app.extensions["kb.stores"].sessions() as session:
        state = session.get(SyncState, WATERMARK)
        return state.commit if state else None


def test_nothing_kb_does_itself_is_reported(app, editor, admin, api_as, tmp_path):
    stores = app.extensions["kb.stores"]
    bulk.import_demo(stores, CONTENT)  # three commits of many documents each
    folder = tmp_path / "import"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# 甲\n\n导入的文档\n")
    (folder / "sub" / "b.md").write_text("---\ntitle: 乙\naccess: confidential\n---\n正文\n")
    assert bulk.import_files(stores, folder, bulk.find_markdown(folder)).imported == 2
    first = save(editor, "流程/变更", "第一版", access="confidential")
    save(editor, "流程/变更", "第二版")
    assert editor.post("docs/流程/变更/revert", json={"revision": first["revision"]}).status_code == 200
    assert editor.put("docs/流程/变更/draft", json={"title": "草稿", "body": "草稿正文"}).status_code == 201
    assert editor.post("docs/流程/变更/move", json={"to": "流程/变更管理"}).status_code == 200  # the draft follows
    assert editor.post("docs/流程/变更管理/draft/submit", json={"comment": "请评审"}).status_code == 200
    assert admin.post("docs/流程/变更管理/draft/return", json={"comment": "再改改"}).status_code == 200
    assert editor.put("docs/流程/变更管理/draft", json={"title": "草稿", "body": "改过的"}).status_code == 200
    assert editor.post("docs/流程/变更管理/draft/publish").status_code == 200
    assert editor.put("docs/流程/变更管理/draft", json={"title": "草稿", "body": "不要了"}).status_code == 201
    assert editor.delete("docs/流程/变更管理/draft").status_code == 204  # audited, no new commit
    assert editor.put("docs/新/文档/draft", json={"title": "新", "body": "新文档草稿"}).status_code == 201
    assert editor.post("docs/新/文档/draft/publish").status_code == 201
    archivist = api_as("zhao.archivist")
    assert archivist.post("docs/流程/变更管理/archive", json={"reason": "过时"}).status_code == 200
    assert archivist.post("docs/流程/变更管理/restore", json={}).status_code == 200
    assert admin.get("docs/流程/变更管理").status_code == 200  # a read names the revision it read
    assert admin.delete("docs/新/文档").status_code == 204
    before = len(audit_entries(app))

    report = run(app)
    assert report.recovered == [] and report.unattributed == [] and report.ok
    assert report.lines() == []
    assert report.commits > 15
    assert len(audit_entries(app)) == before
    assert watermark(app) == stores.store.head()
    again = run(app)
    assert again.ok and again.lines() == []
    assert again.commits < 10  # main was read up to the remembered tip; the draft refs are read again


def test_a_commit_left_without_its_entry_is_recorded_from_its_trailers(app, editor):
    save(editor, "流程/变更", "第一版", access="confidential")
    revision = commit_left_by_a_killed_process(app, "流程/变更", "崩溃前的第二版")
    commit_time = app.extensions["kb.stores"].store.revision(revision).date
    before = audit_entries(app)

    report = run(app)
    assert report.ok and report.unattributed == []
    assert report.recovered_lines() == [f"audit: recovered entry for {revision[:10]} (update 流程/变更 by wang.editor)"]
    entries = audit_entries(app)
    assert len(entries) == len(before) + 1
    entry = entries[-1]
    assert (entry.actor, entry.action, entry.target, entry.revision, entry.level, entry.outcome, entry.detail) == (
        "wang.editor",
        "update",
        "流程/变更",
        revision,
        "confidential",
        "ok",
        RECOVERED,
    )
    assert entry.at == commit_time
    assert verified(app)
    assert run(app).lines() == []  # recorded once
    assert len(audit_entries(app)) == len(entries)


def test_several_missing_entries_are_appended_oldest_first(app, editor):
    save(editor, "甲", "内容")
    first = commit_left_by_a_killed_process(app, "甲", "一", action="update", level="internal")
    second = commit_left_by_a_killed_process(app, "乙", "二", actor="admin", action="create", level="secret")
    report = run(app)
    assert [missing.revision for missing in report.recovered] == [first, second]
    assert [(e.revision, e.actor, e.action, e.level) for e in audit_entries(app)[-2:]] == [
        (first, "wang.editor", "update", "internal"),
        (second, "admin", "create", "secret"),
    ]
    assert verified(app)


def test_a_draft_commit_left_without_its_entry_is_recovered(app, editor):
    save(editor, "流程/受理", "已发布")
    stores = app.extensions["kb.stores"]
    data = serialize(DocumentFile(title="草稿", body="草稿正文", access="internal")).encode()
    message = with_trailers(
        "草稿 流程/受理", action="draft_save", actor="wang.editor", path="流程/受理", level="internal"
    )
    draft = stores.drafts.save(
        data,
        DraftState("流程/受理", stores.store.head()),
        Author("Wang.Editor", "wang.editor@example.com"),
        message,
        expected=None,
    )
    report = run(app)
    assert report.recovered_lines() == [
        f"audit: recovered entry for {draft.id[:10]} (draft_save 流程/受理 by wang.editor)"
    ]
    assert audit_entries(app)[-1].revision == draft.id
    assert verified(app)


def test_an_unknown_level_in_the_trailers_counts_as_secret(app, editor):
    save(editor, "甲", "内容")
    commit_left_by_a_killed_process(app, "甲", "一", level="top-secret")
    run(app)
    assert audit_entries(app)[-1].level == "secret"


def test_a_commit_with_no_trailers_is_reported_and_not_invented(app, editor, tmp_path):
    save(editor, "公开/目标", "内容")
    before = audit_entries(app)
    head_before = app.extensions["kb.stores"].store.head()
    commit_straight_into_git(Path(app.config["CONTENT_DIR"]), {"手工/文件": b"# x\n"}, tmp_path / "work")
    hand = app.extensions["kb.stores"].store.head()
    assert hand != head_before

    report = run(app)
    assert not report.ok and report.recovered == []
    [line] = report.problems()
    assert line.startswith(f"audit: unattributed commit {hand[:10]} by 手工 <hand@example.com> on ")
    assert line.endswith("no KB trailers and no audit entry; it cannot be recovered")
    assert len(audit_entries(app)) == len(before)
    assert watermark(app) != hand  # nothing is remembered past it: it is reported every time
    assert run(app).problems() == [line]


def test_a_read_of_the_commit_does_not_count_as_its_record(app, editor, admin):
    save(editor, "机密/合同", "第一版", access="confidential")
    revision = commit_left_by_a_killed_process(app, "机密/合同", "第二版")
    stores = app.extensions["kb.stores"]
    with stores.store.lock():
        catalog.catch_up(stores.store, stores.index, stores.sessions)
    assert admin.get("docs/机密/合同").get_json()["revision"] == revision
    assert [e.action for e in audit_entries(app, revision=revision)] == ["read"]
    assert [missing.revision for missing in run(app).recovered] == [revision]


def test_a_commit_from_before_trailers_counts_as_recorded_by_its_entry(app, editor):
    """Before kb wrote trailers, the entry named the revision: that is its record; a read is not."""
    save(editor, "甲", "内容")
    store = app.extensions["kb.stores"].store
    old, _ = store.commit(
        [Write("乙", serialize(DocumentFile(title="乙", body="旧")).encode())],
        Author("Wang.Editor", "wang.editor@example.com"),
        "新建 乙",
    )
    read_only, _ = store.commit(
        [Write("丙", serialize(DocumentFile(title="丙", body="旧")).encode())],
        Author("Wang.Editor", "wang.editor@example.com"),
        "新建 丙",
    )
    trail = app.extensions["kb.stores"].audit
    who = Principal("wang.editor", "editor", "confidential")
    trail.record(who, "create", "乙", revision=old.id, level="internal")
    trail.record(who, "read", "丙", revision=read_only.id, level="internal")
    report = run(app)
    assert [commit.revision for commit in report.unattributed] == [read_only.id]
    assert report.recovered == []


def test_a_dry_run_lists_what_is_missing_and_appends_nothing(app, editor):
    save(editor, "甲", "内容")
    revision = commit_left_by_a_killed_process(app, "甲", "一", level="internal")
    before = len(audit_entries(app))
    report = run(app, repair=False)
    assert not report.ok
    assert report.problems() == [
        f"audit: missing entry for {revision[:10]} (update 甲 by wang.editor); a restart or `kb check` recovers it"
    ]
    assert len(audit_entries(app)) == before
    assert watermark(app) is None


# ---------------------------------------------------------------- where it runs


def test_start_up_records_what_a_killed_process_left(app, editor, tmp_path):
    save(editor, "流程/变更", "第一版", access="confidential")
    revision = commit_left_by_a_killed_process(app, "流程/变更", "第二版")
    app.extensions["kb.stores"].close()
    quiet = create_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    assert not audit_entries(quiet, revision=revision)  # without the catch-up nothing is recovered
    quiet.extensions["kb.stores"].close()
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    [entry] = audit_entries(again, revision=revision)
    assert (entry.actor, entry.action, entry.target, entry.detail) == ("wang.editor", "update", "流程/变更", RECOVERED)
    assert verified(again)
    again.extensions["kb.stores"].close()


def test_start_up_with_an_unattributed_commit_still_starts(app, editor, tmp_path, caplog):
    save(editor, "公开/目标", "内容")
    app.extensions["kb.stores"].close()
    commit_straight_into_git(Path(app.config["CONTENT_DIR"]), {"手工/文件": b"# x\n"}, tmp_path / "work")
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    assert any("audit: unattributed commit" in record.getMessage() for record in caplog.records)
    again.extensions["kb.stores"].close()


def test_kb_check_records_and_lists_recovered_entries_and_exits_0(app, editor):
    save(editor, "流程/变更", "第一版", access="confidential")
    revision = commit_left_by_a_killed_process(app, "流程/变更", "第二版")
    stores = app.extensions["kb.stores"]
    with stores.store.lock():  # the catalog catches up (kb check would report it behind, exit 1)
        catalog.catch_up(stores.store, stores.index, stores.sessions)
    stores.close()
    env = {"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]}
    result = CliRunner().invoke(kb_cli, ["check"], env=env)
    assert result.exit_code == 0, result.output
    assert f"audit: recovered entry for {revision[:10]} (update 流程/变更 by wang.editor)" in result.output
    assert "agree" in result.output
    assert [e.detail for e in audit_entries(app, revision=revision)] == [RECOVERED]
    again = CliRunner().invoke(kb_cli, ["check"], env=env)
    assert again.exit_code == 0 and "recovered" not in again.output
    verify = CliRunner().invoke(kb_cli, ["audit", "verify"], env=env)
    assert verify.exit_code == 0, verify.output


def test_kb_check_exits_1_for_a_commit_nobody_can_be_named_for(app, editor, tmp_path):
    save(editor, "公开/目标", "内容")
    app.extensions["kb.stores"].close()
    commit_straight_into_git(Path(app.config["CONTENT_DIR"]), {"手工/文件": b"# x\n"}, tmp_path / "work")
    result = CliRunner().invoke(kb_cli, ["check"], env={"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]})
    assert result.exit_code == 1
    assert "audit: unattributed commit" in result.output and "cannot be recovered" in result.output


def test_kb_check_accept_vouches_for_an_unattributed_commit_under_the_operators_name(app, editor, tmp_path):
    save(editor, "公开/目标", "内容")
    app.extensions["kb.stores"].close()
    content = Path(app.config["CONTENT_DIR"])
    commit_straight_into_git(content, {"手工/文件": b"# x\n"}, tmp_path / "work")
    hand = subprocess.run(
        ["git", "--git-dir", str(content), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]}
    # the tables and index take the commit, so only the audit trail disagrees
    assert CliRunner().invoke(kb_cli, ["reindex"], env=env).exit_code == 0
    accepted = CliRunner().invoke(kb_cli, ["check", "--accept"], env=env)
    assert accepted.exit_code == 0, accepted.output
    assert "accepted 1 unattributed commit(s)" in accepted.output and "agree" in accepted.output
    [entry] = audit_entries(app, revision=hand)
    assert entry.action == "commit_accept" and entry.actor.startswith("cli:")
    assert "手工 <hand@example.com>" in entry.detail
    again = CliRunner().invoke(kb_cli, ["check"], env=env)
    assert again.exit_code == 0 and "unattributed" not in again.output
    assert CliRunner().invoke(kb_cli, ["audit", "verify"], env=env).exit_code == 0


def test_the_health_check_lists_a_missing_entry_without_repairing_it(app, editor, admin):
    save(editor, "甲", "内容")
    revision = commit_left_by_a_killed_process(app, "甲", "一", level="internal")
    problems = admin.get("health?check=1").get_json()["check"]["problems"]
    assert (
        f"audit: missing entry for {revision[:10]} (update 甲 by wang.editor); a restart or `kb check` "
        "recovers it" in problems
    )
    assert not audit_entries(app, revision=revision)
    assert health.full_check(app.extensions["kb.stores"])  # the catalog is behind as well


# ---------------------------------------------------------------- cost


def test_five_thousand_commits_are_reconciled_in_well_under_two_seconds(tmp_path):
    """A history of 5,000 commits, each with its entry: the first run reads all of them, the next
    only what came since."""
    count = 5000
    app = make_app(tmp_path / "instance", catch_up=False)
    stores = app.extensions["kb.stores"]
    stream = []
    stamp = 1_700_000_000
    for i in range(count):
        message = with_trailers(
            f"更新 d{i % 50}", action="update", actor="wang.editor", path=f"d{i % 50}", level="internal"
        ).encode()
        data = f"---\ntitle: d{i}\n---\n{i}\n".encode()
        stream += [
            b"commit refs/heads/main",
            b"committer W <w@example.com> %d +0800" % (stamp + i),
            b"data %d" % len(message),
            message,
            b"M 100644 inline d%d.md" % (i % 50),
            b"data %d" % len(data),
            data,
        ]
    subprocess.run(
        ["git", "--git-dir", str(stores.store.root), "fast-import", "--quiet"],
        input=b"\n".join(stream) + b"\n",
        check=True,
    )
    revisions = [
        line.split()[0]
        for line in subprocess.run(
            ["git", "--git-dir", str(stores.store.root), "rev-list", "--reverse", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    ]
    assert len(revisions) == count
    who = Principal("wang.editor", "editor", "confidential")
    with stores.audit.transaction() as session:
        for revision in revisions:
            stores.audit.append(
                session, who, "update", "d", revision=revision, level="internal", at=dt.datetime.now(dt.UTC)
            )
    started = time.perf_counter()
    first = run(app)
    cold = time.perf_counter() - started
    assert first.ok and first.recovered == [] and first.commits == count
    started = time.perf_counter()
    second = run(app)
    warm = time.perf_counter() - started
    assert second.ok and second.commits == 0
    print(f"reconciled {count} commits in {cold:.3f} s, again in {warm:.3f} s")
    assert cold < 1.5, cold
    assert warm < 0.1, warm
    stores.close()
