"""Document paths: the one definition of what a valid path is.

A document path is ``/``-separated segments of Unicode letters, digits, ``-``, ``_`` and ``.``;
no segment is empty, ``.``/``..`` or starts with ``.`` or ``-`` (so nothing can reach git as an
option or touch ``.git``); no control characters; at most 200 characters. Chinese paths are
first-class. The file in the repository is ``<path>.md``.

A document's attached files live beside it, in the folder ``<path>.files/`` (so a plain clone
shows them next to the Markdown and a relative link works in any git viewer); no segment of a
document path may end in ``.files``.

A file's name becomes one path segment in the content repository (beside its document, in every
clone, on every operating system) and the last segment of a URL, so it is held to more than a
document path's segment: no ``/`` or ``\\``, nothing Windows refuses (``<>:"|?*``, a trailing
dot or space, ``CON``/``NUL``/``COM1``… with any extension), no leading ``.`` (so no ``..``
and no hidden files such as ``.git``) or ``-`` (never read as an option), no control or
invisible characters, at most ``MAX_NAME_BYTES`` bytes of UTF-8 (file systems count bytes, and
Chinese characters are three each). Names are NFC-normalised, so the two encodings of "é" are
one file.
"""

from __future__ import annotations

import re
import unicodedata

from kb.errors import InvalidFileName, InvalidPath

MAX_PATH_LENGTH = 200
SUFFIX = ".md"
FILES_SUFFIX = ".files"

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
        if segment.endswith(FILES_SUFFIX):
            raise InvalidPath(
                f"路径层级不能以 {FILES_SUFFIX} 结尾，它留给文档的附件 (a segment may not end in {FILES_SUFFIX})"
            )
    return path


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


MAX_NAME_BYTES = 120

_FORBIDDEN = frozenset('/\\<>:"|?*')
# Unicode categories of control, format (zero-width, bidi overrides), surrogate, private-use and
# unassigned characters: none has a place in a file name a person reads.
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{device}{digit}" for device in ("COM", "LPT") for digit in ("0123456789¹²³")]
)


def validate_file_name(name: str) -> str:
    """Return ``name`` NFC-normalised, or raise InvalidFileName (400) saying what is wrong."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidFileName("文件名不能为空 (empty file name)")
    name = unicodedata.normalize("NFC", name)
    if any(unicodedata.category(ch) in _INVISIBLE for ch in name):
        raise InvalidFileName("文件名包含控制字符 (control character in file name)")
    bad = sorted({ch for ch in name if ch in _FORBIDDEN})
    if bad:
        shown = " ".join(bad)
        raise InvalidFileName(f"文件名不能包含 {shown} (file name may not contain {shown})")
    if name.startswith((".", "-")):
        raise InvalidFileName(f"文件名“{name}”不能以 . 或 - 开头 (file name may not start with '.' or '-')")
    if name[0].isspace() or name[-1].isspace() or name.endswith("."):
        raise InvalidFileName(
            f"文件名“{name}”不能以空格开头或以 . 或空格结尾"
            " (file name may not start with a space or end with '.' or a space)"
        )
    if name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        raise InvalidFileName(f"“{name}”是 Windows 保留的设备名 (reserved device name on Windows)")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidFileName(
            f"文件名超过 {MAX_NAME_BYTES} 字节 (UTF-8) (file name longer than {MAX_NAME_BYTES} bytes of UTF-8)"
        )
    return name
