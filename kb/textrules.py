"""The one rule for text kb accepts, wherever it comes from (JSON, forms, the command line, an
import): it must survive UTF-8, YAML front matter and a git commit unchanged.

Python strings may hold lone surrogates (JSON's ``"\\ud800"`` decodes to one) that no UTF-8
encoder can write, NUL characters that git and C libraries cut text at, and line breaks that
YAML reads differently from how they were written (``\\x85``, U+2028, U+2029). A field that is
one line (a title, a tag, a name) may hold no line break and no control character at all; a
body may hold tabs and newlines. Limits are in characters.

``problem`` says what is wrong; ``checked`` raises ``BadRequest`` naming the field in both
languages, the status every refusal of input gets (one rule everywhere).
"""

from __future__ import annotations

import re

from kb.errors import BadRequest

# surrogates (never encodable), C0 and C1 controls and DEL, YAML's extra line breaks, and the two
# noncharacters YAML's reader refuses; a body may keep tab, newline and carriage return
_NOT_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]")
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")

_WHAT = {
    "surrogate": ("包含无法编码的代理字符", "contains a lone surrogate that cannot be encoded"),
    "control": ("包含控制字符", "contains a control character"),
    "line": ("必须是单行文本", "must be a single line"),
}


def problem(value: str, *, multiline: bool = False) -> str | None:
    """What keeps ``value`` from round-tripping (``surrogate``, ``control`` or ``line``), or None."""
    found = (_NOT_IN_TEXT if multiline else _NOT_IN_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "surrogate"
    if char in "\n\r\x85\u2028\u2029":
        return "line"
    return "control"


def checked(value: object, field: str, *, limit: int, multiline: bool = False, required: bool = False) -> str:
    """``value`` when it is a string kb can store as it is, at most ``limit`` characters; else a
    BadRequest naming ``field``. ``required``: an empty (or blank) string is refused too."""
    if not isinstance(value, str):
        raise BadRequest(f"{field} 必须是字符串 ({field} must be a string)", field=field)
    reason = problem(value, multiline=multiline)
    if reason is not None:
        zh, en = _WHAT[reason]
        raise BadRequest(f"{field} {zh} ({field} {en})", field=field)
    if len(value) > limit:
        raise BadRequest(f"{field} 不能超过 {limit} 个字符 ({field} longer than {limit} characters)", field=field)
    if required and not value.strip():
        raise BadRequest(f"{field} 不能为空 ({field} is required)", field=field)
    return value
