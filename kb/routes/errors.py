"""One place that turns errors into responses: JSON for the API, a page for browsers."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from kb import extensions
from kb.auth import viewer
from kb.errors import Forbidden, KBError, Moved, NotFound, TooManyRequests
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


def error_response(status: int, code: str, message: str, details: dict | None = None) -> tuple[Response, int]:
    if wants_json():
        payload: dict = {"code": code, "message": message}
        payload.update(details or {})
        return jsonify(error=payload), status
    return render_template("error.html", status=status, code=code, message=message), status


def _audit_refusal(action: str, reason: str) -> None:
    """Refused attempts (a role that may not, a forged form) are what an auditor looks for."""
    extensions.stores().audit.record(viewer(), action, request.path[:256], outcome="denied",
                                     detail=f"{request.method}: {reason}"[:500])


def _follow_move(location: str) -> Response:
    """The same page or API call (view, history, diff…, with its query) at the new path."""
    args = {**(request.view_args or {}), "path": location, **request.args.to_dict()}
    return redirect(url_for(request.endpoint, **args), Moved.status)


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(KBError)
    def kb_error(error: KBError) -> Response | tuple[Response, int]:
        if isinstance(error, Moved):
            if request.method in SAFE_METHODS and request.endpoint:
                return _follow_move(error.details["location"])
            error = NotFound("文档不存在 (document not found)")  # a write never follows a move
        if isinstance(error, Forbidden):
            _audit_refusal(getattr(current_app.view_functions.get(request.endpoint or ""), "kb_access", "request"),
                           error.message)
        response, status = error_response(error.status, error.code, error.message, error.details)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.details["retry_after"])
        return response, status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        message = _HTTP_MESSAGES.get(status, error.description or error.name)
        if status == 400 and error.description and "CSRF" in error.description:
            message = "表单已过期，请刷新页面后重试 (CSRF token missing or invalid)"
            _audit_refusal("csrf", error.description)
        return error_response(status, code, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "服务器内部错误 (internal server error)")
