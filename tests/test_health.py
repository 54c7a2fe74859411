"""The health panel: counts from the catalog, git HEAD, catalog and index in step with it (or
not), the full check on demand, for administrators only and within their clearance."""

from __future__ import annotations

from conftest import PASSWORD, save, web_as
from flask import Flask

from kb.document import DocumentFile, serialize
from kb.identity import users
from kb.models import Document
from kb.services import health
from kb.versioning import Author, Write


def report(app: Flask, user: str | None = None) -> health.Health:
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        who = users.principal(users.get_user(session, user)) if user else None
        return health.health(stores, session, who)


def commit_behind_kbs_back(app: Flask, path: str) -> str:
    """A commit made with the store alone, as a crashed process leaves it: catalog and index
    do not know it yet."""
    store = app.extensions["kb.stores"].store
    data = serialize(DocumentFile(title="直接提交", body="绕过服务的提交")).encode()
    revision, _changes = store.commit([Write(path, data)], Author("外部进程", "outside@example.com"), "直接提交")
    return revision.id


def fill(admin, api_as) -> None:
    save(admin, "公开/指南", access="public")
    save(admin, "内部/流程", access="internal")
    save(admin, "内部/旧流程", access="internal")
    save(admin, "机密/合同", access="confidential")
    save(admin, "绝密/预案", access="secret")
    assert api_as("zhao.archivist").post("docs/内部/旧流程/archive", json={"reason": "废止"}).status_code == 200
    assert admin.put("docs/内部/流程/draft", json={"title": "草稿", "body": "草稿正文"}).status_code in (200, 201)


def test_counts_come_from_the_catalog(app, admin, api_as):
    fill(admin, api_as)
    assert admin.patch("users/sun.public", json={"active": False}).status_code == 200
    got = report(app, "admin")
    assert got.documents == 5
    assert got.by_status == {"archived": 1, "published": 4}
    assert got.by_access == {"public": 1, "internal": 2, "confidential": 1, "secret": 1}
    assert got.open_drafts == 1
    assert (got.users_active, got.users_disabled) == (4, 1)
    assert got.audit_entries > 0 and got.last_audit_at is not None and got.last_audit_at.tzinfo is not None


def test_after_saves_catalog_and_index_are_in_step_with_head(app, admin):
    save(admin, "一", "第一篇")
    revision = save(admin, "一", "第一篇修订", message="修订第一篇")["revision"]
    got = report(app)
    assert got.head is not None and got.head.sha == revision
    assert (got.head.author, got.head.message) == ("Admin", "修订第一篇")
    assert got.catalog_commit == got.index_commit == revision
    assert got.catalog_in_step and got.index_in_step and got.ok


def test_a_commit_the_catalog_has_not_seen_is_reported_out_of_step(app, admin):
    synced = save(admin, "一", "第一篇")["revision"]
    head = commit_behind_kbs_back(app, "外部/文档")
    got = report(app, "admin")
    assert got.head.sha == head and got.catalog_commit == synced
    assert not got.catalog_in_step and not got.index_in_step and not got.ok
    data = admin.get("health").get_json()
    assert data["ok"] is False
    assert data["catalog"] == {"commit": synced, "in_step": False}
    assert data["index"] == {"commit": synced, "in_step": False}
    page = web_as(app, "admin").get("/admin/health?lang=en").get_data(as_text=True)
    assert "✗ Behind git" in page and "state-off" in page


def test_the_page_says_in_words_that_all_is_in_step(app, admin):
    save(admin, "一", "第一篇")
    web = web_as(app, "admin")
    page = web.get("/admin/health?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("✓ In step with git") == 2 and "Behind git" not in html
    assert 'href="/admin/health"' in html  # the nav link
    assert 'href="/admin/health"' in web.get("/admin/users").get_data(as_text=True)


def test_the_full_check_lists_what_disagrees(app, admin):
    save(admin, "文档", "内容")
    web = web_as(app, "admin")
    assert "Store, tables and index agree." in web.get("/admin/health?check=1&lang=en").get_data(as_text=True)
    assert admin.get("health?check=1").get_json()["check"] == {"ok": True, "problems": []}
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        session.get(Document, "文档").revision = "0" * 40  # the catalog no longer matches the index
        session.commit()
    html = web.get("/admin/health?check=1&lang=en").get_data(as_text=True)
    assert "<code>index: stale revision in index: 文档</code>" in html
    assert "agree." not in html
    check = admin.get("health?check=1").get_json()["check"]
    assert check["ok"] is False and "index: stale revision in index: 文档" in check["problems"]
    # without check=1 the slow comparison does not run
    assert "check" not in admin.get("health").get_json()


def test_the_full_check_finds_a_document_missing_from_the_catalog(app, admin):
    save(admin, "甲", "内容")
    save(admin, "乙", "内容")
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        session.delete(session.get(Document, "乙"))
        session.commit()
    assert "catalog: missing from catalog: 乙" in health.full_check(stores)


def test_only_administrators_see_the_health(app, api_as):
    for who in ("zhao.archivist", "wang.editor", "li.reader"):
        assert api_as(who).get("health").status_code == 403, who
        web = web_as(app, who)
        assert web.get("/admin/health").status_code == 403, who
        assert web.get("/admin/health?check=1").status_code == 403, who
        assert 'href="/admin/health"' not in web.get("/").get_data(as_text=True), who
    assert app.test_client().get("/api/v1/health").status_code == 401


def test_the_json_shape(app, admin, api_as):
    fill(admin, api_as)
    data = admin.get("health").get_json()
    assert set(data) == {"ok", "documents", "git", "catalog", "index", "drafts", "users", "audit"}
    assert data["ok"] is True
    assert data["documents"] == {
        "total": 5,
        "by_status": {"archived": 1, "published": 4},
        "by_access": {"public": 1, "internal": 2, "confidential": 1, "secret": 1},
        "levels": ["public", "internal", "confidential", "secret"],
    }
    assert set(data["git"]["head"]) == {"commit", "author", "email", "date", "message"}
    assert data["catalog"]["commit"] == data["index"]["commit"] == data["git"]["head"]["commit"]
    assert data["catalog"]["in_step"] is data["index"]["in_step"] is True
    assert data["drafts"] == {"open": 1}
    assert data["users"] == {"active": 5, "disabled": 0}
    assert set(data["audit"]) == {"entries", "last_at"} and data["audit"]["entries"] > 0


def test_an_administrator_cleared_below_secret_counts_only_what_they_may_see(app, admin, api_as):
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "chen.admin", PASSWORD, "admin", "internal")
        session.commit()
    fill(admin, api_as)
    save(admin, "绝密/预案", "改过的绝密正文", access="secret", message="修订 绝密/预案")
    chen = api_as("chen.admin")
    data = chen.get("health").get_json()
    assert data["documents"]["by_access"] == {"public": 1, "internal": 2}
    assert data["documents"]["total"] == 3
    assert data["git"]["head"]["message"] is None  # it names a document above the clearance
    assert data["drafts"] == {"open": 1}  # the draft of an internal document
    page = web_as(app, "chen.admin").get("/admin/health?lang=en").get_data(as_text=True)
    assert "绝密" not in page and "Only documents up to your clearance are counted." in page
    # the full check does not name a document above the clearance either
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:
        session.get(Document, "绝密/预案").revision = "0" * 40
        session.commit()
    check = chen.get("health?check=1").get_json()["check"]
    assert check["ok"] is False and not any("绝密" in line for line in check["problems"])
    assert any(
        "index: stale revision in index: 绝密/预案" in line
        for line in admin.get("health?check=1").get_json()["check"]["problems"]
    )
