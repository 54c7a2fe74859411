"""The web forms and the command line hold text to the same models as the JSON API: what the API
refuses with a 400 naming the field, they refuse too, with a clear message, never a 500 and never
a stored bad document."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PASSWORD, save, web_as

from kb.cli import main


def _head(app):
    return app.extensions["kb.stores"].store.head()


def _form(**fields: str) -> dict[str, str]:
    return {
        "path": "",
        "title": "备份策略",
        "body": "正文",
        "tags": "",
        "access": "internal",
        "review_by": "",
        "message": "",
        "base_revision": "",
        "draft_revision": "",
    } | fields


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "标题\x00"),
        ("title", "两行\n标题"),
        ("tags", "备份\x07"),
        ("message", "说明\x1b"),
        ("body", "正文\x00"),
        ("title", "长" * 301),
    ],
)
def test_the_edit_form_refuses_what_the_api_refuses(app, field, value):
    web = web_as(app, "wang.editor")
    response = web.post("/new", data=_form(path="运维/备份", **{field: value}))
    assert response.status_code == 400
    assert field in response.get_data(as_text=True)
    assert _head(app) is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_form_refusal_is_in_the_users_language(app, lang):
    web = web_as(app, "wang.editor")
    text = web.post(f"/new?lang={lang}", data=_form(path="运维/备份", title="标题\x00")).get_data(as_text=True)
    assert ("title 包含控制字符" in text) == (lang == "zh")
    assert "title contains a control character" in text


def test_an_archive_reason_with_a_control_character_is_refused_on_the_web(app, editor):
    save(editor, "旧文档")
    before = _head(app)
    response = web_as(app, "zhao.archivist").post("/docs/旧文档/archive", data={"reason": "过时\x00"})
    assert response.status_code == 400
    assert "reason" in response.get_data(as_text=True)
    assert _head(app) == before


def test_a_review_comment_over_the_limit_is_refused_on_the_web(app, editor):
    save(editor, "文档")
    editor.put("docs/文档/draft", json={"title": "标题", "body": "草稿"})
    response = web_as(app, "wang.editor").post("/docs/文档/draft/submit", data={"comment": "长" * 2001})
    assert response.status_code == 400
    assert "2000" in response.get_data(as_text=True)


def test_a_token_name_with_a_control_character_is_refused_on_the_account_page(app):
    response = web_as(app, "li.reader").post("/account/tokens", data={"name": "ci\x00"})
    assert response.status_code == 400
    assert "name" in response.get_data(as_text=True)


def test_a_display_name_with_a_line_break_is_refused_on_the_admin_page(app):
    web = web_as(app, "admin")
    response = web.post(
        "/admin/users",
        data={
            "username": "new.user",
            "password": PASSWORD,
            "role": "reader",
            "clearance": "internal",
            "display_name": "两\n行",
            "email": "",
        },
    )
    assert response.status_code == 400
    assert "display_name" in response.get_data(as_text=True)
    assert web.post("/admin/users/li.reader", data={"display_name": "x\x00"}).status_code == 400


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KB_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("KB_ADMIN_PASSWORD", PASSWORD)
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    return runner


@pytest.mark.parametrize(
    "args",
    [
        ["user", "add", "new.user", "--password", PASSWORD, "--name", "两\n行"],
        ["user", "add", "new.user", "--password", "short"],
        ["user", "set", "admin", "--email", "a\x00@example.com"],
        ["token", "create", "admin", "--name", "ci\x07"],
    ],
)
def test_the_command_line_refuses_what_the_api_refuses(cli, args):
    result = cli.invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output and "(" in result.output  # kb's message, not a traceback
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_kb_import_refuses_a_commit_message_with_a_control_character(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "好.md").write_text("# 好\n正文\n", encoding="utf-8")
    result = cli.invoke(main, ["import", str(folder), "--message", "导入\x00"])
    assert result.exit_code == 1 and "message" in result.output


def test_kb_import_skips_a_file_whose_title_breaks_the_text_rule(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "坏.md").write_text('---\ntitle: "坏\\u0007"\n---\n正文\n', encoding="utf-8")
    (folder / "好.md").write_text("# 好\n正文\n", encoding="utf-8")
    result = cli.invoke(main, ["import", str(folder)])
    assert result.exit_code == 1
    assert "imported 1 documents" in result.output
    assert "坏" in result.output
