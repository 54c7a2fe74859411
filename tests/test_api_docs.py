"""The document API: create, read (now / at a revision / at a date), list, history, diff,
revert, move, delete, with a real git repository and SQLite under tmp_path."""

from __future__ import annotations

from urllib.parse import unquote

from conftest import save


def test_creating_a_document_answers_201_and_reading_returns_it(editor):
    response = editor.put(
        "docs/流程/服务请求受理",
        json={
            "title": "服务请求受理流程",
            "body": "# 服务请求受理流程\n\n受理后 **15 分钟**内响应。",
            "tags": ["服务请求", "SLA"],
            "access": "internal",
            "message": "新建受理流程",
        },
    )
    assert response.status_code == 201
    revision = response.get_json()["revision"]
    doc = editor.get("docs/流程/服务请求受理").get_json()
    assert doc["title"] == "服务请求受理流程"
    assert doc["tags"] == ["服务请求", "SLA"]
    assert doc["revision"] == revision
    assert doc["updated_by"] == "Wang.Editor"
    assert "<strong>15 分钟</strong>" in doc["html"]


def test_updating_answers_200_and_both_versions_stay_in_history(editor):
    first = save(editor, "sla/p1", "第一版")["revision"]
    response = editor.put("docs/sla/p1", json={"title": "标题", "body": "第二版", "message": "改为第二版"})
    assert response.status_code == 200
    versions = editor.get("docs/sla/p1/history").get_json()["versions"]
    assert [v["revision"] for v in versions][1] == first
    assert versions[0]["message"] == "改为第二版"
    assert versions[0]["author"] == "Wang.Editor"


def test_a_past_revision_reads_as_it_was(editor):
    first = save(editor, "doc", "旧内容")["revision"]
    save(editor, "doc", "新内容")
    old = editor.get(f"docs/doc?revision={first}").get_json()
    assert old["body"].strip() == "旧内容"
    assert old["current"] is False
    short = editor.get(f"docs/doc?revision={first[:8]}").get_json()
    assert short["body"].strip() == "旧内容"


def test_a_revision_that_did_not_touch_the_document_shows_its_content_then(editor):
    save(editor, "a", "甲的内容")
    later = save(editor, "b", "乙")["revision"]
    assert editor.get(f"docs/a?revision={later}").get_json()["body"].strip() == "甲的内容"


def test_reading_at_a_date_gives_the_version_current_then(app, api_as, editor, clock):
    save(editor, "doc", "早先")
    between = clock.now()
    clock.advance(1.1)  # git dates have one-second resolution
    save(editor, "doc", "后来")
    archivist = api_as("zhao.archivist")
    doc = archivist.get("docs/doc", query_string={"at": between.isoformat()}).get_json()
    assert doc["body"].strip() == "早先"


def test_a_date_before_the_first_version_is_a_clear_400(api_as, editor):
    save(editor, "doc")
    response = api_as("zhao.archivist").get("docs/doc?at=2001-01-01T00:00:00Z")
    assert response.status_code == 400
    assert "第一个版本" in response.get_json()["error"]["message"]


def test_an_unreadable_date_is_a_400(api_as, editor):
    save(editor, "doc")
    assert api_as("zhao.archivist").get("docs/doc?at=昨天").status_code == 400


def test_unknown_and_malformed_revisions_are_4xx(editor):
    save(editor, "doc")
    assert editor.get("docs/doc?revision=" + "a" * 40).status_code == 404
    for bad in ("-O", "HEAD~1", "../x", "xyz", "ab"):
        response = editor.get(f"docs/doc?revision={bad}")
        assert response.status_code == 400, bad
        assert response.get_json()["error"]["code"] == "invalid_revision"


def test_diff_between_two_revisions_is_a_unified_diff(editor):
    first = save(editor, "doc", "第一行\n第二行\n")["revision"]
    second = save(editor, "doc", "第一行\n第二行（已修改）\n")["revision"]
    text = editor.get(f"docs/doc/diff?from={first}&to={second}").get_json()["diff"]
    assert "-第二行\n" in text
    assert "+第二行（已修改）\n" in text
    assert text.startswith("--- ")
    assert editor.get("docs/doc/diff").get_json()["diff"] == text


def test_revert_restores_an_old_version_as_a_new_commit(editor):
    first = save(editor, "doc", "原始内容")["revision"]
    save(editor, "doc", "被误改的内容")
    response = editor.post("docs/doc/revert", json={"revision": first, "message": "恢复"})
    assert response.status_code == 200
    assert editor.get("docs/doc").get_json()["body"].strip() == "原始内容"
    assert len(editor.get("docs/doc/history").get_json()["versions"]) == 3


def test_move_keeps_the_history_under_the_new_path(editor):
    first = save(editor, "旧/文档", "内容一")["revision"]
    save(editor, "旧/文档", "内容二")
    assert editor.post("docs/旧/文档/move", json={"to": "新/文档"}).status_code == 200
    moved = editor.get("docs/旧/文档/history")
    assert moved.status_code == 302
    assert unquote(moved.headers["Location"]) == "/api/v1/docs/新/文档/history"
    versions = editor.get("docs/新/文档/history").get_json()["versions"]
    assert len(versions) == 3
    assert versions[0]["kind"] == "move"
    assert editor.get(f"docs/新/文档?revision={first}").get_json()["body"].strip() == "内容一"


def test_move_onto_an_existing_document_is_a_409_and_changes_nothing(editor):
    save(editor, "a")
    save(editor, "b")
    head = editor.get("docs/a").get_json()["revision"]
    assert editor.post("docs/a/move", json={"to": "b"}).status_code == 409
    assert editor.get("docs/a").get_json()["revision"] == head


def test_delete_is_for_admins_and_past_versions_stay_readable(admin, api_as, editor):
    first = save(editor, "doc", "将被删除")["revision"]
    assert editor.delete("docs/doc").status_code == 403
    assert admin.delete("docs/doc").status_code == 204
    assert editor.get("docs/doc").status_code == 404
    archivist = api_as("zhao.archivist")
    assert archivist.get(f"docs/doc?revision={first}").get_json()["body"].strip() == "将被删除"
    assert archivist.get("docs/doc/history").get_json()["versions"][0]["kind"] == "delete"


def test_listing_filters_by_prefix_and_tag_and_counts_the_total(editor):
    save(editor, "流程/一", tags=["变更"])
    save(editor, "流程/二", tags=["事件"])
    save(editor, "政策/三", tags=["变更"])
    listing = editor.get("docs?prefix=流程").get_json()
    assert listing["total"] == 2
    assert {item["path"] for item in listing["items"]} == {"流程/一", "流程/二"}
    assert editor.get("docs?tag=变更").get_json()["total"] == 2
    page = editor.get("docs?per_page=1&page=2").get_json()
    assert page["total"] == 3
    assert len(page["items"]) == 1


def test_a_stale_base_revision_with_separate_edits_is_merged(editor):
    base_text = "第一段\n\n第二段\n\n第三段\n"
    base = save(editor, "doc", base_text)["revision"]
    save(editor, "doc", base_text.replace("第一段", "第一段（甲改）"))
    response = editor.put(
        "docs/doc", json={"title": "标题", "body": base_text.replace("第三段", "第三段（乙改）"), "base_revision": base}
    )
    assert response.status_code == 200
    assert response.get_json()["merged"] is True
    body = editor.get("docs/doc").get_json()["body"]
    assert "第一段（甲改）" in body
    assert "第三段（乙改）" in body


def test_overlapping_edits_on_a_stale_base_are_a_409_with_both_versions(editor):
    base = save(editor, "doc", "共同的一行\n")["revision"]
    current = save(editor, "doc", "甲改的一行\n")["revision"]
    response = editor.put("docs/doc", json={"title": "标题", "body": "乙改的一行\n", "base_revision": base})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert "甲改的一行" in error["current"]["text"]
    assert error["current"]["revision"] == current
    assert "乙改的一行" in error["yours"]["text"]
    assert editor.get("docs/doc").get_json()["revision"] == current


def test_without_base_revision_the_last_save_wins_and_both_stay_in_history(editor):
    save(editor, "doc", "甲")
    save(editor, "doc", "乙")
    assert editor.get("docs/doc").get_json()["body"].strip() == "乙"
    assert len(editor.get("docs/doc/history").get_json()["versions"]) == 2


def test_html_is_sanitized(editor):
    save(editor, "xss", '<script>alert(1)</script><img src=x onerror="alert(2)">[x](javascript:alert(3))')
    html = editor.get("docs/xss").get_json()["html"]
    assert "<script" not in html
    assert "onerror" not in html
    assert "javascript:" not in html


def test_markdown_renders_tables_code_and_links_between_documents(editor):
    save(
        editor,
        "流程/变更",
        "见 [事件流程](../流程/事件)\n\n| 级别 | 响应 |\n|---|---|\n| P1 | 15 分钟 |\n\n"
        "```bash\nsystemctl restart nginx\n```\n\n## 第一节\n",
    )
    html = editor.get("docs/流程/变更").get_json()["html"]
    assert "<table>" in html
    assert 'class="highlight"' in html
    assert 'href="/docs/%E6%B5%81%E7%A8%8B/%E4%BA%8B%E4%BB%B6"' in html
    assert 'id="第一节"' in html


def test_openapi_describes_every_document_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/tokens",
        "/api/v1/docs",
        "/api/v1/docs/{path}",
        "/api/v1/docs/{path}/history",
        "/api/v1/docs/{path}/diff",
        "/api/v1/docs/{path}/revert",
        "/api/v1/docs/{path}/move",
        "/api/v1/search",
    ):
        assert path in spec["paths"], path


def test_tokens_come_from_username_and_password(client):
    response = client.post("/api/v1/tokens", json={"username": "li.reader", "password": "Pass-word-123"})
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert client.get("/api/v1/docs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    wrong = client.post("/api/v1/tokens", json={"username": "li.reader", "password": "nope-nope"})
    assert wrong.status_code == 401


def test_admins_create_users(admin, api_as):
    response = admin.post(
        "users", json={"username": "new.user", "password": "Long-enough-1", "role": "editor", "clearance": "internal"}
    )
    assert response.status_code == 201
    assert admin.post("users", json={"username": "new.user", "password": "Long-enough-1"}).status_code == 409
    assert api_as("wang.editor").post("users", json={"username": "x2", "password": "Long-enough-1"}).status_code == 403
