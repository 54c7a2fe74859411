"""The home dashboard, the browse page and the search page, through the Flask test client logged in
with the session cookie (and one phone-sized check in a real Chromium).

The dashboard shows what the user may see and nothing else: the recently viewed paths kept in the
session are looked up again on every visit, popular tags are counted over visible documents only.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from conftest import PASSWORD, page, save, web_as

from kb.identity import users
from kb.services import documents


def panel(html: str, name: str) -> str | None:
    """The HTML of one dashboard panel (``<section id="panel-…">``), None when it is not there."""
    found = re.search(rf'<section[^>]*id="panel-{name}".*?</section>', html, re.S)
    return found.group(0) if found else None


def main(html: str) -> str:
    return html[html.index("<main") :]


@pytest.fixture
def docs(editor: Any, admin: Any) -> None:
    save(editor, "运维/数据库备份策略", "每日全量备份，保留三十天。", title="数据库备份策略", tags=["备份", "数据库"])
    save(editor, "运维/监控告警", "告警分级与值班。", title="监控告警", tags=["监控"])
    save(editor, "服务台/服务时间", "工作日受理请求。", title="服务时间", tags=["服务台"], access="public")
    save(admin, "安全/应急联系人", "机密联系人名单。", title="应急联系人", tags=["机密标签"], access="confidential")


# ---------------------------------------------------------------- the dashboard


def test_the_dashboard_has_a_labelled_search_box_and_the_recently_updated_documents(app, docs):
    html = page(web_as(app, "li.reader"), "/")
    form = re.search(r"<form[^>]*home-search[^>]*>.*?</form>", html, re.S).group(0)
    assert 'action="/search"' in form and 'method="get"' in form
    assert re.search(r'<input id="home-q" type="search" name="q" autofocus', form)
    assert '<label class="visually-hidden" for="home-q">' in form
    updated = panel(html, "updated")
    assert "数据库备份策略" in updated and "服务时间" in updated and "监控告警" in updated
    assert "应急联系人" not in main(html)  # above the reader's clearance: nowhere on the page
    assert 'href="/browse"' in html


def test_panels_follow_the_role(app, docs):
    reader = page(web_as(app, "li.reader"), "/")
    assert panel(reader, "drafts") is None and panel(reader, "due") is None and panel(reader, "archived") is None
    assert 'href="/new"' not in reader
    editor = page(web_as(app, "wang.editor"), "/")
    assert panel(editor, "drafts") is not None and panel(editor, "due") is not None
    assert panel(editor, "archived") is None
    assert 'href="/new"' in main(editor)
    archivist = page(web_as(app, "zhao.archivist"), "/")
    assert panel(archivist, "archived") is not None and 'href="/archive"' in panel(archivist, "archived")


def test_an_editor_sees_their_own_drafts_not_the_others(app, editor, admin, docs):
    mine = editor.put("docs/运维/监控告警/draft", json={"title": "监控告警（修订中）", "body": "新的告警分级"})
    assert mine.status_code == 201
    assert admin.put("docs/运维/新的草稿/draft", json={"title": "别人的草稿", "body": "正文"}).status_code == 201
    drafts = panel(page(web_as(app, "wang.editor"), "/"), "drafts")
    assert "监控告警（修订中）" in drafts and 'href="/docs/运维/监控告警/draft"' in drafts
    assert "别人的草稿" not in drafts
    assert 'href="/drafts"' in drafts
    # a draft the editor submitted stays theirs after a reviewer sent it back
    assert editor.post("docs/运维/监控告警/draft/submit", json={}).status_code == 200
    assert admin.post("docs/运维/监控告警/draft/return", json={"comment": "请补充"}).status_code == 200
    assert "监控告警（修订中）" in panel(page(web_as(app, "wang.editor"), "/"), "drafts")
    assert "别人的草稿" in panel(page(web_as(app, "admin"), "/"), "drafts")


def test_an_editor_sees_their_documents_due_for_review(app, editor, admin):
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    save(editor, "流程/逾期文档", title="逾期文档", review_by=yesterday)
    later = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    save(editor, "流程/明年的文档", title="明年的文档", review_by=later)
    save(admin, "流程/别人的文档", title="别人的文档", review_by=yesterday)
    due = panel(page(web_as(app, "wang.editor"), "/"), "due")
    assert "逾期文档" in due and "明年的文档" not in due and "别人的文档" not in due
    assert 'href="/review-due?mine=1"' in due


def test_an_archivist_sees_the_recently_archived(app, editor, api_as, docs):
    archivist = api_as("zhao.archivist")
    assert archivist.post("docs/运维/监控告警/archive", json={"reason": "已被新方案取代"}).status_code == 200
    archived = panel(page(web_as(app, "zhao.archivist"), "/"), "archived")
    assert "监控告警" in archived
    assert "监控告警" not in panel(page(web_as(app, "zhao.archivist"), "/"), "updated")  # published ones only
    assert "监控告警" not in main(page(web_as(app, "li.reader"), "/"))


# ---------------------------------------------------------------- recently viewed


def test_viewed_documents_appear_newest_first(app, docs):
    reader = web_as(app, "li.reader")
    assert "数据库备份策略" not in panel(page(reader, "/"), "viewed")
    page(reader, "/docs/运维/数据库备份策略")
    page(reader, "/docs/服务台/服务时间")
    viewed = panel(page(reader, "/"), "viewed")
    assert viewed.index("服务时间") < viewed.index("数据库备份策略")
    assert "监控告警" not in viewed
    page(reader, "/docs/运维/数据库备份策略")  # viewed again: first again, listed once
    viewed = panel(page(reader, "/"), "viewed")
    assert viewed.index("数据库备份策略") < viewed.index("服务时间") and viewed.count(">数据库备份策略</a>") == 1


def test_a_viewed_document_raised_above_the_readers_clearance_disappears(app, admin, docs):
    reader = web_as(app, "li.reader")
    page(reader, "/docs/运维/数据库备份策略")
    assert "数据库备份策略" in panel(page(reader, "/"), "viewed")
    save(admin, "运维/数据库备份策略", "每日全量备份，保留三十天。", title="数据库备份策略", access="confidential")
    html = page(reader, "/")
    assert "数据库备份策略" not in main(html)
    assert "备份" not in panel(html, "tags")  # nor do its tags count as the reader's


def test_deleted_and_moved_documents_drop_out_of_the_viewed_list(app, admin, editor, docs):
    reader = web_as(app, "li.reader")
    page(reader, "/docs/运维/数据库备份策略")
    page(reader, "/docs/运维/监控告警")
    assert admin.delete("docs/运维/数据库备份策略").status_code in (200, 204)
    assert editor.post("docs/运维/监控告警/move", json={"to": "运维/告警/监控告警"}).status_code == 200
    viewed = panel(page(reader, "/"), "viewed")
    assert "数据库备份策略" not in viewed and "监控告警" not in viewed


def test_only_current_versions_are_remembered_and_logging_out_forgets(app, editor, docs):
    first = save(editor, "运维/变更流程", "第一版", title="变更流程")["revision"]
    save(editor, "运维/变更流程", "第二版", title="变更流程")
    web = web_as(app, "wang.editor")
    page(web, f"/docs/运维/变更流程?revision={first}")
    assert "变更流程" not in panel(page(web, "/"), "viewed")
    page(web, "/docs/运维/变更流程")
    assert "变更流程" in panel(page(web, "/"), "viewed")
    assert web.post("/logout").status_code == 302
    assert web.post("/login", data={"username": "wang.editor", "password": PASSWORD}).status_code == 302
    assert "变更流程" not in panel(page(web, "/"), "viewed")


def test_a_viewed_list_is_the_viewers_own(app, docs):
    """The list names its user: a session cookie whose list is another user's shows nothing."""
    web = web_as(app, "li.reader")
    page(web, "/docs/运维/数据库备份策略")
    with web.session_transaction() as session:
        session["kb_viewed"] = {"user": "someone.else", "paths": ["运维/数据库备份策略"]}
    assert "数据库备份策略" not in panel(page(web, "/"), "viewed")


def test_a_long_viewed_list_is_capped(app, editor):
    for n in range(15):
        save(editor, f"批量/文档{n:02d}", title=f"批量文档{n:02d}")
    web = web_as(app, "wang.editor")
    for n in range(15):
        page(web, f"/docs/批量/文档{n:02d}")
    viewed = panel(page(web, "/"), "viewed")
    assert "批量文档14" in viewed and "批量文档03" in viewed and "批量文档02" not in viewed


# ---------------------------------------------------------------- tags


def test_popular_tags_count_only_documents_the_user_may_see(app, editor, admin, docs):
    save(editor, "运维/备份恢复", "恢复演练。", title="备份恢复", tags=["备份"])
    save(admin, "安全/机密二", "机密。", title="机密二", tags=["机密标签"], access="confidential")
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        reader = users.principal(users.get_user(session, "li.reader"))
        boss = users.principal(users.get_user(session, "admin"))
        assert documents.popular_tags(session, reader, 10)[0] == ("备份", 2)
        assert "机密标签" not in dict(documents.popular_tags(session, reader, 10))
        assert dict(documents.popular_tags(session, boss, 10))["机密标签"] == 2
    html = page(web_as(app, "li.reader"), "/")
    tags = panel(html, "tags")
    assert 'href="/browse?tag=备份"' in tags and "机密标签" not in main(html)
    assert "机密标签" in panel(page(web_as(app, "admin"), "/"), "tags")


def test_your_tags_come_from_the_documents_you_viewed(app, docs):
    reader = web_as(app, "li.reader")
    page(reader, "/docs/服务台/服务时间")
    tags = panel(page(reader, "/"), "tags")
    assert "服务台" in tags and "监控" not in tags and "备份" not in tags


# ---------------------------------------------------------------- browse


def test_browse_lists_and_filters_by_folder_tag_and_status(app, api_as, docs):
    reader = web_as(app, "li.reader")
    html = page(reader, "/browse")
    assert "数据库备份策略" in html and "服务时间" in html and "应急联系人" not in html
    folder = page(reader, "/browse?prefix=运维")
    assert "数据库备份策略" in folder and "监控告警" in folder and "服务时间" not in folder
    assert 'action="/browse"' in folder and 'href="/browse?prefix=运维"' in folder  # the folder links
    tagged = page(reader, "/browse?tag=备份")
    assert "数据库备份策略" in tagged and "监控告警" not in tagged
    assert 'href="/browse?tag=数据库"' in tagged  # the tag links lead here too
    assert "应急联系人" not in page(reader, "/browse?tag=机密标签")
    assert api_as("zhao.archivist").post("docs/运维/监控告警/archive", json={"reason": "过时"}).status_code == 200
    archivist = web_as(app, "zhao.archivist")
    assert "监控告警" not in page(archivist, "/browse")
    assert "监控告警" in page(archivist, "/browse?status=archived")
    assert "监控告警" not in page(reader, "/browse?status=archived")


def test_a_folder_filter_leaves_out_a_folder_whose_name_begins_the_same(app, editor, api_as, docs):
    save(editor, "运维组/值班表", "本周备份值班安排。", title="运维组值班表", tags=["备份"])
    reader = web_as(app, "li.reader")
    assert "运维组值班表" in page(reader, "/browse?prefix=运维组")
    for url in ("/browse?prefix=运维", "/browse?prefix=运维/", "/search?q=备份&prefix=运维"):
        html = page(reader, url)
        assert "数据库备份策略" in html and "运维组值班表" not in html, url
    archivist = api_as("zhao.archivist")
    for path in ("运维组/值班表", "运维/监控告警"):
        assert archivist.post(f"docs/{path}/archive", json={"reason": "过时"}).status_code == 200
    archive = page(web_as(app, "zhao.archivist"), "/archive?prefix=运维")
    assert "监控告警" in archive and "运维组值班表" not in archive


def test_the_document_page_links_its_folders_and_tags_to_browse(app, docs):
    html = page(web_as(app, "li.reader"), "/docs/运维/数据库备份策略")
    assert 'href="/browse?prefix=运维"' in html and 'href="/browse?tag=备份"' in html
    assert "/?prefix=" not in html and "/?tag=" not in html


# ---------------------------------------------------------------- search


def test_search_filters_by_folder(app, editor, docs):
    save(editor, "服务台/备份申请", "用户申请恢复备份文件。", title="备份申请", tags=["备份"])
    reader = web_as(app, "li.reader")
    everywhere = page(reader, "/search?q=备份")
    assert "数据库备份策略" in everywhere and "备份申请" in everywhere
    folder = page(reader, "/search?q=备份&prefix=运维")
    assert "数据库备份策略" in folder and "备份申请" not in folder
    assert 'name="prefix" value="运维"' in folder  # the filter stays in the form
    assert "/search?q=备份" in folder  # the chip removing it
    assert "数据库备份策略" not in page(reader, "/search?q=备份&prefix=/服务台/")


def test_nothing_found_says_what_to_try(app, docs):
    reader = web_as(app, "li.reader")
    html = page(reader, "/search?q=数据库&prefix=服务台&tag=服务台")
    empty = html[html.index('class="search-empty"') :]
    assert 'href="/search?q=数据库&amp;tag=服务台"' in empty  # the folder filter removed
    assert 'href="/search?q=数据库&amp;prefix=服务台"' in empty  # the tag filter removed
    assert 'href="/search?q=数据库"' in empty  # both
    assert "tag:SLA" in empty and "path:02-process" in empty  # the syntax, as tips
    assert 'href="/browse?tag=备份"' in empty and "机密标签" not in empty  # popular tags the reader may see


def test_a_misspelt_query_offers_the_suggestion(app, editor):
    save(editor, "运维/备份", "The nightly backup runs at two.", title="Backup")
    html = page(web_as(app, "li.reader"), "/search?q=bakcup")
    assert 'class="suggestion"' in html and "backup" in html.split('class="suggestion"')[1].split("</p>")[0]


def test_search_without_a_query_shows_tips_and_popular_tags(app, docs):
    html = page(web_as(app, "li.reader"), "/search")
    assert 'class="search-help"' in html and "tag:SLA" in html
    assert 'href="/browse?tag=备份"' in html and "机密标签" not in html
    assert 'class="count"' not in html


# ---------------------------------------------------------------- on a phone


@pytest.mark.browser
def test_the_dashboard_fits_a_phone_screen(app, browser, editor, admin, docs):
    from playwright.sync_api import expect
    from web_fixtures import LiveServer

    save(
        editor,
        "运维/一个很长很长的路径/名字也很长的文档标题用来检查换行是否正常工作",
        title="一个标题非常长非常长非常长非常长非常长的文档",
    )
    with LiveServer(app) as server:
        context = browser.new_context(base_url=server.url, locale="zh-CN", viewport={"width": 375, "height": 740})
        try:
            phone = context.new_page()
            phone.goto("/login")
            phone.locator("input[name=username]").fill("wang.editor")
            phone.locator("input[name=password]").fill(PASSWORD)
            phone.locator("main").get_by_role("button").click()
            phone.wait_for_url(f"{server.url}/")
            phone.goto("/docs/运维/数据库备份策略")
            phone.goto("/")
            expect(phone.locator("#home-q")).to_be_focused()  # autofocus lands once the page settles
            for name in ("updated", "viewed", "tags", "drafts", "due"):
                assert phone.locator(f"#panel-{name}").is_visible()
            widths = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], widths
            boxes = [phone.locator(f"#panel-{name}").bounding_box() for name in ("updated", "viewed")]
            assert boxes[0]["x"] == boxes[1]["x"] and boxes[1]["y"] > boxes[0]["y"]  # one column
            phone.goto("/search?q=没有这个词")
            widths = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], widths
        finally:
            context.close()
