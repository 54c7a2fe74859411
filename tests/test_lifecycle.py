"""The document lifecycle over the API, on a real git repository and SQLite: drafts, review,
publish, edit, archive, restore, move, delete, and every state retrieved afterwards by revision
and by date, byte for byte."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, ApiClient, Clock, audit_entries, make_app, save, token_for
from flask import Flask

from kb.identity import users

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


def test_a_document_walks_its_whole_life_and_every_state_comes_back_byte_for_byte(
    reviewed: Flask, clock: Clock
) -> None:
    author, reviewer = client_for(reviewed, "wang.editor"), client_for(reviewed, "li.reviewer")
    archivist, admin, reader = (client_for(reviewed, name) for name in ("zhao.archivist", "admin", "li.reader"))
    states: list[tuple[str, str, bytes, str]] = []  # (what, revision, file, moment)

    def remember(what: str, path: str) -> None:
        doc = ok(archivist.get(f"docs/{path}"))
        raw = archivist.get(f"docs/{path}/raw").data
        states.append((what, doc["revision"], raw, clock.now().isoformat()))
        clock.advance(1.1)  # commit times have one-second resolution: one state per second

    # draft: invisible to readers, versioned, reviewed by someone else
    drafted = [
        ok(draft(author, PATH, "第一步：提交变更申请。\n", access="internal", review_by="2027-06-30"), 201)[
            "draft_revision"
        ]
    ]
    assert reader.get(f"docs/{PATH}").status_code == 404
    assert reader.get(f"docs/{PATH}/draft").status_code == 403
    assert ok(reader.get("docs"))["total"] == 0
    assert ok(reader.get("search?q=变更申请"))["total"] == 0
    assert author.put(f"docs/{PATH}", json={"title": "绕过评审", "body": "x"}).status_code == 403
    drafted.append(ok(author.post(f"docs/{PATH}/draft/submit", json={"comment": "请审阅"}))["draft_revision"])
    refused = author.post(f"docs/{PATH}/draft/publish")
    assert refused.status_code == 403 and "四眼" in refused.get_json()["error"]["message"]
    drafted.append(ok(reviewer.post(f"docs/{PATH}/draft/return", json={"comment": "请补充回退方案"}))["draft_revision"])
    returned = ok(author.get(f"docs/{PATH}/draft"))
    assert returned["state"] == "returned" and returned["comment"] == "请补充回退方案"
    drafted.append(
        ok(
            draft(author, PATH, "第一步：提交变更申请。\n第二步：准备回退方案。\n", draft_revision=returned["revision"])
        )["draft_revision"]
    )
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
    assert moved.status_code == 302 and moved.headers["Location"].endswith(
        "/docs/%E6%B5%81%E7%A8%8B/%E5%8F%98%E6%9B%B4%E7%AE%A1%E7%90%86"
    )
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
    # the draft's versions, published since, stay retrievable by their revisions, as git has them
    store = reviewed.extensions["kb.stores"].store
    for revision in drafted:
        stored = subprocess.run(
            ["git", "--git-dir", str(store.root), "cat-file", "blob", f"{revision}:document.md"],
            capture_output=True,
            check=True,
        ).stdout
        assert archivist.get(f"docs/流程/变更管理/raw?revision={revision}").data == stored
    assert "准备回退方案" in ok(archivist.get(f"docs/流程/变更管理?revision={drafted[-1]}"))["body"]
    assert (
        archivist.get("docs/流程/变更管理/raw", query_string={"at": clock.now().isoformat()}).status_code == 404
    )  # deleted at that moment
    assert reader.get(f"docs/流程/变更管理/raw?revision={states[0][1]}").status_code in (403, 404)

    actions = [entry.action for entry in audit_entries(reviewed) if entry.target in (PATH, "流程/变更管理")]
    for action in ("draft_save", "draft_submit", "draft_return", "publish", "archive", "restore", "move", "delete"):
        assert action in actions, action


def set_dates(app: Flask, path: str, **columns: Any) -> None:
    """Back-date catalog columns (archived_at, review_by) that the clock would take days to change."""
    from sqlalchemy import update

    from kb.models import Document

    with app.extensions["kb.stores"].sessions() as session:
        session.execute(update(Document).where(Document.path == path).values(**columns))
        session.commit()


def test_archiving_needs_a_reason_and_restoring_an_archived_document(app, api_as, editor):
    archivist = api_as("zhao.archivist")
    save(editor, "a", "正文")
    for body in ({}, {"reason": "   "}, {"reason": 5}, {"reason": "长" * 501}, {"reason": "x", "status": "y"}):
        assert archivist.post("docs/a/archive", json=body).status_code == 400, body
    assert archivist.post("docs/a/restore").status_code == 409  # not archived
    ok(archivist.post("docs/a/archive", json={"reason": "过时\n换行"}))
    assert archivist.post("docs/a/archive", json={"reason": "再次"}).status_code == 409
    doc = ok(archivist.get("docs/a"))
    assert (doc["status"], doc["archive_reason"], doc["archived_by"]) == ("archived", "过时 换行", "zhao.archivist")
    assert editor.put("docs/a", json={"title": "t", "body": "改"}).status_code == 404  # editors do not see it
    assert api_as("admin").put("docs/a", json={"title": "t", "body": "改"}).status_code == 409  # read-only
    assert ok(api_as("li.reader").get("search?q=正文"))["total"] == 0
    assert ok(archivist.get("search?q=正文&status=archived"))["total"] == 1
    ok(archivist.post("docs/a/restore"))
    restored = archivist.get("docs/a/raw").data.decode()
    assert "status: published" in restored and "archive" not in restored
    assert ok(api_as("li.reader").get("search?q=正文"))["total"] == 1


def test_the_archive_list_filters_by_folder_tag_and_archive_date(app, api_as, editor):
    archivist = api_as("zhao.archivist")
    for path, tags in (("运维/备份", ["备份"]), ("运维/监控", ["监控"]), ("流程/变更", ["备份"])):
        save(editor, path, tags=tags)
        ok(archivist.post(f"docs/{path}/archive", json={"reason": f"{path} 已废止"}))
    set_dates(app, "运维/备份", archived_at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC))

    def paths(query: str) -> list[str]:
        return [item["path"] for item in ok(archivist.get(f"archive?{query}"))["items"]]

    assert set(paths("")) == {"运维/备份", "运维/监控", "流程/变更"}
    assert set(paths("prefix=运维")) == {"运维/备份", "运维/监控"}
    assert set(paths("tag=备份")) == {"运维/备份", "流程/变更"}
    assert paths("from=2026-01-01&to=2026-01-10") == ["运维/备份"]
    assert "运维/备份" not in paths("from=2026-01-11")
    assert archivist.get("archive?from=上周").status_code == 400
    assert api_as("wang.editor").get("archive").status_code == 403
    low = client_for(app, "li.reader")
    assert low.get("archive").status_code == 403


def test_review_due_lists_documents_past_or_near_their_date(app, api_as, editor):
    today = dt.date.today()
    save(editor, "逾期", review_by=(today - dt.timedelta(days=3)).isoformat())
    save(editor, "将到期", review_by=(today + dt.timedelta(days=10)).isoformat())
    save(editor, "远期", review_by=(today + dt.timedelta(days=200)).isoformat())
    save(editor, "无日期")
    save(api_as("admin"), "他人", review_by=today.isoformat())
    save(api_as("admin"), "机密", review_by=today.isoformat(), access="secret")
    due = ok(editor.get("review-due"))["items"]
    assert [(d["path"], d["overdue"]) for d in due] == [("逾期", True), ("他人", False), ("将到期", False)]
    assert [d["path"] for d in ok(editor.get("review-due?mine=1"))["items"]] == ["逾期", "将到期"]
    assert [d["path"] for d in ok(editor.get("review-due?within=0"))["items"]] == ["逾期", "他人"]
    assert api_as("li.reader").get("review-due").status_code == 403
    assert editor.get("review-due?within=-1").status_code == 400
    assert editor.put("docs/逾期", json={"title": "t", "body": "b", "review_by": "2026-02-30"}).status_code == 400


def test_the_knowledge_base_as_of_a_date_lists_what_was_there_then(app, api_as, editor, clock):
    archivist, admin = api_as("zhao.archivist"), api_as("admin")
    save(editor, "旧/会移走", "移走前")
    save(editor, "旧/会删除", "删除前")
    save(editor, "旧/机密", "机密", access="confidential")
    save(editor, "旧/链接", "见 [会移走](会移走)")
    clock.advance(1.1)
    then = clock.now().isoformat()
    clock.advance(1.1)
    ok(editor.post("docs/旧/会移走/move", json={"to": "新/已移走"}))
    assert admin.delete("docs/旧/会删除").status_code == 204
    save(editor, "新/之后才有", "之后")
    listing = ok(archivist.get("docs", query_string={"at": then}))
    assert {(i["path"], i["current_path"]) for i in listing["items"]} == {
        ("旧/会移走", "新/已移走"),
        ("旧/会删除", None),
        ("旧/机密", "旧/机密"),
        ("旧/链接", "旧/链接"),
    }
    assert ok(archivist.get("docs", query_string={"at": then, "prefix": "旧", "per_page": 2}))["total"] == 4
    assert ok(archivist.get("docs", query_string={"at": "2000-01-01"}))["items"] == []
    assert api_as("wang.editor").get("docs", query_string={"at": then}).status_code == 403
    assert archivist.get("docs", query_string={"at": "去年"}).status_code == 400

    low = client_for_new_archivist(app, "internal")
    assert "旧/机密" not in {i["path"] for i in ok(low.get("docs", query_string={"at": then}))["items"]}


def client_for_new_archivist(app: Flask, clearance: str) -> ApiClient:
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, f"archivist.{clearance}", PASSWORD, "archivist", clearance)
        session.commit()
    return client_for(app, f"archivist.{clearance}")
