"""The index as a cache of git: apply, rebuild, generations, and readers running meanwhile."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import random
import threading
import time
from pathlib import Path

import pytest

from kb.search import IndexedDoc, SearchIndex, generations
from kb.search.index import PARALLEL_THRESHOLD

T0 = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
ALL = {"public", "internal", "confidential", "secret"}
PUBLISHED = {"published"}


def doc(
    path: str,
    body: str,
    *,
    title: str | None = None,
    revision: str = "r1",
    access: str = "internal",
    status: str = "published",
) -> IndexedDoc:
    return IndexedDoc(
        path=path,
        title=title or path,
        body=body,
        tags=["测试"],
        access=access,
        status=status,
        owner="li.na",
        updated_at=T0,
        revision=revision,
    )


def paths(ix: SearchIndex, q: str) -> list[str]:
    return [h.path for h in ix.search(q, access_levels=ALL, statuses={"published", "archived"}, limit=100).hits]


def total(ix: SearchIndex, q: str) -> int:
    return ix.search(q, access_levels=ALL, statuses=PUBLISHED).total


def test_a_new_index_is_empty(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    assert ix.indexed_commit() is None
    assert ix.doc_count() == 0
    assert ix.indexed_revisions() == {}
    assert total(ix, "任何内容") == 0
    ix.close()


def test_apply_adds_replaces_and_deletes(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.apply([doc("a", "苹果 apple", revision="c1"), doc("b", "香蕉 banana", revision="c1")], [], commit="c1")
    assert ix.indexed_commit() == "c1"
    assert ix.doc_count() == 2
    assert paths(ix, "苹果") == ["a"]

    ix.apply([doc("a", "橙子 orange", revision="c2")], ["b"], commit="c2")
    assert ix.indexed_commit() == "c2"
    assert ix.doc_count() == 1
    assert paths(ix, "苹果") == []  # the old version is gone, not just outranked
    assert paths(ix, "橙子") == ["a"]
    assert paths(ix, "香蕉") == []
    assert ix.indexed_revisions() == {"a": "c2"}
    ix.close()


def test_apply_of_a_move_and_repeated_upserts(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.apply([doc("old/place", "搬家 文档")], [], commit="c1")
    moved = doc("new/place", "搬家 文档", revision="c2")
    ix.apply([moved, dataclasses.replace(moved, body="搬家 文档 第二版")], ["old/place"], commit="c2")
    assert paths(ix, "搬家") == ["new/place"]
    assert total(ix, "第二版") == 1
    assert ix.doc_count() == 1
    ix.close()


def test_many_applies_keep_one_version_per_document(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.rebuild([doc(f"d{i}", f"基础 文档 {i}") for i in range(30)], commit="c0")
    for n in range(1, 80):  # enough commits to trigger several merges
        ix.apply([doc(f"d{n % 30}", f"基础 文档 版本{n}", revision=f"c{n}")], [], commit=f"c{n}")
    assert ix.indexed_commit() == "c79"
    assert ix.doc_count() == 30
    assert total(ix, "基础") == 30
    assert paths(ix, "版本79") == ["d19"]
    assert total(ix, '"版本10"') == 0  # quoted: no OR fallback to documents with only 版本
    revisions = ix.indexed_revisions()
    assert len(revisions) == 30 and revisions["d19"] == "c79"
    ix.close()


def test_another_instance_sees_new_commits_without_reopening(tmp_path: Path) -> None:
    writer = SearchIndex(tmp_path / "index")
    reader = SearchIndex(tmp_path / "index")
    assert total(reader, "新闻") == 0
    writer.apply([doc("n1", "今日新闻")], [], commit="c1")
    assert total(reader, "新闻") == 1
    assert reader.indexed_commit() == "c1"
    writer.apply([], ["n1"], commit="c2")
    assert total(reader, "新闻") == 0
    writer.close()
    reader.close()


def test_rebuild_replaces_the_whole_index_and_reports_progress(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.apply([doc("stale", "过时 内容")], [], commit="c1")
    done: list[int] = []
    ix.rebuild((doc(f"fresh/{i}", f"新鲜 内容 {i}") for i in range(120)), commit="c9", total=120, progress=done.append)
    assert sum(done) == 120
    assert ix.indexed_commit() == "c9"
    assert ix.doc_count() == 120
    assert total(ix, "过时") == 0
    assert total(ix, "新鲜") == 120
    ix.close()


def _generations(root: Path) -> list[str]:
    return [p.name for p in root.iterdir() if p.name.startswith(generations.PREFIX)]


def test_retired_generations_are_removed_after_a_grace_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "index"
    ix = SearchIndex(root)
    ix.rebuild([doc("x", "第一次")], commit="c1")
    ix.rebuild([doc("x", "第二次")], commit="c2")
    assert len(_generations(root)) == 3  # live, and two retired ones a reader may still be opening
    monkeypatch.setattr(generations, "RETIRE_GRACE", 0.0)
    ix.rebuild([doc("x", "第三次")], commit="c3")
    assert _generations(root) == [generations.read_pointer(root)]
    assert paths(ix, "第三次") == ["x"]
    ix.close()


def test_parallel_rebuild_of_many_documents(tmp_path: Path) -> None:
    n = PARALLEL_THRESHOLD + 50
    ix = SearchIndex(tmp_path / "index")
    done: list[int] = []
    ix.rebuild((doc(f"bulk/{i:04d}", f"批量 文档 编号{i} bulk") for i in range(n)), commit="c1", progress=done.append)
    assert sum(done) == n
    assert ix.doc_count() == n
    assert total(ix, "批量") == n
    assert paths(ix, "编号7") == ["bulk/0007"]
    assert len(ix.indexed_revisions()) == n
    ix.close()


@pytest.mark.parametrize("before_failure", [1, PARALLEL_THRESHOLD + 20])
def test_a_failed_rebuild_leaves_the_live_index_alone(tmp_path: Path, before_failure: int) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.apply([doc("keep", "保留 内容")], [], commit="c1")

    def broken():
        for i in range(before_failure):
            yield doc(f"x{i}", "半途")
        raise RuntimeError("git went away")

    with pytest.raises(RuntimeError):
        ix.rebuild(broken(), commit="c2")
    assert ix.indexed_commit() == "c1"
    assert paths(ix, "保留") == ["keep"]
    assert len(_generations(tmp_path / "index")) == 1
    ix.close()


def test_searches_keep_working_while_a_rebuild_swaps_generations(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.rebuild([doc(f"v1/{i}", "轮换 第一代") for i in range(40)], commit="c1")
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.add(total(ix, "轮换"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(2, 6):
            ix.rebuild([doc(f"v{n}/{i}", f"轮换 第{n}代") for i in range(40 + n)], commit=f"c{n}")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert seen <= {40, 42, 43, 44, 45}  # always one whole generation, never nothing or a mix
    assert total(ix, "轮换") == 45
    ix.close()


def _writer_process(index_dir: str, commits: int) -> None:
    ix = SearchIndex(Path(index_dir))
    for n in range(commits):
        # Each commit adds two documents at once: a reader must never see an odd count.
        ix.apply([doc(f"p/{n}a", "并发 写入"), doc(f"p/{n}b", "并发 写入")], [], commit=f"c{n}")
    ix.close()


def test_readers_never_see_partial_commits_from_another_process(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    ix = SearchIndex(index_dir)
    ix.apply([], [], commit="c-start")
    commits = 25
    proc = multiprocessing.get_context("fork").Process(target=_writer_process, args=(str(index_dir), commits))
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                result = ix.search("并发", access_levels=ALL, statuses=PUBLISHED, limit=5)
                assert len(result.hits) == min(5, result.total)
                seen.add(result.total)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    proc.start()
    proc.join(timeout=120)
    time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert proc.exitcode == 0
    assert not errors
    assert all(n % 2 == 0 for n in seen)
    assert total(ix, "并发") == 2 * commits
    assert ix.indexed_commit() == f"c{commits - 1}"
    ix.close()


def test_two_processes_writing_take_turns(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    SearchIndex(index_dir).close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer_process, args=(str(index_dir), 10)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    ix = SearchIndex(index_dir)
    assert total(ix, "并发") == 20  # both wrote the same 20 paths; each exists once
    ix.close()


def _search_inherited(ix: SearchIndex, rounds: int) -> None:
    for _ in range(rounds):
        if total(ix, "继承") != 30 or paths(ix, "编号7") != ["inh/7"]:
            raise SystemExit(1)


def test_a_forked_worker_opens_its_own_readers(tmp_path: Path) -> None:
    # gunicorn --preload: the app (and its index, already searched) is created before the fork.
    ix = SearchIndex(tmp_path / "index")
    ix.rebuild([doc(f"inh/{i}", f"继承 文档 编号{i}") for i in range(30)], commit="c1")
    assert total(ix, "继承") == 30
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_search_inherited, args=(ix, 200)) for _ in range(2)]
    for child in children:
        child.start()
    _search_inherited(ix, 200)
    for child in children:
        child.join(timeout=60)
    assert [c.exitcode for c in children] == [0, 0]
    ix.close()


def test_merging_segments_whose_deleted_documents_alone_held_a_term(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    for n in range(20):  # enough two-document segments, each with a deletion, to be merged
        ix.apply([doc(f"a{n}", f"独有词{n} 共同"), doc(f"b{n}", "共同")], [], commit=f"c{n}")
        ix.apply([], [f"a{n}"], commit=f"d{n}")
    assert ix.indexed_commit() == "d19"
    assert total(ix, "共同") == 20
    assert total(ix, "独有词3") == 0
    ix.close()


def _segment_ids(index_dir: Path) -> list[str]:
    from whoosh.filedb.filestore import FileStorage

    ix = FileStorage(str(index_dir / generations.read_pointer(index_dir))).open_index()
    try:
        return [segment.segment_id() for segment in ix._segments()]
    finally:
        ix.close()


def test_applies_under_a_reseeded_global_random_keep_every_segment(tmp_path: Path) -> None:
    # Hypothesis (the schemathesis tests) reseeds the global ``random`` before every example, and
    # so may any library. Whoosh names new segments with ``random.choice``: each apply then named
    # its segment like the last one and overwrote that live segment's files, which the open
    # readers and the TOC still pointed at (TermNotFound after ``key in terms``, struct.error in
    # delete_by_term, documents lost).
    ix = SearchIndex(tmp_path / "index")
    for n in range(6):
        random.seed(0)
        ix.apply([doc(f"seed/{n}", f"种子 编号{n}", revision=f"c{n}")], [], commit=f"c{n}")
        random.seed(0)
        assert total(ix, "种子") == n + 1
        assert paths(ix, f"编号{n}") == [f"seed/{n}"]
    segment_ids = _segment_ids(tmp_path / "index")
    assert len(segment_ids) == len(set(segment_ids))
    random.seed(0)
    ix.apply([doc("seed/0", "种子 新版", revision="c9")], ["seed/1"], commit="c9")
    assert ix.indexed_revisions() == {"seed/0": "c9", **{f"seed/{n}": f"c{n}" for n in range(2, 6)}}
    assert total(ix, "种子") == 5
    ix.close()
    fresh = SearchIndex(tmp_path / "index")  # what is on disk, not what a cached reader holds
    assert fresh.indexed_revisions() == {"seed/0": "c9", **{f"seed/{n}": f"c{n}" for n in range(2, 6)}}
    assert paths(fresh, "新版") == ["seed/0"]
    fresh.close()
