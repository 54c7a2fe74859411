"""The web UI in a real headless Chromium, against a server over stores on tmp_path (``web_fixtures.serving``).

Users and documents are created through ``kb.services`` on the same instance folder; everything
else happens the way a user does it: log in through the form, click, type, read what the page says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import PASSWORD
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from web_fixtures import serving

from kb.identity import users
from kb.services import documents

pytestmark = pytest.mark.browser

BACKUP = "运维/数据库备份策略"
CONTACTS = "安全/应急联系人名单"
HOURS = "服务台/服务时间"

BACKUP_BODY = """# 数据库备份策略

每日凌晨两点执行全量备份，备份保留三十天。

## 备份范围

| 系统 | 方式 | 保留 |
|---|---|---|
| 工单系统 | 全量 | 30 天 |
| 知识库 | 增量 | 90 天 |

## 恢复演练

每季度做一次恢复演练：

```bash
pg_restore --clean -d kb backup.dump
```

## 联系人

值班 DBA 负责。
"""

CONTACTS_BODY = """# 应急联系人名单

机密：安全事件备份联系人，张三 13800000000。
"""

HOURS_BODY = """# 服务时间

服务台工作日 8:00–20:00 受理请求。
"""


@dataclass
class Site:
    """The running app: its URL, and a way to save a document behind the browser's back."""

    url: str
    app: Flask

    def save(self, username: str, path: str, title: str, body: str, **fields: Any) -> str:
        stores = self.app.extensions["kb.stores"]
        with stores.sessions() as session:
            user = users.principal(users.get_user(session, username))
            result = documents.save_document(stores, session, user, path, title=title, body=body, **fields)
            session.commit()
        return result.revision


@pytest.fixture
def site(app: Flask, request: pytest.FixtureRequest) -> Iterator[Site]:
    """A server over the conftest app's instance (users from PEOPLE; CSRF on, as in
    production), with three documents."""
    with serving(app, request) as url:
        site = Site(url, app)
        site.save(
            "wang.editor",
            BACKUP,
            "数据库备份策略",
            BACKUP_BODY,
            tags="备份, 数据库",
            access_level="internal",
            message="新建备份策略",
        )
        site.save("admin", CONTACTS, "应急联系人名单", CONTACTS_BODY, tags="安全, 备份", access_level="confidential")
        site.save("wang.editor", HOURS, "服务时间", HOURS_BODY, tags="服务台", access_level="public")
        yield site


@pytest.fixture
def login(browser: Browser, site: Site) -> Iterator[Callable[..., Page]]:
    """``login("li.reader")``: a fresh browser context (Chinese locale) logged in through the form."""
    contexts = []

    def make(username: str, locale: str = "zh-CN") -> Page:
        context = browser.new_context(base_url=site.url, locale=locale, viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto("/login")
        page.get_by_label("用户名" if locale.startswith("zh") else "Username").fill(username)
        page.get_by_label("密码" if locale.startswith("zh") else "Password").fill(PASSWORD)
        page.locator("main").get_by_role("button").click()
        expect(page).to_have_url(f"{site.url}/")
        return page

    yield make
    for context in contexts:
        context.close()


def doc_url(path: str) -> str:
    return f"/docs/{path}"


def test_logging_in_shows_the_document_list_in_chinese(login):
    page = login("li.reader")
    expect(page.locator("h1")).to_contain_text("知识库")  # the home page; the list is one click away
    expect(page.locator("#panel-updated").get_by_role("link", name="数据库备份策略")).to_be_visible()
    page.locator("#panel-updated a[href='/browse']").click()
    expect(page.locator("h1")).to_contain_text("文档")
    expect(page.locator("h1")).to_contain_text("共 2 篇")
    expect(page.get_by_role("link", name="数据库备份策略")).to_be_visible()
    expect(page.locator("table.list")).to_contain_text("内部")
    expect(page.locator("table.list")).to_contain_text("公开")
    expect(page.get_by_role("button", name="退出")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("读者")


def test_a_wrong_password_is_refused_in_chinese(browser, site):
    context = browser.new_context(base_url=site.url, locale="zh-CN")
    page = context.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("用户名").fill("li.reader")
    page.get_by_label("密码").fill("wrong-password")
    page.locator("main").get_by_role("button").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    context.close()


def test_a_document_page_renders_its_table_code_and_contents(login):
    page = login("li.reader")
    page.get_by_role("link", name="数据库备份策略").click()
    expect(page).to_have_title(re.compile("数据库备份策略"))
    body = page.locator("article .body")
    expect(body.locator("table td").first).to_have_text("工单系统")
    expect(body.locator("pre")).to_contain_text("pg_restore --clean -d kb backup.dump")
    toc = page.get_by_role("navigation", name="目录")
    expect(toc.get_by_role("link")).to_have_text(["备份范围", "恢复演练", "联系人"])
    toc.get_by_role("link", name="恢复演练").click()
    expect(page).to_have_url(re.compile("#"))


def test_searching_in_chinese_shows_the_hit_with_a_marked_snippet(login):
    page = login("wang.editor")
    search = page.get_by_role("search").get_by_role("searchbox")
    search.fill("全量备份")
    search.press("Enter")
    expect(page.locator(".count")).to_contain_text("条结果")
    hit = page.locator(".hits li").filter(has=page.get_by_role("link", name="数据库备份策略"))
    expect(hit).to_be_visible()
    expect(hit.locator(".path")).to_have_text(BACKUP)
    expect(hit.locator(".snippet mark").first).to_contain_text("备份")


def test_editing_a_document_saves_it_and_adds_a_history_entry(login):
    page = login("wang.editor")
    page.goto(doc_url(BACKUP))
    page.get_by_role("link", name="编辑", exact=True).click()
    body = page.get_by_label("正文（Markdown）")
    body.fill(body.input_value() + "\n## 异地备份\n\n每周把备份复制到异地机房。\n")
    expect(page.locator("#preview")).to_contain_text("每周把备份复制到异地机房")  # the live preview
    page.get_by_label("修改说明").fill("补充异地备份")
    page.get_by_role("button", name="发布", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("已保存。")
    expect(page.locator("article .body")).to_contain_text("每周把备份复制到异地机房。")
    page.get_by_role("link", name="历史").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("补充异地备份")
    expect(rows.first).to_contain_text("Wang.Editor")
    rows.nth(0).get_by_role("link", name="变更").click()
    expect(page.locator("table.sbs tr.insert td.new").filter(has_text="每周把备份复制到异地机房")).to_be_visible()


def test_creating_a_document_from_the_new_page(login):
    page = login("wang.editor")
    page.get_by_role("link", name="新建文档").first.click()
    page.get_by_label("路径").fill("服务台/打印机卡纸处理")
    page.get_by_label("标题").fill("打印机卡纸处理")
    page.get_by_label("标签").fill("打印机，硬件")
    page.get_by_label("正文（Markdown）").fill("# 打印机卡纸处理\n\n先关机，再取出卡纸。\n")
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page.locator("article .body h1")).to_have_text("打印机卡纸处理")
    expect(page.locator("article .tag")).to_have_text(["打印机", "硬件"])


def test_restoring_an_old_version_from_the_history(login, site):
    site.save("wang.editor", BACKUP, "数据库备份策略", BACKUP_BODY.replace("三十天", "七天"), message="缩短保留期")
    page = login("wang.editor")
    page.goto(f"{doc_url(BACKUP)}/history")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.locator("table.history tbody tr").nth(1).get_by_role("button", name="恢复").click()
    expect(page.get_by_role("status")).to_contain_text("已将版本")
    assert "当前版本仍保留在历史中" in questions[0]  # it asked first
    expect(page.locator("article .body")).to_contain_text("备份保留三十天")
    page.get_by_role("link", name="历史").click()
    expect(page.locator("table.history tbody tr")).to_have_count(3)


def test_a_reader_sees_no_edit_link_and_no_confidential_document(login):
    editor = login("wang.editor")  # the confidential document is there for those cleared for it
    expect(editor.get_by_role("link", name="应急联系人名单")).to_be_visible()

    page = login("li.reader")
    expect(page.locator("main")).not_to_contain_text("应急联系人名单")
    expect(page.get_by_role("link", name="新建文档")).to_have_count(0)
    page.goto(doc_url(BACKUP))
    expect(page.locator("article .body")).to_contain_text("全量备份")
    expect(page.get_by_role("link", name="编辑", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="历史")).to_have_count(0)
    page.goto("/search?q=备份")
    expect(page.locator(".hits")).to_contain_text("数据库备份策略")
    expect(page.locator("main")).not_to_contain_text("应急联系人")
    expect(page.locator("main")).not_to_contain_text("13800000000")
    expect(page.locator(".count")).to_have_text("共 1 条结果")
    response = page.goto(doc_url(CONTACTS))
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("文档不存在")
    response = page.goto(f"{doc_url(BACKUP)}/edit")
    assert response is not None and response.status == 403


def test_lang_en_switches_the_ui_to_english_and_is_remembered(login):
    page = login("li.reader")
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_contain_text("Knowledge base")
    page.goto("/browse")
    expect(page.locator("h1")).to_contain_text("Documents")
    expect(page.locator("h1")).to_contain_text("2 in all")
    expect(page.locator("table.list")).to_contain_text("Internal")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.goto(doc_url(BACKUP))  # saved on the user, so every page keeps it
    expect(page.get_by_role("navigation", name="Contents")).to_be_visible()
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("navigation", name="目录")).to_be_visible()


def test_an_english_browser_gets_english_and_lang_zh_switches_back(login):
    page = login("li.reader", locale="en-US")
    expect(page.locator("h1")).to_contain_text("Knowledge base")
    page.goto("/?lang=zh")
    expect(page.locator("h1")).to_contain_text("知识库")


def test_a_stale_edit_that_overlaps_shows_the_conflict_page(login, site):
    page = login("wang.editor")
    page.goto(f"{doc_url(BACKUP)}/edit")
    # meanwhile someone else changes the very line this user is about to change
    site.save("admin", BACKUP, "数据库备份策略", BACKUP_BODY.replace("凌晨两点", "凌晨三点"), message="调整时间")
    body = page.get_by_label("正文（Markdown）")
    body.fill(body.input_value().replace("凌晨两点", "晚上十一点"))
    page.get_by_role("button", name="发布", exact=True).click()

    expect(page.get_by_role("heading", level=1, name="编辑冲突")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("您的修改尚未保存")
    expect(page.locator("pre.current-version")).to_contain_text("凌晨三点")
    expect(page.locator("pre.your-version")).to_contain_text("晚上十一点")
    # the form holds the merge, the overlapping line from each side between labelled markers
    merge = page.get_by_label("正文（Markdown）")
    expect(merge).to_have_value(
        re.compile("<<<<<<< 当前版本\n每日凌晨三点.*\n=======\n每日晚上十一点.*\n>>>>>>> 您的版本\n")
    )
    page.get_by_role("button", name="保存合并结果").click()  # markers left in: refused, text kept
    expect(page.get_by_role("alert")).to_contain_text("冲突标记")
    merged = page.get_by_label("正文（Markdown）").input_value()
    settled = re.sub(r"<<<<<<< .*?\n(.*?)=======\n(.*?)>>>>>>> .*?\n", r"\2", merged, flags=re.S)
    page.get_by_label("正文（Markdown）").fill(settled)
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("已保存。")
    expect(page.locator("article .body")).to_contain_text("每日晚上十一点执行全量备份")


def test_a_stale_edit_that_does_not_overlap_is_merged(login, site):
    page = login("wang.editor")
    page.goto(f"{doc_url(BACKUP)}/edit")
    site.save("admin", BACKUP, "数据库备份策略", BACKUP_BODY.replace("值班 DBA 负责。", "值班 DBA 王五负责。"))
    body = page.get_by_label("正文（Markdown）")
    body.fill(body.input_value().replace("凌晨两点", "晚上十一点"))
    page.get_by_role("button", name="发布", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已保存，并已与他人在此期间的修改自动合并")
    expect(page.locator("article .body")).to_contain_text("晚上十一点")
    expect(page.locator("article .body")).to_contain_text("值班 DBA 王五负责。")
