"""Reading request input, with a clear 400 for anything malformed; and the one way answers
write a date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request

from kb import extensions
from kb.errors import BadRequest
from kb.moments import parse_moment


def json_body() -> dict[str, Any]:
    """The request's JSON object; a body that is not a JSON object is a 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("请求体必须是 JSON 对象 (request body must be a JSON object)")
    return data


def known_fields(data: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """``data`` when it names only ``allowed`` fields; anything else is a 400 naming it, so a
    field the caller may not set (``status``, ``owner``) is refused, not silently dropped."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"不能设置的字段：{', '.join(unknown)[:100]}；可设置 {', '.join(allowed)} "
                         "(unknown or read-only fields)")
    return data


def int_arg(name: str, default: int, minimum: int = 0, maximum: int = 10_000) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"参数 {name} 必须是整数 (parameter {name} must be an integer)") from exc
    if not minimum <= value <= maximum:
        raise BadRequest(f"参数 {name} 须在 {minimum} 到 {maximum} 之间 ({name} out of range)")
    return value


def date_arg(name: str, *, start: bool = False) -> dt.datetime | None:
    """A date or date-time from the query string (None when absent; a bare date is the end of
    its day, or its start for the lower end of a range); anything unreadable is a 400."""
    value = request.args.get(name)
    return parse_moment(value, extensions.stores().timezone, start=start) if value else None


def iso(value: dt.date | None) -> str | None:
    """A date or time in a JSON answer: ISO 8601, or null."""
    return value.isoformat() if value is not None else None
