"""The document lifecycle over the API, on a real git repository and SQLite: drafts, review,
publish, edit, archive, restore, move, delete, and every state retrieved afterwards by revision
and by date, byte for byte."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, ApiClient, audit_entries, make_app, token_for
from flask import Flask

from kb.services import users

PATH = "流程/变更审批"


@pytest.fixture
def reviewed(tmp_path: Path) -> Iterator[Flask]:
    """An app that publishes only reviewed drafts, with a second editor to review."""
    app = make_app(tmp_path / "instance", REQUIRE_REVIEW=True)
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "li.reviewer", PASSWORD, "editor", "secret", display_name="Li Reviewer")
        session.commit()
    yield app
    app.extensions["kb.stores"].close()


def client_for(app: Flask, username: str) -> ApiClient:
    return ApiClient(app.test_client(), token_for(app, username))


def ok(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200,)), (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def draft(api: ApiClient, path: str, body: str, **fields: Any) -> Any:
    return api.put(f"docs/{path}/draft", json={"title": "变更审批流程", "body": body, **fields})


def test_a_document_walks_its_whole_life_and_every_state_comes_back_byte_for_byte(reviewed: Flask) -> None:
    author, reviewer = client_for(reviewed, "wang.editor"), client_for(reviewed, "li.reviewer")
    archivist, admin, reader = (client_for(reviewed, name) for name in ("zhao.archivist", "admin", "li.reader"))
    states: list[tuple[str, str, bytes, str]] = []  # (what, revision, file, moment)

    def remember(what: str, path: str) -> None:
        doc = ok(archivist.get(f"docs/{path}"))
        raw = archivist.get(f"docs/{path}/raw").data
        states.append((what, doc["revision"], raw, dt.datetime.now(dt.UTC).isoformat()))
        time.sleep(1.1)  # commit times have one-second resolution: one state per second

    # draft: invisible to readers, versioned, reviewed by someone else
    ok(draft(author, PATH, "第一步：提交变更申请。\n", access="internal", review_by="2027-06-30"), 201)
    assert reader.get(f"docs/{PATH}").status_code == 404
    assert reader.get(f"docs/{PATH}/draft").status_code == 403
    assert ok(reader.get("docs"))["total"] == 0
    assert ok(reader.get("search?q=变更申请"))["total"] == 0
    assert author.put(f"docs/{PATH}", json={"title": "绕过评审", "body": "x"}).status_code == 403
    ok(author.post(f"docs/{PATH}/draft/submit", json={"comment": "请审阅"}))
    refused = author.post(f"docs/{PATH}/draft/publish")
    assert refused.status_code == 403 and "四眼" in refused.get_json()["error"]["message"]
    ok(reviewer.post(f"docs/{PATH}/draft/return", json={"comment": "请补充回退方案"}))
    returned = ok(author.get(f"docs/{PATH}/draft"))
    assert returned["state"] == "returned" and returned["comment"] == "请补充回退方案"
    ok(draft(author, PATH, "第一步：提交变更申请。\n第二步：准备回退方案。\n",
             draft_revision=returned["revision"]))
    assert ok(author.get(f"docs/{PATH}/draft"))["state"] == "draft"  # changed: to be reviewed again
    assert reviewer.post(f"docs/{PATH}/draft/publish").status_code == 409  # not submitted
    ok(author.post(f"docs/{PATH}/draft/submit"))
    published = ok(reviewer.post(f"docs/{PATH}/draft/publish", json={"message": "发布变更审批流程"}), 201)
    assert author.get(f"docs/{PATH}/draft").status_code == 404
    assert ok(reader.get(f"docs/{PATH}"))["revision"] == published["revision"]
    remember("published", PATH)

    # edit: through a second draft, published by the reviewer again
    ok(draft(author, PATH, "第一步：提交变更申请。\n第二步：准备回退方案。\n第三步：实施并验证。\n"), 201)
    ok(author.post(f"docs/{PATH}/draft/submit"))
    ok(reviewer.post(f"docs/{PATH}/draft/publish"))
    remember("edited", PATH)

    # archive and restore (archivists), read-only while archived
    assert author.post(f"docs/{PATH}/archive", json={"reason": "流程已废止"}).status_code == 403
    ok(archivist.post(f"docs/{PATH}/archive", json={"reason": "流程已废止"}))
    assert reader.get(f"docs/{PATH}").status_code == 404
    assert ok(archivist.get(f"docs/{PATH}"))["archive_reason"] == "流程已废止"
    assert draft(author, PATH, "改不了").status_code == 404  # an editor does not see archived documents
    assert ok(archivist.get("archive"))["items"][0]["reason"] == "流程已废止"
    remember("archived", PATH)
    ok(archivist.post(f"docs/{PATH}/restore", json={"reason": "流程恢复使用"}))
    assert ok(reader.get(f"docs/{PATH}"))["status"] == "published"
    remember("restored", PATH)

    # move: the history follows, the old path redirects
    ok(author.post(f"docs/{PATH}/move", json={"to": "流程/变更管理"}))
    moved = reader.get(f"docs/{PATH}")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/docs/%E6%B5%81%E7%A8%8B/"
                                                                           "%E5%8F%98%E6%9B%B4%E7%AE%A1%E7%90%86")
    remember("moved", "流程/变更管理")

    # delete (admins): gone from the live view, its past stays with archivists
    assert author.delete("docs/流程/变更管理").status_code == 403
    assert admin.delete("docs/流程/变更管理").status_code == 204
    assert reader.get("docs/流程/变更管理").status_code == 404
    gone = ok(archivist.get("deleted"))["items"]
    assert [item["path"] for item in gone] == ["流程/变更管理"]

    for what, revision, raw, moment in states:
        by_revision = archivist.get(f"docs/流程/变更管理/raw?revision={revision}")
        assert by_revision.status_code == 200 and by_revision.data == raw, what
        by_date = archivist.get("docs/流程/变更管理/raw", query_string={"at": moment})
        assert by_date.status_code == 200 and by_date.data == raw, what
    assert states[2][2] != states[3][2] and b"status: archived" in states[2][2]
    assert archivist.get("docs/流程/变更管理/raw", query_string={"at": dt.datetime.now(dt.UTC).isoformat()}
                         ).status_code == 404  # deleted at that moment
    assert reader.get(f"docs/流程/变更管理/raw?revision={states[0][1]}").status_code in (403, 404)

    actions = [entry.action for entry in audit_entries(reviewed) if entry.target in (PATH, "流程/变更管理")]
    for action in ("draft_save", "draft_submit", "draft_return", "publish", "archive", "restore", "move", "delete"):
        assert action in actions, action
