"""Accounts, roles, clearance and the audit trail in a real headless Chromium.

The fixtures are test_web_ui's (a live server on the conftest app with CSRF on, three documents,
``login(username)`` through the form); users are made the way an administrator makes them, on
/admin/users. Screenshots of the new pages, phone and desktop, go to ``$KB_TEST_ARTIFACTS``
(default: ``kb-test-artifacts`` in the temporary directory).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
import test_web_ui as web_ui
from conftest import PASSWORD
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

# test_web_ui's fixtures, shared rather than copied (``browser`` comes from conftest)
site = web_ui.site
login = web_ui.login

CONTACTS = web_ui.CONTACTS  # confidential; the only document with "张三" in it
BACKUP = web_ui.BACKUP
XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
ARTIFACTS = Path(os.environ.get("KB_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "kb-test-artifacts")
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}


def create_user(page: Page, username: str, role: str, clearance: str, display_name: str = "") -> None:
    """Fill and send the form on /admin/users, as an administrator does."""
    page.goto("/admin/users")
    form = page.locator("section.create-user form")
    form.get_by_label("用户名").fill(username)
    form.get_by_label("初始密码").fill(PASSWORD)
    form.get_by_label("角色").select_option(role)
    form.get_by_label("密级").select_option(clearance)
    form.get_by_label("显示名称").fill(display_name or username)
    form.get_by_label("电子邮件").fill(f"{username}@example.com")
    form.get_by_role("button", name="创建用户").click()
    expect(page.get_by_role("status")).to_have_text(f"已创建用户 {username}。")
    expect(page.locator("table.users")).to_contain_text(username)


def status_of(page: Page, url: str) -> int:
    response = page.goto(url)
    assert response is not None
    return response.status


def nav(page: Page) -> Locator:
    return page.locator("header.top nav")


def test_each_role_sees_its_own_pages(login):
    admin = login("admin")
    expect(nav(admin).get_by_role("link", name="用户管理")).to_be_visible()
    create_user(admin, "zhou.reader", "reader", "internal", "周读者")
    create_user(admin, "wu.editor", "editor", "internal", "吴编辑")
    create_user(admin, "qian.archivist", "archivist", "confidential", "钱档案")
    rows = admin.locator("table.users tbody tr")
    expect(rows.filter(has_text="qian.archivist")).to_contain_text("档案管理员")
    expect(rows.filter(has_text="qian.archivist")).to_contain_text("机密")

    reader = login("zhou.reader")
    expect(reader.locator(".who")).to_contain_text("周读者")
    for name in ("新建文档", "审计日志", "用户管理"):
        expect(reader.get_by_role("link", name=name)).to_have_count(0)
    assert status_of(reader, "/audit") in (403, 404)
    assert status_of(reader, "/admin/users") in (403, 404)
    assert status_of(reader, "/audit/export") in (403, 404)
    assert status_of(reader, "/account") == 200

    editor = login("wu.editor")
    expect(nav(editor).get_by_role("link", name="新建文档")).to_be_visible()
    expect(editor.get_by_role("link", name="审计日志")).to_have_count(0)
    expect(editor.get_by_role("link", name="用户管理")).to_have_count(0)
    assert status_of(editor, "/audit") in (403, 404)

    archivist = login("qian.archivist")
    expect(archivist.get_by_role("link", name="用户管理")).to_have_count(0)
    nav(archivist).get_by_role("link", name="审计日志").click()
    expect(archivist.locator("h1")).to_contain_text("审计日志")
    created = archivist.locator("table.audit tbody tr").filter(has_text="user_create")
    expect(created).to_have_count(3)
    for username in ("zhou.reader", "wu.editor", "qian.archivist"):
        expect(created.filter(has_text=f"user={username}")).to_contain_text("admin")
    # the filter form narrows the trail, and the export keeps the filter
    archivist.get_by_label("操作").fill("user_create")
    archivist.get_by_label("用户", exact=True).fill("admin")
    archivist.locator("form.filters").get_by_role("button", name="筛选").click()
    expect(archivist.locator("table.audit tbody tr")).to_have_count(3)
    export = archivist.get_by_role("link", name="导出 CSV")
    expect(export).to_have_attribute("href", re.compile(r"^/audit/export\?.*action=user_create"))
    assert status_of(archivist, "/admin/users") in (403, 404)


def test_verifying_the_chain_says_so_in_green(login):
    admin = login("admin")
    create_user(admin, "zhou.reader", "reader", "internal")
    admin.goto("/audit")
    admin.get_by_role("link", name="验证审计链").click()
    expect(admin).to_have_url(re.compile(r"verify=1"))
    expect(admin.locator(".verify-ok")).to_contain_text(re.compile(r"审计链验证通过：共 \d+ 条记录"))


def test_a_reader_cleared_for_internal_never_sees_a_confidential_document(login):
    admin = login("admin")
    create_user(admin, "zheng.reader", "reader", "internal")
    reader = login("zheng.reader")
    expect(reader.locator("main")).to_contain_text("数据库备份策略")
    expect(reader.locator("main")).not_to_contain_text("应急联系人")

    reader.goto("/search?q=张三")
    expect(reader.locator(".count")).to_have_text("共 0 条结果")
    expect(reader.locator("main")).not_to_contain_text("应急联系人")
    expect(reader.locator("main")).not_to_contain_text("13800000000")

    assert status_of(reader, f"/docs/{CONTACTS}") == 404
    assert status_of(reader, f"/api/v1/docs/{CONTACTS}/raw") == 404
    expect(reader.locator("body")).not_to_contain_text("13800000000")

    # what the reader may see, they may also read as source
    reader.goto(f"/docs/{BACKUP}")
    reader.get_by_role("link", name="源文件").click()
    expect(reader.locator("body")).to_contain_text("每日凌晨两点执行全量备份")


def test_payloads_in_documents_names_and_queries_never_run(browser, site, login):
    path = "安全/跨站脚本测试"
    body = f'# 正文\n\n{XSS}\n\n{SCRIPT}\n\n<a href="javascript:alert(1)">点我</a>\n'
    site.save(
        "wang.editor",
        path,
        f"标题{XSS}{SCRIPT}",
        body,
        tags=f"{XSS}, {SCRIPT}",
        access_level="confidential",
        message=f"提交说明{XSS}{SCRIPT}",
    )
    # a payload in a failed login's user name lands in the audit trail too
    stranger = browser.new_context(base_url=site.url, locale="zh-CN")
    attempt = stranger.new_page()
    attempt.goto("/login")
    attempt.get_by_label("用户名").fill(XSS)
    attempt.get_by_label("密码").fill("wrong-password")
    attempt.locator("main").get_by_role("button").click()
    expect(attempt.get_by_role("alert")).to_be_visible()
    stranger.close()

    page = login("admin")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # display names may not hold angle brackets (git refuses them as authors): an attribute breakout instead
    create_user(page, "xss.reader", "reader", "internal", display_name='" onmouseover="alert(1)')

    for url in (
        "/",
        f"/docs/{path}",
        f"/docs/{path}/history",
        f"/search?q={SCRIPT}",
        f"/search?q={XSS}",
        "/audit",
        f"/audit?user={XSS}",
        "/admin/users",
        "/admin/users/xss.reader",
        "/account",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("load")
        assert page.locator("[onerror], [onload], [onmouseover]").count() == 0, url
        assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0, url
        assert page.locator("a[href^='javascript:']").count() == 0, url
    assert not dialogs, dialogs

    # and the text is shown as text
    page.goto(f"/docs/{path}")
    expect(page).to_have_title(re.compile(re.escape(f"标题{XSS}{SCRIPT}")))
    expect(page.locator("article .tag").first).to_have_text(XSS)
    page.goto(f"/docs/{path}/history")
    expect(page.locator("table.history")).to_contain_text(f"提交说明{XSS}{SCRIPT}")
    page.goto("/admin/users")
    expect(page.locator("table.users")).to_contain_text('" onmouseover="alert(1)')
    page.goto("/audit")
    expect(page.locator("table.audit")).to_contain_text(XSS)  # the failed login's name
    assert not dialogs, dialogs


def test_a_disabled_user_is_logged_out_at_the_next_page(login, site):
    reader = login("li.reader")
    expect(reader.locator(".who")).to_contain_text("Li.Reader")

    admin = login("admin")
    admin.goto("/admin/users")
    admin.locator("table.users tbody tr").filter(has_text="li.reader").get_by_role("link", name="编辑").click()
    expect(admin.locator("h1")).to_contain_text("li.reader")
    admin.get_by_role("button", name="停用账户").click()
    expect(admin.get_by_role("status")).to_have_text("已保存。")
    expect(admin.locator("h1 .state")).to_have_text("已停用")

    reader.goto(f"/docs/{BACKUP}")
    expect(reader).to_have_url(re.compile(r"/login"))
    expect(reader.locator("main")).not_to_contain_text("全量备份")
    # nor can they log in again
    reader.get_by_label("用户名").fill("li.reader")
    reader.get_by_label("密码").fill(PASSWORD)
    reader.locator("main").get_by_role("button").click()
    expect(reader.get_by_role("alert")).to_be_visible()
    expect(reader).to_have_url(re.compile(r"/login"))

    admin.get_by_role("button", name="启用账户").click()
    expect(admin.locator("h1 .state")).to_have_text("已启用")


def test_an_api_token_is_shown_once_and_can_be_revoked(login):
    page = login("wang.editor")
    page.locator(".who").click()
    expect(page).to_have_url(re.compile(r"/account$"))
    page.get_by_label("名称").fill("监控脚本")
    page.get_by_label("有效期（天）").fill("30")
    page.get_by_role("button", name="创建令牌").click()
    box = page.locator(".new-token")
    expect(box).to_contain_text("不会再次显示")
    token = box.locator(".token-value").inner_text().strip()
    assert token.startswith("kb_")
    row = page.locator("table.tokens tbody tr").filter(has_text="监控脚本")
    expect(row).to_have_count(1)

    page.goto("/account")
    expect(page.locator(".new-token")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(token)
    row.get_by_role("button", name="撤销").click()
    expect(page.get_by_role("status")).to_have_text("令牌已撤销。")
    expect(row).to_contain_text("已撤销")
    expect(row.get_by_role("button", name="撤销")).to_have_count(0)


def test_changing_the_password_asks_to_log_in_again(login):
    page = login("li.reader")
    page.goto("/account")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码", exact=True).fill("another-Pass-456")
    page.get_by_label("再次输入新密码").fill("different-Pass-789")
    page.get_by_role("button", name="修改密码").click()
    expect(page.get_by_role("alert")).to_have_text("两次输入的新密码不一致。")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码", exact=True).fill("another-Pass-456")
    page.get_by_label("再次输入新密码").fill("another-Pass-456")
    page.get_by_role("button", name="修改密码").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("status")).to_have_text("密码已修改，请重新登录。")


def test_no_page_breaks_the_content_security_policy(login):
    page = login("admin")
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    create_user(page, "zhou.reader", "reader", "internal")
    for url in (
        "/",
        f"/docs/{BACKUP}",
        f"/docs/{BACKUP}/history",
        f"/docs/{BACKUP}/edit",
        "/new",
        "/search?q=备份",
        "/account",
        "/admin/users",
        "/admin/users/zhou.reader",
        "/audit",
        "/audit?verify=1",
        "/login",
    ):
        page.goto(url)
        page.wait_for_load_state("load")
    page.goto(f"/docs/{BACKUP}/edit")
    page.get_by_label("正文（Markdown）").fill("# 预览\n\n**粗体**")  # the live preview's script at work
    expect(page.locator("#preview")).to_contain_text("粗体")
    assert not problems, problems


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_screenshots_of_the_account_users_and_audit_pages(login, viewport):
    page = login("admin")
    create_user(page, "zhou.reader", "reader", "internal", "周读者")
    page.goto("/account")
    page.get_by_label("名称").fill("备份脚本")
    page.get_by_role("button", name="创建令牌").click()
    expect(page.locator(".new-token")).to_be_visible()
    page.set_viewport_size(viewport)
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    name = "phone" if viewport is PHONE else "desktop"
    shots = [
        ("account", None),
        ("users", "/admin/users"),
        ("user", "/admin/users/zhou.reader"),
        ("audit", "/audit?verify=1"),
    ]
    for label, url in shots:
        if url:
            page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        # tables scroll inside their wrapper; the page itself never scrolls sideways
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{label} is {width}px wide at {viewport['width']}px"
        page.screenshot(path=str(folder / f"{label}-{name}.png"), full_page=True)
