"""Searching: what a reader types and what comes back (real Whoosh index on tmp_path)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb.search import IndexedDoc, SearchIndex

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
EVERYONE = {"public", "internal"}
PUBLISHED = {"published"}


def doc(
    path: str,
    title: str,
    body: str,
    *,
    tags: list[str] | None = None,
    access: str = "internal",
    status: str = "published",
    minutes: int = 0,
) -> IndexedDoc:
    return IndexedDoc(
        path=path,
        title=title,
        body=body,
        tags=tags or [],
        access=access,
        status=status,
        owner="zhang.wei",
        updated_at=T0 + dt.timedelta(minutes=minutes),
        revision="r" + path,
    )


DOCS = [
    doc(
        "ops/change-approval",
        "变更审批流程",
        "所有生产变更必须经过变更审批。紧急变更由值班经理审批，并在 24 小时内补录。",
        tags=["变更", "ITIL"],
    ),
    doc("hr/leave", "请假审批", "请假需要主管审批。变更请假日期需要重新提交申请。", tags=["人事"]),
    doc(
        "ops/nginx-502",
        "Nginx 502 错误排查",
        "当 nginx.conf 中 upstream 配置错误时，网关会返回 502 Bad Gateway。请检查 error.log。",
        tags=["nginx", "故障"],
    ),
    doc(
        "dev/error-codes",
        "Error codes",
        "ERROR_CODE_42 means the payment service timed out. Restart the payment service and retry.",
    ),
    doc(
        "ops/server-restart",
        "Restarting servers",
        "How to restart the application servers safely: drain the load balancer first.",
    ),
    doc("ops/k8s-deploy", "使用 Kubernetes 部署服务", "在 k8s 集群中用 kubectl apply 部署 service 与 deployment。"),
    doc("sec/relocation", "数据中心迁移计划", "代号北极星：核心数据中心将迁往新加坡。", access="confidential"),
    doc("ops/old-approval", "旧版变更审批流程", "已经废弃的变更审批流程，仅供查阅。", status="archived"),
    doc("dev/xss", "跨站脚本示例", "示例：<script>alert('x')</script> 会被执行，跨站脚本攻击 a < b & c。"),
    doc("ops/backup-tw", "資料庫備份", "每日凌晨進行資料庫備份，保留三十天。"),
    doc("ops/monitoring", "监控告警", "监控系统发现服务器 CPU 过高时发送告警。"),
    doc("ops/twin-old", "同名文档", "孪生文档内容完全相同。", minutes=1),
    doc("ops/twin-new", "同名文档", "孪生文档内容完全相同。", minutes=50),
    *[doc(f"gen/page-{i:02d}", f"分页测试 {i}", f"分页测试文档，编号 {i}。", minutes=i) for i in range(25)],
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    ix = SearchIndex(tmp_path_factory.mktemp("search") / "index")
    ix.rebuild(DOCS, commit="c1", total=len(DOCS))
    yield ix
    ix.close()


def find(
    index: SearchIndex, q: str, *, access: set[str] = EVERYONE, statuses: set[str] = PUBLISHED, **kwargs: object
) -> list[str]:
    return [h.path for h in index.search(q, access_levels=access, statuses=statuses, **kwargs).hits]


# Chinese, English, mixed


def test_chinese_words_find_the_document(index: SearchIndex) -> None:
    assert set(find(index, "审批")) == {"ops/change-approval", "hr/leave"}
    assert find(index, "值班经理") == ["ops/change-approval"]


def test_chinese_query_cut_mid_word_matches_the_sentence(index: SearchIndex) -> None:
    assert find(index, "经过变更审")[0] == "ops/change-approval"
    assert find(index, "由值班经")[0] == "ops/change-approval"


def test_title_match_ranks_above_body_match(index: SearchIndex) -> None:
    hits = find(index, "变更审批")
    assert hits[0] == "ops/change-approval"
    assert "hr/leave" in hits  # both words in the body, not side by side


def test_english_words_are_stemmed(index: SearchIndex) -> None:
    assert find(index, "restart server")[0] == "ops/server-restart"
    assert find(index, "restarted servers")[0] == "ops/server-restart"
    assert "dev/error-codes" in find(index, "services")


def test_code_terms(index: SearchIndex) -> None:
    assert find(index, "ERROR_CODE_42") == ["dev/error-codes"]
    assert find(index, "error_code_42") == ["dev/error-codes"]
    assert find(index, "nginx.conf")[0] == "ops/nginx-502"
    assert find(index, "502") == ["ops/nginx-502"]
    assert find(index, "error.log")[0] == "ops/nginx-502"


def test_part_of_a_code_term_matches(index: SearchIndex) -> None:
    assert "ops/nginx-502" in find(index, "upstream conf")
    assert "dev/error-codes" in find(index, "code 42")


def test_mixed_chinese_and_english(index: SearchIndex) -> None:
    assert find(index, "nginx 错误")[0] == "ops/nginx-502"
    assert find(index, "Kubernetes部署")[0] == "ops/k8s-deploy"
    assert find(index, "kubectl 集群")[0] == "ops/k8s-deploy"


# Phrases, exclusion, prefix


def test_quoted_phrase_requires_the_words_side_by_side(index: SearchIndex) -> None:
    assert set(find(index, '"变更审批"')) == {"ops/change-approval"}
    assert "hr/leave" in find(index, "变更 审批")


def test_quoted_english_phrase(index: SearchIndex) -> None:
    assert find(index, '"payment service"') == ["dev/error-codes"]
    assert find(index, '"service payment"') == []


def test_exclude(index: SearchIndex) -> None:
    assert "hr/leave" in find(index, "审批")
    assert "hr/leave" not in find(index, "审批 -请假")
    assert find(index, "审批 -请假")[0] == "ops/change-approval"
    assert "hr/leave" not in find(index, '审批 -"主管审批"')


def test_prefix(index: SearchIndex) -> None:
    hits = find(index, "serv*")
    assert {"ops/server-restart", "dev/error-codes", "ops/k8s-deploy"} <= set(hits)
    assert find(index, "kubect*") == ["ops/k8s-deploy"]


# Filters


def test_tag_filter(index: SearchIndex) -> None:
    assert find(index, "tag:nginx 错误") == ["ops/nginx-502"]
    assert find(index, "错误", tag="nginx") == ["ops/nginx-502"]
    assert find(index, "审批 tag:itil") == ["ops/change-approval"]  # tags compare case-insensitively
    assert find(index, "审批", tag="不存在") == []


def test_path_prefix_filter(index: SearchIndex) -> None:
    assert find(index, "审批 path:ops/") == ["ops/change-approval"]
    assert find(index, "审批", path_prefix="hr/") == ["hr/leave"]
    assert find(index, "审批 path:ops/", path_prefix="hr/") == []  # both prefixes apply


def test_status_filter_and_archived_documents(index: SearchIndex) -> None:
    both = {"published", "archived"}
    # Archived documents only when asked for, and only for callers who may see them.
    assert "ops/old-approval" not in find(index, "变更审批", statuses=both)
    assert find(index, "status:archived 变更审批", statuses=both) == ["ops/old-approval"]
    assert find(index, "变更审批", statuses=both, status="archived") == ["ops/old-approval"]
    assert {"ops/old-approval", "ops/change-approval"} <= set(find(index, "变更审批 status:all", statuses=both))
    assert find(index, "status:archived 变更审批") == []
    assert "ops/old-approval" not in find(index, "变更审批 status:all")


# AND, OR fallback, did you mean


def test_all_words_required_when_possible(index: SearchIndex) -> None:
    result = index.search("变更 主管", access_levels=EVERYONE, statuses=PUBLISHED)
    assert [h.path for h in result.hits] == ["hr/leave"]
    assert result.total == 1


def test_falls_back_to_any_word_when_no_document_has_all(index: SearchIndex) -> None:
    result = index.search("主管 火星基地", access_levels=EVERYONE, statuses=PUBLISHED)
    assert result.total >= 1
    assert result.hits[0].path == "hr/leave"


def test_did_you_mean(index: SearchIndex) -> None:
    result = index.search("restrat", access_levels=EVERYONE, statuses=PUBLISHED)
    assert result.suggestion == "restart"
    result = index.search("paymnet service", access_levels=EVERYONE, statuses=PUBLISHED)
    assert result.suggestion == "payment service"
    assert index.search("payment", access_levels=EVERYONE, statuses=PUBLISHED).suggestion is None


# Pagination, ordering


def test_pagination_with_correct_totals(index: SearchIndex) -> None:
    pages = [
        index.search("分页测试", access_levels=EVERYONE, statuses=PUBLISHED, limit=10, offset=o)
        for o in (0, 10, 20, 30)
    ]
    assert [p.total for p in pages] == [25, 25, 25, 25]
    assert [len(p.hits) for p in pages] == [10, 10, 5, 0]
    paths = [h.path for p in pages for h in p.hits]
    assert len(paths) == len(set(paths)) == 25


def test_limit_is_capped(index: SearchIndex) -> None:
    result = index.search("分页测试", access_levels=EVERYONE, statuses=PUBLISHED, limit=10_000)
    assert len(result.hits) == 25
    assert index.search("分页测试", access_levels=EVERYONE, statuses=PUBLISHED, limit=-5).hits == []


def test_equal_scores_put_the_newer_document_first(index: SearchIndex) -> None:
    assert find(index, "孪生文档") == ["ops/twin-new", "ops/twin-old"]


def test_hits_carry_the_document_fields(index: SearchIndex) -> None:
    hit = index.search("kubectl", access_levels=EVERYONE, statuses=PUBLISHED).hits[0]
    assert hit.title == "使用 Kubernetes 部署服务"
    assert (hit.access, hit.status, hit.tags) == ("internal", "published", [])
    assert hit.updated_at == T0
    assert hit.score > 0


# Snippets


def test_snippet_marks_the_matches(index: SearchIndex) -> None:
    hit = index.search("值班经理", access_levels=EVERYONE, statuses=PUBLISHED).hits[0]
    assert "<mark>值班经理</mark>" in hit.snippet
    hit = index.search("restart servers", access_levels=EVERYONE, statuses=PUBLISHED).hits[0]
    assert "<mark>restart</mark>" in hit.snippet and "<mark>servers</mark>" in hit.snippet


def test_snippet_is_escaped_html(index: SearchIndex) -> None:
    hit = index.search("跨站脚本", access_levels=EVERYONE, statuses=PUBLISHED).hits[0]
    assert "<mark>跨站脚本</mark>" in hit.snippet
    assert "<script" not in hit.snippet
    assert "a &lt; b &amp; c" in hit.snippet
    assert hit.snippet.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_snippet_of_a_long_document_is_short(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    body = "无关内容。" * 2000 + "关键的故障根因在这里。" + "无关内容。" * 2000
    ix.apply([doc("long", "长文档", body)], [], commit="c1")
    snippet = ix.search("故障根因", access_levels=EVERYONE, statuses=PUBLISHED).hits[0].snippet
    assert "<mark>故障根因</mark>" in snippet
    assert len(snippet) < 300
    ix.close()


# Access


def test_documents_above_clearance_do_not_exist(index: SearchIndex) -> None:
    result = index.search("北极星", access_levels=EVERYONE, statuses=PUBLISHED)
    assert (result.total, result.hits, result.suggestion) == (0, [], None)
    # Not through the OR fallback either, nor through a filter or a page.
    result = index.search("北极星 新加坡 数据中心", access_levels=EVERYONE, statuses=PUBLISHED)
    assert "sec/relocation" not in [h.path for h in result.hits]
    assert index.search("迁移 path:sec/", access_levels=EVERYONE, statuses=PUBLISHED).total == 0
    cleared = index.search("北极星", access_levels=EVERYONE | {"confidential"}, statuses=PUBLISHED)
    assert [h.path for h in cleared.hits] == ["sec/relocation"]
    assert "<mark>北极星</mark>" in cleared.hits[0].snippet


def test_public_only_caller(index: SearchIndex) -> None:
    assert index.search("审批", access_levels={"public"}, statuses=PUBLISHED).total == 0
    assert index.search("审批", access_levels=set(), statuses=PUBLISHED).total == 0


def test_suggestions_come_only_from_visible_documents(tmp_path: Path) -> None:
    ix = SearchIndex(tmp_path / "index")
    ix.apply(
        [
            doc("s/x", "Secret", "the quantumleap project", access="secret"),
            doc("p/y", "Public", "nothing to see", access="public"),
        ],
        [],
        commit="c1",
    )
    assert ix.search("quantumleep", access_levels={"public"}, statuses=PUBLISHED).suggestion is None
    assert ix.search("quantumleep", access_levels={"public", "secret"}, statuses=PUBLISHED).suggestion == "quantumleap"
    ix.close()


# Normalisation


def test_full_width_query(index: SearchIndex) -> None:
    assert find(index, "ＥＲＲＯＲ＿ＣＯＤＥ＿４２") == ["dev/error-codes"]
    assert find(index, "５０２") == ["ops/nginx-502"]
    assert find(index, "ｎｇｉｎｘ　错误")[0] == "ops/nginx-502"


def test_traditional_and_simplified_find_each_other(index: SearchIndex) -> None:
    assert find(index, "變更審批")[0] == "ops/change-approval"
    # Character by character: 資料庫 -> 资料库 (regional vocabulary such as 数据库 is not mapped).
    assert find(index, "资料库备份") == ["ops/backup-tw"]
    hit = index.search("资料库备份", access_levels=EVERYONE, statuses=PUBLISHED).hits[0]
    assert "<mark>資料庫備份</mark>" in hit.snippet


# Bad input


def test_a_pasted_paragraph_counts_by_its_beginning(index: SearchIndex) -> None:
    pasted = "所有生产变更必须经过变更审批。" + "与此无关的内容。" * 300
    assert find(index, pasted)[0] == "ops/change-approval"


def test_empty_query_finds_nothing(index: SearchIndex) -> None:
    for q in ("", "   ", "\t\n", "-", '""', "tag:nginx"):
        result = index.search(q, access_levels=EVERYONE, statuses=PUBLISHED)
        assert (result.total, result.hits) == (0, []), q


@pytest.mark.parametrize(
    "q",
    [
        '"unclosed 审批',
        "-",
        "--x",
        "***",
        ":::",
        "tag:",
        'path:"',
        '-"审批"',
        "a:b:c",
        "(审批",
        "审批)",
        "[x]",
        "\x00\x01",
        "🙂",
        "AND OR NOT",
        "审批" * 500,
        "status:bogus 审批",
        'tag:"" 审批',
        "*审批",
        "serv**",
        "http://x.y/z?a=1",
    ],
)
def test_odd_syntax_never_raises(index: SearchIndex, q: str) -> None:
    result = index.search(q, access_levels=EVERYONE, statuses=PUBLISHED)
    assert result.query == q
    assert result.total >= len(result.hits)
