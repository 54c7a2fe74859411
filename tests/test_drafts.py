"""Drafts on a real git repository: invisible to readers, versioned on refs of their own,
surviving restarts, cleared like the documents they become, and never losing a save when
editors race each other."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from typing import Any

from conftest import ApiClient, open_app, save, token_for
from flask import Flask

from kb.identity import users

TEXT = "第一段：受理。\n\n第二段：分派。\n\n第三段：解决。\n"


def put_draft(api: ApiClient, path: str, body: str = TEXT, **fields: Any) -> Any:
    return api.put(f"docs/{path}/draft", json={"title": "草稿标题", "body": body, **fields})


def git(app: Flask, *args: str) -> str:
    root = app.extensions["kb.stores"].store.root
    return subprocess.run(["git", "--git-dir", str(root), *args], capture_output=True, text=True, check=True).stdout


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; their answers in order."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_draft_of_a_published_document_changes_nothing_readers_see(api_as, editor):
    published = save(editor, "运维/备份", "已发布的正文")
    assert put_draft(editor, "运维/备份", "草稿里的新正文").status_code == 201
    reader = api_as("li.reader")
    assert reader.get("docs/运维/备份").get_json()["body"].strip() == "已发布的正文"
    assert reader.get("docs/运维/备份").get_json()["revision"] == published["revision"]
    assert reader.get("search?q=草稿里的新正文").get_json()["total"] == 0
    draft = editor.get("docs/运维/备份/draft").get_json()
    assert draft["body"].strip() == "草稿里的新正文" and draft["base_revision"] == published["revision"]
    assert draft["authors"] == ["Wang.Editor"] and draft["state"] == "draft"


def test_drafts_are_versioned_in_git_survive_a_restart_and_are_listed(app, editor):
    first = put_draft(editor, "新/文档", "版本一").get_json()["draft_revision"]
    second = put_draft(editor, "新/文档", "版本二", draft_revision=first).get_json()["draft_revision"]
    assert git(app, "rev-parse", f"{second}^").strip() == first
    assert git(app, "for-each-ref", "--format=%(refname)", "refs/drafts/").strip().startswith("refs/drafts/")
    assert git(app, "for-each-ref", "refs/heads/").strip() == ""  # nothing on main yet
    again = open_app({"TESTING": True, "INSTANCE_DIR": app.config["INSTANCE_DIR"]})
    client = ApiClient(again.test_client(), token_for(again, "wang.editor"))
    view = client.get("docs/新/文档/draft").get_json()
    assert view["body"].strip() == "版本二" and [v["revision"] for v in view["versions"]] == [second, first]
    assert [d["path"] for d in client.get("drafts").get_json()["items"]] == ["新/文档"]
    again.extensions["kb.stores"].close()


def test_discarding_keeps_the_drafts_history_out_of_sight(app, editor):
    revision = put_draft(editor, "临时/笔记").get_json()["draft_revision"]
    assert editor.delete("docs/临时/笔记/draft").status_code == 204
    assert editor.get("docs/临时/笔记/draft").status_code == 404
    kept = git(app, "for-each-ref", "--format=%(objectname)", "refs/drafts-discarded/").split()
    assert kept == [revision]
    assert editor.delete("docs/临时/笔记/draft").status_code == 404


def test_publishing_joins_the_drafts_history_to_main_and_closes_it(app, editor):
    save(editor, "流程/受理", TEXT)
    draft = put_draft(editor, "流程/受理", TEXT.replace("分派", "按优先级分派")).get_json()["draft_revision"]
    published = editor.post("docs/流程/受理/draft/publish", json={"message": "按优先级分派"})
    assert published.status_code == 200, published.get_json()
    parents = git(app, "log", "-1", "--format=%P", published.get_json()["revision"]).split()
    assert parents[1] == draft
    assert "按优先级分派" in editor.get("docs/流程/受理").get_json()["body"]
    assert editor.get("docs/流程/受理/draft").status_code == 404
    history = editor.get("docs/流程/受理/history").get_json()["versions"]
    assert [v["message"] for v in history][:1] == ["按优先级分派"] and len(history) == 2


def test_a_draft_of_a_new_document_creates_it_on_publishing(api_as, editor):
    put_draft(editor, "新/指南", "指南正文", tags=["指南"], access="public", review_by="2027-01-31")
    assert api_as("li.reader").get("docs/新/指南").status_code == 404
    assert editor.post("docs/新/指南/draft/publish").status_code == 201
    doc = api_as("li.reader").get("docs/新/指南").get_json()
    assert (doc["tags"], doc["access"], doc["review_by"]) == (["指南"], "public", "2027-01-31")


def test_an_editor_below_the_level_sees_no_draft_anywhere(app, api_as, admin):
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "zhou.editor", "Pass-word-123", "editor", "internal")
        session.commit()
    save(admin, "机密/预案", access="confidential")
    put_draft(admin, "机密/预案", "机密草稿")
    put_draft(admin, "新/机密", "新机密草稿", access="confidential")
    assert {d["path"] for d in api_as("wang.editor").get("drafts").get_json()["items"]} == {"机密/预案", "新/机密"}
    low = api_as("zhou.editor")
    for path in ("机密/预案", "新/机密"):
        assert low.get(f"docs/{path}/draft").status_code == 404
        assert low.post(f"docs/{path}/draft/publish").status_code == 404
        assert low.delete(f"docs/{path}/draft").status_code == 404
        assert low.post(f"docs/{path}/draft/submit").status_code == 404
    assert low.get("drafts").get_json()["items"] == []
    assert put_draft(low, "新/密件", access="secret").status_code == 403
    assert put_draft(low, "新/机密", "覆盖").status_code == 404  # another's draft above the clearance
    assert admin.get("docs/新/机密/draft").get_json()["body"].strip() == "新机密草稿"


def test_readers_and_anonymous_callers_reach_no_draft(api_as, editor):
    put_draft(editor, "新/文档")
    for caller in (api_as("li.reader"), api_as(None)):
        assert caller.get("docs/新/文档/draft").status_code in (401, 403)
        assert caller.get("drafts").status_code in (401, 403)
        assert put_draft(caller, "新/文档").status_code in (401, 403)


def test_a_publish_after_the_document_moved_on_merges_separate_edits(editor, api_as):
    save(editor, "流程/受理", TEXT)
    put_draft(editor, "流程/受理", TEXT.replace("受理", "统一受理"))
    save(api_as("admin"), "流程/受理", TEXT.replace("解决", "解决并回访"))
    published = editor.post("docs/流程/受理/draft/publish")
    assert published.status_code == 200 and published.get_json()["merged"] is True
    body = editor.get("docs/流程/受理").get_json()["body"]
    assert "统一受理" in body and "解决并回访" in body


def test_a_publish_overlapping_newer_edits_is_a_409_with_both_and_loses_nothing(editor, api_as):
    save(editor, "流程/受理", TEXT)
    put_draft(editor, "流程/受理", TEXT.replace("分派", "草稿里的分派"))
    newer = save(api_as("admin"), "流程/受理", TEXT.replace("分派", "已发布的分派"))
    refused = editor.post("docs/流程/受理/draft/publish")
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert "草稿里的分派" in error["yours"]["text"] and "已发布的分派" in error["current"]["text"]
    assert editor.get("docs/流程/受理").get_json()["revision"] == newer["revision"]
    assert "草稿里的分派" in editor.get("docs/流程/受理/draft").get_json()["body"]


def test_two_editors_saving_one_draft_at_once_lose_nothing(app, api_as, editor):
    start = put_draft(editor, "流程/受理").get_json()["draft_revision"]
    other = ApiClient(app.test_client(), token_for(app, "admin"))
    answers = race(
        lambda: put_draft(editor, "流程/受理", TEXT.replace("受理", "甲改受理"), draft_revision=start),
        lambda: put_draft(other, "流程/受理", TEXT.replace("解决", "乙改解决"), draft_revision=start),
    )
    assert sorted(a.status_code for a in answers) == [200, 200], [a.get_json() for a in answers]
    body = editor.get("docs/流程/受理/draft").get_json()["body"]
    assert "甲改受理" in body and "乙改解决" in body


def test_overlapping_draft_saves_at_once_answer_409_to_one_with_both_versions(app, editor):
    start = put_draft(editor, "流程/受理").get_json()["draft_revision"]
    other = ApiClient(app.test_client(), token_for(app, "admin"))
    answers = race(
        lambda: put_draft(editor, "流程/受理", TEXT.replace("分派", "甲的分派"), draft_revision=start),
        lambda: put_draft(other, "流程/受理", TEXT.replace("分派", "乙的分派"), draft_revision=start),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409).get_json()["error"]
    body = editor.get("docs/流程/受理/draft").get_json()["body"]
    assert refused["current"]["text"].endswith(body) and refused["yours"]["text"] != refused["current"]["text"]


def test_publishing_one_draft_twice_at_once_publishes_it_once(app, editor):
    save(editor, "流程/受理", TEXT)
    put_draft(editor, "流程/受理", TEXT + "\n补充一段。\n")
    other = ApiClient(app.test_client(), token_for(app, "admin"))
    answers = race(
        lambda: editor.post("docs/流程/受理/draft/publish"), lambda: other.post("docs/流程/受理/draft/publish")
    )
    assert sorted(a.status_code for a in answers) == [200, 404]
    assert len(editor.get("docs/流程/受理/history").get_json()["versions"]) == 2


def test_a_moved_document_takes_its_draft_along(editor):
    save(editor, "旧/位置", TEXT)
    put_draft(editor, "旧/位置", "草稿正文")
    assert editor.post("docs/旧/位置/move", json={"to": "新/位置"}).status_code == 200
    assert editor.get("docs/新/位置/draft").get_json()["body"].strip() == "草稿正文"
    assert len(editor.get("docs/新/位置/draft").get_json()["versions"]) == 2
    assert editor.post("docs/新/位置/draft/publish").status_code == 200


def test_bad_draft_input_is_a_clear_400(editor):
    save(editor, "流程/受理", TEXT)
    for body in (
        {"title": "t"},
        {"title": "t", "body": 3},
        {"title": "t", "body": "b", "status": "archived"},
        {"title": "t", "body": "b", "review_by": "下周"},
        {"title": "t", "body": "b", "draft_revision": 5},
        {"title": "", "body": "b"},
    ):
        response = editor.put("docs/流程/受理/draft", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert "(" in response.get_json()["error"]["message"]
    assert editor.put("docs/流程/受理/draft", data="不是 JSON").status_code == 400
    assert editor.post("docs/流程/受理/draft/return", json={"comment": "x"}).status_code == 404
    put_draft(editor, "流程/受理")
    assert editor.post("docs/流程/受理/draft/return", json={"comment": ""}).status_code == 400
    assert editor.post("docs/流程/受理/draft/submit", json={"comment": "长" * 2001}).status_code == 400
    assert editor.post("docs/流程/受理/draft/publish", json={"status": "x"}).status_code == 400
    assert editor.put("docs/../x/draft", json={"title": "t", "body": "b"}).status_code in (400, 404)
