"""Bad input gets a clear 4xx in the user's language and leaves no file and no commit behind."""

from __future__ import annotations

import pytest
from conftest import save


def _head(app):
    return app.extensions["kb.stores"].store.head()


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "a/../b",
        ".git/config",
        "a/.hidden",
        "-rf",
        "a//b",
        "a/\x01b",
        "x" * 201,
        "a b",
        "a/-x",
        "%2e%2e/x",
    ],
)
def test_invalid_paths_are_400_and_commit_nothing(app, editor, path):
    before = _head(app)
    response = editor.put(f"docs/{path}", json={"title": "标题", "body": "正文"})
    assert response.status_code in (400, 404), path
    if response.status_code == 400:
        assert response.get_json()["error"]["message"]
    assert _head(app) == before


def test_an_absolute_path_is_rejected(app, editor):
    response = editor.client.put("/api/v1/docs//etc/passwd", headers=editor.headers, json={"title": "t", "body": "b"})
    assert response.status_code in (400, 404)
    assert _head(app) is None


def test_a_body_over_the_limit_is_413_and_commits_nothing(app, editor):
    save(editor, "doc", "小")
    before = _head(app)
    response = editor.put("docs/doc", json={"title": "标题", "body": "大" * 40_000})
    assert response.status_code == 413
    assert "上限" in response.get_json()["error"]["message"]
    assert _head(app) == before


def test_a_request_far_over_the_limit_is_413(editor):
    response = editor.put("docs/doc", data=b"x" * (200 * 1024), content_type="application/json")
    assert response.status_code == 413


def test_a_body_that_is_not_json_is_400(editor):
    response = editor.put("docs/doc", data="title=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]["message"]


def test_invalid_utf8_is_400(app, editor):
    response = editor.put("docs/doc", data=b'{"title": "\xff\xfe", "body": "x"}', content_type="application/json")
    assert response.status_code == 400
    assert _head(app) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "", "body": "正文"},
        {"title": "标题", "body": 42},
        {"title": "标题", "body": "正文", "access": "top-secret"},
        {"title": "标题", "body": "正文", "tags": {"a": 1}},
        {"title": "标题", "body": "正文", "base_revision": 7},
        {"title": "标题\x00", "body": "正文"},
    ],
)
def test_invalid_fields_are_400_and_commit_nothing(app, editor, fields):
    response = editor.put("docs/doc", json=fields)
    assert response.status_code == 400, fields
    assert _head(app) is None


def test_malformed_front_matter_in_an_import_is_reported_and_skipped(app, tmp_path):
    from kb.services import bulk

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "好.md").write_text("---\ntitle: 好文档\n---\n正文\n", encoding="utf-8")
    (folder / "坏.md").write_text("---\ntitle: [未闭合\n---\n正文\n", encoding="utf-8")
    (folder / "乱码.md").write_bytes(b"\xff\xfe\x00bad")
    stores = app.extensions["kb.stores"]
    report = bulk.import_files(stores, folder, bulk.find_markdown(folder))
    assert report.imported == 1
    assert len(report.skipped) == 2
    assert [path for path, _ in stores.store.documents()] == ["好"]


def test_unknown_documents_are_404_with_a_message(editor):
    response = editor.get("docs/不存在的文档")
    assert response.status_code == 404
    assert response.get_json()["error"] == {"code": "not_found", "message": "文档不存在 (document not found)"}


def test_bad_paging_parameters_are_400(editor):
    assert editor.get("docs?page=abc").status_code == 400
    assert editor.get("search?q=x&limit=-1").status_code == 400


def test_a_malformed_authorization_header_is_401(client):
    response = client.get("/api/v1/docs", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    response = client.get("/api/v1/docs", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
