"""The editor through the Flask test client: submitting from the form, the conflict page's
three-way merge (and refusing to save its markers), errors shown again in a form that still
posts to the document, and the confirmations asked before reverting and leaving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import save
from flask import Flask
from flask.testing import FlaskClient
from test_lifecycle_pages import page, web_as

BODY = "# 备份\n\n每日凌晨两点执行全量备份。\n\n## 联系人\n\n值班 DBA 负责。\n"


@pytest.fixture
def editor_web(app: Flask) -> FlaskClient:
    return web_as(app, "wang.editor")


def form_for(revision: str, body: str, **changes: str) -> dict[str, str]:
    return {
        "title": "备份策略",
        "body": body,
        "tags": "",
        "access": "internal",
        "message": "",
        "base_revision": revision,
        "draft_revision": "",
        "review_by": "",
        "intent": "publish",
        **changes,
    }


def test_submit_for_review_from_the_form_saves_and_submits_the_draft(editor, editor_web, api_as):
    revision = save(editor, "运维/备份", BODY)["revision"]
    sent = editor_web.post("/docs/运维/备份/edit", data=form_for(revision, BODY + "\n补充。\n", intent="submit"))
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/draft")
    draft = editor.get("/api/v1/docs/运维/备份/draft").json
    assert draft["state"] == "submitted" and "补充。" in draft["body"]
    assert "补充。" not in api_as("li.reader").get("/api/v1/docs/运维/备份").json["body"]


def test_an_overlapping_edit_gets_the_merge_with_labelled_markers(editor, editor_web, admin):
    first = save(editor, "运维/备份", BODY)["revision"]
    save(admin, "运维/备份", BODY.replace("凌晨两点", "凌晨三点").replace("值班 DBA", "值班 DBA 王五"))
    mine = BODY.replace("凌晨两点", "晚上十一点")
    answer = editor_web.post("/docs/运维/备份/edit", data=form_for(first, mine))
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    textarea = re.search(r'<textarea name="body"[^>]*>\n(.*?)</textarea>', html, re.S)
    merged = textarea.group(1).replace("&lt;", "<").replace("&gt;", ">")
    # the edit that did not overlap is merged in; the overlapping line stands between markers
    assert "值班 DBA 王五 负责。" in merged
    assert (
        "<<<<<<< 当前版本\n每日凌晨三点执行全量备份。\n=======\n每日晚上十一点执行全量备份。\n>>>>>>> 您的版本\n"
    ) in merged
    assert 'name="resolving" value="1"' in html
    # both whole versions are on the page too
    assert "每日凌晨三点" in html and "每日晚上十一点" in html


def test_saving_a_merge_with_markers_left_in_is_refused_and_keeps_the_text(editor, editor_web):
    revision = save(editor, "运维/备份", BODY)["revision"]
    marked = BODY.replace("每日凌晨两点执行全量备份。\n", "<<<<<<< 当前版本\n甲\n=======\n乙\n>>>>>>> 您的版本\n")
    refused = editor_web.post("/docs/运维/备份/edit", data=form_for(revision, marked, resolving="1"))
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "冲突标记" in html and "&lt;&lt;&lt;&lt;&lt;&lt;&lt; 当前版本" in html
    assert 'action="/docs/%E8%BF%90%E7%BB%B4/%E5%A4%87%E4%BB%BD/edit"' in html  # posts to the document
    assert 'name="resolving" value="1"' in html
    assert editor.get("/api/v1/docs/运维/备份").json["body"] == BODY
    # the same text outside a merge (a document about git, say) is saved as it is
    assert editor_web.post("/docs/运维/备份/edit", data=form_for(revision, marked)).status_code == 302
    assert editor.get("/api/v1/docs/运维/备份").json["body"] == marked


def test_an_input_error_shows_the_form_again_posting_to_the_same_document(editor, editor_web):
    revision = save(editor, "运维/备份", BODY)["revision"]
    refused = editor_web.post("/docs/运维/备份/edit", data=form_for(revision, "新的正文", title=""))
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'action="/docs/%E8%BF%90%E7%BB%B4/%E5%A4%87%E4%BB%BD/edit"' in html and "新的正文" in html


def test_the_history_asks_before_reverting_and_the_form_before_leaving(editor, editor_web):
    save(editor, "运维/备份", BODY)
    save(editor, "运维/备份", BODY + "\n第二版。\n")
    history = page(editor_web, "/docs/运维/备份/history")
    assert 'data-confirm="将版本' in history and "当前版本仍保留在历史中" in history
    edit = page(editor_web, "/docs/运维/备份/edit")
    assert 'data-unsaved="您有未保存的修改' in edit


def test_the_conflict_page_reads_an_unreadable_current_version_as_stored_files_are_read(app, admin, tmp_path):
    """The version that conflicts was written by hand with front matter kb cannot read: the page
    shows it (as the secret, unreadable file it counts as) instead of refusing with a 400."""
    from test_fail_closed import commit_straight_into_git

    from kb.stores import catalog

    first = save(admin, "运维/备份", BODY)["revision"]
    broken = "---\ntitle: [未闭合\n---\n" + BODY.replace("凌晨两点", "凌晨三点")
    commit_straight_into_git(Path(app.config["CONTENT_DIR"]), {"运维/备份": broken.encode()}, tmp_path / "work")
    stores = app.extensions["kb.stores"]
    with stores.store.lock():
        catalog.catch_up(stores.store, stores.index, stores.sessions)
    answer = web_as(app, "admin").post(
        "/docs/运维/备份/edit", data=form_for(first, BODY.replace("凌晨两点", "晚上十一点"))
    )
    assert answer.status_code == 409
    assert "每日凌晨三点" in answer.get_data(as_text=True)
