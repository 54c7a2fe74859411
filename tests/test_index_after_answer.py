"""The search index takes a save once the answer is sent, and every search brings it up to date
first: the saver's next search finds the save whichever comes first (read-your-writes)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from conftest import save

import kb.stores
from kb.document import DocumentFile, serialize
from kb.models import SyncState
from kb.search import IndexedDoc, SearchIndex, generations
from kb.stores import catalog
from kb.versioning import Author, Write


def _put(api, path: str, body: str):
    """A save whose answer is not closed yet: the work after the answer has not run."""
    response = api.put(f"docs/{path}", json={"title": path, "body": body})
    assert response.status_code in (200, 201), response.get_json()
    return response


def _found(api, q: str) -> list[str]:
    return [hit["path"] for hit in api.get("search", query_string={"q": q}).get_json()["hits"]]


def test_the_index_is_updated_once_the_answer_is_closed(app, editor):
    stores = app.extensions["kb.stores"]
    response = _put(editor, "运维/交换机", "核心交换机更换步骤")
    revision = response.get_json()["revision"]
    assert stores.index.indexed_commit() != revision  # not in the request
    response.close()  # what the server does once the answer is sent
    assert stores.index.indexed_commit() == revision
    assert _found(editor, "交换机") == ["运维/交换机"]


def test_a_search_before_the_update_finds_the_save(app, editor):
    stores = app.extensions["kb.stores"]
    save(editor, "旧文档", "原来的内容")
    response = _put(editor, "旧文档", "改写后的机房巡检清单")
    assert _found(editor, "巡检清单") == ["旧文档"]
    assert _found(editor, "原来的内容") == []  # the old version is gone from the results too
    assert stores.index.indexed_commit() == response.get_json()["revision"]
    response.close()  # nothing left to do
    assert _found(editor, "巡检清单") == ["旧文档"]


def test_a_search_sees_every_pending_save_and_delete_in_one_update(app, editor, admin):
    stores = app.extensions["kb.stores"]
    save(editor, "甲", "第一台服务器")
    pending = [_put(editor, f"批量/{n}", f"待索引的文档{n}号") for n in range(3)]
    assert admin.delete("docs/甲").status_code == 204
    assert sorted(_found(editor, "待索引的文档")) == ["批量/0", "批量/1", "批量/2"]
    assert _found(editor, "第一台服务器") == []
    assert stores.index.indexed_commit() == stores.store.head()
    for response in pending:
        response.close()


def test_a_failed_update_after_the_answer_is_caught_up_by_the_next_search(app, editor, monkeypatch):
    stores = app.extensions["kb.stores"]
    save(editor, "甲", "第一篇")

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(stores.index, "apply", broken)
    response = _put(editor, "乙", "索引更新失败的文档")
    response.close()  # logged, not raised: the save was answered already
    assert _found(editor, "索引更新失败") == []  # the search answers from the index as it is
    monkeypatch.undo()
    assert _found(editor, "索引更新失败") == ["乙"]


def test_a_search_waits_for_another_writer_of_the_index(app, editor):
    stores = app.extensions["kb.stores"]
    response = _put(editor, "等待", "另一个写入者持有索引锁")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with stores.index.writing():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    assert _found(editor, "索引锁") == ["等待"]
    assert time.monotonic() - started >= 0.25
    holder.join()
    response.close()


def test_a_search_does_not_wait_long_for_a_rebuild(app, editor, monkeypatch):
    stores = app.extensions["kb.stores"]
    monkeypatch.setattr(kb.stores, "REFRESH_WAIT", 0.2)
    response = _put(editor, "重建中", "重建期间保存的文档")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with stores.index.writing():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        assert _found(editor, "重建期间") == []  # answered from the index as it is, not an error
    finally:
        release.set()
        holder.join()
    assert _found(editor, "重建期间") == ["重建中"]
    response.close()


def test_the_index_never_moves_back_to_an_older_catalog_commit(app, editor):
    stores = app.extensions["kb.stores"]
    first = save(editor, "一", "第一篇")["revision"]
    second = save(editor, "二", "第二篇")["revision"]
    assert _found(editor, "第二篇") == ["二"]
    assert stores.index.indexed_commit() == second
    data = serialize(DocumentFile(title="外部", body="绕过 kb 的提交")).encode()
    stores.store.commit([Write("外部", data)], Author("外部工具", "tool@example.com"), "外部提交")
    with stores.sessions() as session:  # a catalog behind the index (say, restored from a backup)
        session.get(SyncState, catalog.CATALOG).commit = first
        session.commit()
    assert catalog.refresh_index(stores.store, stores.index, stores.sessions) == 0
    assert stores.index.indexed_commit() == second
    assert _found(editor, "第二篇") == ["二"]


def test_the_write_lock_is_reentrant_in_its_thread_and_exclusive_across_threads(tmp_path: Path):
    root = tmp_path / "index"
    root.mkdir()
    other: list[BaseException | None] = []

    def try_it() -> None:
        try:
            with generations.write_lock(root, timeout=0.1):
                other.append(None)
        except TimeoutError as error:
            other.append(error)

    with generations.write_lock(root), generations.write_lock(root, timeout=1):
        thread = threading.Thread(target=try_it)
        thread.start()
        thread.join()
    assert isinstance(other[0], TimeoutError)
    try_it()
    assert other[1] is None


def _doc(path: str, body: str) -> IndexedDoc:
    return IndexedDoc(
        path=path,
        title=path,
        body=body,
        tags=[],
        access="internal",
        status="published",
        owner="li.na",
        updated_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        revision="r",
    )


def test_apply_without_merging_leaves_segments_for_merge(tmp_path: Path):
    ix = SearchIndex(tmp_path / "index")
    for n in range(20):
        ix.apply([_doc(f"d{n}", f"段落{n} 共同词")], [f"d{n - 1}"] if n % 2 else [], commit=f"c{n}", merge=False)
    segments = len(ix._generation().ix._segments())
    assert segments >= 10
    merged = 0
    while ix.merge():
        merged += 1
    assert merged >= 1
    assert len(ix._generation().ix._segments()) < segments
    assert ix.indexed_commit() == "c19"
    hits = ix.search("共同词", access_levels={"internal"}, statuses={"published"}, limit=100)
    assert sorted(h.path for h in hits.hits) == sorted(f"d{n}" for n in range(20) if n % 2)
    assert not ix.merge()  # nothing left to merge: no new commit
    ix.close()


@pytest.mark.parametrize("merge", [True, False])
def test_refresh_index_merges_only_when_asked(app, editor, merge):
    stores = app.extensions["kb.stores"]
    stores.index.catch_up = None
    for n in range(12):
        save(editor, f"合并/{n}", f"第{n}篇")
        catalog.refresh_index(stores.store, stores.index, stores.sessions, merge=merge)
    segments = len(stores.index._generation().ix._segments())
    assert (segments < 12) if merge else (segments >= 12)
