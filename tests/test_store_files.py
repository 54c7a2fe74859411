"""Files attached to documents in the git store: beside the Markdown, versioned with it, carried
by a move, removed by a delete and kept by history (real bare repositories, no mocks)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kb import docpath
from kb.errors import BadRequest, Conflict, InvalidPath, NotFound
from kb.versioning import Author, Delete, DeleteFile, GitStore, Move, Write, WriteFile

ZHANG = Author("张伟", "zhang.wei@example.com")
DOC = "---\ntitle: 邮件中断处理\naccess: internal\n---\n见截图 ![](处理.files/截图.png)\n".encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def store(tmp_path: Path) -> GitStore:
    git = GitStore.init(tmp_path / "content.git")
    git.commit([Write("运维/处理", DOC)], ZHANG, "新建")
    return git


def test_a_file_lives_beside_its_document_and_is_read_back(store, tmp_path):
    revision, _changes = store.commit([WriteFile("运维/处理", "截图.png", PNG)], ZHANG, "加截图")
    [stored] = store.files("运维/处理")
    assert (stored.name, stored.size) == ("截图.png", len(PNG))
    assert store.read_file("运维/处理", "截图.png") == PNG
    assert store.read_file("运维/处理", "截图.png", revision.id) == PNG
    if shutil.which("git"):
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(store.root), str(clone)], check=True)
        assert (clone / "运维" / "处理.md").read_bytes() == DOC
        assert (clone / "运维" / "处理.files" / "截图.png").read_bytes() == PNG


def test_a_replaced_or_removed_file_stays_in_history(store):
    first, _ = store.commit([WriteFile("运维/处理", "日志.txt", b"v1\n")], ZHANG, "v1")
    second, _ = store.commit([WriteFile("运维/处理", "日志.txt", b"v2\n")], ZHANG, "v2")
    store.commit([DeleteFile("运维/处理", "日志.txt")], ZHANG, "remove")
    assert store.files("运维/处理") == []
    assert store.read_file("运维/处理", "日志.txt", first.id) == b"v1\n"
    assert store.read_file("运维/处理", "日志.txt", second.id) == b"v2\n"
    with pytest.raises(NotFound):
        store.read_file("运维/处理", "日志.txt")
    with pytest.raises(NotFound):
        store.commit([DeleteFile("运维/处理", "日志.txt")], ZHANG, "again")


def test_a_move_carries_the_files_and_a_delete_removes_them(store):
    with_file, _ = store.commit([WriteFile("运维/处理", "截图.png", PNG)], ZHANG, "加截图")
    store.commit([Move("运维/处理", "归档/处理")], ZHANG, "移动")
    assert store.files("运维/处理") == []
    assert [f.name for f in store.files("归档/处理")] == ["截图.png"]
    store.commit([Delete("归档/处理")], ZHANG, "删除")
    assert store.files("归档/处理") == []
    assert store.read_file("运维/处理", "截图.png", with_file.id) == PNG
    assert [path for path, _blob in store.documents()] == []


def test_files_need_their_document_and_a_valid_name(store):
    with pytest.raises(NotFound):
        store.commit([WriteFile("没有/这篇", "a.png", PNG)], ZHANG, "x")
    for name in ("../a.png", "a/b.png", ".hidden", "con.txt", "a\x00b", ""):
        with pytest.raises(InvalidPath):
            store.commit([WriteFile("运维/处理", name, PNG)], ZHANG, "x")
    # a document and its files in one commit: the file may come with its new document
    store.commit([Write("新/文档", DOC), WriteFile("新/文档", "a.png", PNG)], ZHANG, "together")
    assert [f.name for f in store.files("新/文档")] == ["a.png"]


def test_a_commit_may_not_move_a_document_and_change_its_files(store):
    store.commit([WriteFile("运维/处理", "a.png", PNG)], ZHANG, "a")
    head = store.head()
    with pytest.raises(BadRequest):
        store.commit([Move("运维/处理", "别处/处理"), WriteFile("运维/处理", "b.png", PNG)], ZHANG, "x")
    with pytest.raises(BadRequest):
        store.commit([WriteFile("运维/处理", "b.png", PNG), Delete("运维/处理")], ZHANG, "x")
    assert store.head() == head


def test_a_deleted_documents_files_do_not_come_back_with_a_new_one(store):
    store.commit([WriteFile("运维/处理", "a.png", PNG), Write("别处/处理", DOC)], ZHANG, "a")
    store.commit([Delete("别处/处理")], ZHANG, "gone")
    store.commit([Move("运维/处理", "别处/处理")], ZHANG, "moved")  # the place is free again
    assert [f.name for f in store.files("别处/处理")] == ["a.png"]
    store.commit([Write("运维/处理", DOC)], ZHANG, "a new document where the old one was")
    assert store.files("运维/处理") == []
    with pytest.raises(Conflict):
        store.commit([Move("运维/处理", "别处/处理")], ZHANG, "onto an existing document")


def test_a_markdown_file_among_the_files_is_no_document(store):
    store.commit([WriteFile("运维/处理", "笔记.md", "# 不是文档\n".encode())], ZHANG, "附件")
    assert [path for path, _blob in store.documents()] == ["运维/处理"]
    assert store.count_documents() == 1


def test_no_document_path_reaches_into_a_files_folder():
    with pytest.raises(InvalidPath):
        docpath.validate("运维/处理.files/笔记")
    assert docpath.files_folder("运维/处理") == "运维/处理.files"
