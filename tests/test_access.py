"""Clearance and roles: a document above the caller's clearance behaves as if it did not exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import save

from kb import access
from kb.access import Principal


def test_clearance_order_decides_visibility():
    reader = Principal("r", "reader", "internal")
    assert access.visible_levels(reader) == ["public", "internal"]
    assert access.visible_statuses(reader) == ["published"]
    assert access.visible_statuses(Principal("a", "archivist", "secret")) == ["published", "archived"]


def test_anonymous_sees_nothing_unless_anonymous_read_is_on():
    assert access.visible_levels(access.anonymous()) == []
    assert access.visible_levels(access.anonymous(anonymous_read=True)) == ["public"]
    assert not access.can(access.anonymous(anonymous_read=True), "edit")


@pytest.mark.parametrize("endpoint", ["docs/机密/合同", "docs/机密/合同/history", "docs/机密/合同/diff"])
def test_a_document_above_clearance_is_404_everywhere(admin, api_as, endpoint):
    save(admin, "机密/合同", "违约金条款", access="confidential")
    response = api_as("li.reader").get(endpoint)
    assert response.status_code in (403, 404)
    assert "合同" not in response.get_data(as_text=True).replace("docs/机密/合同", "")
    assert api_as("li.reader").get("docs/机密/合同").status_code == 404


def test_listings_hide_documents_above_clearance_and_count_only_visible_ones(admin, api_as):
    save(admin, "公开", access="public")
    save(admin, "内部", access="internal")
    save(admin, "机密", access="confidential")
    save(admin, "绝密", access="secret")
    assert api_as("sun.public").get("docs").get_json()["total"] == 1
    assert api_as("li.reader").get("docs").get_json()["total"] == 2
    assert api_as("wang.editor").get("docs").get_json()["total"] == 3
    assert admin.get("docs").get_json()["total"] == 4


def test_an_editor_may_not_write_above_own_clearance(api_as):
    response = api_as("wang.editor").put("docs/x", json={"title": "t", "body": "b", "access": "secret"})
    assert response.status_code in (403, 404)


def test_an_editor_may_not_overwrite_a_document_above_clearance(admin, api_as):
    save(admin, "绝密文档", "原文", access="secret")
    response = api_as("wang.editor").put("docs/绝密文档", json={"title": "t", "body": "覆盖"})
    assert response.status_code == 404
    assert admin.get("docs/绝密文档").get_json()["body"].strip() == "原文"


def test_readers_may_not_write_or_see_history(api_as, editor):
    save(editor, "doc")
    reader = api_as("li.reader")
    assert reader.put("docs/doc", json={"title": "t", "body": "b"}).status_code == 403
    assert reader.get("docs/doc/history").status_code == 403
    assert reader.get("docs/doc").status_code == 200


def test_a_past_version_above_clearance_stays_hidden(admin, api_as):
    secret = save(admin, "doc", "曾经绝密", access="secret")["revision"]
    save(admin, "doc", "现在内部", access="internal")
    editor = api_as("wang.editor")
    assert editor.get("docs/doc").status_code == 200
    assert editor.get(f"docs/doc?revision={secret}").status_code == 404


def test_anonymous_api_calls_need_a_login(client, editor):
    save(editor, "doc", access="public")
    assert client.get("/api/v1/docs/doc").status_code == 401
    assert client.get("/api/v1/docs").status_code == 401


def test_anonymous_read_shows_public_documents_only(app, client, admin):
    save(admin, "公开", access="public")
    save(admin, "内部", access="internal")
    app.config["ANONYMOUS_READ"] = True
    assert client.get("/api/v1/docs/公开").status_code == 200
    assert client.get("/api/v1/docs/内部").status_code == 404
    assert client.put("/api/v1/docs/公开", json={"title": "t", "body": "b"}).status_code == 401


def test_the_instance_folder_with_the_content_repository_is_its_owners_only(tmp_path):
    """A clone of content.git hands over every level at once: only the OS account running kb
    (an administrator of the machine) may read it."""
    from conftest import open_app

    app = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "fresh-instance")})
    instance = Path(app.config["INSTANCE_DIR"])
    assert instance.stat().st_mode & 0o777 == 0o700
    assert (instance / "content.git").is_dir()
    app.extensions["kb.stores"].close()


@pytest.mark.parametrize(
    "url",
    [
        "/content.git/info/refs?service=git-upload-pack",
        "/content.git/HEAD",
        "/info/refs?service=git-upload-pack",
        "/api/v1/git/info/refs",
    ],
)
def test_no_route_serves_the_git_repository(client, admin, url):
    save(admin, "绝密文档", "绝密正文", access="secret")
    response = client.get(url, headers=admin.headers)
    assert response.status_code == 404
    assert b"ref: refs/heads" not in response.data
