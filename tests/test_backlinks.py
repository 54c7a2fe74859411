"""Links between documents: what a body links to (the catalog's ``DocumentLink`` rows, found
without rendering), the "Referenced by" list of a document page (only what the reader may
see), the catalog keeping it through edits, moves, deletes and rebuilds; and the print styles."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, ApiClient, open_app, page, save, token_for, web_as
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from kb import docpath
from kb.access import Principal
from kb.document import parse
from kb.identity import users
from kb.links import link_targets
from kb.models import DocumentLink, SyncState
from kb.render import document_link, render
from kb.services import consistency, links
from kb.stores import catalog

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- finding links in a body


@pytest.mark.parametrize(
    ("body", "path", "targets"),
    [
        ("见[变更管理](../02-process/变更管理流程)。", "01-framework/SLA", {"02-process/变更管理流程"}),
        (
            "[受理](服务请求受理流程.md) [同级](./备份)",
            "02-process/变更",
            {"02-process/服务请求受理流程", "02-process/备份"},
        ),
        ("[步骤](变更.md#第-2-步) [查询](变更?revision=abc)", "流程/受理", {"流程/变更"}),
        (
            "[绝对](/docs/运维/备份#恢复) [编码](/docs/%E8%BF%90%E7%BB%B4/%E7%9B%91%E6%8E%A7)",
            "a/b",
            {"运维/备份", "运维/监控"},
        ),
        ('[带标题](../运维/备份.md "备份规范") [尖括号](<../运维/监控>)', "流程/受理", {"运维/备份", "运维/监控"}),
        ("[文字 [嵌套] 也行](甲) [![图标](icon.png)](乙)", "", {"甲", "乙"}),
        (
            "[r1]: ../运维/备份.md '备份'\n   [r2]: <../运维/监控>\n\n正文 [备份][r1]",
            "流程/受理",
            {"运维/备份", "运维/监控"},
        ),
    ],
)
def test_link_targets_are_the_documents_the_page_links_to(body, path, targets):
    assert link_targets(body, path) == targets


@pytest.mark.parametrize(
    "body",
    [
        "[官网](https://example.com/docs/x) [邮件](mailto:ops@example.com) [本页](#步骤) [搜索](/search?q=备份)",
        "[登录](/login) [上面](../../../出界) ![图片](图片.png) [空]() \\[不是链接](甲)",
        "```\n[围栏](甲)\n```\n\n~~~ python\n[波浪围栏](乙)\n~~~\n",
        "行内 `[代码](甲)` 和 ``[双反引号 ` 代码](乙)``",
        "段落\n\n    [缩进代码](甲)\n\n    [还是代码](乙)\n",
        "<!-- [注释里](甲) -->",
        "[自己](受理) [也是自己](/docs/流程/受理.md) [还是自己](../流程/受理#a)",
        "[不合法的路径](有 空格) [点开头](.hidden) [横线开头](-x)",
    ],
)
def test_links_outside_documents_in_code_or_to_itself_are_not_links(body):
    assert link_targets(body, "流程/受理") == set()


def test_a_list_item_s_indented_paragraph_is_not_code():
    body = "- 第一步\n\n    详见[备份](备份)\n\n段落\n\n    [代码](监控)\n"
    assert link_targets(body, "运维/恢复") == {"运维/备份"}


def test_document_link_is_the_rule_of_the_renderer():
    assert document_link("a/b", "../c.md#x") == "a/c"
    assert document_link("a", "/docs/x/y.md") == "x/y"
    assert document_link("a", "%E5%A4%87%E4%BB%BD") == "a/备份"
    assert document_link("", "../x") is None
    assert document_link("", "https://e.com/docs/x") is None
    assert document_link("", "/static/kb.css") is None
    assert 'href="/docs/a/%E5%A4%87%E4%BB%BD"' in render("[备份](%E5%A4%87%E4%BB%BD.md)", "a/b")
    assert 'href="/docs/a/c#x"' in render("[c](../c.md#x)", "a/b/d")


def _rendered_targets(body: str, path: str) -> set[str]:
    """The documents the rendered page links to."""
    found = set()
    for href in re.findall(r'<a href="(/docs/[^"]*)"', render(body, path)):
        try:
            target = docpath.validate(unquote(urlsplit(href.replace("&amp;", "&")).path)[len("/docs/") :])
        except Exception:
            continue
        if target != path:
            found.add(target)
    return found


def test_the_starter_content_s_links_are_exactly_those_the_pages_render():
    files = sorted((ROOT / "content").rglob("*.md"))
    assert files
    linked = 0
    for file in files:
        path = file.relative_to(ROOT / "content").as_posix().removesuffix(".md")
        body = parse(file.read_text(encoding="utf-8"), default_title=path).body
        targets = link_targets(body, path)
        assert targets == _rendered_targets(body, path), path
        linked += len(targets)
    assert linked > 10


# ---------------------------------------------------------------- the "referenced by" list


def backlinks(html: str) -> list[str]:
    """The paths the page's "Referenced by" section links to, in order ([] without the section)."""
    section = re.search(
        r'<section class="referenced-by" aria-labelledby="kb-referenced-by">(.*?)</section>', html, re.DOTALL
    )
    if section is None:
        return []
    assert 'id="kb-referenced-by"' in section.group(1)
    return [unquote(href)[len("/docs/") :] for href in re.findall(r'<a href="([^"]+)"', section.group(1))]


def link_rows(app: Flask) -> list[tuple[str, str]]:
    with app.extensions["kb.stores"].sessions() as session:
        return sorted((row.source, row.target) for row in session.scalars(select(DocumentLink)))


@pytest.fixture
def reader(app: Flask) -> FlaskClient:
    return web_as(app, "li.reader")


def test_the_target_page_lists_the_documents_that_link_to_it(app, editor, reader):
    save(editor, "流程/变更", "# 变更管理\n\n正文", title="变更管理流程")
    save(editor, "流程/受理", "受理后按[变更流程](变更#步骤)处理。", title="服务请求受理")
    save(editor, "总览", "[变更](/docs/流程/变更) 和 [受理](流程/受理.md)", title="服务总览")
    html = page(reader, "/docs/流程/变更")
    assert backlinks(html) == ["总览", "流程/受理"]  # by title: 服务总览 before 服务请求受理
    assert '<a href="/docs/流程/受理">服务请求受理</a>' in html  # page() undoes the escapes
    assert '<small class="path">流程</small>' in html
    assert backlinks(page(reader, "/docs/流程/受理")) == ["总览"]
    assert backlinks(page(reader, "/docs/总览")) == []
    assert 'class="referenced-by"' not in page(reader, "/docs/总览")


def test_a_link_to_a_missing_document_becomes_a_backlink_when_it_appears(app, editor, reader):
    save(editor, "运维/恢复", "先看[备份规范](备份)。")
    assert link_rows(app) == [("运维/恢复", "运维/备份")]
    save(editor, "运维/备份", "备份正文")
    assert backlinks(page(reader, "/docs/运维/备份")) == ["运维/恢复"]


def test_past_versions_and_as_of_pages_show_no_backlinks(app, editor, clock):
    first = save(editor, "运维/备份", "第一版")["revision"]
    save(editor, "运维/备份", "第二版")
    save(editor, "运维/恢复", "[备份](备份)")
    web = web_as(app, "zhao.archivist")
    assert backlinks(page(web, "/docs/运维/备份")) == ["运维/恢复"]
    assert backlinks(page(web, f"/docs/运维/备份?revision={first}")) == []
    clock.advance(1.1)  # as-of moments have whole seconds, in the deployment's zone
    moment = clock.now().astimezone(ZoneInfo(app.config["TIMEZONE"])).strftime("%Y-%m-%dT%H:%M:%S")
    html = page(web, f"/asof/{moment}/docs/运维/备份")
    assert "第二版" in html and backlinks(html) == []


def test_editing_the_link_away_removes_the_backlink(app, editor, reader):
    save(editor, "甲", "甲正文")
    save(editor, "乙", "[甲](甲)")
    assert backlinks(page(reader, "/docs/甲")) == ["乙"]
    save(editor, "乙", "不再链接")
    assert backlinks(page(reader, "/docs/甲")) == []
    assert link_rows(app) == []
    save(editor, "乙", "[甲](甲) 又链接了，还有[丙](丙)")
    assert link_rows(app) == [("乙", "丙"), ("乙", "甲")]


def test_deleting_the_source_removes_the_backlink(app, editor, admin, reader):
    save(editor, "甲", "甲正文")
    save(editor, "乙", "[甲](甲)")
    assert admin.delete("docs/乙").status_code == 204
    assert backlinks(page(reader, "/docs/甲")) == []
    assert link_rows(app) == []


def test_the_backlink_follows_a_move_of_the_source(app, editor, reader):
    save(editor, "流程/甲", "甲正文")
    save(editor, "流程/乙", "[甲](甲) [绝对](/docs/流程/甲)")
    assert editor.post("docs/流程/乙/move", json={"to": "归档区/乙"}).status_code == 200
    # the body is unchanged: the relative link now resolves from the new folder
    assert link_rows(app) == [("归档区/乙", "归档区/甲"), ("归档区/乙", "流程/甲")]
    assert backlinks(page(reader, "/docs/流程/甲")) == ["归档区/乙"]


def test_links_to_the_old_path_of_a_moved_document_still_count(app, editor, reader):
    save(editor, "旧/甲", "甲正文")
    save(editor, "乙", "[甲](/docs/旧/甲)")
    assert editor.post("docs/旧/甲/move", json={"to": "新/甲"}).status_code == 200
    assert backlinks(page(reader, "/docs/新/甲")) == ["乙"]
    save(editor, "旧/甲", "另一篇文档占用了旧路径")
    assert backlinks(page(reader, "/docs/新/甲")) == []
    assert backlinks(page(reader, "/docs/旧/甲")) == ["乙"]


def test_a_confidential_source_is_listed_only_for_those_cleared(app, editor, reader):
    save(editor, "运维/备份", "备份正文", access="internal")
    save(editor, "机密/事件", "处置见[备份](../运维/备份)", title="机密事件", access="confidential")
    save(editor, "运维/恢复", "[备份](备份)", title="恢复")
    html = page(reader, "/docs/运维/备份")
    assert backlinks(html) == ["运维/恢复"]
    assert "机密事件" not in html and "机密/事件" not in html
    assert backlinks(page(web_as(app, "wang.editor"), "/docs/运维/备份")) == ["运维/恢复", "机密/事件"]
    with app.extensions["kb.stores"].sessions() as session:
        anonymous = Principal("anonymous", "anonymous", "public")
        assert links.referenced_by(session, anonymous, "运维/备份") == []


def test_an_archived_source_is_hidden_from_readers(app, editor, api_as, reader):
    save(editor, "运维/备份", "备份正文")
    save(editor, "运维/旧方案", "[备份](备份)", title="旧方案")
    archivist = api_as("zhao.archivist")
    assert archivist.post("docs/运维/旧方案/archive", json={"reason": "已停用"}).status_code == 200
    assert backlinks(page(reader, "/docs/运维/备份")) == []
    html = page(web_as(app, "zhao.archivist"), "/docs/运维/备份")
    assert backlinks(html) == ["运维/旧方案"]
    assert '<span class="status">' in html.split('class="referenced-by"')[1]


# ---------------------------------------------------------------- the catalog rebuilds the links


def _linked_documents(editor: ApiClient) -> None:
    save(editor, "一", "[二](二) [三](三)")
    save(editor, "一", "[二](二) 改过，[三](三) 还在")  # replayed: the same links recorded twice
    save(editor, "二", "[一](一)")
    save(editor, "四", "[一](一)")
    editor.post("docs/四/move", json={"to": "目录/四"})
    save(editor, "五", "[二](二)")


def test_rebuild_recreates_the_links(app, editor, admin):
    _linked_documents(editor)
    assert admin.delete("docs/五").status_code == 204
    before = link_rows(app)
    assert before == [("一", "三"), ("一", "二"), ("二", "一"), ("目录/四", "目录/一")]
    stores = app.extensions["kb.stores"]
    with stores.store.lock():
        catalog.rebuild(stores.store, stores.index, stores.sessions)
    assert link_rows(app) == before


def test_kb_check_finds_a_link_table_out_of_step_with_git(app, editor):
    _linked_documents(editor)
    stores = app.extensions["kb.stores"]
    assert consistency.check(stores) == []
    with stores.sessions() as session:
        session.execute(delete(DocumentLink).where(DocumentLink.source == "二"))
        session.execute(delete(DocumentLink).where(DocumentLink.source == "一", DocumentLink.target == "三"))
        session.add(DocumentLink(source="五", target="虚构"))
        session.commit()
    assert consistency.check(stores) == [
        "link table: missing from link table: 二",
        "link table: stale links in link table: 一",
        "link table: stale links in link table: 五",
    ]
    with stores.store.lock():
        catalog.rebuild(stores.store, stores.index, stores.sessions)
    assert consistency.check(stores) == []


def test_an_older_catalog_and_a_deleted_database_are_rebuilt_with_links(app, tmp_path, editor):
    _linked_documents(editor)
    before = link_rows(app)
    stores = app.extensions["kb.stores"]
    with stores.sessions() as session:  # a catalog written before links were recorded
        session.execute(delete(DocumentLink))
        session.get(SyncState, catalog.LAYOUT).commit = "2"
        session.commit()
    stores.close()
    again = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    assert link_rows(again) == before
    again.extensions["kb.stores"].close()
    Path(app.config["INSTANCE_DIR"], "kb.sqlite3").unlink()
    shutil.rmtree(Path(app.config["INDEX_DIR"]))
    third = open_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance")})
    assert link_rows(third) == before
    third.extensions["kb.stores"].close()


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    from postgres_server import postgres_server

    with postgres_server() as url:
        yield url


@pytest.mark.postgres
def test_links_work_on_postgresql(database_url, tmp_path):
    from postgres_server import empty_database

    empty_database(database_url)
    config: dict[str, Any] = {"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"), "DATABASE_URL": database_url}
    app = open_app(config)
    with app.extensions["kb.stores"].sessions() as session:
        users.create_user(session, "pg.editor", PASSWORD, "editor", "confidential")
        session.commit()
    editor = ApiClient(app.test_client(), token_for(app, "pg.editor"))
    _linked_documents(editor)
    before = link_rows(app)
    assert ("目录/四", "目录/一") in before and ("五", "二") in before
    with app.extensions["kb.stores"].sessions() as session:
        me = users.principal(users.get_user(session, "pg.editor"))
        assert [row.path for row in links.referenced_by(session, me, "二")] == ["一", "五"]
    app.extensions["kb.stores"].close()
    again = open_app(config)  # the catalog rebuilt from git on PostgreSQL
    with again.extensions["kb.stores"].sessions() as session:
        session.execute(delete(DocumentLink))
        session.get(SyncState, catalog.LAYOUT).commit = "2"
        session.commit()
    again.extensions["kb.stores"].close()
    third = open_app(config)
    assert link_rows(third) == before
    third.extensions["kb.stores"].close()


# ---------------------------------------------------------------- printing


def test_the_stylesheet_prints_the_document_without_the_page_chrome():
    css = (ROOT / "kb" / "static" / "kb.css").read_text(encoding="utf-8")
    start = css.index("/* --- print (issue 6) --- */")
    block = css[css.index("@media print", start) :]
    hidden = block[: block.index("display: none")]
    assert "header.top" in hidden and "nav.toc" in hidden and ".referenced-by" in hidden
