"""Each group's daily work, end to end, in headless Chromium against a server
(``web_fixtures.serving``; the real ``kb serve`` for two editors at once).

The knowledge base here has a past: its documents were written forty days ago (back-dated
commits), then changed today, so "as of last month" shows something other than now. Every flow
is done the way a user does it: typing, clicking, confirming dialogs, downloading. Screenshots of
the main pages, phone and desktop, go to ``$KB_TEST_ARTIFACTS/screenshots``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import test_web_accounts as web_accounts
import test_web_ui as web_ui
from flask import Flask
from playwright.sync_api import Page, expect
from web_fixtures import serving

from kb.stores import catalog
from kb.versioning import Author, Write

pytestmark = pytest.mark.browser

login = web_ui.login  # logs in through the form against this module's ``site``
PHONE, DESKTOP = web_accounts.PHONE, web_accounts.DESKTOP
SHOTS = web_accounts.ARTIFACTS / "screenshots"

OUTAGE = "事件/邮件服务中断处理"
OUTAGE_OLD = "# 邮件服务中断处理\n\n先检查邮件网关，再重启投递队列。\n\n## 升级\n\n三十分钟未恢复，升级到二线。\n"
OUTAGE_NOW = OUTAGE_OLD.replace("三十分钟", "十五分钟")
PLAN = "安全/数据中心应急预案"  # confidential: its title, words and tag must never reach a reader
PLAN_BODY = "# 数据中心应急预案\n\n机房断电时启用柴油发电机，联系人赵六。参见[邮件处理](../事件/邮件服务中断处理)。\n"


def front_matter(title: str, tags: str, access: str, body: str) -> bytes:
    return f"---\ntitle: {title}\ntags: [{tags}]\naccess: {access}\nstatus: published\n---\n{body}".encode()


@pytest.fixture
def site(app: Flask, request: pytest.FixtureRequest) -> Iterator[web_ui.Site]:
    """Two documents written forty days ago, one of them changed today; a server over them."""
    stores = app.extensions["kb.stores"]
    written = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    revision, changes = stores.store.commit(
        [
            Write(f"{OUTAGE}.md", front_matter("邮件服务中断处理", "邮件, 故障", "internal", OUTAGE_OLD)),
            Write(f"{PLAN}.md", front_matter("数据中心应急预案", "机房断电", "confidential", PLAN_BODY)),
        ],
        Author("Wang Editor", "wang.editor@example.com"),
        "初版",
        date=written,
    )
    catalog.record(stores.sessions, stores.store, stores.index, revision, changes)
    with serving(app, request) as url:
        site = web_ui.Site(url, app)
        site.save(
            "wang.editor",
            OUTAGE,
            "邮件服务中断处理",
            OUTAGE_NOW,
            tags="邮件, 故障",
            access_level="internal",
            message="缩短升级时限",
        )
        yield site


def shoot(page: Page, name: str, viewport: dict[str, int]) -> None:
    """A full-page screenshot for the artifacts, after checking the page fits the screen's width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{name} is {width}px wide on a {viewport['width']}px screen"
    SHOTS.mkdir(parents=True, exist_ok=True)
    kind = "phone" if viewport is PHONE else "desktop"
    page.screenshot(path=str(SHOTS / f"{name}-{kind}.png"), full_page=True)


UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea, button, a[href]')]
    .filter(el => el.offsetParent !== null || el.getClientRects().length)
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !el.getAttribute('title')
                  && !(el.matches('button, a') && el.textContent.trim())
                  && !(el.matches('input[type=submit], input[type=button]') && el.value))
    .map(el => el.outerHTML.slice(0, 120))"""


def unnamed_controls(page: Page) -> list[str]:
    """The visible fields, buttons and links a screen reader could only call "edit" or "button":
    no label, no aria-label(ledby), no title, no text."""
    return page.evaluate(UNNAMED_CONTROLS)


def accept_next_dialog(page: Page) -> list[str]:
    """Accept the next confirm() and keep its question."""
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    return questions


def test_a_reader_searches_in_chinese_from_home_and_opens_the_hit(login: Callable[..., Page]):
    reader = login("li.reader")
    reader.get_by_role("searchbox", name="搜索").first.fill("邮件中断")
    reader.keyboard.press("Enter")
    hit = reader.locator(".hits li").first
    expect(hit.locator(".title")).to_have_text("邮件服务中断处理")
    expect(hit.locator(".snippet mark").first).to_be_visible()  # the words found, highlighted
    hit.locator(".title").click()
    expect(reader.locator("article .body h1")).to_have_text("邮件服务中断处理")
    expect(reader.locator("article .level")).to_have_text("内部")
    expect(reader.get_by_role("navigation", name="当前位置")).to_contain_text("事件")


def test_an_editor_creates_previews_drafts_publishes_edits_compares_and_reverts(login: Callable[..., Page]):
    editor = login("wang.editor")
    editor.goto("/new")
    editor.get_by_label("路径").fill("服务台/密码重置流程")
    editor.get_by_label("标题").fill("密码重置流程")
    editor.get_by_label("标签").fill("账号, 服务台")
    editor.get_by_label("正文（Markdown）").fill(
        "# 密码重置流程\n\n核实身份后，在门户中重置密码。\n\n| 步骤 | 谁 |\n|---|---|\n| 核实 | 服务台 |\n"
    )
    preview = editor.locator("#preview")
    expect(preview.locator("h1")).to_have_text("密码重置流程")  # rendered by the server as the page will be
    expect(preview.locator("table td").first).to_have_text("核实")
    editor.get_by_role("button", name="保存草稿").click()
    expect(editor.get_by_role("status")).to_contain_text("草稿已保存")

    editor.get_by_role("button", name="发布", exact=True).click()
    expect(editor.get_by_role("status")).to_have_text("已发布。")
    expect(editor.locator("article .tag")).to_have_text(["账号", "服务台"])

    editor.get_by_role("link", name="编辑", exact=True).click()
    body = editor.get_by_label("正文（Markdown）")
    body.fill(body.input_value().replace("在门户中重置密码", "在门户中重置密码，并要求首次登录时修改"))
    editor.get_by_label("修改说明").fill("补充首次登录要求")
    editor.get_by_role("button", name="发布", exact=True).click()
    expect(editor.locator("article .body")).to_contain_text("首次登录时修改")

    editor.get_by_role("link", name="历史").click()
    expect(editor.locator("table.history tbody tr")).to_have_count(2)
    expect(editor.locator("table.history")).to_contain_text("补充首次登录要求")
    editor.locator("table.history tbody tr").first.get_by_role("link", name="变更").click()
    expect(editor.locator("ins").first).to_contain_text("首次登录时修改")  # the changed words, side by side

    editor.go_back()
    questions = accept_next_dialog(editor)
    editor.locator("table.history tbody tr").nth(1).get_by_role("button", name="恢复").click()
    expect(editor.get_by_role("status")).to_contain_text("已将版本")
    assert questions and "恢复为新版本" in questions[0]
    expect(editor.locator("article .body")).not_to_contain_text("首次登录时修改")


@pytest.mark.kb_serve
def test_two_editors_change_the_same_line_and_nothing_is_lost(login: Callable[..., Page], site):
    wang, admin = login("wang.editor"), login("admin")
    for page in (wang, admin):
        page.goto(f"/docs/{OUTAGE}/edit")
    theirs = admin.get_by_label("正文（Markdown）")
    theirs.fill(theirs.input_value().replace("十五分钟未恢复", "十分钟未恢复"))
    admin.get_by_role("button", name="发布", exact=True).click()
    expect(admin.get_by_role("status")).to_have_text("已保存。")

    mine = wang.get_by_label("正文（Markdown）")
    mine.fill(mine.input_value().replace("十五分钟未恢复，升级到二线", "十五分钟未恢复，升级到二线并通知值班经理"))
    wang.get_by_role("button", name="发布", exact=True).click()
    expect(wang.get_by_role("heading", level=1, name="编辑冲突")).to_be_visible()
    expect(wang.locator("pre.current-version")).to_contain_text("十分钟未恢复")
    expect(wang.locator("pre.your-version")).to_contain_text("通知值班经理")
    merge = wang.get_by_label("正文（Markdown）")
    expect(merge).to_have_value(
        re.compile("<<<<<<< 当前版本\n十分钟未恢复.*=======\n十五分钟未恢复.*>>>>>>> 您的版本", re.S)
    )
    settled = "十分钟未恢复，升级到二线并通知值班经理。\n"
    merge.fill(re.sub(r"<<<<<<< .*?>>>>>>> 您的版本\n", settled, merge.input_value(), flags=re.S))
    wang.get_by_role("button", name="保存合并结果").click()
    expect(wang.get_by_role("status")).to_have_text("已保存。")
    expect(wang.locator("article .body")).to_contain_text("十分钟未恢复，升级到二线并通知值班经理")

    wang.get_by_role("link", name="历史").click()  # the other editor's version is in the history
    rows = wang.locator("table.history tbody tr")
    expect(rows).to_have_count(4)
    rows.nth(1).get_by_role("link").first.click()
    expect(wang.locator("article .body")).to_contain_text("十分钟未恢复，升级到二线。")


def test_an_archivist_archives_finds_it_sees_last_month_restores_and_exports(login: Callable[..., Page]):
    archivist = login("zhao.archivist")
    archivist.goto(f"/docs/{OUTAGE}")
    archivist.get_by_label("归档原因").fill("邮件系统已迁移到云服务")
    accept_next_dialog(archivist)
    archivist.get_by_role("button", name="归档", exact=True).click()
    expect(archivist.locator(".archived-banner")).to_contain_text("邮件系统已迁移到云服务")

    archivist.locator("header.top").get_by_role("link", name="归档", exact=True).click()
    row = archivist.locator("table.list tr").filter(has_text="邮件服务中断处理")
    expect(row).to_contain_text("邮件系统已迁移到云服务")

    archivist.get_by_role("link", name="按日期查看").click()
    last_month = (dt.date.today() - dt.timedelta(days=30)).isoformat()
    archivist.get_by_label("日期").fill(last_month)
    archivist.get_by_role("button", name="查看").click()
    archivist.get_by_role("link", name="邮件服务中断处理", exact=True).click()
    expect(archivist.locator("article .body")).to_contain_text("三十分钟未恢复")  # as it was then
    expect(archivist.locator(".archived-banner")).to_have_count(0)

    archivist.goto(f"/docs/{OUTAGE}")
    archivist.locator(".archived-banner").get_by_role("button", name="恢复").click()
    expect(archivist.get_by_role("status")).to_contain_text("已恢复")
    with archivist.expect_download() as download:
        archivist.get_by_role("link", name="导出（含历史）").click()
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
    assert f"documents/{OUTAGE}.md" in names
    versions = [entry for entry in manifest["files"] if entry["file"].startswith(f"history/{OUTAGE}/")]
    assert len(versions) == 4  # written last month, changed today, archived, restored
    assert manifest["generated_by"] == "zhao.archivist"


def test_an_admin_creates_a_user_who_then_logs_in(login: Callable[..., Page], browser, site):
    admin = login("admin")
    web_accounts.create_user(admin, "qian.support", "reader", "internal", display_name="钱支持")
    newcomer = login("qian.support")
    expect(newcomer.locator("header.top")).to_contain_text("钱支持")
    expect(newcomer.locator("main")).to_contain_text("邮件服务中断处理")


def test_a_reader_never_meets_the_confidential_plan_anywhere(login: Callable[..., Page]):
    cleared = login("wang.editor")  # it is there, for those cleared for it
    cleared.goto(f"/docs/{OUTAGE}")
    expect(cleared.locator("main")).to_contain_text("数据中心应急预案")  # "referenced by"

    reader = login("li.reader")
    secrets = ("应急预案", "赵六", "机房断电", "柴油")
    pages = ["/", "/browse", f"/docs/{OUTAGE}", "/search?q=邮件", "/search?q=", "/archive", "/drafts"]
    for url in pages:
        reader.goto(url)
        for secret in secrets:
            expect(reader.locator("body"), f"{url} shows {secret}").not_to_contain_text(secret)
    # asked by name, the reader gets nothing back beyond their own words
    for url in ("/search?q=柴油发电机", "/search?q=应急预案", "/search?q=机房断电", "/browse?tag=机房断电"):
        reader.goto(url)
        expect(reader.locator("main .hits, main table.list")).to_have_count(0)
        expect(reader.locator("main")).not_to_contain_text("赵六")
        expect(reader.locator("main")).not_to_contain_text("数据中心")
    reader.goto("/search?q=柴油发电机")
    expect(reader.locator(".count")).to_have_text("共 0 条结果")
    for url in (f"/docs/{PLAN}", f"/docs/{PLAN}/history", f"/api/v1/docs/{PLAN}/raw"):
        response = reader.goto(url)
        assert response is not None and response.status in (403, 404), url
        for secret in secrets:
            expect(reader.locator("body")).not_to_contain_text(secret)


def test_the_language_switch_is_remembered_for_the_user(login: Callable[..., Page]):
    reader = login("li.reader")
    reader.get_by_role("button", name="English").click()
    expect(reader.get_by_role("button", name="Log out")).to_be_visible()
    reader.goto(f"/docs/{OUTAGE}")
    expect(reader.locator("article .level")).to_have_text("Internal")
    elsewhere = login("li.reader", locale="zh-CN")  # another browser, asking for Chinese
    expect(elsewhere.get_by_role("button", name="Log out")).to_be_visible()
    elsewhere.get_by_role("button", name="中文").click()
    expect(elsewhere.get_by_role("button", name="退出")).to_be_visible()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_main_pages_fit_the_screen(login: Callable[..., Page], viewport):
    pages = {
        "home": "/",
        "search": "/search?q=邮件中断",
        "document": f"/docs/{OUTAGE}",
        "edit": f"/docs/{OUTAGE}/edit",
        "history": f"/docs/{OUTAGE}/history",
        "diff": f"/docs/{OUTAGE}/diff",
        "archive": "/archive",
        "asof": f"/asof/{(dt.date.today() - dt.timedelta(days=30)).isoformat()}/",
        "audit": "/audit",
        "users": "/admin/users",
        "health": "/admin/health",
        "account": "/account",
        "not-found": "/docs/没有这篇",
    }
    admin = login("admin")
    admin.set_viewport_size(viewport)
    for name, url in pages.items():
        admin.goto(url)
        expect(admin.locator("main h1").first).to_be_visible()
        assert unnamed_controls(admin) == [], name
        shoot(admin, name, viewport)
