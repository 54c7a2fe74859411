"""Document paths: the one definition of what a valid path is.

A document path is ``/``-separated segments of Unicode letters, digits, ``-``, ``_`` and ``.``;
no segment is empty, ``.``/``..`` or starts with ``.`` or ``-`` (so nothing can reach git as an
option or touch ``.git``); no control characters; at most 200 characters. Chinese paths are
first-class. The file in the repository is ``<path>.md``.

A document's attached files live beside it, in the folder ``<path>.files/`` (so a plain clone
shows them next to the Markdown and a relative link works in any git viewer); no segment of a
document path may end in ``.files``. A file's name follows the rules of a segment, at most
``MAX_FILE_NAME`` characters, and is never a name Windows reserves.
"""

from __future__ import annotations

import re
import unicodedata

from kb.errors import InvalidPath

MAX_PATH_LENGTH = 200
MAX_FILE_NAME = 120
SUFFIX = ".md"
FILES_SUFFIX = ".files"

_SEGMENT = re.compile(r"^[^\W][\w.\-]*$")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


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
        if segment.endswith(FILES_SUFFIX):
            raise InvalidPath(
                f"路径层级不能以 {FILES_SUFFIX} 结尾，它留给文档的附件 (a segment may not end in {FILES_SUFFIX})"
            )
    return path


def validate_file_name(name: str) -> str:
    """Return the attachment name ``name`` normalised (NFC) or raise InvalidPath."""
    if not isinstance(name, str) or not name:
        raise InvalidPath("文件名不能为空 (empty file name)")
    name = unicodedata.normalize("NFC", name)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise InvalidPath("文件名包含控制字符 (control character in file name)")
    if "/" in name or "\\" in name:
        raise InvalidPath("文件名不能包含 / 或 \\ (a file name may not contain a slash)")
    if len(name) > MAX_FILE_NAME:
        raise InvalidPath(f"文件名超过 {MAX_FILE_NAME} 个字符 (file name longer than {MAX_FILE_NAME})")
    if name.startswith((".", "-")):
        raise InvalidPath(f"文件名“{name}”不能以 . 或 - 开头 (file name may not start with '.' or '-')")
    if not _SEGMENT.match(name) or _WINDOWS_RESERVED.match(name):
        raise InvalidPath(f"文件名“{name}”只能包含字母、数字、-、_ 和 . (invalid file name)")
    return name


def files_folder(path: str) -> str:
    """The repository folder of the files attached to the (validated) document ``path``."""
    return path + FILES_SUFFIX


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
