"""The SQL catalog and the search index are caches of git: they catch up after a crash between
commit and update, and rebuild from nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import open_app, save
from sqlalchemy import func, select

from kb.document import DocumentFile, serialize
from kb.models import Document, Version
from kb.services import consistency
from kb.stores import catalog
from kb.versioning import Author, Write


def _commit_without_updating_derived_stores(app, path: str, title: str, body: str) -> str:
    """What a process that crashed right after its git commit leaves behind."""
    store = app.extensions["kb.stores"].store
    data = serialize(DocumentFile(title=title, body=body)).encode()
    revision, _changes = store.commit([Write(path, data)], Author("崩溃进程", "crash@example.com"), "崩溃前的提交")
    return revision.id


def test_start_up_catches_up_after_a_crash_between_commit_and_update(app, tmp_path, editor):
    save(editor, "已有", "已有文档")
    revision = _commit_without_updating_derived_stores(app, "故障/断电", "断电后恢复", "机房断电后的恢复步骤")
    stores = app.extensions["kb.stores"]
    assert stores.index.indexed_commit() != revision
    assert consistency.check(stores)
    stores.close()
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    fresh = again.extensions["kb.stores"]
    assert consistency.check(fresh) == []
    with fresh.sessions() as session:
        assert session.get(Document, "故障/断电").revision == revision
    hits = fresh.index.search("断电", access_levels=["internal"], statuses=["published"]).hits
    assert [hit.path for hit in hits] == ["故障/断电"]
    fresh.close()


def test_the_next_save_also_catches_up_a_missed_commit(app, editor):
    _commit_without_updating_derived_stores(app, "遗漏", "遗漏的文档", "内容")
    save(editor, "之后", "之后的保存")
    assert consistency.check(app.extensions["kb.stores"]) == []


def test_rebuild_recreates_tables_and_index_from_git_alone(app, editor):
    save(editor, "一", "第一篇")
    save(editor, "一", "第一篇修订")
    save(editor, "二", "第二篇")
    editor.post("docs/二/move", json={"to": "三"})
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        before = sorted((v.path, v.kind, v.revision) for v in session.scalars(select(Version)))
    with stores.store.lock():
        catalog.rebuild(stores.store, stores.index, stores.sessions)
    with stores.sessions() as session:
        after = sorted((v.path, v.kind, v.revision) for v in session.scalars(select(Version)))
        assert session.scalar(select(func.count()).select_from(Document)) == 2
    assert after == before
    assert consistency.check(stores) == []


def test_deleting_index_and_database_loses_nothing(app, tmp_path, editor):
    save(editor, "一", "第一篇")
    editor.post("docs/一/move", json={"to": "二"})
    app.extensions["kb.stores"].close()
    shutil.rmtree(Path(app.config["INDEX_DIR"]))
    Path(app.config["INSTANCE_DIR"], "kb.sqlite3").unlink()
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    stores = again.extensions["kb.stores"]
    assert consistency.check(stores) == []
    with stores.sessions() as session:
        assert [v.kind for v in session.scalars(select(Version).order_by(Version.id))] == ["add", "move"]
    assert stores.index.search("第一篇", access_levels=["internal"], statuses=["published"]).hits[0].path == "二"
    stores.close()


def test_check_reports_a_stale_index_entry(app, editor):
    save(editor, "文档", "内容")
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        session.get(Document, "文档").revision = "0" * 40
        session.commit()
    problems = consistency.check(stores)
    assert any("stale revision in index: 文档" in line for line in problems)


def test_a_save_is_accepted_even_when_the_index_update_fails(app, editor, monkeypatch):
    stores = app.extensions["kb.stores"]
    save(editor, "甲", "第一篇")

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(stores.index, "apply", broken)
    revision = save(editor, "乙", "索引失败时保存的文档")["revision"]
    assert editor.get("docs/乙").get_json()["revision"] == revision
    monkeypatch.undo()
    save(editor, "丙", "之后的保存")
    assert consistency.check(stores) == []
    hits = stores.index.search("索引失败时", access_levels=["internal"], statuses=["published"]).hits
    assert [hit.path for hit in hits] == ["乙"]


def test_an_index_of_an_older_format_is_rebuilt_on_start_up(app, tmp_path, editor, monkeypatch):
    save(editor, "旧格式", "索引格式升级之前的文档")
    stores = app.extensions["kb.stores"]
    stores.refresh_index()
    assert not stores.index.outdated()
    import kb.search.index as index_module

    monkeypatch.setattr(index_module, "FORMAT", index_module.FORMAT + 1)  # as a newer kb would see it
    assert stores.index.outdated() and stores.index.indexed_commit() is None
    stores.close()
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"), "SEMANTIC": False})
    fresh = again.extensions["kb.stores"]
    assert not fresh.index.outdated()
    assert fresh.index.indexed_commit() == fresh.store.head()
    hits = fresh.index.search("索引格式升级", access_levels=["internal"], statuses=["published"]).hits
    assert [h.path for h in hits] == ["旧格式"]
    fresh.close()
