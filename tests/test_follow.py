"""``kb.follow``: beside ``kb serve``'s workers, a process of its own indexes and prerenders what
was saved once the saves are answered; workers leave that work to it while it holds its lock."""

from __future__ import annotations

import os
import threading
import time

from conftest import save

from kb.document import DocumentFile, serialize
from kb.follow import Follower, holding
from kb.models import Document
from kb.render import _key
from kb.stores.write_path import followed
from kb.versioning import Author, Write


def _put(api, path: str, body: str):
    response = api.put(f"docs/{path}", json={"title": path, "body": body})
    assert response.status_code in (200, 201), response.get_json()
    return response


def _rendered(stores, path: str) -> bool:
    with stores.sessions() as session:
        blob = session.get(Document, path).blob
    return (stores.renders.directory / (key := _key(blob, path))[:2] / f"{key}.json").exists()


def test_workers_leave_the_work_after_the_answer_to_a_running_follower(app, editor):
    stores = app.extensions["kb.stores"]
    assert not followed(stores)
    with holding(stores.follower_lock) as held:
        assert held and followed(stores)
        follower = Follower(stores)
        response = _put(editor, "运维/跟随", "跟随者进程写入索引")
        revision = response.get_json()["revision"]
        response.close()  # the work after the answer: left to the follower
        assert stores.index.indexed_commit() != revision
        assert not _rendered(stores, "运维/跟随")
        assert follower.step()
        assert stores.index.indexed_commit() == revision
        assert _rendered(stores, "运维/跟随")
        assert not follower.step()  # nothing new
    assert not followed(stores)


def test_without_a_follower_the_worker_does_the_work_after_the_answer(app, editor):
    stores = app.extensions["kb.stores"]
    response = _put(editor, "无跟随", "没有跟随者时由工作进程索引")
    revision = response.get_json()["revision"]
    response.close()
    assert stores.index.indexed_commit() == revision
    assert _rendered(stores, "无跟随")


def test_a_search_does_not_wait_for_the_follower(app, editor):
    stores = app.extensions["kb.stores"]
    with holding(stores.follower_lock):
        follower = Follower(stores)
        response = _put(editor, "先搜索", "搜索先于跟随者")
        response.close()
        hits = editor.get("search", query_string={"q": "搜索先于跟随者"}).get_json()["hits"]
        assert [hit["path"] for hit in hits] == ["先搜索"]
        assert follower.step()  # still renders the page; the index is up to date already
        assert _rendered(stores, "先搜索")


def test_a_second_follower_does_not_start(app):
    stores = app.extensions["kb.stores"]
    with holding(stores.follower_lock) as first:
        assert first
        with holding(stores.follower_lock) as second:
            assert not second


def test_the_follower_runs_until_stopped_or_orphaned(app, editor):
    stores = app.extensions["kb.stores"]
    stop = threading.Event()
    follower = Follower(stores)
    thread = threading.Thread(target=follower.run, args=(stop,))
    thread.start()
    try:
        revision = _put(editor, "轮询", "跟随者轮询分支").get_json()["revision"]
        deadline = time.monotonic() + 10
        while stores.index.indexed_commit() != revision and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stores.index.indexed_commit() == revision
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    orphan = threading.Thread(target=follower.run, args=(threading.Event(), os.getppid() + 1))
    orphan.start()
    orphan.join(10)  # its parent is not the one it was started by: it stops at once
    assert not orphan.is_alive()


def test_a_commit_the_catalog_has_not_seen_makes_the_follower_wait_not_spin(app, editor):
    stores = app.extensions["kb.stores"]
    follower = Follower(stores)
    save(editor, "已有", "已有文档")
    assert follower.step() and not follower.waiting
    data = serialize(DocumentFile(title="外部", body="绕过 kb 的提交")).encode()
    stores.store.commit([Write("外部", data)], Author("外部工具", "tool@example.com"), "外部提交")
    assert follower.step()  # HEAD moved: one round (the catalog has nothing new)
    assert not follower.step() and follower.waiting  # then it looks less often until something changes
    revision = save(editor, "之后", "之后的保存")["revision"]  # the catalog catches up at the next write
    assert follower.step() and not follower.waiting
    assert stores.index.indexed_commit() == revision
