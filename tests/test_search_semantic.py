"""Meaning vectors (kb.search.semantic) with the real bundled model, on a few documents."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from search_docs import INTERNAL, doc

from kb.search import SearchIndex, generations, semantic

DOCS = [
    doc(
        "pause",
        "暂停或恢复集群",
        "## 暂停集群\n集群暂停后不再按计算节点计费，数据保留。\n## 恢复集群\n恢复后可继续使用。",
    ),
    doc("printer", "打印机卡纸处理", "打开前盖，取出卡住的纸张，检查搓纸轮。"),
    doc("vpn", "VPN 客户端安装", "下载客户端，导入配置文件，使用域账号登录。"),
    doc("mail", "邮箱容量已满", "清理已删除邮件，归档旧邮件，申请扩容。"),
    doc("badge", "门禁卡补办", "到前台登记，领取临时门禁卡，七个工作日内补办。"),
]
# shares no word with the answer, and is long enough to count as a question
QUESTION = "周末没人用的时候能不能先把测试环境停掉，省得一直白白扣钱"


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex(tmp_path / "index", semantic=True)
    ix.rebuild(DOCS, commit="c1")
    yield ix
    ix.close()


def hits(ix: SearchIndex, q: str, levels: set[str] = INTERNAL) -> list[str]:
    return [h.path for h in ix.search(q, access_levels=levels, statuses={"published"}).hits]


def test_vectors_follow_the_index(index):
    assert index.embed_pending() == len(DOCS)
    assert index.embed_pending() == 0  # nothing stale
    changed = dataclasses.replace(DOCS[1], body=DOCS[1].body + "\n更换硒鼓。", revision="r2")
    index.apply([changed], ["badge"], commit="c2")
    assert index.embed_pending() == 1
    revisions = index.vectors.revisions()
    assert revisions["printer"] == "r2" and "badge" not in revisions


def test_a_moved_document_keeps_its_vector_without_the_model(index, monkeypatch):
    index.embed_pending()
    moved = dataclasses.replace(DOCS[3], path="邮件/容量", revision="r-moved")
    index.apply([moved], [DOCS[3].path], commit="c2")

    def no_model(texts: list[str]) -> None:
        raise AssertionError(f"embedded again: {texts}")

    monkeypatch.setattr(semantic.MODEL_INSTANCE, "passages", no_model)
    assert index.embed_pending() == 1
    assert "邮件/容量" in index.vectors.revisions() and DOCS[3].path not in index.vectors.revisions()


def test_one_process_at_a_time_computes_vectors(index):
    with generations.holding(index.root / "vectors.lock") as mine:
        assert mine
        assert index.embed_pending() == 0  # someone else is on it
    assert index.embed_pending() == len(DOCS)


def test_a_question_in_other_words_finds_its_document(index):
    before = hits(index, QUESTION)
    assert "pause" not in before[:1]
    index.embed_pending()
    assert hits(index, QUESTION)[:1] == ["pause"]


def test_meaning_never_reveals_a_hidden_document(tmp_path):
    ix = SearchIndex(tmp_path / "index", semantic=True)
    secret = doc("pause", DOCS[0].title, DOCS[0].body, access="secret")
    ix.rebuild([secret, *DOCS[1:]], commit="c1")
    ix.embed_pending()
    result = ix.search(QUESTION, access_levels=INTERNAL, statuses={"published"})
    assert "pause" not in [h.path for h in result.hits]
    assert result.total <= len(DOCS) - 1
    assert hits(ix, QUESTION, INTERNAL | {"confidential", "secret"})[:1] == ["pause"]
    ix.close()


def test_short_queries_are_matched_by_their_words_alone(index, monkeypatch):
    index.embed_pending()
    called: list[str] = []
    monkeypatch.setattr(semantic.MODEL_INSTANCE, "query", lambda text: called.append(text))
    assert hits(index, "门禁卡")[:1] == ["badge"]
    assert called == []  # a keyword query never pays for the model


def test_without_semantic_there_is_no_vector_store(tmp_path):
    ix = SearchIndex(tmp_path / "index")
    assert ix.vectors is None and ix.embed_pending() == 0
    ix.close()


class IdleQueue(list):
    """Stands in for the idle runner's ``submit``: what the embedder queued, and ``arrived``
    once something was."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()

    def __call__(self, work: Callable[[], None]) -> None:
        self.append(work)
        self.arrived.set()


def test_the_embedder_hands_one_round_at_a_time_to_the_idle_runner(monkeypatch):
    monkeypatch.setattr(semantic.Embedder, "IDLE", 0.02)
    queued = IdleQueue()
    rounds: list[float] = []
    embedder = semantic.Embedder(lambda budget: rounds.append(budget) or 1, lambda: True, queued).start()
    assert queued.arrived.wait(5)
    time.sleep(0.1)  # five idle periods
    assert len(queued) == 1  # nothing more is queued while a round waits to run
    queued.arrived.clear()
    queued.pop()()  # the idle runner runs it
    assert rounds == [semantic.Embedder.BUDGET]
    assert queued.arrived.wait(5)
    time.sleep(0.1)
    assert len(queued) == 1
    embedder.stop()
    queued.clear()
    time.sleep(0.1)
    assert queued == []


def test_the_embedder_queues_nothing_when_nothing_is_pending(monkeypatch):
    monkeypatch.setattr(semantic.Embedder, "IDLE", 0.02)
    queued = IdleQueue()
    embedder = semantic.Embedder(lambda budget: 0, lambda: False, queued).start()
    time.sleep(0.15)
    embedder.stop()
    assert queued == []


def test_pending_counts_documents_without_a_current_vector(index):
    assert index.vectors_pending() == len(DOCS)
    index.embed_pending(budget_s=0)  # one batch of four, however short the budget
    assert index.vectors_pending() == len(DOCS) - 4
    index.embed_pending()
    assert index.vectors_pending() == 0
    index.apply([dataclasses.replace(DOCS[2], revision="r9")], [], commit="c2")
    assert index.vectors_pending() == 1


def test_summary_holds_title_headings_and_opening():
    text = semantic.summary("标题", "# 一\n正文 [链接](http://x) `code`\n## 二\n更多")
    assert text.startswith("标题. 一; 二. ") and "链接" in text and "http" not in text
