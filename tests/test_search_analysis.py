"""Text analysis and query parsing, without an index."""

from __future__ import annotations

from kb.search import analysis
from kb.search.query import parse


def words(text: str) -> dict[str, list[int]]:
    return dict(analysis.analyze(text).words)


def test_chinese_is_segmented_into_words() -> None:
    assert {"变更", "审批", "流程"} <= set(words("变更审批流程"))


def test_english_is_lower_cased_and_stemmed() -> None:
    w = words("Restarting the Servers")
    assert {"restart", "the", "server"} <= set(w)


def test_code_terms_are_kept_whole_and_split_at_the_same_positions() -> None:
    w = words("see ERROR_CODE_42 now")
    assert w["error_code_42"] == w["error"] == [1]
    assert w["code"] == [2] and w["42"] == [3] and w["now"] == [4]
    w = words("edit nginx.conf")
    assert w["nginx.conf"] == w["nginx"] == [1] and w["conf"] == [2]


def test_mixed_sentence() -> None:
    w = words("使用nginx.conf配置502错误")
    assert {"使用", "nginx.conf", "nginx", "conf", "配置", "502", "错误"} <= set(w)


def test_bigrams_cover_every_adjacent_pair_of_a_chinese_run() -> None:
    bg = analysis.analyze("两列会被用到").bigrams
    assert set(bg) == {"两列", "列会", "会被", "被用", "用到"}
    assert [bg[g][0] for g in ("两列", "列会", "会被", "被用", "用到")] == [0, 1, 2, 3, 4]


def test_no_bigram_spans_two_runs() -> None:
    bg = analysis.analyze("数据，库存").bigrams
    assert "据库" not in bg
    assert bg["库存"][0] - bg["数据"][0] > 1


def test_normalisation_full_width_case_and_traditional() -> None:
    assert analysis.normalize("ＥＲＲＯＲ　５０２") == "error 502"
    assert analysis.normalize("變更審批") == "变更审批"
    assert words("資料庫備份") == words("资料库备份")


def test_raw_words_keep_the_unstemmed_form() -> None:
    raw = analysis.analyze("Restarting servers via nginx.conf").raw
    assert {"restarting", "servers", "nginx.conf", "nginx", "conf"} <= set(raw)


def test_parse_filters_exclusions_phrases_and_prefixes() -> None:
    p = parse('审批 -请假 "变更 流程" serv* tag:SLA status:archived path:ops/')
    assert [u.text for u in p.include] == ["审批", "变更 流程", "serv"]
    assert [u.quoted for u in p.include] == [False, True, False]
    assert [u.prefix for u in p.include] == [False, False, True]
    assert [u.text for u in p.exclude] == ["请假"]
    assert (p.tags, p.status, p.path) == (["SLA"], "archived", "ops/")


def test_parse_reads_unknown_fields_and_stray_marks_as_text() -> None:
    p = parse('error:42 "unclosed phrase -')
    assert [u.text for u in p.include] == ["error:42", "unclosed phrase -"]
    assert parse('- * : ""').empty


def test_parse_accepts_full_width_syntax() -> None:
    p = parse("审批　－请假　ｔａｇ：ＳＬＡ")
    assert [u.text for u in p.include] == ["审批"]
    assert [u.text for u in p.exclude] == ["请假"]
    assert p.tags == ["SLA"]
