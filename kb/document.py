"""The document file format: YAML front matter followed by a Markdown body.

This module is the one place that turns bytes from the repository into a ``DocumentFile`` and
back, so the store, the index and the import all agree on what a document is.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import yaml

from kb import textrules
from kb.errors import InvalidDocument, KBError

ACCESS_LEVELS = ("public", "internal", "confidential", "secret")
STATUSES = ("published", "archived")
MAX_TAGS = 50
MAX_TAG_LENGTH = 100  # the catalog's column
MAX_TITLE = 300
MAX_NAME = 128  # owner, archived_by
MAX_NOTE = 2000  # archive_reason
# what an unreadable file counts as: the strictest level, never a default one (fail closed)
UNREADABLE_ACCESS = ACCESS_LEVELS[-1]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser when PyYAML was built with it (ten times faster; parsing runs on every
    view), refusing a key given twice: ``access: public`` followed by ``access: secret`` must not
    quietly mean whichever came last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [self.construct_object(key, deep=deep) for key, _value in node.value]
        repeated = {key for key in keys if isinstance(key, str) and keys.count(key) > 1}
        if repeated:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {sorted(repeated)[0]!r} appears more than once", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)


@dataclass
class DocumentFile:
    """A parsed document file. ``meta`` keeps unknown front-matter keys so nothing is lost."""

    title: str
    body: str
    tags: list[str] = field(default_factory=list)
    access: str = "internal"
    status: str = "published"
    owner: str = ""
    review_by: str | None = None
    # set while archived: when, by whom and why (restoring removes them; history keeps them)
    archived_at: str | None = None
    archived_by: str | None = None
    archive_reason: str | None = None
    meta: dict = field(default_factory=dict)
    # why the stored file could not be read (it then counts as UNREADABLE_ACCESS); None when it could
    problem: str | None = None


def decode(data: bytes) -> str:
    """Bytes to text, refusing invalid UTF-8 instead of guessing."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"文档不是有效的 UTF-8 编码 (invalid UTF-8 at byte {exc.start})") from exc
    return text.removeprefix("\ufeff")


def parse(text: str, *, default_title: str = "", default_access: str = "internal") -> DocumentFile:
    """Parse a document file; a file without front matter is all body.

    Raises InvalidDocument for front matter that is not a YAML mapping or has invalid values.
    """
    meta: dict = {}
    body = text
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.load(match.group(1), Loader=_Loader) or {}
        except yaml.YAMLError as exc:
            raise InvalidDocument(f"文档头 (front matter) 不是有效的 YAML：{exc}") from exc
        if not isinstance(loaded, dict):
            raise InvalidDocument("文档头 (front matter) 必须是键值对 (must be a mapping)")
        meta = loaded
        body = text[match.end() :]
    title = str(meta.pop("title", "") or "").strip() or _first_heading(body) or default_title
    doc = DocumentFile(
        title=title,
        body=body,
        tags=normalize_tags(meta.pop("tags", [])),
        access=_named(meta, "access", default_access),
        status=_named(meta, "status", "published"),
        owner=str(meta.pop("owner", "") or ""),
        review_by=_date_text(meta.pop("review_by", None)),
        archived_at=_date_text(meta.pop("archived_at", None)),
        archived_by=_optional_text(meta.pop("archived_by", None)),
        archive_reason=_optional_text(meta.pop("archive_reason", None)),
        meta=meta,
    )
    check(doc)
    return doc


def check(doc: DocumentFile) -> None:
    """Raise InvalidDocument when a field has a value kb does not know."""
    if doc.access not in ACCESS_LEVELS:
        raise InvalidDocument(f"未知的访问级别“{doc.access}”，应为 {', '.join(ACCESS_LEVELS)} (unknown access level)")
    if doc.status not in STATUSES:
        raise InvalidDocument(f"未知的状态“{doc.status}”，应为 {', '.join(STATUSES)} (unknown status)")
    if len(doc.tags) > MAX_TAGS:
        raise InvalidDocument(f"标签不能超过 {MAX_TAGS} 个 (more than {MAX_TAGS} tags)", field="tags")
    try:
        textrules.checked(doc.title, "title", limit=MAX_TITLE, required=True)
        for tag in doc.tags:
            textrules.checked(tag, "tags", limit=MAX_TAG_LENGTH)
        textrules.checked(doc.owner, "owner", limit=MAX_NAME)
        for name, limit in (
            ("review_by", 40),
            ("archived_at", 40),
            ("archived_by", MAX_NAME),
            ("archive_reason", MAX_NOTE),
        ):
            value = getattr(doc, name)
            if value is not None:
                textrules.checked(value, name, limit=limit)
    except KBError as error:
        raise InvalidDocument(error.message, **error.details) from None


def read(data: bytes, path: str) -> DocumentFile:
    """A stored file as a document, never refused: one that cannot be read (invalid UTF-8, front
    matter that does not parse, an unknown level or status) counts as ``UNREADABLE_ACCESS`` with
    its ``problem`` named, so it is hidden from everyone below that clearance and reported, never
    shown at a default level. Its title is the file name and its body the whole text, so an
    administrator can see what to mend."""
    title = path.rsplit("/", 1)[-1]
    try:
        return parse(decode(data), default_title=title)
    except KBError as error:
        return DocumentFile(
            title=title, body=data.decode("utf-8", errors="replace"), access=UNREADABLE_ACCESS, problem=error.message
        )


def _named(meta: dict, key: str, default: str) -> str:
    """A closed-set field (access, status) as written; absent means ``default``, but a key that
    is there must name a value itself: ``access:`` with nothing, or a list, is not a level."""
    if key not in meta:
        return default
    value = meta.pop(key)
    if not isinstance(value, str):
        raise InvalidDocument(f"{key} 的值“{str(value)[:40]}”无效 (invalid {key})", field=key)
    return value


def normalize_tags(tags: object) -> list[str]:
    """Tags as a list of distinct non-empty strings; a comma-separated string is accepted too."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = re.split(r"[,，]", tags)
    if not isinstance(tags, list | tuple):
        raise InvalidDocument("标签 (tags) 必须是列表 (tags must be a list)")
    seen: dict[str, None] = {}
    for tag in tags:
        text = str(tag).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def serialize(doc: DocumentFile) -> str:
    """The file text of a document: front matter in a stable key order, then the body exactly.

    Every writer (save, draft, lifecycle, import) comes through here, so this is where a document
    is refused unless it reads back identical: fields within the text rules (``kb.textrules``),
    and the written text parsed again and compared. Raises InvalidDocument naming the field.
    """
    check(doc)
    try:
        textrules.checked(doc.body, "body", limit=len(doc.body), multiline=True)
    except KBError as error:
        raise InvalidDocument(error.message, **error.details) from None
    text = _file_text(doc)
    _require_round_trip(doc, text)
    return text


def _file_text(doc: DocumentFile) -> str:
    meta: dict = {"title": doc.title, "tags": doc.tags, "access": doc.access, "status": doc.status}
    if doc.owner:
        meta["owner"] = doc.owner
    for name in ("review_by", "archived_at", "archived_by", "archive_reason"):
        if getattr(doc, name):
            meta[name] = getattr(doc, name)
    meta.update(doc.meta)
    header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, default_flow_style=None)
    return f"---\n{header}---\n{doc.body}"


def _require_round_trip(doc: DocumentFile, text: str) -> None:
    """Refuse ``doc`` when ``text`` would not read back as it (a value YAML rewrites, an unknown
    front-matter key that collides with ours): what is accepted must be what is stored."""
    try:
        again = parse(text, default_access=doc.access)
    except KBError as error:
        raise InvalidDocument(error.message, **error.details) from None
    for name in (
        "title",
        "body",
        "tags",
        "access",
        "status",
        "owner",
        "review_by",
        "archived_at",
        "archived_by",
        "archive_reason",
        "meta",
    ):
        if getattr(again, name) != getattr(doc, name):
            raise InvalidDocument(
                f"{name} 无法原样保存，请修改后重试 ({name} would not read back unchanged)", field=name
            )


def _first_heading(body: str) -> str:
    match = _HEADING.search(body)
    return match.group(1).strip() if match else ""


def _date_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def review_date(doc: DocumentFile) -> dt.date | None:
    """``review_by`` as a date, or None when absent or unreadable (a hand-edited file)."""
    try:
        return dt.date.fromisoformat(doc.review_by[:10]) if doc.review_by else None
    except ValueError:
        return None


def archived_time(doc: DocumentFile) -> dt.datetime | None:
    """``archived_at`` as an aware datetime (UTC when it names no zone), or None."""
    try:
        when = dt.datetime.fromisoformat(doc.archived_at) if doc.archived_at else None
    except ValueError:
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=dt.UTC)
