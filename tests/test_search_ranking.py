"""Ranking of what people type (kb.search.ranking, thesaurus): questions, codes, synonyms.

A real Whoosh index on tmp_path with a handful of documents written for each case; the
quality on real corpora is measured by bench/search_quality.py, not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from search_docs import INTERNAL, doc

from kb.search import SearchIndex, ranking
from kb.search.analysis import query_tokens

SEEN = INTERNAL


FILLER = [
    doc(
        f"filler/{i}",
        f"运维手册第 {i} 章",
        "本章介绍如何检查服务器状态，怎么查看日志，以及为什么要定期备份。"
        "How do I check the server? What is the status of the service? Which logs should I read?",
    )
    for i in range(12)
]


@pytest.fixture
def index(tmp_path: Path) -> SearchIndex:
    ix = SearchIndex(tmp_path / "index")
    ix.rebuild(
        [
            *FILLER,
            doc("perfmon", "删除性能监视器数据收集器集", "在命令行使用 logman delete 删除已创建的数据收集器集。"),
            doc(
                "exchange",
                "Exchange 发送失败 451 4.7.500",
                "退信代码 451 4.7.500 表示访问被拒绝，检查 GAL 与连接器设置。",
            ),
            doc("winerr", "Windows 更新错误 0x80070005", "错误 0x80070005 表示权限不足，以管理员身份运行。"),
            doc("wlm", "Workload management settings", "Configure the workload management queues and their memory."),
            doc("snake", "Setting max_connections", "The max_connections parameter limits client sessions."),
            doc("nic", "网络适配器驱动更新", "设备管理器里右键网络适配器，选择更新驱动程序。"),
            doc("nic-secret", "网络适配器机密配置", "机密：核心交换机上联的网络适配器配置。", access="secret"),
            doc("pause", "Pause or resume a cluster", "Pausing a cluster stops compute billing; resume it later."),
        ],
        commit="c1",
    )
    yield ix
    ix.close()


def paths(ix: SearchIndex, q: str, levels: set[str] = SEEN) -> list[str]:
    return [h.path for h in ix.search(q, access_levels=levels, statuses={"published"}).hits]


def test_a_chinese_run_on_question_finds_its_answer(index):
    # one run of characters, no spaces: every word of it is not in the answer, yet it ranks first
    assert paths(index, "怎么用命令行删除性能监视器里已经建好的数据收集器")[:1] == ["perfmon"]


def test_question_words_do_not_decide(index):
    # "how do I ... what is ... which" fill the filler pages; the rare words pick the answer
    assert paths(index, "how do I fix what is wrong with the workload management queues")[:1] == ["wlm"]


def test_error_codes_are_kept_whole(index):
    assert paths(index, "发邮件一直退回来，提示 451 4.7.500 是怎么回事")[:1] == ["exchange"]
    assert paths(index, "装补丁报 0x80070005 怎么办")[:1] == ["winerr"]


def test_camel_case_and_snake_case_match_their_words(index):
    assert paths(index, "WorkloadManagement")[:1] == ["wlm"]
    assert paths(index, "max_connections")[:1] == ["snake"]
    assert paths(index, "connections max")[:1] == ["snake"]


def test_long_questions_keep_their_rare_words_wherever_they_stand(index):
    long = (
        "我们这边的同事今天早上打开邮箱以后发现发出去的邮件全部都被退了回来，看了一下退信里面写着"
        "很多内容，我们也不知道是什么意思，最后一行写的是 GAL"
    )
    assert "exchange" in paths(index, long)[:3]


def test_soft_matching_does_not_need_every_word(index):
    # "weekend" and "test" are in no document; the page about pausing still answers
    assert paths(index, "can I pause our test cluster over the weekend")[:1] == ["pause"]


def test_stop_words_alone_find_nothing(index):
    result = index.search("how do I what is the", access_levels=SEEN, statuses={"published"})
    assert result.total == 0 and result.hits == []


def test_synonyms_apply_at_query_time_and_never_reveal_a_hidden_document(index):
    assert paths(index, "网卡") == []  # nothing says 网卡
    index.synonyms = lambda: [["网卡", "网络适配器", "NIC"]]
    result = index.search("网卡驱动", access_levels=SEEN, statuses={"published"})
    assert [h.path for h in result.hits] == ["nic"] and result.total == 1
    assert "<mark>网络适配器</mark>" in result.hits[0].snippet
    assert "机密" not in "".join(h.snippet + h.title for h in result.hits)
    # the one who may see it finds both
    assert set(paths(index, "网卡", SEEN | {"confidential", "secret"})) == {"nic", "nic-secret"}


def test_a_phrase_synonym_replaces_its_words(index):
    index.synonyms = lambda: [["logman", "性能监视器"], ["删掉", "删除"]]
    # 性能监视器 is cut into two words; as a member it is one concept that logman also satisfies
    plan = ranking.plan(list(query_tokens("性能监视器打不开")), index._thesaurus())
    assert sorted(plan.concepts[0].terms) == [("logman",), ("性能", "监视器")]
    assert paths(index, "删掉数据收集器")[:1] == ["perfmon"]


def test_an_unreadable_synonym_list_leaves_search_working(index):
    def broken() -> list[list[str]]:
        raise OSError("gone")

    index.synonyms = broken
    assert paths(index, "网络适配器")[:1] == ["nic"]


def test_exact_phrases_and_operators_keep_their_meaning(index):
    assert paths(index, '"logman delete"') == ["perfmon"]
    assert "perfmon" not in paths(index, "数据收集器 -logman")
    assert paths(index, "Workl*")[:1] == ["wlm"]


def test_the_snippet_names_the_section_it_comes_from(tmp_path):
    ix = SearchIndex(tmp_path / "index")
    body = "# 概述\n公司 VPN 的用途。\n## 证书过期\n证书过期后客户端提示连接失败，重新申请证书。"
    ix.rebuild([doc("vpn", "VPN 手册", body)], commit="c1")
    hit = ix.search("VPN 连不上说证书过期了怎么办", access_levels=SEEN, statuses={"published"}).hits[0]
    assert hit.section == "证书过期"
    assert "<mark>证书</mark>" in hit.snippet and "<mark>怎么办</mark>" not in hit.snippet
    ix.close()


def test_related_searches_come_from_the_query_and_the_synonym_list_only(index):
    index.synonyms = lambda: [["网卡", "网络适配器"]]
    result = index.search("我的电脑网卡驱动坏了怎么才能更新一下", access_levels=SEEN, statuses={"published"})
    assert result.related and all("机密" not in r for r in result.related)
    assert any("网络适配器" in r for r in result.related)  # the synonym in place of 网卡
    assert all(len(r) < len("我的电脑网卡驱动坏了怎么才能更新一下") for r in result.related)
    # a short query with few results is offered its synonyms
    assert index.search("网络适配器", access_levels=SEEN, statuses={"published"}).related == ["网卡"]


def test_the_api_answers_section_and_related(app, editor):
    from conftest import save

    save(editor, "运维/证书", "# 概述\n说明。\n## 证书续期\n到期前三十天续期证书。", title="证书管理")
    body = editor.get("search", query_string={"q": "证书快到期了应该提前多少天去续期呢"}).get_json()
    assert body["hits"][0]["section"] == "证书续期"
    assert isinstance(body["related"], list)


def test_the_search_page_shows_the_section_and_related_searches(app, editor):
    from conftest import page, save, web_as

    save(editor, "运维/证书", "# 概述\n说明。\n## 证书续期\n到期前三十天续期证书。", title="证书管理")
    html = page(web_as(app, "li.reader"), "/search?q=证书快到期了应该提前多少天去续期呢")
    assert '<div class="section">§ 证书续期</div>' in html
    assert 'class="related"' in html and "相关搜索" in html


def test_a_cut_made_of_question_words_is_still_found_as_written(tmp_path):
    # "么如果事" cut from "那么如果事务…": its only content word (事) is no word of the index
    ix = SearchIndex(tmp_path / "index")
    ix.rebuild([doc("tx", "事务", "那么如果事务提交失败，需要回滚。"), *FILLER[:3]], commit="c1")
    assert [h.path for h in ix.search("么如果事", access_levels=SEEN, statuses={"published"}).hits] == ["tx"]
    ix.close()
