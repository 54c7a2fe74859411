"""One place that turns errors into responses: JSON for the API, a page for browsers.

The page says in plain words what happened and what the user can do next (``error.html``);
the JSON stays ``{"error": {"code", "message"}}``. An unexpected error gets an incident
reference, shown on the page and written to the log line, so an administrator can find it.
"""

from __future__ import annotations

import logging
import secrets

import flask_login
from flask import Flask, Response, current_app, g, jsonify, make_response, redirect, render_template, request, url_for
from markupsafe import escape
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response as WerkzeugResponse

from kb import extensions
from kb.access import anonymous
from kb.auth import address, viewer
from kb.errors import Forbidden, KBError, Moved, NotFound, TooManyRequests
from kb.routes.openapi import allow_header
from kb.security import SAFE_METHODS

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    400: "请求无效 (bad request)",
    401: "请先登录 (login required)",
    403: "无权访问 (forbidden)",
    404: "页面不存在 (not found)",
    405: "不支持该请求方法 (method not allowed)",
    413: "请求内容过大 (request too large)",
    415: "请求内容类型不受支持 (unsupported media type)",
    429: "请求过于频繁，请稍后再试 (too many requests)",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(
    status: int, code: str, message: str, details: dict | None = None, reference: str | None = None
) -> tuple[Response, int]:
    if wants_json():
        payload: dict = {"code": code, "message": message}
        payload.update(details or {})
        return jsonify(error=payload), status
    # a 409 names the document the user was working on: the way back to it
    doc_path = (request.view_args or {}).get("path") if status == 409 else None
    page = render_template(
        "error.html",
        status=status,
        code=code,
        message=message,
        details=details or {},
        reference=reference,
        doc_path=doc_path if isinstance(doc_path, str) else None,
        method=request.method,
    )
    return make_response(page), status


def _viewer_or_anonymous() -> None:
    """Settle who the page is for before it is drawn: when even that fails (the database is
    down), anonymous, so the error page itself renders. Flask-Login's template context asks for
    its user too: the same answer, without the database."""
    try:
        viewer()
    except Exception:
        g.kb_user = anonymous(current_app.config["ANONYMOUS_READ"], address())
    try:
        flask_login.current_user._get_current_object()  # what the template context will load
    except Exception:
        g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]


def _bare_page(status: int, reference: str) -> Response:
    """The last resort when the error page cannot be drawn: no template, no database."""
    text = (
        f"<!doctype html><meta charset=utf-8><title>{status}</title><h1>服务器内部错误 (internal server error)"
        f"</h1><p>请稍后重试；如仍出错，请把事件编号告知管理员 (try again later; if it persists, give the "
        f"administrator this reference): <code>{escape(reference)}</code></p>"
    )
    return Response(text, status, mimetype="text/html")


def _audit_refusal(action: str, reason: str) -> None:
    """Refused attempts (a role that may not, a forged form) are what an auditor looks for."""
    extensions.stores().audit.record(
        viewer(), action, request.path[:256], outcome="denied", detail=f"{request.method}: {reason}"[:500]
    )


def _follow_move(endpoint: str, location: str) -> WerkzeugResponse:
    """The same page or API call (view, history, diff…, with its query) at the new path."""
    args = {**(request.view_args or {}), "path": location, **request.args.to_dict()}
    return redirect(url_for(endpoint, **args), Moved.status)


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(KBError)
    def kb_error(error: KBError) -> WerkzeugResponse | tuple[Response, int]:
        if isinstance(error, Moved):
            if request.method in SAFE_METHODS and (endpoint := request.endpoint):
                return _follow_move(endpoint, error.details["location"])
            error = NotFound("文档不存在 (document not found)")  # a write never follows a move
        if isinstance(error, Forbidden):
            _audit_refusal(
                getattr(current_app.view_functions.get(request.endpoint or ""), "kb_access", "request"), error.message
            )
        response, status = error_response(error.status, error.code, error.message, error.details)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.details["retry_after"])
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | tuple[Response, int]:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        message = _HTTP_MESSAGES.get(status, error.description or error.name)
        if status == 400 and error.description and "CSRF" in error.description:
            message = "表单已过期，请刷新页面后重试 (CSRF token missing or invalid)"
            _audit_refusal("csrf", error.description)
        if status >= 500:
            reference = secrets.token_hex(4)
            log.error(
                "HTTP %s on %s %s (incident %s): %s", status, request.method, request.path, reference, error.description
            )
            return _server_error(status, code, message, reference)
        response, status = error_response(status, code, message)
        if isinstance(error, MethodNotAllowed):
            response.headers.update(allow_header(error.valid_methods))
        return response, status

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response | tuple[Response, int]:
        reference = secrets.token_hex(4)
        log.exception("unhandled error on %s %s (incident %s)", request.method, request.path, reference)
        return _server_error(500, "internal_error", "服务器内部错误 (internal server error)", reference)


def _server_error(status: int, code: str, message: str, reference: str) -> Response | tuple[Response, int]:
    """The answer to a failure of the service itself, which must not fail in turn (the database
    may be what broke)."""
    _viewer_or_anonymous()
    try:
        return error_response(status, code, message, reference=reference)
    except Exception:
        log.exception("the error page for incident %s could not be drawn", reference)
        return _bare_page(status, reference)
