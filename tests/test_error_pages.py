"""Error pages for browsers: what happened and what to do next, in Chinese and English; the
JSON errors of the API unchanged; a hidden document's 404 the same page as a missing one's."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import save, web_as
from flask import Flask
from flask_babel import force_locale, gettext
from itsdangerous.timed import TimestampSigner
from markupsafe import escape
from sqlalchemy.exc import OperationalError

from kb.errors import BadRequest, TooLarge, TooManyRequests
from kb.routes.guard import checked

DOC = "流程/受理"


def _boom(status: int) -> Any:
    if status == 400:
        raise BadRequest("标题不能为空 (title required)")
    if status == 413:
        raise TooLarge("文档过大 (document too large)")
    if status == 429:
        raise TooManyRequests("请求过多 (too many requests)", retry_after=42)
    raise RuntimeError("something unexpected")


@pytest.fixture
def site(app: Flask, editor) -> Flask:
    """The app with a document, and a route that fails as asked (added before any request)."""
    app.add_url_rule("/_boom/<int:status>", "boom", checked("view")(_boom))
    app.add_url_rule("/api/v1/_boom/<int:status>", "api_boom", checked("view")(_boom))
    save(editor, DOC, "受理流程正文")
    return app


def text_in(app: Flask, language: str, msgid: str, **values: Any) -> str:
    """``msgid`` as the page shows it in ``language`` (English until the catalog translates it)."""
    with app.test_request_context(), force_locale(language):
        return str(escape(gettext(msgid, **values)))


# status -> (how a browser meets it, the heading, one of the next steps)
Trigger = Callable[[Flask, str], Any]
PAGES: dict[int, tuple[Trigger, str, str]] = {
    400: (
        lambda app, q: web_as(app, "li.reader").get(f"/_boom/400{q}"),
        "Something in the request is not right",
        "Go back, check what you entered and try again.",
    ),
    403: (
        lambda app, q: web_as(app, "li.reader").get(f"/admin/users{q}"),
        "You do not have permission to do this",
        "If your work needs it, ask an administrator to change your role or clearance.",
    ),
    404: (lambda app, q: web_as(app, "li.reader").get(f"/docs/不存在{q}"), "Page not found", "Search for it"),
    405: (
        lambda app, q: web_as(app, "li.reader").get(f"/logout{q}"),
        "This action is not available here",
        "Use the links and buttons on the pages: an address copied from a form does not work on its own.",
    ),
    409: (
        lambda app, q: web_as(app, "zhao.archivist").post(f"/docs/{DOC}/restore{q}"),
        "The document has changed or is archived",
        "An archived document is read-only; an archivist can restore it.",
    ),
    413: (
        lambda app, q: web_as(app, "li.reader").get(f"/_boom/413{q}"),
        "What you sent is too large",
        "Make it shorter, or split it into several documents, and send it again.",
    ),
    429: (
        lambda app, q: web_as(app, "li.reader").get(f"/_boom/429{q}"),
        "Too many attempts",
        "Wait %(n)s seconds, then try again.",
    ),
    500: (
        lambda app, q: web_as(app, "li.reader").get(f"/_boom/500{q}"),
        "Something went wrong on our side",
        "Wait a moment and try again.",
    ),
}


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("status", sorted(PAGES))
def test_each_error_page_says_what_happened_and_what_to_do(site, status, language):
    trigger, heading, next_step = PAGES[status]
    response = trigger(site, f"?lang={language}")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'<html lang="{"zh-CN" if language == "zh" else "en"}">' in html
    assert f'<h1 id="error-heading">{text_in(site, language, heading)}</h1>' in html
    assert f"<title>{text_in(site, language, heading)} · kb</title>" in html
    assert text_in(site, language, next_step, n=42) in html
    # the way back, from the catalog every page uses
    assert text_in(site, language, "Back to the documents") in html
    if language == "zh":
        assert "返回文档列表" in html


def test_the_403_page_names_the_role_and_offers_another_login(site):
    html = web_as(site, "li.reader").get("/admin/users?lang=en").get_data(as_text=True)
    assert "Your account (role: Reader, clearance: Internal) does not allow this." in html
    assert 'href="/login?next=/admin/users?lang%3Den"' in html
    assert "Log in as someone else" in html


def test_the_404_page_has_a_search_box_and_a_link_home(site):
    html = web_as(site, "li.reader").get("/docs/不存在?lang=en").get_data(as_text=True)
    form = html.split('<form class="error-search"', 1)[1].split("</form>", 1)[0]
    assert 'action="/search"' in form and 'name="q"' in form and 'type="search"' in form
    assert '<a href="/">Back to the documents</a>' in html
    assert 'value="' not in form  # nothing from the address is put in the box


def test_the_409_page_links_back_to_the_document(site):
    html = web_as(site, "zhao.archivist").post(f"/docs/{DOC}/restore?lang=en").get_data(as_text=True)
    assert 'href="/docs/%E6%B5%81%E7%A8%8B/%E5%8F%97%E7%90%86">Back to the document</a>' in html


def test_the_429_page_says_how_long_to_wait(site):
    response = web_as(site, "li.reader").get("/_boom/429?lang=en")
    assert response.headers["Retry-After"] == "42"
    assert "Wait 42 seconds, then try again." in response.get_data(as_text=True)


def test_the_500_page_gives_a_reference_that_is_in_the_log(site, caplog):
    with caplog.at_level(logging.ERROR, logger="kb.routes.errors"):
        response = web_as(site, "li.reader").get("/_boom/500?lang=en")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    reference = re.search(r'<code class="incident">([0-9a-f]{8})</code>', html).group(1)
    assert f"incident {reference}" in caplog.text
    assert "RuntimeError: something unexpected" in caplog.text
    assert "something unexpected" not in html  # the cause stays in the log


def test_the_500_page_renders_when_the_database_is_broken(site, monkeypatch, caplog):
    web = web_as(site, "li.reader")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("disk I/O error"))

    monkeypatch.setattr("kb.identity.logins.session_user", broken)
    with caplog.at_level(logging.ERROR, logger="kb.routes.errors"):
        response = web.get("/?lang=en")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    reference = re.search(r'<code class="incident">([0-9a-f]{8})</code>', html).group(1)
    assert f"incident {reference}" in caplog.text
    assert "Something went wrong on our side" in html
    assert 'href="/login"' in html  # nobody could be told: shown as a visitor


def test_when_even_the_error_page_fails_a_bare_page_still_gives_the_reference(site, monkeypatch, caplog):
    def broken(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("templates unreadable")

    monkeypatch.setattr("kb.routes.errors.render_template", broken)
    with caplog.at_level(logging.ERROR, logger="kb.routes.errors"):
        response = web_as(site, "li.reader").get("/_boom/500")
    assert response.status_code == 500 and response.mimetype == "text/html"
    reference = re.search(r"<code>([0-9a-f]{8})</code>", response.get_data(as_text=True)).group(1)
    assert f"incident {reference}" in caplog.text


def without_cookie_expiry(headers: Any) -> dict[str, str]:
    """The headers with the session cookie's Expires taken out: it is the clock at the reply,
    which may tick between two requests; the cookie's value stays compared."""
    return {
        name: re.sub(r"; Expires=[^;]*", "", value) if name == "Set-Cookie" else value
        for name, value in headers.items()
    }


def test_a_hidden_document_is_the_same_404_page_as_a_missing_one(site, admin, monkeypatch):
    stamp = int(time.time())
    # the CSRF token in the page's logout form is signed with the time: hold the clock still
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _self: stamp)
    reader = web_as(site, "li.reader")
    url = "/docs/机密/新合同"
    missing = reader.get(url)
    save(admin, "机密/新合同", "合同正文", title="新合同", access="confidential")
    hidden = reader.get(url)
    assert missing.status_code == hidden.status_code == 404
    assert hidden.get_data() == missing.get_data()
    assert without_cookie_expiry(hidden.headers) == without_cookie_expiry(missing.headers)
    for language in ("en", "zh"):
        assert reader.get(f"{url}?lang={language}").get_data() == reader.get(
            f"/docs/不存在/x?lang={language}"
        ).get_data().replace("/docs/不存在/x".encode(), url.encode()).replace(
            b"/docs/%E4%B8%8D%E5%AD%98%E5%9C%A8/x", b"/docs/%E6%9C%BA%E5%AF%86/%E6%96%B0%E5%90%88%E5%90%8C"
        )


def test_the_api_errors_are_unchanged(site, api_as):
    reader = api_as("li.reader")
    assert reader.get("docs/不存在").get_json() == {
        "error": {"code": "not_found", "message": "文档不存在 (document not found)"}
    }
    assert reader.get("users").get_json() == {
        "error": {"code": "forbidden", "message": "您的角色无权执行此操作 (your role may not do this)"}
    }
    assert reader.get("_boom/500").get_json() == {
        "error": {"code": "internal_error", "message": "服务器内部错误 (internal server error)"}
    }
    throttled = reader.get("_boom/429")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "42"
    assert throttled.get_json() == {
        "error": {"code": "too_many_requests", "message": "请求过多 (too many requests)", "retry_after": 42}
    }
    assert reader.get("_boom/400").get_json() == {
        "error": {"code": "bad_request", "message": "标题不能为空 (title required)"}
    }
    # a browser asking for JSON gets JSON too
    response = web_as(site, "li.reader").get("/docs/不存在", headers={"Accept": "application/json"})
    assert response.get_json() == {"error": {"code": "not_found", "message": "文档不存在 (document not found)"}}
