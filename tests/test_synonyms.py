"""The synonym list: its format, its place in git (one audited commit per change), the API,
the admin page, and what search is handed (``SearchIndex.synonyms``), in this process and another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import PASSWORD, ApiClient, audit_entries, kb_cli, make_app, open_app, page, token_for, web_as
from flask import Flask
from flask.testing import FlaskClient

from kb.access import Principal
from kb.search.synonyms import MAX_BYTES, MAX_GROUPS, MAX_TERM, SynonymError, parse
from kb.services import synonyms
from kb.versioning import Author, WriteSetting

LIST = "网卡 = 网络适配器 = NIC\n删掉, 删除，移除  # 全角逗号也行\n"


# ---------------------------------------------------------------- the format


def test_terms_are_split_on_equals_and_both_commas_and_comments_and_blanks_ignored():
    text = "# 网络\n\n网卡 = 网络适配器 = NIC\n删掉, 删除，移除  # 全角逗号也行\n   \n"
    assert parse(text) == [["网卡", "网络适配器", "NIC"], ["删掉", "删除", "移除"]]


def test_terms_are_nfkc_normalised_stripped_and_counted_once():
    assert parse("ＤＣ ＝  域控制器 = domain   controller = DC\n") == [["DC", "域控制器", "domain controller"]]


def test_empty_text_is_an_empty_list():
    assert parse("") == [] == parse("# 只有注释\n\n")


def test_a_line_with_one_term_is_refused_with_its_number():
    with pytest.raises(SynonymError) as caught:
        parse("网卡 = 网络适配器\n\n重启 = 重启\n")
    assert (caught.value.line, caught.value.reason, caught.value.term) == (3, "single_term", "重启")
    assert isinstance(caught.value, ValueError)
    assert "line 3" in str(caught.value)


def test_a_term_over_the_limit_is_refused_with_its_line():
    with pytest.raises(SynonymError) as caught:
        parse("备份 = backup\n" + "长" * (MAX_TERM + 1) + " = 短\n")
    assert (caught.value.line, caught.value.reason, caught.value.limit) == (2, "term_too_long", MAX_TERM)
    assert parse("长" * MAX_TERM + " = 短") == [["长" * MAX_TERM, "短"]]


def test_more_groups_than_the_limit_are_refused_at_the_first_one_too_many():
    text = "".join(f"词{i} = term{i}\n" for i in range(MAX_GROUPS + 1))
    with pytest.raises(SynonymError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.reason) == (MAX_GROUPS + 1, "too_many_groups")
    assert len(parse(text.rsplit("词", 1)[0])) == MAX_GROUPS


def test_text_over_256_kib_is_refused_naming_the_line_it_overflows_on():
    line = "# " + "注" * 100 + "\n"  # 303 bytes
    text = line * (MAX_BYTES // len(line.encode()) + 1)
    with pytest.raises(SynonymError) as caught:
        parse(text)
    assert caught.value.reason == "too_large"
    assert caught.value.line == MAX_BYTES // len(line.encode()) + 1


def test_the_starter_glossary_parses_and_covers_the_service_desk_terms():
    groups = parse(synonyms.glossary())
    assert 60 <= len(groups) <= 100
    assert any({"网卡", "网络适配器"} <= set(group) for group in groups)
    assert any({"域控制器", "DC"} <= set(group) for group in groups)
    terms = [term for group in groups for term in group]
    assert len(terms) == len(set(terms)), "a term in two groups would join them"


# ---------------------------------------------------------------- the API


def test_readers_may_not_read_the_list_and_editors_may_not_change_it(api_as):
    assert api_as("li.reader").get("synonyms").status_code == 403
    assert api_as(None).get("synonyms").status_code == 401
    editor = api_as("wang.editor")
    assert editor.get("synonyms").status_code == 200
    refused = editor.put("synonyms", json={"text": LIST})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"


def test_an_admin_replaces_the_list_in_one_commit_with_its_audit_entry(app, admin, editor):
    before = editor.get("synonyms").get_json()
    saved = admin.put("synonyms", json={"text": LIST, "message": "加入网卡"})
    assert saved.status_code == 200, saved.get_json()
    body = saved.get_json()
    assert body["groups"] == [["网卡", "网络适配器", "NIC"], ["删掉", "删除", "移除"]]
    store = app.extensions["kb.stores"].store
    assert store.head() == body["revision"] != before["revision"]
    revision = store.revision(body["revision"])
    assert revision.message == "加入网卡"
    assert dict(revision.trailers) == {
        "action": "synonyms_update",
        "actor": "admin",
        "path": synonyms.PATH,
        "level": "public",
    }
    [entry] = audit_entries(app, action="synonyms_update")
    assert (entry.actor, entry.target, entry.revision) == ("admin", synonyms.PATH, body["revision"])
    now = editor.get("synonyms").get_json()
    assert now == {"text": LIST, "groups": body["groups"], "revision": body["revision"]}


def test_every_change_is_kept_in_the_history(app, admin):
    first = admin.put("synonyms", json={"text": "网卡 = 网络适配器\n"}).get_json()["revision"]
    second = admin.put("synonyms", json={"text": "网卡 = 网络适配器 = NIC\n"}).get_json()["revision"]
    store = app.extensions["kb.stores"].store
    assert store.revision(second).parents == (first,)
    assert store.read_blob(store.setting_blob(synonyms.PATH, first)) == "网卡 = 网络适配器\n".encode()
    assert [e.revision for e in audit_entries(app, action="synonyms_update")] == [first, second]


def test_the_list_is_no_document_to_listings_search_or_the_catalog(app, admin, editor):
    admin.put("synonyms", json={"text": "网卡 = 网络适配器\n"})
    assert editor.get("docs").get_json()["total"] == 0
    assert editor.get("search", query_string={"q": "网络适配器"}).get_json()["total"] == 0
    stores = app.extensions["kb.stores"]
    assert list(stores.store.documents()) == []
    assert stores.store.changes(stores.store.head()) == []


def test_a_bad_line_is_a_400_naming_it_in_chinese_by_default(app, admin):
    head = app.extensions["kb.stores"].store.head()
    refused = admin.put("synonyms", json={"text": "网卡 = 网络适配器\n重启\n"})
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "bad_request"
    assert error["field"] == "text"
    assert error["line"] == 2
    assert error["message"].startswith("第 2 行：“重启”没有同义词")
    assert "(Line 2:" in error["message"]
    assert app.extensions["kb.stores"].store.head() == head
    assert audit_entries(app, action="synonyms_update") == []


def test_a_bad_line_is_named_in_english_when_asked(admin):
    refused = admin.put("synonyms?lang=en", json={"text": "备份 = backup\n" + "x" * 65 + " = y\n"})
    assert refused.status_code == 400
    message = refused.get_json()["error"]["message"]
    assert message == f"Line 2: the term “{'x' * 20}…” is longer than 64 characters."


def test_a_body_that_is_not_the_model_is_a_400_naming_the_field(admin):
    refused = admin.put("synonyms", json={"text": "网卡 = NIC", "groups": []})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["field"] == "groups"
    assert admin.put("synonyms", json={"message": "x"}).get_json()["error"]["field"] == "text"


def test_a_full_disk_is_a_507_and_nothing_is_committed(app, admin, monkeypatch):
    store = app.extensions["kb.stores"].store
    head = store.head()

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "commit", full)
    refused = admin.put("synonyms", json={"text": LIST})
    assert refused.status_code == 507
    assert refused.get_json()["error"]["code"] == "insufficient_storage"
    assert store.head() == head


# ---------------------------------------------------------------- what search is handed


def test_search_is_handed_the_new_groups_after_a_put(app, admin):
    index = app.extensions["kb.stores"].index
    assert index.synonyms is not None
    assert list(index.synonyms()) == []
    admin.put("synonyms", json={"text": LIST})
    assert [list(group) for group in index.synonyms()] == [["网卡", "网络适配器", "NIC"], ["删掉", "删除", "移除"]]


def test_another_process_sees_the_change_at_its_next_search(tmp_path):
    """A second app on the same instance folder stands for another worker process."""
    instance = tmp_path / "shared"
    first, second = make_app(instance), _second(instance)
    try:
        other = second.extensions["kb.stores"].index
        assert list(other.synonyms()) == []
        admin = ApiClient(first.test_client(), token_for(first, "admin"))
        assert admin.put("synonyms", json={"text": "域控制器 = DC\n"}).status_code == 200
        assert [list(group) for group in other.synonyms()] == [["域控制器", "DC"]]
    finally:
        first.extensions["kb.stores"].close()
        second.extensions["kb.stores"].close()


def _second(instance: Path) -> Flask:
    return open_app({"TESTING": True, "INSTANCE_DIR": str(instance)})


def test_search_is_not_broken_by_a_list_committed_with_plain_git_that_does_not_parse(app):
    stores = app.extensions["kb.stores"]
    stores.store.commit([WriteSetting(synonyms.PATH, "网卡\n".encode())], Author("git", "git@example.com"), "x")
    assert list(stores.index.synonyms()) == []


# ---------------------------------------------------------------- the page


def test_the_page_shows_the_list_and_the_nav_links_it_for_admins_only(app, admin):
    admin.put("synonyms", json={"text": LIST})
    html = page(web_as(app, "admin"), "/admin/synonyms")
    assert "网卡 = 网络适配器 = NIC" in html
    assert "搜索同义词" in html
    assert 'href="/admin/synonyms"' in html
    assert "synonyms_update" in html  # the link to the audit trail of its changes
    assert "/admin/synonyms" not in page(web_as(app, "wang.editor"), "/")
    assert web_as(app, "wang.editor").get("/admin/synonyms").status_code == 403


def test_the_page_speaks_english_when_asked(app):
    html = page(web_as(app, "admin"), "/admin/synonyms?lang=en")
    assert "Synonyms for search" in html
    assert "Save synonyms" in html


def test_saving_on_the_page_needs_the_csrf_token_and_commits(tmp_path):
    app = make_app(tmp_path / "csrf")
    try:
        browser = app.test_client(send_csrf=False)
        token = _csrf(browser, "/login")
        assert (
            browser.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}).status_code
            == 302
        )
        assert browser.post("/admin/synonyms", data={"text": LIST}).status_code == 400
        assert audit_entries(app, action="synonyms_update") == []
        saved = browser.post(
            "/admin/synonyms",
            data={"text": LIST, "message": "页面保存", "csrf_token": _csrf(browser, "/admin/synonyms")},
        )
        assert saved.status_code == 302
        [entry] = audit_entries(app, action="synonyms_update")
        assert app.extensions["kb.stores"].store.revision(entry.revision).message == "页面保存"
        html = page(browser, "/admin/synonyms")
        assert "同义词表已保存：共 2 组。" in html
        assert entry.revision[:10] in html
    finally:
        app.extensions["kb.stores"].close()


def test_a_bad_line_comes_back_on_the_page_next_to_the_field_with_what_was_typed(app):
    web = web_as(app, "admin")
    response = web.post("/admin/synonyms", data={"text": "网卡 = 网络适配器\n\n重启\n", "message": "试试"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'id="synonyms-error"[^>]*data-line="3"[^>]*>第 3 行：“重启”没有同义词', html)
    assert "网卡 = 网络适配器\n\n重启" in html
    assert 'value="试试"' in html
    assert audit_entries(app, action="synonyms_update") == []


def _csrf(browser: FlaskClient, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).get_data(as_text=True))
    assert match, url
    return match.group(1)


# ---------------------------------------------------------------- the command line


def test_init_writes_the_starter_glossary_and_check_stays_clean_after_an_edit(tmp_path):
    instance = tmp_path / "instance"
    assert kb_cli(instance, "init", KB_ADMIN_PASSWORD=PASSWORD).exit_code == 0
    app = _second(instance)
    try:
        stores = app.extensions["kb.stores"]
        assert len(stores.index.synonyms()) == len(parse(synonyms.glossary()))
        synonyms.save(stores, Principal("admin", "admin", "secret"), "网卡 = 网络适配器\n")
    finally:
        app.extensions["kb.stores"].close()
    checked = kb_cli(instance, "check")
    assert checked.exit_code == 0, checked.output
    assert "agree" in checked.stdout
