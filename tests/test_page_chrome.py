"""The page header's role links are rendered once per language, role and root URL and then
reused (``kb.routes.chrome``): each caller still gets the links of their own role, in their
own language, whoever asked first."""

from __future__ import annotations

import re

from conftest import page, web_as
from flask import Flask


def header(html: str) -> str:
    """The header's nav up to the account link: the role links."""
    return html[html.index("<nav>") : html.index('class="who"')]


def role_links(html: str) -> list[str]:
    """The hrefs in the header's nav before the account link."""
    return re.findall(r'href="([^"]+)"', header(html))


def test_each_role_gets_its_own_links_whoever_came_first(app: Flask) -> None:
    admin = role_links(page(web_as(app, "admin"), "/"))
    reader = role_links(page(web_as(app, "li.reader"), "/"))
    editor = role_links(page(web_as(app, "wang.editor"), "/"))
    assert "/admin/users" in admin and "/audit" in admin
    assert reader == []
    assert "/new" in editor and "/admin/users" not in editor
    assert role_links(page(web_as(app, "admin"), "/")) == admin


def test_links_follow_the_language_of_the_request(app: Flask) -> None:
    web = web_as(app, "admin")
    assert "草稿" in header(page(web, "/?lang=zh"))
    assert ">Drafts<" in header(page(web, "/?lang=en"))
    assert "草稿" in header(page(web, "/?lang=zh"))
