"""The audit trail: what is recorded, who may read it, and that tampering is caught."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import PASSWORD, audit_entries, save
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from kb.access import Principal
from kb.cli import main as kb_cli
from kb.stores.audit import CSV_FIELDS, HASHED_FIELDS, entry_hash

ADDRESS = "10.20.30.40"


# ---------------------------------------------------------------- helpers


entries = audit_entries


def last_id(app) -> int:
    return entries(app)[-1].id


def database(app) -> Path:
    return Path(app.config["INSTANCE_DIR"]) / "kb.sqlite3"


def tamper(app, *statements: tuple[str, tuple]) -> None:
    """What someone with the database file could do: drop the triggers, then change rows."""
    app.extensions["kb.stores"].sessions.kw["bind"].dispose()
    with sqlite3.connect(database(app)) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_trail_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_trail_no_delete")
        for statement, args in statements:
            db.execute(statement, args)
    db.close()


def verification(app) -> dict:
    trail = app.extensions["kb.stores"].audit
    with app.extensions["kb.stores"].sessions() as session:
        result = trail.verify(session)
    return {"ok": result.ok, "entries": result.entries, "problems": [(p["id"], p["problem"]) for p in result.problems]}


def web_login(client, username: str, password: str = PASSWORD, address: str = ADDRESS):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def some_activity(app, admin, editor) -> None:
    save(editor, "流程/变更", "第一版", access="confidential")
    save(editor, "流程/变更", "第二版", access="confidential")
    save(admin, "机密/预案", "绝密正文", access="secret")
    save(editor, "公开/指南", "公开正文", access="public")


# ---------------------------------------------------------------- what is recorded


def test_document_changes_are_recorded_with_path_revision_and_level(app, editor, admin):
    created = save(editor, "流程/变更", "第一版", access="confidential")
    updated = save(editor, "流程/变更", "第二版")
    reverted = editor.post("docs/流程/变更/revert", json={"revision": created["revision"]}).get_json()
    moved = editor.post("docs/流程/变更/move", json={"to": "流程/变更管理"}).get_json()
    assert admin.delete("docs/流程/变更管理").status_code == 204

    rows = [e for e in entries(app) if e.action in ("create", "update", "revert", "move", "delete")]
    assert [(e.action, e.actor, e.target, e.level, e.outcome) for e in rows] == [
        ("create", "wang.editor", "流程/变更", "confidential", "ok"),
        ("update", "wang.editor", "流程/变更", "confidential", "ok"),
        ("revert", "wang.editor", "流程/变更", "confidential", "ok"),
        ("move", "wang.editor", "流程/变更", "confidential", "ok"),
        ("delete", "admin", "流程/变更管理", "confidential", "ok"),
    ]
    assert rows[0].revision == created["revision"]
    assert rows[1].revision == updated["revision"]
    assert rows[2].revision == reverted["revision"]
    assert rows[3].revision == moved["revision"]
    assert "流程/变更管理" in rows[3].detail
    assert rows[4].revision and len(rows[4].revision) == 40


def test_reads_of_confidential_and_secret_documents_are_audited(app, admin, editor):
    first = save(editor, "机密/合同", "第一版", access="confidential")
    second = save(editor, "机密/合同", "第二版")
    save(admin, "绝密/密钥", "密钥位置", access="secret")
    before = last_id(app)

    assert editor.get("/docs/机密/合同").status_code == 200  # the web page
    assert editor.get("docs/机密/合同").status_code == 200  # API
    assert editor.get("docs/机密/合同/raw").status_code == 200
    assert editor.get("docs/机密/合同/history").status_code == 200
    assert editor.get(f"docs/机密/合同/diff?from={first['revision']}&to={second['revision']}").status_code == 200
    assert editor.get(f"docs/机密/合同?revision={first['revision']}").status_code == 200
    assert admin.get("docs/绝密/密钥").status_code == 200

    reads = [(e.actor, e.action, e.target, e.level) for e in entries(app) if e.id > before]
    assert reads == [
        ("wang.editor", "read", "机密/合同", "confidential"),
        ("wang.editor", "read", "机密/合同", "confidential"),
        ("wang.editor", "read_raw", "机密/合同", "confidential"),
        ("wang.editor", "read_history", "机密/合同", "confidential"),
        ("wang.editor", "read_diff", "机密/合同", "confidential"),
        ("wang.editor", "read", "机密/合同", "confidential"),
        ("admin", "read", "绝密/密钥", "secret"),
    ]
    past = [e for e in entries(app) if e.id > before][5]
    assert past.revision == first["revision"]


def test_reads_of_internal_and_public_documents_are_not_audited(app, editor):
    first = save(editor, "内部/手册", "第一版", access="internal")
    second = save(editor, "内部/手册", "第二版")
    save(editor, "公开/指南", "公开", access="public")
    before = last_id(app)
    for url in (
        "/docs/内部/手册",
        "docs/内部/手册",
        "docs/内部/手册/raw",
        "docs/内部/手册/history",
        f"docs/内部/手册/diff?from={first['revision']}&to={second['revision']}",
        f"docs/内部/手册?revision={first['revision']}",
        "docs/公开/指南",
        "/docs/公开/指南",
    ):
        assert editor.get(url).status_code == 200, url
    assert last_id(app) == before


def test_a_search_showing_a_confidential_document_writes_one_search_entry(app, editor):
    save(editor, "机密/供应商", "供应商 Zanzibar 报价", access="confidential")
    save(editor, "内部/供应商", "供应商 Zanzibar 名单", access="internal")
    save(editor, "内部/其他", "Kilimanjaro 路线", access="internal")
    before = last_id(app)

    hits = editor.get("search?q=Zanzibar").get_json()["hits"]
    assert {hit["path"] for hit in hits} == {"机密/供应商", "内部/供应商"}
    new = [e for e in entries(app) if e.id > before]
    assert [(e.action, e.actor, e.target, e.level) for e in new] == [
        ("search", "wang.editor", "机密/供应商", "confidential")
    ]
    assert "Zanzibar" in new[0].detail and "机密/供应商" in new[0].detail
    assert "内部/供应商" not in new[0].detail

    editor.get("search?q=Kilimanjaro")
    assert last_id(app) == new[0].id


def test_logins_failures_and_throttling_are_audited_with_the_address(app, client):
    assert web_login(client, "li.reader").status_code == 302
    for _ in range(5):
        assert web_login(client, "li.reader", "wrong-password").status_code == 401
    assert web_login(client, "li.reader", "wrong-password").status_code == 429
    assert web_login(client, "nobody.here", "wrong-password").status_code == 401

    rows = [(e.action, e.actor, e.address, e.outcome, e.detail) for e in entries(app, address=ADDRESS)]
    assert rows[:-2] == [
        ("login", "li.reader", ADDRESS, "ok", ""),
        *[("login", "li.reader", ADDRESS, "failed", "wrong password")] * 5,
    ]
    assert rows[-2][:4] == ("login", "li.reader", ADDRESS, "throttled")
    assert rows[-2][4].startswith("retry after")
    assert rows[-1] == ("login", "nobody.here", ADDRESS, "failed", "no such user")


def test_api_sign_in_is_audited_as_token_login(app, client):
    assert (
        client.post(
            "/api/v1/tokens",
            json={"username": "li.reader", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": ADDRESS},
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/tokens",
            json={"username": "li.reader", "password": "wrong-password"},
            environ_base={"REMOTE_ADDR": ADDRESS},
        ).status_code
        == 401
    )
    rows = [(e.action, e.actor, e.outcome) for e in entries(app, address=ADDRESS)]
    assert rows == [
        ("token_login", "li.reader", "ok"),
        ("token_create", "li.reader", "ok"),
        ("token_login", "li.reader", "failed"),
    ]


def test_logout_is_audited_with_the_address(app, client):
    assert web_login(client, "li.reader").status_code == 302
    assert client.post("/logout", environ_base={"REMOTE_ADDR": ADDRESS}).status_code == 302
    rows = [(e.action, e.actor, e.address, e.outcome) for e in entries(app, address=ADDRESS)]
    assert rows == [("login", "li.reader", ADDRESS, "ok"), ("logout", "li.reader", ADDRESS, "ok")]


def test_account_changes_are_audited(app, admin):
    assert (
        admin.post(
            "users",
            json={"username": "zhou.new", "password": "Long-enough-1", "role": "editor", "clearance": "internal"},
        ).status_code
        == 201
    )
    assert admin.patch("users/zhou.new", json={"role": "reader"}).status_code == 200
    token = admin.client.post(
        "/api/v1/tokens", json={"username": "zhou.new", "password": "Long-enough-1", "name": "script"}
    ).get_json()
    assert admin.delete(f"tokens/{token['id']}").status_code == 204

    by_action = {e.action: e for e in entries(app) if e.id > 0}
    assert by_action["user_create"].actor == "admin"
    assert by_action["user_create"].detail == "user=zhou.new; role=editor; clearance=internal"
    assert by_action["user_update"].detail == "user=zhou.new; role: editor → reader"
    created = entries(app, action="token_create")[-1]
    assert created.actor == "zhou.new" and f"token={token['id']}" in created.detail
    revoked = entries(app, action="token_revoke")[-1]
    assert revoked.actor == "admin" and revoked.detail == f"user=zhou.new; token={token['id']}"


# ---------------------------------------------------------------- the chain


def test_an_untouched_chain_verifies(app, admin, editor):
    some_activity(app, admin, editor)
    count = len(entries(app))
    assert count > 5
    result = admin.get("audit/verify").get_json()
    assert result == {"ok": True, "entries": count, "problems": []}


def test_verify_names_an_edited_entry(app, admin, editor):
    some_activity(app, admin, editor)
    victim = entries(app, action="create")[0].id
    tamper(app, ("UPDATE audit_trail SET detail = ? WHERE id = ?", ("nothing happened", victim)))
    result = verification(app)
    assert result["ok"] is False
    assert result["problems"] == [(victim, "edited")]
    answer = admin.get("audit/verify").get_json()
    assert answer["ok"] is False
    assert answer["problems"][0]["id"] == victim and answer["problems"][0]["problem"] == "edited"
    assert str(victim) in answer["problems"][0]["message"]


def test_verify_names_a_removed_entry_in_the_middle(app, admin, editor):
    some_activity(app, admin, editor)
    count = len(entries(app))
    tamper(app, ("DELETE FROM audit_trail WHERE id = ?", (3,)))
    result = verification(app)
    assert result["ok"] is False
    assert result["entries"] == count - 1
    assert result["problems"] == [(4, "removed")]


def test_verify_catches_an_edited_entry_whose_hash_was_recomputed(app, admin, editor):
    some_activity(app, admin, editor)
    victim = entries(app, action="create")[0]
    assert victim.id < last_id(app)
    values = {name: getattr(victim, name) for name in HASHED_FIELDS}
    values["at"] = victim.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    values["detail"] = "nothing happened"
    assert entry_hash({**values, "detail": victim.detail}, victim.prev_hash) == victim.hash  # same recipe
    forged = entry_hash(values, victim.prev_hash)
    tamper(app, ("UPDATE audit_trail SET detail = ?, hash = ? WHERE id = ?", ("nothing happened", forged, victim.id)))
    result = verification(app)
    assert result["ok"] is False
    assert result["problems"] == [(victim.id + 1, "broken_link")]


def test_verify_catches_a_chain_rewritten_from_an_edited_entry_onwards(app, admin, editor):
    """Every hash from the edit onwards recomputed: the chain is consistent again, but the
    newest entry no longer matches the anchor kept outside the database."""
    some_activity(app, admin, editor)
    rows = entries(app)
    victim = next(row for row in rows if row.action == "create")
    previous_hash = next(row.hash for row in rows if row.id == victim.id - 1) if victim.id > 1 else "0" * 64
    statements = []
    for row in [row for row in rows if row.id >= victim.id]:
        values = {name: getattr(row, name) for name in HASHED_FIELDS}
        values["at"] = row.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
        if row.id == victim.id:
            values["detail"] = "nothing happened"
        forged = entry_hash(values, previous_hash)
        statements.append(
            (
                "UPDATE audit_trail SET detail = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (values["detail"], previous_hash, forged, row.id),
            )
        )
        previous_hash = forged
    tamper(app, *statements)
    result = verification(app)
    assert result["ok"] is False
    assert result["problems"] == [(rows[-1].id, "rewritten")]


def test_verify_catches_entries_cut_off_the_end(app, admin, editor):
    some_activity(app, admin, editor)
    newest = last_id(app)
    anchor = json.loads((Path(app.config["INSTANCE_DIR"]) / "audit.head").read_text())
    assert anchor["id"] == newest
    tamper(app, ("DELETE FROM audit_trail WHERE id >= ?", (newest - 1,)))
    result = verification(app)
    assert result["ok"] is False
    assert result["problems"] == [(newest - 1, "removed")]


def test_the_database_refuses_to_change_or_remove_entries(app, admin, editor):
    some_activity(app, admin, editor)
    with sqlite3.connect(database(app)) as db:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_trail SET detail = 'x' WHERE id = 2")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_trail WHERE id = 2")
    db.close()
    with app.extensions["kb.stores"].sessions() as session, pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM audit_trail"))
    assert verification(app)["ok"] is True


def test_kb_audit_verify_on_the_command_line_catches_a_hand_edited_entry(app, admin, editor):
    some_activity(app, admin, editor)
    runner = CliRunner()
    env = {"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]}
    before = len(entries(app))
    intact = runner.invoke(kb_cli, ["audit", "verify"], env=env)
    assert intact.exit_code == 0, intact.output
    assert f"intact: {before} entries" in intact.output
    assert entries(app)[-1].action == "audit_verify"  # the check itself is recorded

    victim = entries(app, action="update")[0].id
    tamper(app, ("UPDATE audit_trail SET actor = ? WHERE id = ?", ("somebody.else", victim)))
    broken = CliRunner().invoke(kb_cli, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert f"entry {victim}:" in broken.output
    assert "BROKEN" in broken.output


def test_concurrent_appends_keep_one_chain(app):
    trail = app.extensions["kb.stores"].audit
    before = len(entries(app))

    def work(n: int) -> None:
        for i in range(20):
            trail.record(Principal(f"worker{n}", "admin", "secret", address="local"), "test_append", detail=f"{n}/{i}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))  # re-raises a worker's exception here
    rows = entries(app)
    assert [e.id for e in rows] == list(range(1, before + 161))
    assert len(entries(app, action="test_append")) == 160
    assert verification(app) == {"ok": True, "entries": before + 160, "problems": []}


# ---------------------------------------------------------------- reading the trail


def test_the_audit_api_filters_pages_and_lists_newest_first(app, admin, editor, client):
    save(editor, "流程/变更", "v1")
    save(editor, "流程/变更/附录", "v1")
    save(editor, "流程/变更管理", "v1")
    save(admin, "其他/文档", "v1")
    middle = dt.datetime.now(dt.UTC)
    web_login(client, "li.reader", "wrong-password")
    save(editor, "流程/变更", "v2")

    everything = admin.get("audit?per_page=500").get_json()
    ids = [e["id"] for e in everything["entries"]]
    assert ids == sorted(ids, reverse=True)
    assert everything["total"] == len(entries(app)) == len(ids)

    mine = admin.get("audit?user=wang.editor&per_page=500").get_json()
    assert mine["entries"] and {e["actor"] for e in mine["entries"]} == {"wang.editor"}

    exact = admin.get("audit?path=流程/变更管理").get_json()
    assert [(e["action"], e["target"]) for e in exact["entries"]] == [("create", "流程/变更管理")]
    folder = admin.get("audit?path=流程/变更").get_json()
    assert [(e["action"], e["target"]) for e in folder["entries"]] == [
        ("update", "流程/变更"),
        ("create", "流程/变更/附录"),
        ("create", "流程/变更"),
    ]

    created = admin.get("audit?action=create").get_json()
    assert created["total"] == 4 and {e["action"] for e in created["entries"]} == {"create"}
    failed = admin.get("audit?outcome=failed").get_json()
    assert [(e["action"], e["actor"]) for e in failed["entries"]] == [("login", "li.reader")]
    both = admin.get("audit?action=create&user=admin").get_json()
    assert [e["target"] for e in both["entries"]] == ["其他/文档"]

    today = dt.datetime.now(ZoneInfo(app.config["TIMEZONE"])).date()  # a bare date is a day where kb is
    assert admin.get(f"audit?since={today}&until={today}").get_json()["total"] == everything["total"]
    assert admin.get(f"audit?since={today + dt.timedelta(days=1)}").get_json()["total"] == 0
    assert admin.get(f"audit?until={today - dt.timedelta(days=1)}").get_json()["total"] == 0
    later = admin.get("audit", query_string={"since": middle.isoformat(), "per_page": 500}).get_json()
    assert {e["action"] for e in later["entries"]} >= {"login", "update"}
    assert "create" not in {e["action"] for e in later["entries"]}
    earlier = admin.get("audit", query_string={"until": middle.isoformat(), "action": "update"}).get_json()
    assert earlier["total"] == 0
    assert admin.get("audit?since=yesterday").status_code == 400

    page1 = admin.get("audit?per_page=3&page=1").get_json()
    page2 = admin.get("audit?per_page=3&page=2").get_json()
    assert (page1["page"], page1["per_page"], len(page1["entries"])) == (1, 3, 3)
    assert page2["page"] == 2
    assert [e["id"] for e in page1["entries"] + page2["entries"]] == ids[:6]


def test_an_archivist_does_not_see_entries_about_documents_above_their_clearance(app, admin, editor, client):
    assert (
        admin.post(
            "users",
            json={
                "username": "qian.archivist",
                "password": "Long-enough-1",
                "role": "archivist",
                "clearance": "confidential",
            },
        ).status_code
        == 201
    )
    save(editor, "机密/合同", "正文", access="confidential")
    save(admin, "绝密/预案", "正文", access="secret")
    admin.get("docs/绝密/预案")
    web_login(client, "li.reader")
    token = client.post("/api/v1/tokens", json={"username": "qian.archivist", "password": "Long-enough-1"}).get_json()[
        "token"
    ]
    headers = {"Authorization": f"Bearer {token}"}

    seen = client.get("/api/v1/audit?per_page=500", headers=headers).get_json()
    targets = {e["target"] for e in seen["entries"]}
    assert "机密/合同" in targets
    assert "绝密/预案" not in targets
    assert "secret" not in {e["level"] for e in seen["entries"]}
    assert seen["total"] == len([e for e in entries(app) if e.level != "secret"])
    assert admin.get("audit?path=绝密/预案").get_json()["total"] == 2
    assert client.get("/api/v1/audit?path=绝密/预案", headers=headers).get_json() == {
        "total": 0,
        "page": 1,
        "per_page": 50,
        "entries": [],
    }

    logins = client.get("/api/v1/audit?action=login", headers=headers).get_json()["entries"]
    assert [(e["actor"], e["address"]) for e in logins] == [("li.reader", ADDRESS)]

    page = client.get("/audit", headers=headers).get_data(as_text=True)
    assert "机密/合同" in page and "绝密/预案" not in page


@pytest.mark.parametrize("who", ["li.reader", "wang.editor"])
def test_readers_and_editors_may_not_read_the_trail(api_as, who):
    api = api_as(who)
    for url in ("audit", "audit/verify", "audit/export", "/audit", "/audit/export"):
        response = api.get(url)
        assert response.status_code == 403, url


def test_archivists_and_admins_may_read_the_trail(api_as):
    for who in ("zhao.archivist", "admin"):
        api = api_as(who)
        for url in ("audit", "audit/verify", "/audit", "/audit?verify=1"):
            assert api.get(url).status_code == 200, (who, url)


@pytest.mark.parametrize("url", ["audit/export", "/audit/export"])
def test_archivists_and_admins_may_export_the_trail(api_as, url):
    for who in ("zhao.archivist", "admin"):
        response = api_as(who).get(url)
        assert response.status_code == 200, who
        assert response.get_data(as_text=True).lstrip("\ufeff").startswith("id,at,actor")


def test_an_archivists_export_leaves_out_documents_above_their_clearance(app, admin, editor, api_as):
    assert (
        admin.post(
            "users",
            json={
                "username": "qian.archivist",
                "password": "Long-enough-1",
                "role": "archivist",
                "clearance": "confidential",
            },
        ).status_code
        == 201
    )
    save(editor, "机密/合同", "正文", access="confidential")
    save(admin, "绝密/预案", "正文", access="secret")
    exported = api_as("qian.archivist").get("audit/export").get_data(as_text=True)
    assert "机密/合同" in exported and "绝密/预案" not in exported


NASTY_NAMES = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(A1)"]


def check_csv(body: str) -> list[list[str]]:
    """A CSV export of the failed logins of ``NASTY_NAMES``: header, rows, no formulas."""
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0] == list(CSV_FIELDS)
    assert [row[CSV_FIELDS.index("actor")] for row in rows[1:]] == ["'" + name for name in NASTY_NAMES]
    assert {row[CSV_FIELDS.index("outcome")] for row in rows[1:]} == {"failed"}
    assert {row[CSV_FIELDS.index("address")] for row in rows[1:]} == {ADDRESS}
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@"), cell
    return rows


def test_csv_export_has_a_header_the_right_rows_no_formulas_and_is_audited(app, admin, client):
    for name in NASTY_NAMES:
        assert web_login(client, name, "wrong-password").status_code == 401
    response = admin.get("audit/export?action=login&outcome=failed")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    check_csv(response.get_data(as_text=True))
    assert [(e.actor, e.detail) for e in entries(app, action="audit_export")] == [
        ("admin", "action=login; outcome=failed")
    ]
    check_csv(admin.get("/audit/export?action=login&outcome=failed").get_data(as_text=True))
    assert len(entries(app, action="audit_export")) == 2


def test_cli_audit_export_writes_csv_and_is_audited(app, admin, editor, tmp_path):
    some_activity(app, admin, editor)
    out = tmp_path / "audit.csv"
    result = CliRunner().invoke(
        kb_cli, ["audit", "export", str(out), "--action", "create"], env={"KB_INSTANCE_DIR": app.config["INSTANCE_DIR"]}
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert rows[0] == list(CSV_FIELDS)
    assert [row[CSV_FIELDS.index("target")] for row in rows[1:]] == ["流程/变更", "机密/预案", "公开/指南"]
    export = entries(app, action="audit_export")[-1]
    assert export.actor == f"cli:{getpass.getuser()}"[:64]


def test_the_audit_page_shows_the_newest_recorded_check_of_the_chain(app, admin, editor, api_as):
    page = admin.get("/audit").get_data(as_text=True)
    assert "审计链尚未验证过" in page
    archivist = api_as("zhao.archivist")
    assert archivist.get("audit/verify").get_json()["ok"] is True
    check = audit_entries(app, action="audit_verify")[-1]
    assert (check.actor, check.outcome) == ("zhao.archivist", "ok")
    save(editor, "流程/之后", "验证之后的修改")
    page = admin.get("/audit").get_data(as_text=True)
    assert "由 zhao.archivist 验证通过" in page and "此后新增" in page

    tamper(app, ("UPDATE audit_trail SET detail = ? WHERE id = ?", ("篡改", 1)))  # an entry edited by hand
    assert admin.get("/audit?verify=1").status_code == 200
    page = admin.get("/audit").get_data(as_text=True)
    assert "发现审计链已损坏" in page and "由 zhao.archivist 验证通过" not in page
    assert audit_entries(app, action="audit_verify")[-1].outcome == "failed"
