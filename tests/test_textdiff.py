"""Unified diffs and three-way merges of document text."""

from __future__ import annotations

from kb.versioning import MergeResult, merge3, unified_diff

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
