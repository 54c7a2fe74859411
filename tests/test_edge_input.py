"""Every input that was a 500 (issue 14) is a 400 naming the field, in the caller's language,
and leaves nothing behind: lone surrogates in each text field, a token id past 64 bits, a body
nested 100,000 deep, a search query past its limit."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD, save

LONE = "\\ud800"  # JSON's escape for a lone surrogate: valid JSON, text no UTF-8 can hold
CJK = re.compile("[\u4e00-\u9fff]")


def _raw(api, method: str, url: str, body: str, lang: str | None = None):
    """``body`` sent as it is written (the escape must reach the server, not be encoded here)."""
    query = f"?lang={lang}" if lang else ""
    return getattr(api, method)(url + query, data=body.encode("utf-8"), content_type="application/json")


def _refused(response, field: str | None, lang: str = "zh") -> str:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    error = response.get_json()["error"]
    assert error["code"] in ("bad_request", "invalid_document")
    if field is not None:
        assert error["field"] == field
        assert field in error["message"]
    assert bool(CJK.search(error["message"])) == (lang == "zh"), error["message"]
    return error["message"]


def _head(app):
    return app.extensions["kb.stores"].store.head()


@pytest.mark.parametrize("field", ["title", "body", "message"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_lone_surrogate_in_a_document_field_is_400_naming_it(app, editor, field, lang):
    fields = {"title": '"标题"', "body": '"正文"', "message": '"说明"'} | {field: f'"x{LONE}"'}
    body = "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"
    _refused(_raw(editor, "put", "docs/文档", body, lang), field, lang)
    assert _head(app) is None


def test_a_lone_surrogate_in_draft_text_is_400(app, editor):
    _refused(_raw(editor, "put", "docs/草稿/draft", f'{{"title": "t", "body": "{LONE}"}}'), "body")


def test_a_lone_surrogate_in_an_archive_reason_is_400_and_archives_nothing(app, editor, api_as):
    save(editor, "旧文档")
    before = _head(app)
    archivist = api_as("zhao.archivist")
    _refused(_raw(archivist, "post", "docs/旧文档/archive", f'{{"reason": "过时{LONE}"}}'), "reason")
    assert _head(app) == before


def test_a_lone_surrogate_in_a_display_name_is_400(admin):
    body = f'{{"username": "new.user", "password": "{PASSWORD}", "display_name": "{LONE}"}}'
    _refused(_raw(admin, "post", "users", body), "display_name")
    _refused(_raw(admin, "patch", "users/li.reader", f'{{"display_name": "{LONE}"}}', "en"), "display_name", "en")


def test_a_lone_surrogate_in_a_token_name_is_400(client):
    body = f'{{"username": "wang.editor", "password": "{PASSWORD}", "name": "{LONE}"}}'
    _refused(client.post("/api/v1/tokens", data=body, content_type="application/json"), "name")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_lone_surrogate_in_the_username_of_an_unauthenticated_token_request_is_400(client, lang):
    body = f'{{"username": "{LONE}", "password": "x"}}'
    response = client.post(f"/api/v1/tokens?lang={lang}", data=body, content_type="application/json")
    _refused(response, "username", lang)


def test_a_token_id_past_64_bits_is_404_not_an_overflow(editor):
    response = editor.delete("tokens/9223372036854775808")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert editor.delete("tokens/9223372036854775807").status_code == 404


@pytest.mark.parametrize("open_, close", [("[", "]"), ('{"a":', "}")])
def test_a_body_nested_100000_deep_is_400(tmp_path, open_, close):
    from conftest import ApiClient, make_app, token_for

    from kb.config import DEFAULT_MAX_BODY

    app = make_app(tmp_path / "big", MAX_BODY_BYTES=DEFAULT_MAX_BODY)  # the deep body fits the default limit
    editor = ApiClient(app.test_client(), token_for(app, "wang.editor"))
    deep = open_ * 100_000 + "1" + close * 100_000
    message = _refused(_raw(editor, "put", "docs/深", deep), None)
    assert "32" in message
    assert _head(app) is None
    app.extensions["kb.stores"].close()


def test_brackets_inside_strings_do_not_count_as_nesting(editor):
    body = "[" * 200 + "{" * 200
    assert save(editor, "括号", body=body)["revision"]


def test_a_body_that_is_not_a_json_object_is_400(editor):
    _refused(_raw(editor, "put", "docs/x", "[1, 2]"), None)
    _refused(_raw(editor, "put", "docs/x", '{"title": '), None)


def test_a_search_query_over_the_limit_is_a_json_400(editor):
    _refused(editor.get("search?q=" + "备" * 2001), "q")
    assert editor.get("search?q=" + "备" * 2000).status_code == 200


def test_a_search_query_over_the_limit_is_a_friendly_page_on_the_web(app):
    from conftest import web_as

    response = web_as(app, "li.reader").get("/search?q=" + "x" * 2001)
    assert response.status_code == 400
    assert "text/html" in response.content_type
    assert "2000" in response.get_data(as_text=True)


def test_an_unknown_field_is_400_naming_it(editor):
    response = editor.put("docs/x", json={"title": "t", "body": "b", "status": "archived"})
    _refused(response, "status")


def test_a_405_names_the_allowed_methods(client, app):
    response = client.patch("/api/v1/search")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}
    page = app.test_client().delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]
