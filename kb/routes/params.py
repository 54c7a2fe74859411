"""Reading request input, with a clear 400 for anything malformed."""

from __future__ import annotations

import datetime as dt
import json
import re

from flask import request

from kb import extensions
from kb.errors import BadRequest
from kb.i18n import select_locale
from kb.moments import parse_moment
from kb.routes.openapi import endpoint_takes_json
from kb.schemas.base import NOT_AN_OBJECT, in_language

# deeper than any body kb takes (a document is two levels): Python's parser would recurse until
# it fails, so the nesting is counted before parsing
MAX_DEPTH = 32
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def nesting(data: bytes, limit: int = MAX_DEPTH) -> int:
    """How deep ``data`` (JSON text) nests arrays and objects, counted up to ``limit + 1``."""
    level = deepest = 0
    for bracket in _BRACKETS.finditer(_STRINGS.sub(b'""', data)):
        level += 1 if bracket.group() in (b"[", b"{") else -1
        deepest = max(deepest, level)
        if deepest > limit:
            break
    return deepest


def readable_json() -> None:
    """Before a view that takes a JSON body: refuse one that is not JSON (another type, invalid
    UTF-8 or syntax) or nests deeper than ``MAX_DEPTH``, with a 400 instead of a parser's failure.
    An empty body is left to the model (a body whose fields are all optional may be left out)."""
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS") or not endpoint_takes_json():
        return
    data = request.get_data(cache=True)
    if not data:
        return
    language = select_locale()
    if not request.is_json:
        raise BadRequest(in_language(*NOT_AN_OBJECT, language))
    if nesting(data) > MAX_DEPTH:
        raise BadRequest(
            in_language(f"JSON 嵌套超过 {MAX_DEPTH} 层", f"JSON nested deeper than {MAX_DEPTH} levels", language)
        )
    try:
        json.loads(data)
    except ValueError:
        raise BadRequest(in_language("请求体不是有效的 JSON", "request body is not valid JSON", language)) from None


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
