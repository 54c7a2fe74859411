"""Unified diffs, side-by-side diffs and three-way merges of document text."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from kb.versioning import DiffRow, MergeResult, merge3, side_by_side, unified_diff

BASE = "标题：服务请求受理\n第一步：登记工单。\n第二步：分派工程师。\n第三步：回访用户。\n第四步：关闭工单。\n"


def test_a_unified_diff_has_labels_a_hunk_header_and_marked_lines() -> None:
    new = BASE.replace("第二步：分派工程师。", "第二步：分派值班工程师。")

    diff = unified_diff(BASE, new, "a/服务/受理流程.md", "b/服务/受理流程.md")

    assert diff.splitlines() == [
        "--- a/服务/受理流程.md",
        "+++ b/服务/受理流程.md",
        "@@ -1,5 +1,5 @@",
        " 标题：服务请求受理",
        " 第一步：登记工单。",
        "-第二步：分派工程师。",
        "+第二步：分派值班工程师。",
        " 第三步：回访用户。",
        " 第四步：关闭工单。",
    ]


def test_the_context_size_limits_the_unchanged_lines_shown() -> None:
    new = BASE.replace("第三步", "第三步（可选）")

    diff = unified_diff(BASE, new, "旧", "新", context=0)

    assert diff.splitlines()[2:] == ["@@ -4 +4 @@", "-第三步：回访用户。", "+第三步（可选）：回访用户。"]


def test_equal_texts_have_an_empty_diff() -> None:
    assert unified_diff(BASE, BASE, "旧", "新") == ""


def test_a_missing_final_newline_is_marked_like_git_does() -> None:
    diff = unified_diff("甲\n乙", "甲\n丙\n", "旧", "新")

    assert diff.splitlines()[4:] == ["-乙", "\\ No newline at end of file", "+丙"]


def test_only_newlines_split_lines() -> None:
    # U+2028 and form feeds are content in Markdown, not line ends.
    diff = unified_diff("甲\u2028乙\n", "甲\u2028丙\n", "旧", "新")

    assert diff.split("\n")[2:] == ["@@ -1 +1 @@", "-甲\u2028乙", "+甲\u2028丙", ""]


def test_edits_to_different_lines_merge_cleanly() -> None:
    ours = BASE.replace("第一步：登记工单。", "第一步：在系统中登记工单。")
    theirs = BASE.replace("第四步：关闭工单。", "第四步：确认后关闭工单。")

    result = merge3(BASE, ours, theirs)

    assert result == MergeResult(
        text=BASE.replace("第一步：登记工单。", "第一步：在系统中登记工单。").replace(
            "第四步：关闭工单。", "第四步：确认后关闭工单。"
        ),
        conflicts=False,
    )


def test_the_same_edit_on_both_sides_merges_cleanly() -> None:
    edited = BASE.replace("第三步：回访用户。", "第三步：24 小时内回访用户。")

    assert merge3(BASE, edited, edited) == MergeResult(text=edited, conflicts=False)


def test_an_edit_on_one_side_only_is_taken() -> None:
    theirs = BASE + "第五步：归档。\n"

    assert merge3(BASE, BASE, theirs) == MergeResult(text=theirs, conflicts=False)


def test_overlapping_edits_conflict_and_keep_both_versions_between_markers() -> None:
    ours = BASE.replace("第二步：分派工程师。", "第二步：分派一线工程师。")
    theirs = BASE.replace("第二步：分派工程师。", "第二步：分派二线工程师。")

    result = merge3(BASE, ours, theirs)

    assert result.conflicts
    assert result.text.splitlines() == [
        "标题：服务请求受理",
        "第一步：登记工单。",
        "<<<<<<< ours",
        "第二步：分派一线工程师。",
        "=======",
        "第二步：分派二线工程师。",
        ">>>>>>> theirs",
        "第三步：回访用户。",
        "第四步：关闭工单。",
    ]


def test_a_conflict_on_a_last_line_without_newline_keeps_markers_on_their_own_lines() -> None:
    result = merge3("甲\n乙", "甲\n乙一", "甲\n乙二")

    assert result.conflicts
    assert result.text == "甲\n<<<<<<< ours\n乙一\n=======\n乙二\n>>>>>>> theirs\n"


# ---------------------------------------------------------------- side by side


def _shape(rows: list[DiffRow]) -> list[tuple[str, int | None, int | None, int]]:
    return [(row.kind, row.old_number, row.new_number, row.hidden) for row in rows]


def test_equal_texts_fold_into_a_single_skip_row() -> None:
    assert side_by_side(BASE, BASE) == [DiffRow("skip", 1, 1, Markup(""), Markup(""), hidden=5)]


def test_two_empty_texts_have_no_rows() -> None:
    assert side_by_side("", "") == []


def test_a_changed_chinese_character_is_marked_alone() -> None:
    rows = side_by_side("服务请求在四小时内受理\n", "服务请求在两小时内受理\n")

    assert rows == [
        DiffRow(
            "change", 1, 1, Markup("服务请求在<del>四</del>小时内受理"), Markup("服务请求在<ins>两</ins>小时内受理")
        )
    ]


def test_latin_words_next_to_chinese_are_words_of_their_own() -> None:
    [row] = side_by_side("登录VPN网关后重启\n", "登录SSL网关后重启\n")

    assert (row.old, row.new) == ("登录<del>VPN</del>网关后重启", "登录<ins>SSL</ins>网关后重启")


def test_a_changed_english_word_is_marked_as_a_whole_word() -> None:
    [row] = side_by_side("Restart the backup server first.\n", "Restart the database server first.\n")

    assert row.kind == "change"
    assert row.old == "Restart the <del>backup</del> server first."
    assert row.new == "Restart the <ins>database</ins> server first."


def test_adjacent_changed_tokens_merge_into_one_element() -> None:
    [row] = side_by_side("甲乙丙丁\n", "甲一二丁\n")

    assert (row.old, row.new) == ("甲<del>乙丙</del>丁", "甲<ins>一二</ins>丁")


def test_html_in_the_text_is_escaped_on_every_kind_of_row() -> None:
    old = "<b>同</b>\n<script>alert(1)</script>\n<i>删</i>\n"
    new = "<b>同</b>\n<script>alert(2)</script>\n<img src=x onerror=alert(3)>\n<u>增</u>\n"

    rows = side_by_side(old, new)

    assert [row.kind for row in rows] == ["equal", "change", "change", "insert"]
    html = "".join(row.old + row.new for row in rows)
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<u>" not in html
    assert rows[1].old == "&lt;script&gt;alert(<del>1</del>)&lt;/script&gt;"
    assert rows[3].new == "&lt;u&gt;增&lt;/u&gt;"
    assert all(isinstance(side, Markup) for row in rows for side in (row.old, row.new))


def test_removed_and_added_lines_have_a_number_on_their_side_only() -> None:
    old = "甲\n乙\n丙\n"
    new = "甲\n丙\n丁\n"

    rows = side_by_side(old, new)

    assert rows == [
        DiffRow("equal", 1, 1, Markup("甲"), Markup("甲")),
        DiffRow("delete", 2, None, Markup("乙"), Markup("")),
        DiffRow("equal", 3, 2, Markup("丙"), Markup("丙")),
        DiffRow("insert", None, 3, Markup(""), Markup("丁")),
    ]


def test_extra_lines_of_a_replaced_block_become_deletes_or_inserts() -> None:
    rows = side_by_side("头\n一号\n尾\n", "头\n二号\n三号\n四号\n尾\n")

    assert _shape(rows) == [
        ("equal", 1, 1, 0),
        ("change", 2, 2, 0),
        ("insert", None, 3, 0),
        ("insert", None, 4, 0),
        ("equal", 3, 5, 0),
    ]
    assert rows[2].new == "三号"  # a whole inserted line has no inner <ins>


def test_long_unchanged_runs_fold_keeping_the_context_next_to_changes() -> None:
    old = "".join(f"第{n}行\n" for n in range(1, 31))
    new = old.replace("第10行", "第十行").replace("第25行", "第二十五行")

    rows = side_by_side(old, new)

    assert _shape(rows) == [
        ("skip", 1, 1, 6),  # 1-6 hidden; the start keeps no lines before them
        ("equal", 7, 7, 0),
        ("equal", 8, 8, 0),
        ("equal", 9, 9, 0),
        ("change", 10, 10, 0),
        ("equal", 11, 11, 0),
        ("equal", 12, 12, 0),
        ("equal", 13, 13, 0),
        ("skip", 14, 14, 8),  # 14-21
        ("equal", 22, 22, 0),
        ("equal", 23, 23, 0),
        ("equal", 24, 24, 0),
        ("change", 25, 25, 0),
        ("equal", 26, 26, 0),
        ("equal", 27, 27, 0),
        ("equal", 28, 28, 0),
        ("skip", 29, 29, 2),  # 29-30
    ]
    assert rows[0].old == rows[0].new == ""


def test_runs_up_to_twice_the_context_are_not_folded() -> None:
    old = "".join(f"{n}\n" for n in range(1, 11))
    new = old.replace("1\n", "一\n", 1).replace("10\n", "十\n")  # 8 unchanged lines in between

    assert [row.kind for row in side_by_side(old, new, context=4)] == ["change"] + ["equal"] * 8 + ["change"]
    assert _shape(side_by_side(old, new, context=3)) == [
        ("change", 1, 1, 0),
        ("equal", 2, 2, 0),
        ("equal", 3, 3, 0),
        ("equal", 4, 4, 0),
        ("skip", 5, 5, 2),
        ("equal", 7, 7, 0),
        ("equal", 8, 8, 0),
        ("equal", 9, 9, 0),
        ("change", 10, 10, 0),
    ]


def test_line_numbers_shift_after_inserted_lines() -> None:
    old = "".join(f"{n}\n" for n in range(1, 21))
    new = old.replace("2\n", "2\n新甲\n新乙\n", 1).replace("18\n", "十八\n")

    rows = side_by_side(old, new, context=1)

    assert _shape(rows) == [
        ("skip", 1, 1, 1),
        ("equal", 2, 2, 0),
        ("insert", None, 3, 0),
        ("insert", None, 4, 0),
        ("equal", 3, 5, 0),
        ("skip", 4, 6, 13),
        ("equal", 17, 19, 0),
        ("change", 18, 20, 0),
        ("equal", 19, 21, 0),
        ("skip", 20, 22, 1),
    ]


def test_a_text_without_a_final_newline_keeps_its_last_line() -> None:
    rows = side_by_side("甲\n乙", "甲\n乙\n丙")

    assert rows == [
        DiffRow("equal", 1, 1, Markup("甲"), Markup("甲")),
        DiffRow("equal", 2, 2, Markup("乙"), Markup("乙")),
        DiffRow("insert", None, 3, Markup(""), Markup("丙")),
    ]


def test_from_or_to_an_empty_text_every_line_is_deleted_or_inserted() -> None:
    assert _shape(side_by_side("", "甲\n乙\n")) == [("insert", None, 1, 0), ("insert", None, 2, 0)]
    assert _shape(side_by_side("甲\n乙", "")) == [("delete", 1, None, 0), ("delete", 2, None, 0)]


def test_only_newlines_split_lines_side_by_side() -> None:
    # "\r" of a CRLF file, U+2028 and form feeds stay content of the line.
    old = "甲\r\n乙\u2028丙\f丁\r\n"
    new = "甲\r\n乙\u2028戊\f丁\r\n"

    rows = side_by_side(old, new)

    assert _shape(rows) == [("equal", 1, 1, 0), ("change", 2, 2, 0)]
    assert rows[0].old == "甲\r"
    assert (rows[1].old, rows[1].new) == ("乙\u2028<del>丙</del>\f丁\r", "乙\u2028<ins>戊</ins>\f丁\r")


def test_a_negative_context_is_refused() -> None:
    with pytest.raises(ValueError):
        side_by_side("甲\n", "乙\n", context=-1)
