"""The lifecycle pages in a real headless Chromium: an editor drafts and publishes, an archivist
archives, finds the document in the archive, sees the knowledge base as it was, and restores it;
the pages fit a phone. Screenshots go to ``$KB_TEST_ARTIFACTS`` like test_web_accounts'."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import test_web_accounts as web_accounts
import test_web_ui as web_ui
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# test_web_ui's fixtures, shared rather than copied (``browser`` comes from conftest)
site = web_ui.site
login = web_ui.login

BACKUP = web_ui.BACKUP
PHONE, DESKTOP = web_accounts.PHONE, web_accounts.DESKTOP


def test_an_editor_saves_a_draft_readers_do_not_see_and_then_publishes_it(login):
    editor = login("wang.editor")
    editor.goto(web_ui.doc_url(BACKUP))
    editor.get_by_role("link", name="编辑", exact=True).click()
    body = editor.get_by_label("正文（Markdown）")
    body.fill(body.input_value() + "\n## 季度抽查\n\n每季度抽查一次异地副本。\n")
    editor.get_by_role("button", name="保存草稿").click()
    expect(editor.get_by_role("status")).to_have_text("草稿已保存。读者看到的仍是已发布的版本。")
    expect(editor.locator("article .body")).to_contain_text("每季度抽查一次异地副本")

    reader = login("li.reader")
    reader.goto(web_ui.doc_url(BACKUP))
    expect(reader.locator("article .body")).not_to_contain_text("每季度抽查一次异地副本")

    editor.get_by_role("button", name="发布", exact=True).click()
    expect(editor.get_by_role("status")).to_have_text("已发布。")
    reader.reload()
    expect(reader.locator("article .body")).to_contain_text("每季度抽查一次异地副本")


def archive_backup(page: Page) -> None:
    page.goto(web_ui.doc_url(BACKUP))
    page.get_by_label("归档原因").fill("已由新的备份方案取代")
    page.once("dialog", lambda dialog: dialog.accept())  # "Archive this document?"
    page.get_by_role("button", name="归档", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("已归档。")


def test_an_archivist_archives_finds_it_in_the_archive_sees_the_past_and_restores(login, site, clock):
    zone = ZoneInfo(site.app.config["TIMEZONE"])
    before = clock.now().astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")
    clock.advance(1.1)  # commit times have one-second resolution: archive after that moment
    archivist = login("zhao.archivist")
    archive_backup(archivist)
    expect(archivist.locator(".archived-banner")).to_contain_text("已由新的备份方案取代")

    archivist.get_by_role("link", name="归档", exact=True).click()  # the navigation
    expect(archivist.locator("table.list")).to_contain_text("数据库备份策略")
    expect(archivist.locator("table.list")).to_contain_text("已由新的备份方案取代")

    archivist.goto(f"/asof/{before}/")
    row = archivist.locator("table.list tr").filter(has_text="数据库备份策略")
    expect(row).not_to_contain_text("已归档")  # still published at that moment
    row.get_by_role("link", name="数据库备份策略", exact=True).click()
    expect(archivist.locator(".notice").first).to_contain_text("只读")
    expect(archivist.locator(".archived-banner")).to_have_count(0)

    archivist.goto(web_ui.doc_url(BACKUP))
    archivist.locator(".archived-banner").get_by_role("button", name="恢复").click()
    expect(archivist.get_by_role("status")).to_contain_text("已恢复")
    reader = login("li.reader")
    reader.goto(web_ui.doc_url(BACKUP))
    expect(reader.locator("article .body")).to_contain_text("备份")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_lifecycle_pages_fit_the_screen(login, site, viewport):
    site.save("wang.editor", BACKUP, "数据库备份策略", web_ui.BACKUP_BODY.replace("每日", "每两日"))
    archivist = login("zhao.archivist")
    archive_backup(archivist)
    archivist.set_viewport_size(viewport)
    moment = dt.date.today().isoformat()
    folder = web_accounts.ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    name = "phone" if viewport is PHONE else "desktop"
    for label, url in (
        ("archive", "/archive"),
        ("asof", f"/asof/{moment}/"),
        ("drafts", "/drafts"),
        ("review-due", "/review-due"),
        ("diff", f"/docs/{BACKUP}/diff"),
    ):
        archivist.goto(url)
        expect(archivist.locator("main h1")).to_be_visible()
        width = archivist.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{label} is {width}px wide at {viewport['width']}px"
        archivist.screenshot(path=str(folder / f"{label}-{name}.png"), full_page=True)
