"""Reading request input, with a clear 400 for anything malformed."""

from __future__ import annotations

from typing import Any

from flask import request

from kb.errors import BadRequest


def json_body() -> dict[str, Any]:
    """The request's JSON object; a body that is not a JSON object is a 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("请求体必须是 JSON 对象 (request body must be a JSON object)")
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
