"""The git store, against real bare repositories in tmp_path (no Flask, no mocks)."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.errors import BadRequest, Conflict, InvalidPath, InvalidRevision, NotFound
from kb.versioning import (
    Author,
    Change,
    Delete,
    GitStore,
    Move,
    Revision,
    StoreBusy,
    StoreError,
    Write,
    WriteSetting,
)

ZHANG = Author("张伟", "zhang.wei@example.com")
LI = Author("李娜", "li.na@example.com")

SLA = "---\ntitle: 服务级别协议\naccess: internal\n---\n响应时间：4 小时。\n".encode()
SLA_V2 = "---\ntitle: 服务级别协议\naccess: internal\n---\n响应时间：2 小时。\n".encode()
LONG = "".join(f"第 {i} 步：检查服务器状态并记录结果。\n" for i in range(40)).encode()

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command line")


@pytest.fixture
def store(tmp_path: Path) -> GitStore:
    return GitStore.init(tmp_path / "content.git")


def save(store: GitStore, path: str, data: bytes, message: str = "保存", author: Author = ZHANG) -> Revision:
    revision, _ = store.commit([Write(path, data)], author, message)
    return revision


@contextlib.contextmanager
def lock_held_by_another_thread(store: GitStore) -> Iterator[None]:
    """The store's write lock, taken and held by another thread for the duration."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        holder.join()


def git(store: GitStore, *args: str) -> str:
    """Run the git command line against the store's repository (an outside view of it)."""
    result = subprocess.run(
        ["git", "-c", "core.quotePath=false", f"--git-dir={store.root}", *args],
        check=True,
        capture_output=True,
        encoding="utf-8",
    )
    return result.stdout


def commit_outside_the_store(store: GitStore, tmp_path: Path, files: dict[str, str]) -> None:
    """Add files with plain git (clone, commit, push), as someone sharing the repository might."""
    work = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(store.root), str(work)], check=True, capture_output=True)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    identity = ["-c", "user.name=外部", "-c", "user.email=outside@example.com"]
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True, capture_output=True)
    subprocess.run(
        ["git", *identity, "-C", str(work), "commit", "-q", "-m", "外部提交"], check=True, capture_output=True
    )
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)


# -- opening ------------------------------------------------------------------------------------


def test_a_new_repository_is_empty(store: GitStore) -> None:
    assert store.head() is None
    assert list(store.documents()) == []
    assert store.count_documents() == 0
    assert list(store.walk()) == []


def test_init_is_idempotent_and_keeps_history(tmp_path: Path) -> None:
    first = GitStore.init(tmp_path / "content.git")
    revision = save(first, "手册", SLA)

    again = GitStore.init(tmp_path / "content.git")

    assert again.head() == revision.id


def test_opening_a_missing_repository_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        GitStore(tmp_path / "nowhere")


def test_opening_never_falls_back_to_an_enclosing_repository(tmp_path: Path) -> None:
    GitStore.init(tmp_path / "outer")
    (tmp_path / "outer" / "inner").mkdir()

    with pytest.raises(NotFound):
        GitStore(tmp_path / "outer" / "inner")


def test_init_refuses_a_non_empty_folder_that_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "笔记.txt").write_text("不要动我", encoding="utf-8")

    with pytest.raises(StoreError):
        GitStore.init(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["笔记.txt"]


# -- writing and reading ------------------------------------------------------------------------


def test_a_written_document_reads_back_at_head(store: GitStore) -> None:
    save(store, "服务/服务级别协议", SLA)

    assert store.read("服务/服务级别协议") == SLA


def test_reading_at_a_revision_returns_the_document_as_it_was_then(store: GitStore) -> None:
    first = save(store, "服务/服务级别协议", SLA)
    save(store, "服务/服务级别协议", SLA_V2)

    assert store.read("服务/服务级别协议", first.id) == SLA
    assert store.read("服务/服务级别协议") == SLA_V2


def test_a_document_path_is_normalised_like_everywhere_else(store: GitStore) -> None:
    save(store, "服务/服务级别协议.md", SLA)

    assert store.read("服务/服务级别协议") == SLA
    assert [path for path, _ in store.documents()] == ["服务/服务级别协议"]


def test_reading_a_missing_document_is_not_found(store: GitStore) -> None:
    save(store, "服务/服务级别协议", SLA)

    with pytest.raises(NotFound):
        store.read("服务/不存在")


def test_reading_from_an_empty_repository_is_not_found(store: GitStore) -> None:
    with pytest.raises(NotFound):
        store.read("服务/服务级别协议")


def test_a_document_is_absent_at_revisions_before_it_was_written(store: GitStore) -> None:
    before = save(store, "其他", b"x\n")
    save(store, "服务/服务级别协议", SLA)

    with pytest.raises(NotFound):
        store.read("服务/服务级别协议", before.id)
    assert not store.exists("服务/服务级别协议", before.id)


def test_an_invalid_path_is_refused(store: GitStore) -> None:
    with pytest.raises(InvalidPath):
        store.read("../etc/passwd")
    with pytest.raises(InvalidPath):
        store.commit([Write("-O/选项", SLA)], ZHANG, "坏路径")
    assert store.head() is None


@needs_git
def test_nested_folders_are_real_git_trees_of_md_files(store: GitStore) -> None:
    store.commit([Write("运维/网络/防火墙变更", SLA), Write("运维/值班", SLA), Write("首页", SLA)], ZHANG, "新建")

    assert git(store, "ls-tree", "--name-only", "main").split() == ["运维", "首页.md"]
    assert git(store, "ls-tree", "-r", "--name-only", "main").split() == [
        "运维/值班.md",
        "运维/网络/防火墙变更.md",
        "首页.md",
    ]
    assert git(store, "fsck", "--strict") == ""


def test_a_document_and_a_folder_may_share_a_name(store: GitStore) -> None:
    store.commit([Write("服务", "# 服务\n".encode()), Write("服务/流程", SLA)], ZHANG, "新建")

    assert store.read("服务") == "# 服务\n".encode()
    assert store.read("服务/流程") == SLA


def test_exists_and_blob_id_describe_a_document_without_reading_it(store: GitStore) -> None:
    _, changes = store.commit([Write("服务/服务级别协议", SLA)], ZHANG, "新建")

    assert store.exists("服务/服务级别协议")
    assert not store.exists("服务/别的")
    assert store.blob_id("服务/服务级别协议") == changes[0].blob
    assert store.blob_id("服务/别的") is None
    assert store.read_blob(changes[0].blob) == SLA


def test_a_blob_id_is_read_only_as_a_blob(store: GitStore) -> None:
    revision = save(store, "服务/服务级别协议", SLA)

    with pytest.raises(NotFound):
        store.read_blob(revision.id)
    with pytest.raises(InvalidRevision):
        store.read_blob("../x")


def test_several_operations_in_one_commit_apply_in_order(store: GitStore) -> None:
    revision, changes = store.commit(
        [Write("草稿", SLA), Move("草稿", "服务/服务级别协议"), Write("服务/服务级别协议", SLA_V2)],
        ZHANG,
        "一次提交",
    )

    assert [c.kind for c in changes] == ["add"]
    assert store.read("服务/服务级别协议") == SLA_V2
    assert not store.exists("草稿")
    assert len(list(store.walk())) == 1
    assert revision.id == store.head()


def test_deleting_the_last_document_of_a_folder_removes_the_folder(store: GitStore) -> None:
    store.commit([Write("旧目录/唯一文档", SLA), Write("首页", SLA)], ZHANG, "新建")

    store.commit([Delete("旧目录/唯一文档")], ZHANG, "删除")

    assert [path for path, _ in store.documents()] == ["首页"]


def test_deleting_every_document_leaves_an_empty_tree(store: GitStore) -> None:
    save(store, "首页", SLA)

    store.commit([Delete("首页")], ZHANG, "清空")

    assert store.count_documents() == 0
    assert store.head() is not None


def test_an_unchanged_write_still_records_a_commit_without_changes(store: GitStore) -> None:
    save(store, "首页", SLA)

    revision, changes = store.commit([Write("首页", SLA)], LI, "再次保存")

    assert changes == []
    assert store.head() == revision.id
    assert store.changes(revision.id) == []


# -- commit metadata ----------------------------------------------------------------------------


def test_a_commit_keeps_author_email_message_and_date(store: GitStore) -> None:
    when = dt.datetime(2023, 3, 15, 9, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    revision, _ = store.commit([Write("首页", SLA)], LI, "导入：首页（历史版本）", date=when)

    stored = store.revision(revision.id)
    assert stored == revision
    assert stored.author == Author("李娜", "li.na@example.com")
    assert stored.message == "导入：首页（历史版本）"
    assert stored.date == when
    assert stored.date.utcoffset() == dt.timedelta(hours=8)


@needs_git
def test_the_author_is_also_the_committer(store: GitStore) -> None:
    save(store, "首页", SLA, author=LI)

    assert git(store, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "李娜 <li.na@example.com>|李娜 <li.na@example.com>"
    )


def test_a_commit_without_a_date_is_dated_now(store: GitStore) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    revision = save(store, "首页", SLA)

    assert revision.date.tzinfo is not None
    assert before <= revision.date <= dt.datetime.now(dt.UTC)


def test_a_revision_names_its_parent(store: GitStore) -> None:
    first = save(store, "首页", SLA)
    second = save(store, "首页", SLA_V2)

    assert first.parents == ()
    assert second.parents == (first.id,)


def test_an_author_with_a_line_break_is_refused(store: GitStore) -> None:
    with pytest.raises(BadRequest):
        store.commit([Write("首页", SLA)], Author("张伟\ncommitter 伪造", "x@example.com"), "保存")
    assert store.head() is None


def test_an_author_without_an_email_is_refused(store: GitStore) -> None:
    with pytest.raises(BadRequest):
        store.commit([Write("首页", SLA)], Author("张伟", ""), "保存")


def test_a_commit_needs_at_least_one_operation(store: GitStore) -> None:
    with pytest.raises(BadRequest):
        store.commit([], ZHANG, "空提交")
    assert store.head() is None


# -- operations that must not commit ------------------------------------------------------------


def test_deleting_a_missing_document_is_not_found_and_commits_nothing(store: GitStore) -> None:
    head = save(store, "首页", SLA).id

    with pytest.raises(NotFound):
        store.commit([Write("别的", SLA), Delete("不存在")], ZHANG, "删除")

    assert store.head() == head
    assert not store.exists("别的")


def test_moving_onto_an_existing_document_is_a_conflict_and_commits_nothing(store: GitStore) -> None:
    store.commit([Write("服务/甲", SLA), Write("服务/乙", SLA_V2)], ZHANG, "新建")
    head = store.head()

    with pytest.raises(Conflict):
        store.commit([Move("服务/甲", "服务/乙")], ZHANG, "移动")

    assert store.head() == head
    assert store.read("服务/乙") == SLA_V2


def test_moving_a_missing_document_is_not_found(store: GitStore) -> None:
    save(store, "首页", SLA)

    with pytest.raises(NotFound):
        store.commit([Move("不存在", "新位置")], ZHANG, "移动")


def test_moving_a_document_onto_itself_is_a_conflict(store: GitStore) -> None:
    save(store, "首页", SLA)

    with pytest.raises(Conflict):
        store.commit([Move("首页", "首页")], ZHANG, "移动")


def test_a_document_cannot_replace_a_folder_with_its_file_name(store: GitStore) -> None:
    save(store, "附件.md/说明", SLA)  # a folder named "附件.md" is in the way of 附件 -> 附件.md
    head = store.head()

    with pytest.raises(Conflict):
        save(store, "附件", SLA)
    assert store.head() == head


# -- revisions ----------------------------------------------------------------------------------


def test_a_short_revision_id_resolves_to_the_full_id(store: GitStore) -> None:
    revision = save(store, "首页", SLA)

    assert store.resolve(revision.id[:7]) == revision.id
    assert store.resolve(revision.id[:4]) == revision.id
    assert store.resolve(revision.id.upper()) == revision.id
    assert store.read("首页", revision.id[:8]) == SLA


@pytest.mark.parametrize(
    "revision",
    ["-O", "--output=x", "HEAD~1", "HEAD", "main", "../x", "abc", "xyz12345", "a" * 41, "", " abcd", "abcd\n"],
)
def test_anything_but_4_to_40_hex_digits_is_an_invalid_revision(store: GitStore, revision: str) -> None:
    save(store, "首页", SLA)

    with pytest.raises(InvalidRevision):
        store.resolve(revision)
    with pytest.raises(InvalidRevision):
        store.read("首页", revision)


def test_an_unknown_hex_revision_is_not_found(store: GitStore) -> None:
    save(store, "首页", SLA)

    with pytest.raises(NotFound, match="unknown revision"):
        store.resolve("0" * 40)
    with pytest.raises(NotFound):
        store.revision("deadbeef")


def test_a_blob_id_is_not_a_revision(store: GitStore) -> None:
    _, changes = store.commit([Write("首页", SLA)], ZHANG, "新建")

    with pytest.raises(NotFound):
        store.resolve(changes[0].blob)


# -- changes ------------------------------------------------------------------------------------


def test_the_first_commit_reports_every_document_as_added(store: GitStore) -> None:
    revision, changes = store.commit([Write("服务/甲", SLA), Write("首页", LONG)], ZHANG, "新建")

    assert [(c.kind, c.path) for c in store.changes(revision.id)] == [("add", "服务/甲"), ("add", "首页")]
    assert changes == store.changes(revision.id)


def test_changes_report_an_edit_as_modify(store: GitStore) -> None:
    save(store, "服务/甲", SLA)

    revision, changes = store.commit([Write("服务/甲", SLA_V2)], ZHANG, "编辑")

    assert changes == [Change("modify", "服务/甲", None, store.blob_id("服务/甲"))]
    assert store.changes(revision.id) == changes


def test_changes_report_a_delete_without_a_blob(store: GitStore) -> None:
    store.commit([Write("服务/甲", SLA), Write("服务/乙", SLA)], ZHANG, "新建")

    _, changes = store.commit([Delete("服务/甲")], ZHANG, "删除")

    assert changes == [Change("delete", "服务/甲", None, None)]


def test_changes_report_a_move_with_old_and_new_path(store: GitStore) -> None:
    save(store, "服务/甲", SLA)
    blob = store.blob_id("服务/甲")

    _, changes = store.commit([Move("服务/甲", "流程/甲")], ZHANG, "移动")

    assert changes == [Change("move", "流程/甲", "服务/甲", blob)]


def test_a_move_with_edits_in_the_same_commit_is_still_a_move(store: GitStore) -> None:
    save(store, "服务/长文档", LONG)

    _, changes = store.commit(
        [Move("服务/长文档", "流程/长文档"), Write("流程/长文档", LONG + "补充一行。\n".encode())], ZHANG, "移动并编辑"
    )

    assert [(c.kind, c.path, c.old_path) for c in changes] == [("move", "流程/长文档", "服务/长文档")]


def test_a_delete_and_an_unrelated_add_are_not_a_move(store: GitStore) -> None:
    save(store, "服务/长文档", LONG)

    _, changes = store.commit([Delete("服务/长文档"), Write("其他/新文档", SLA)], ZHANG, "替换")

    assert sorted((c.kind, c.path) for c in changes) == [("add", "其他/新文档"), ("delete", "服务/长文档")]


def test_moving_a_whole_folder_reports_one_move_per_document(store: GitStore) -> None:
    docs = {f"旧/文档{i:02d}": f"内容 {i}\n".encode() for i in range(30)}
    store.commit([Write(path, data) for path, data in docs.items()], ZHANG, "新建")

    _, changes = store.commit([Move(path, "新" + path[1:]) for path in docs], ZHANG, "整体移动")

    assert len(changes) == 30
    assert all(c.kind == "move" and c.old_path == "旧" + c.path[1:] for c in changes)


@needs_git
def test_files_that_are_not_documents_are_ignored(store: GitStore, tmp_path: Path) -> None:
    save(store, "服务/甲", SLA)
    commit_outside_the_store(
        store,
        tmp_path,
        {"README.txt": "说明", "服务/图片.png": "png", ".hidden/秘密.md": "x", "服务/乙.md": "# 乙\n"},
    )

    assert [path for path, _ in store.documents()] == ["服务/乙", "服务/甲"]
    assert store.count_documents() == 2
    assert [(c.kind, c.path) for c in store.changes(store.head())] == [("add", "服务/乙")]


# -- past versions after moves and deletes ------------------------------------------------------


def test_a_moved_document_stays_readable_at_its_old_path_in_old_revisions(store: GitStore) -> None:
    before = save(store, "服务/甲", SLA)

    store.commit([Move("服务/甲", "归档/甲")], ZHANG, "移动")

    assert store.read("服务/甲", before.id) == SLA
    assert store.read("归档/甲") == SLA
    assert not store.exists("服务/甲")


def test_a_deleted_document_stays_readable_at_earlier_revisions(store: GitStore) -> None:
    first = save(store, "服务/甲", SLA)
    second = save(store, "服务/甲", SLA_V2)

    store.commit([Delete("服务/甲")], ZHANG, "删除")

    assert store.read("服务/甲", first.id) == SLA
    assert store.read("服务/甲", second.id) == SLA_V2
    with pytest.raises(NotFound):
        store.read("服务/甲")


# -- history ------------------------------------------------------------------------------------


def test_walk_lists_every_commit_oldest_first_with_its_changes(store: GitStore) -> None:
    first = save(store, "服务/甲", SLA, "新建甲")
    second = save(store, "服务/甲", SLA_V2, "修改甲")
    third, _ = store.commit([Move("服务/甲", "流程/甲")], LI, "移动甲")

    history = list(store.walk())

    assert [revision.id for revision, _ in history] == [first.id, second.id, third.id]
    assert [revision.message for revision, _ in history] == ["新建甲", "修改甲", "移动甲"]
    assert [[c.kind for c in changes] for _, changes in history] == [["add"], ["modify"], ["move"]]


def test_walk_since_is_exclusive_and_until_is_inclusive(store: GitStore) -> None:
    revisions = [save(store, "首页", f"第 {i} 版\n".encode()) for i in range(5)]

    between = [r.id for r, _ in store.walk(since=revisions[1].id, until=revisions[3].id[:7])]

    assert between == [revisions[2].id, revisions[3].id]
    assert [r.id for r, _ in store.walk(since=revisions[4].id)] == []
    assert len(list(store.walk(until=revisions[0].id))) == 1


def test_walk_follows_the_order_of_commits_not_their_dates(store: GitStore) -> None:
    late = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    early = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    store.commit([Write("首页", SLA)], ZHANG, "第一", date=late)
    store.commit([Write("首页", SLA_V2)], ZHANG, "第二", date=early)

    assert [r.message for r, _ in store.walk()] == ["第一", "第二"]


def test_the_revision_at_a_date_is_the_newest_commit_made_by_then(store: GitStore) -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    january = store.commit([Write("首页", SLA)], ZHANG, "一月", date=dt.datetime(2024, 1, 10, tzinfo=beijing))[0]
    march = store.commit([Write("首页", SLA_V2)], ZHANG, "三月", date=dt.datetime(2024, 3, 1, tzinfo=beijing))[0]

    assert store.revision_at(dt.datetime(2024, 2, 1, tzinfo=beijing)) == january
    assert store.revision_at(dt.datetime(2024, 3, 1, tzinfo=beijing)) == march
    assert store.revision_at(dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) == march
    assert store.revision_at(dt.datetime(2023, 12, 31, tzinfo=beijing)) is None


def test_the_revision_at_a_date_follows_growth_and_back_dated_commits(store: GitStore) -> None:
    """Asked again after main grew, with commits dated out of order: each answer is the
    newest commit whose own date is at or before the moment asked about."""
    day = lambda n: dt.datetime(2024, 1, n, tzinfo=dt.UTC)  # noqa: E731
    first = store.commit([Write("首页", SLA)], ZHANG, "1", date=day(10))[0]
    assert store.revision_at(day(20)) == first
    late = store.commit([Write("首页", SLA_V2)], ZHANG, "2", date=day(20))[0]
    backdated = store.commit([Write("首页", SLA)], ZHANG, "3", date=day(5))[0]
    newest = store.commit([Write("首页", SLA_V2)], ZHANG, "4", date=day(25))[0]
    assert store.revision_at(day(4)) is None
    assert store.revision_at(day(5)) == backdated
    assert store.revision_at(day(19)) == backdated
    assert store.revision_at(day(24)) == backdated
    assert store.revision_at(day(25)) == newest
    assert late not in (store.revision_at(day(n)) for n in range(1, 31))
    fresh = GitStore(store.root)  # a process that never saw the history grow: the same answers
    assert [fresh.revision_at(day(n)) for n in range(1, 31)] == [store.revision_at(day(n)) for n in range(1, 31)]


def test_walk_checks_its_revisions_before_iterating(store: GitStore) -> None:
    save(store, "首页", SLA)

    with pytest.raises(InvalidRevision):
        store.walk(since="HEAD~1")


def test_documents_at_a_revision_list_what_existed_then(store: GitStore) -> None:
    first, _ = store.commit([Write("服务/甲", SLA), Write("服务/子目录/乙", SLA)], ZHANG, "新建")
    store.commit([Delete("服务/甲"), Write("丙", SLA)], ZHANG, "变更")

    assert dict(store.documents(first.id)) == {
        "服务/子目录/乙": store.blob_id("服务/子目录/乙"),
        "服务/甲": store.blob_id("服务/甲", first.id),
    }
    assert sorted(path for path, _ in store.documents()) == ["丙", "服务/子目录/乙"]
    assert store.count_documents(first.id) == 2


# -- locking and concurrency --------------------------------------------------------------------


def test_the_lock_is_reentrant_so_a_caller_can_commit_while_holding_it(store: GitStore) -> None:
    with store.lock(), store.lock():
        revision = save(store, "首页", SLA)

    assert store.head() == revision.id


def test_the_lock_is_shared_by_stores_of_the_same_repository(tmp_path: Path) -> None:
    one = GitStore.init(tmp_path / "content.git")
    other = GitStore(tmp_path / "content.git")

    with one.lock():
        save(other, "首页", SLA)

    assert one.read("首页") == SLA


def test_a_writer_gives_up_with_store_busy_when_the_lock_stays_taken(tmp_path: Path) -> None:
    store = GitStore.init(tmp_path / "content.git", lock_timeout=0.2)
    with lock_held_by_another_thread(store), pytest.raises(StoreBusy):
        save(store, "首页", SLA)
    assert store.head() is None


def test_readers_do_not_wait_for_a_writer_holding_the_lock(store: GitStore) -> None:
    save(store, "首页", SLA)
    with lock_held_by_another_thread(store):
        assert store.read("首页") == SLA
        assert store.count_documents() == 1


def _commit_ten(root: str, worker: int) -> None:
    store = GitStore(Path(root))
    for i in range(10):
        store.commit(
            [Write(f"并发/进程{worker}/文档{i}", f"{worker}-{i}\n".encode())], ZHANG, f"进程 {worker} 第 {i} 次"
        )


def test_concurrent_processes_lose_no_commit(store: GitStore) -> None:
    context = multiprocessing.get_context("fork")  # how gunicorn starts its workers
    workers = [context.Process(target=_commit_ten, args=(str(store.root), n)) for n in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)

    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    history = list(store.walk())
    assert len(history) == 40
    assert sorted(r.message for r, _ in history) == sorted(f"进程 {w} 第 {i} 次" for w in range(4) for i in range(10))
    assert store.count_documents() == 40


def test_concurrent_threads_sharing_one_store_lose_no_commit(store: GitStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(10):
                save(store, f"并发/线程{worker}/文档{i}", f"{worker}-{i}\n".encode(), f"线程 {worker} 第 {i} 次")
                store.read(f"并发/线程{worker}/文档{i}")
        except BaseException as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(list(store.walk())) == 40
    assert store.count_documents() == 40


def _commit_inherited(store: GitStore) -> None:
    save(store, "子进程/文档", SLA)


def test_a_store_inherited_through_fork_keeps_working_in_the_child(store: GitStore) -> None:
    save(store, "首页", SLA)  # the parent has an open repository and has used the lock
    child = multiprocessing.get_context("fork").Process(target=_commit_inherited, args=(store,))
    child.start()
    child.join(60)

    assert child.exitcode == 0
    assert store.read("子进程/文档") == SLA


def _race_without_the_shared_lock(root: str, lock: str, worker: int, results: multiprocessing.Queue) -> None:
    store = GitStore(Path(root), lock_path=Path(lock))
    committed, conflicts = [], 0
    try:
        for i in range(25):
            try:
                committed.append(save(store, f"竞争/{worker}-{i}", b"x\n").id)
            except Conflict:
                conflicts += 1
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(("error", repr(exc)))
    else:
        results.put((committed, conflicts))


def test_writers_that_bypass_the_lock_still_never_overwrite_each_other(store: GitStore, tmp_path: Path) -> None:
    # Two writers on one repository but with different lock files, as a misconfiguration would
    # give: the branch's compare-and-swap must turn a race into a Conflict, never a lost commit.
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(
            target=_race_without_the_shared_lock, args=(str(store.root), str(tmp_path / f"lock-{n}"), n, results)
        )
        for n in range(2)
    ]
    for process in workers:
        process.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(60)

    assert all(outcome[0] != "error" for outcome in outcomes), outcomes
    committed = [commit for ids, _ in outcomes for commit in ids]
    assert sorted(revision.id for revision, _ in store.walk()) == sorted(committed)


# ---------------------------------------------------------------- kb's own files (.kb/)


def test_a_setting_file_is_committed_and_read_by_its_blob_but_is_no_document(store):
    save(store, "运维/备份", SLA)
    revision, changes = store.commit([WriteSetting(".kb/synonyms.txt", "网卡 = 网络适配器\n".encode())], LI, "同义词")
    assert changes == []
    assert [path for path, _blob in store.documents()] == ["运维/备份"]
    blob = store.setting_blob(".kb/synonyms.txt")
    assert blob is not None and store.read_blob(blob) == "网卡 = 网络适配器\n".encode()
    assert store.setting_blob(".kb/synonyms.txt", revision.parents[0]) is None
    assert store.setting_blob(".kb/other.txt") is None


def test_a_setting_file_survives_deleting_every_document(store):
    save(store, "a", SLA)
    store.commit([WriteSetting(".kb/synonyms.txt", b"a = b\n")], LI, "同义词")
    store.commit([Delete("a")], LI, "删除")
    assert list(store.documents()) == []
    assert store.setting_blob(".kb/synonyms.txt") is not None


@pytest.mark.parametrize(
    "path", ["synonyms.txt", ".kb/../x.txt", ".git/config", ".kb/a/b.txt", ".kb/-x.txt", "kb/a.txt"]
)
def test_only_files_directly_under_dot_kb_are_settings(store, path):
    with pytest.raises(ValueError):
        store.commit([WriteSetting(path, b"x")], LI, "x")
    assert store.head() is None
