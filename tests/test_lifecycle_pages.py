"""The lifecycle pages through the Flask test client, logged in with the session cookie: draft
and review, archive and restore, the archive and deleted lists, review due, the side-by-side
diff, and the knowledge base as of a date with its links resolved then."""

from __future__ import annotations

import datetime as dt
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, make_app, page, save, web_as
from flask import Flask
from flask.testing import FlaskClient

from kb.identity import users


@pytest.fixture
def editor_web(app: Flask) -> FlaskClient:
    return web_as(app, "wang.editor")


def test_the_edit_form_saves_a_draft_readers_do_not_see_then_publishes_it(app, editor, editor_web):
    save(editor, "流程/受理", "已发布的正文")
    form = {
        "title": "受理流程",
        "body": "草稿中的正文",
        "tags": "",
        "access": "internal",
        "message": "",
        "base_revision": "",
        "draft_revision": "",
        "review_by": "",
        "intent": "draft",
    }
    saved = editor_web.post("/docs/流程/受理/edit", data=form)
    assert saved.status_code == 302 and unquote(saved.headers["Location"]).endswith("/docs/流程/受理/draft")
    reader = web_as(app, "li.reader")
    assert "草稿中的正文" not in page(reader, "/docs/流程/受理")
    assert "已发布的正文" in page(reader, "/docs/流程/受理")
    draft_page = page(editor_web, "/docs/流程/受理/draft")
    assert "草稿中的正文" in draft_page and "提交评审" in draft_page and "发布" in draft_page
    assert "未发布的草稿" in page(editor_web, "/docs/流程/受理")
    edit = page(editor_web, "/docs/流程/受理/edit")
    assert "草稿中的正文" in edit and "您正在编辑进行中的草稿" in edit
    assert editor_web.post("/docs/流程/受理/draft/publish").status_code == 302
    assert "草稿中的正文" in page(reader, "/docs/流程/受理")
    assert page(reader, "/docs/流程/受理/draft", status=403)


def test_under_review_the_form_only_saves_drafts_and_another_editor_publishes(tmp_path):
    app = make_app(tmp_path / "instance", REQUIRE_REVIEW=True)
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "li.reviewer", PASSWORD, "editor", "secret")
        session.commit()
    author, reviewer = web_as(app, "wang.editor"), web_as(app, "li.reviewer")
    new = page(author, "/new")
    assert "保存草稿" in new and 'value="publish"' not in new and "另一位编辑发布" in new
    form = {
        "path": "新/规范",
        "title": "规范",
        "body": "规范正文",
        "tags": "",
        "access": "internal",
        "message": "",
        "base_revision": "",
        "draft_revision": "",
        "review_by": "",
    }
    refused = author.post("/new", data=form | {"intent": "publish"})
    assert refused.status_code == 403 and "要求评审" in refused.get_data(as_text=True)
    assert author.post("/new", data=form | {"intent": "draft"}).status_code == 302
    assert author.post("/docs/新/规范/draft/submit", data={"comment": "请审阅"}).status_code == 302
    assert "draft/publish" not in page(author, "/docs/新/规范/draft")  # not for the submitter
    returned = reviewer.post("/docs/新/规范/draft/return", data={"comment": ""})
    assert returned.status_code == 400 and "退回的原因" in returned.get_data(as_text=True)
    assert "draft/publish" in page(reviewer, "/docs/新/规范/draft")
    assert reviewer.post("/docs/新/规范/draft/publish").status_code == 302
    assert "规范正文" in page(web_as(app, "li.reader"), "/docs/新/规范")
    app.extensions["kb.stores"].close()


def test_archivists_archive_with_a_reason_see_the_banner_and_restore(app, editor):
    save(editor, "运维/旧监控", "旧的监控方案")
    archivist = web_as(app, "zhao.archivist")
    assert "归档原因" in page(archivist, "/docs/运维/旧监控")
    assert "归档原因" not in page(web_as(app, "wang.editor"), "/docs/运维/旧监控")
    assert archivist.post("/docs/运维/旧监控/archive", data={"reason": "已由新方案取代"}).status_code == 302
    banner = page(archivist, "/docs/运维/旧监控")
    assert "已由新方案取代" in banner and "zhao.archivist" in banner and "archived-banner" in banner
    listing = page(archivist, "/archive")
    assert "运维/旧监控" in listing and "已由新方案取代" in listing
    assert "运维/旧监控" not in page(archivist, "/archive?from=2000-01-01&to=2000-01-02")
    page(web_as(app, "li.reader"), "/docs/运维/旧监控", status=404)
    assert archivist.post("/docs/运维/旧监控/restore").status_code == 302
    assert "archived-banner" not in page(web_as(app, "li.reader"), "/docs/运维/旧监控")
    failed = archivist.post("/docs/运维/旧监控/archive", data={"reason": ""})
    assert failed.status_code == 400 and "请填写归档原因" in failed.get_data(as_text=True)


def test_deleted_documents_are_listed_for_archivists_with_their_last_version(app, editor, admin):
    last = save(editor, "临时/通知", "最后的内容")["revision"]
    assert admin.delete("docs/临时/通知").status_code == 204
    archivist = web_as(app, "zhao.archivist")
    listing = page(archivist, "/archive?show=deleted")
    assert "临时/通知" in listing and f"revision={last}" in listing
    assert "最后的内容" in page(archivist, f"/docs/临时/通知?revision={last}")


def test_review_due_page_marks_overdue_documents(app, editor, editor_web):
    save(editor, "逾期文档", review_by=(dt.date.today() - dt.timedelta(days=1)).isoformat())
    html = page(editor_web, "/review-due")
    assert "逾期文档" in html and "已逾期" in html
    assert "逾期文档" in page(editor_web, "/review-due?mine=1&within=0")
    assert "逾期文档" not in page(web_as(app, "admin"), "/review-due?mine=1")
    page(web_as(app, "li.reader"), "/review-due", status=403)


def test_the_diff_page_shows_both_versions_side_by_side_with_changed_words(editor, editor_web):
    first = save(editor, "流程/受理", "服务请求在四小时内受理。\n")["revision"]
    save(editor, "流程/受理", "服务请求在两小时内受理。\n")
    html = page(editor_web, f"/docs/流程/受理/diff?from={first}")
    assert '<table class="sbs">' in html and "<del>四</del>" in html and "<ins>两</ins>" in html


def test_the_knowledge_base_as_of_a_date_with_links_resolved_then(app, editor, admin, clock):
    save(editor, "指南/入门", "先读 [备份](备份)。")
    save(editor, "指南/备份", "旧的备份步骤")
    clock.advance(1.1)
    # a moment as a person picks it: no offset, in the deployment's zone (KB_TIMEZONE)
    moment = clock.now().astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%dT%H:%M:%S")
    clock.advance(1.1)
    save(editor, "指南/备份", "新的备份步骤")
    archivist = web_as(app, "zhao.archivist")
    picked = archivist.get("/asof", query_string={"date": moment})
    assert picked.status_code == 302
    listing = page(archivist, picked.headers["Location"])
    assert "指南/入门" in listing and "指南/备份" in listing
    entry = page(archivist, f"/asof/{moment}/docs/指南/入门")
    assert f'href="/asof/{moment}/docs/' in entry and "只读" in entry
    old = page(archivist, f"/asof/{moment}/docs/指南/备份")
    assert "旧的备份步骤" in old and "新的备份步骤" not in old
    page(archivist, "/asof/昨天/", status=400)
    page(archivist, "/asof/2026-13-45/", status=400)
    page(web_as(app, "wang.editor"), f"/asof/{moment}/", status=403)


def test_a_moved_document_redirects_its_old_page(app, editor, editor_web):
    save(editor, "旧/位置", "内容")
    editor.post("docs/旧/位置/move", json={"to": "新/位置"})
    moved = editor_web.get("/docs/旧/位置/history")
    assert moved.status_code == 302 and unquote(moved.headers["Location"]) == "/docs/新/位置/history"
    assert editor_web.post("/docs/旧/位置/revert", data={"revision": "abcd"}).status_code == 404
