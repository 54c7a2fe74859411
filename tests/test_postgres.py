"""The PostgreSQL path: the same document life cycle against a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PASSWORD, ApiClient, open_app, save, token_for
from postgres_server import empty_database
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from kb.identity import users

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path):
    empty_database(postgres_url)
    app = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"), "DATABASE_URL": postgres_url})
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "pg.editor", PASSWORD, "editor", "confidential")
        session.commit()
    yield app, ApiClient(app.test_client(), token_for(app, "pg.editor"))
    app.extensions["kb.stores"].close()


def test_the_tables_live_in_postgresql(pg_app, postgres_url):
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from users")).scalar() == 1
    engine.dispose()


def test_save_history_move_and_listing_work_on_postgresql(pg_app):
    _app, editor = pg_app
    first = save(editor, "流程/变更", "第一版", tags=["变更"])["revision"]
    save(editor, "流程/变更", "第二版")
    assert editor.post("docs/流程/变更/move", json={"to": "流程/变更管理"}).status_code == 200
    versions = editor.get("docs/流程/变更管理/history").get_json()["versions"]
    assert [v["kind"] for v in versions] == ["move", "modify", "add"]
    assert editor.get(f"docs/流程/变更管理?revision={first}").get_json()["body"].strip() == "第一版"
    assert editor.get("docs?tag=变更").get_json()["total"] == 1


def test_catalog_catches_up_from_git_on_postgresql(pg_app, postgres_url, tmp_path):
    app, editor = pg_app
    save(editor, "a", "甲")
    save(editor, "b", "乙")
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("delete from versions"))
        connection.execute(text("delete from document_tags"))
        connection.execute(text("delete from documents"))
        connection.execute(text("delete from sync_state"))
    engine.dispose()
    app.extensions["kb.stores"].close()
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"), "DATABASE_URL": postgres_url})
    assert ApiClient(again.test_client(), token_for(again, "pg.editor")).get("docs").get_json()["total"] == 2
    again.extensions["kb.stores"].close()


def test_the_audit_trail_chains_and_is_append_only_on_postgresql(pg_app, postgres_url):
    app, editor = pg_app
    save(editor, "机密/事件", "处置记录", access="confidential")
    editor.get("docs/机密/事件")
    with app.extensions["kb.stores"].sessions() as session:
        result = app.extensions["kb.stores"].audit.verify(session)
    assert result.ok and result.entries >= 3
    engine = create_engine(postgres_url)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("update audit_trail set actor = 'someone.else'"))
    engine.dispose()


def test_the_lifecycle_works_on_postgresql(pg_app):
    """Drafts, archive and restore, the lists, the past and an export: the catalog queries the
    lifecycle adds (grouped subqueries, date filters, bulk lookups) on PostgreSQL."""
    import datetime as dt
    import io
    import json
    import zipfile

    app, editor = pg_app
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "pg.archivist", PASSWORD, "archivist", "secret")
        users.create_user(session, "pg.admin", PASSWORD, "admin", "secret")
        session.commit()
    archivist = ApiClient(app.test_client(), token_for(app, "pg.archivist"))
    admin = ApiClient(app.test_client(), token_for(app, "pg.admin"))
    today = dt.date.today()
    save(editor, "运维/备份", "备份正文", review_by=(today - dt.timedelta(days=1)).isoformat())
    save(editor, "运维/监控", "监控正文")
    assert editor.put("docs/运维/备份/draft", json={"title": "备份", "body": "新的备份正文"}).status_code == 201
    assert editor.post("docs/运维/备份/draft/publish").status_code == 200
    assert [d["path"] for d in editor.get("review-due").get_json()["items"]] == ["运维/备份"]
    assert archivist.post("docs/运维/监控/archive", json={"reason": "已停用"}).status_code == 200
    assert [d["path"] for d in archivist.get(f"archive?from={today}").get_json()["items"]] == ["运维/监控"]
    assert archivist.post("docs/运维/监控/restore").status_code == 200
    assert admin.delete("docs/运维/监控").status_code == 204
    assert [d["path"] for d in archivist.get("deleted").get_json()["items"]] == ["运维/监控"]
    listing = archivist.get("docs", query_string={"at": dt.datetime.now(dt.UTC).isoformat()}).get_json()
    assert [d["path"] for d in listing["items"]] == ["运维/备份"]
    exported = archivist.get("export?prefix=运维")
    assert exported.status_code == 200
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(exported.data)).read("manifest.json"))
    exported.close()  # the spooled zip behind the response, as a WSGI server would
    assert {entry["path"] for entry in manifest["files"]} == {"运维/备份", "运维/监控"}
