"""The building blocks of every model: closed sets as string enums, text types that apply
``kb.textrules``, the error answer, and the one translation of a validation failure into a
400 naming the field in the caller's language."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from kb import textrules
from kb.access import CLEARANCES, ROLES
from kb.document import ACCESS_LEVELS, STATUSES
from kb.errors import BadRequest, InvalidRevision

AccessLevel = StrEnum("AccessLevel", {name: name for name in ACCESS_LEVELS})  # type: ignore[misc]
Clearance = StrEnum("Clearance", {name: name for name in CLEARANCES})  # type: ignore[misc]
Status = StrEnum("Status", {name: name for name in STATUSES})  # type: ignore[misc]
# anonymous is what a caller without an account is, never a role to assign
Role = StrEnum("Role", {name: name for name in ROLES[1:]})  # type: ignore[misc]

# what JSON Schema says of a one-line text and of a body (the same classes as kb.textrules, less
# the surrogates, which no UTF-8 request can carry unescaped)
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\ufffe\\uffff]*$"
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u0084\\u0086-\\u009f\\ufffe\\uffff]*$"


def _rule(multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        reason = textrules.problem(value, multiline=multiline)
        if reason is not None:
            raise PydanticCustomError(f"text_{reason}", "text breaks kb's text rule: {reason}", {"reason": reason})
        return value

    return AfterValidator(check)


def line(limit: int, *, minimum: int = 0) -> Any:
    """A single-line text (title, tag, name) of ``minimum`` to ``limit`` characters."""
    return Annotated[
        str,
        Field(min_length=minimum, max_length=limit, json_schema_extra={"pattern": LINE_PATTERN}),
        _rule(multiline=False),
    ]


def text(limit: int | None = None) -> Any:
    """A text that may hold tabs and line breaks (a body, a message, a reason)."""
    return Annotated[str, Field(max_length=limit, json_schema_extra={"pattern": TEXT_PATTERN}), _rule(multiline=True)]


_REVISION = "^[0-9a-fA-F]{4,40}$"


def _revision(value: str) -> str:
    """A commit id as git is given it: hex only, so nothing reaches git as an option or a range."""
    if re.fullmatch(_REVISION, value) is None:
        raise PydanticCustomError("invalid_revision", "not a commit id")
    return value


Revision = Annotated[
    str, Field(json_schema_extra={"pattern": _REVISION}, description="commit id (4-40 hex)"), AfterValidator(_revision)
]
Moment = Annotated[
    str, Field(max_length=40, description="ISO 8601 date (the whole day) or date-time"), _rule(multiline=False)
]
Page = Annotated[int, Field(ge=1, le=10_000)]


class Body(BaseModel):
    """A JSON request body: a field the caller may not set is refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    """Query parameters; ``lang`` chooses the language of messages (and is kept for the user)."""

    model_config = ConfigDict(extra="ignore")
    lang: Literal["zh", "en"] | None = None


def _iso(value: object) -> object:
    """A date or time as Python writes it in ISO 8601 (pydantic would write UTC as ``Z``)."""
    return value.isoformat() if isinstance(value, dt.date) else value


# a date or date-time in an answer: ISO 8601 text
Time = Annotated[str, BeforeValidator(_iso)]


class Answer(BaseModel):
    """A JSON answer; clients must accept fields added later. Made from what a service returns
    (its dataclass or model, read by attribute; see ``kb.routes.serialize``): a field the source
    does not have is left out of the answer, not sent as null."""

    model_config = ConfigDict(extra="allow", from_attributes=True)


class ErrorDetail(Answer):
    code: str
    message: str
    field: str | None = None


class Error(Answer):
    """Every refusal: ``{"error": {"code", "message", "field"?}}``."""

    error: ErrorDetail


# why a value was refused, by pydantic's error type: (zh, en), formatted with the error's context
_REASONS: dict[str, tuple[str, str]] = {
    "missing": ("为必填项", "is required"),
    "extra_forbidden": ("不是可设置的字段", "is not a field that can be set"),
    "string_type": ("必须是字符串", "must be a string"),
    "string_too_short": ("不能为空", "is required"),
    "string_too_long": ("不能超过 {max_length} 个字符", "longer than {max_length} characters"),
    "string_pattern_mismatch": ("格式无效", "has an invalid format"),
    "too_long": ("最多 {max_length} 项", "holds more than {max_length} items"),
    "list_type": ("必须是列表", "must be a list"),
    "enum": ("应为 {expected}", "must be one of {expected}"),
    "literal_error": ("应为 {expected}", "must be one of {expected}"),
    "int_type": ("必须是整数", "must be an integer"),
    "int_parsing": ("必须是整数", "must be an integer"),
    "int_from_float": ("必须是整数", "must be an integer"),
    "greater_than_equal": ("不能小于 {ge}", "must be at least {ge}"),
    "less_than_equal": ("不能大于 {le}", "must be at most {le}"),
    "bool_type": ("必须是 true 或 false", "must be true or false"),
    "bool_parsing": ("必须是 true 或 false", "must be true or false"),
    "string_unicode": ("包含无法编码的代理字符", "contains a lone surrogate that cannot be encoded"),
    "text_surrogate": ("包含无法编码的代理字符", "contains a lone surrogate that cannot be encoded"),
    "text_control": ("包含控制字符", "contains a control character"),
    "text_line": ("必须是单行文本", "must be a single line"),
    "invalid_revision": ("不是有效的版本号（4–40 位十六进制）", "is not a commit id (4-40 hex digits)"),
}
NOT_AN_OBJECT = ("请求体必须是 JSON 对象", "request body must be a JSON object")


def in_language(zh: str, en: str, language: str) -> str:
    """A message in ``language``: ``zh`` is Chinese with the English after it, as all kb messages."""
    return en if language == "en" else f"{zh} ({en})"


def refusal(error: ValidationError, language: str) -> BadRequest:
    """The first problem of ``error`` as the 400 every refusal of input is: it names the field,
    in ``language`` (``zh``: Chinese with the English after it, as all kb messages; ``en``)."""
    first = error.errors(include_url=False, include_input=False)[0]
    names = [str(part) for part in first["loc"] if isinstance(part, str)]
    if not names or first["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return BadRequest(in_language(*NOT_AN_OBJECT, language))
    field = names[0]
    zh, en = _REASONS.get(first["type"], ("无效", "is invalid"))
    context = {key: str(value) for key, value in (first.get("ctx") or {}).items()}
    zh, en = zh.format_map(_Blank(context)), en.format_map(_Blank(context))
    kind = InvalidRevision if first["type"] == "invalid_revision" else BadRequest
    return kind(in_language(f"{field} {zh}", f"{field} {en}", language), field=field)


class _Blank(dict):
    """A format context where a placeholder pydantic did not fill stays empty, not a KeyError."""

    def __missing__(self, key: str) -> str:
        return ""


def validated(model: type[BaseModel], data: object, language: str) -> Any:
    """``data`` as ``model`` (forms and the command line: the same rules as the JSON API), or the
    400 ``refusal`` names."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise refusal(error, language) from None
