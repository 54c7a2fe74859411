"""Document paths: the one definition of what a valid path is.

A document path is ``/``-separated segments of Unicode letters, digits, ``-``, ``_`` and ``.``;
no segment is empty, ``.``/``..`` or starts with ``.`` or ``-`` (so nothing can reach git as an
option or touch ``.git``); no control characters; at most 200 characters. Chinese paths are
first-class. The file in the repository is ``<path>.md``.
"""

from __future__ import annotations

import re
import unicodedata

from kb.errors import InvalidPath

MAX_PATH_LENGTH = 200
SUFFIX = ".md"

_SEGMENT = re.compile(r"^[^\W][\w.\-]*$")


def validate(path: str) -> str:
    """Return ``path`` normalised (NFC, no surrounding slashes, no ``.md``) or raise InvalidPath."""
    if not isinstance(path, str) or not path.strip("/"):
        raise InvalidPath("文档路径不能为空 (empty document path)")
    path = unicodedata.normalize("NFC", path)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in path):
        raise InvalidPath("文档路径包含控制字符 (control character in path)")
    if path.startswith("/"):
        raise InvalidPath("文档路径不能是绝对路径 (absolute path)")
    path = path.rstrip("/")
    if path.endswith(SUFFIX):
        path = path[: -len(SUFFIX)]
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidPath(f"文档路径超过 {MAX_PATH_LENGTH} 个字符 (path longer than {MAX_PATH_LENGTH})")
    for segment in path.split("/"):
        if not segment:
            raise InvalidPath("文档路径包含空的层级 (empty path segment)")
        if segment.startswith((".", "-")):
            raise InvalidPath(f"不允许的路径层级“{segment}” (segment may not start with '.' or '-')")
        if not _SEGMENT.match(segment):
            raise InvalidPath(f"路径层级“{segment}”只能包含字母、数字、-、_ 和 . (invalid characters in segment)")
    return path


def to_file(path: str) -> str:
    """The repository file name of a (validated) document path."""
    return path + SUFFIX


def from_file(filename: str) -> str | None:
    """The document path of a repository file, or None when the file is not a document."""
    if not filename.endswith(SUFFIX):
        return None
    try:
        return validate(filename[: -len(SUFFIX)])
    except InvalidPath:
        return None
