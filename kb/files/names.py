"""Attachment names: the one definition of what a file's name may be.

A name becomes one path segment in the content repository (beside its document, in every
clone, on every operating system) and the last segment of a URL, so it is held to more than a
document path's segment: no ``/`` or ``\\``, nothing Windows refuses (``<>:"|?*``, a trailing
dot or space, ``CON``/``NUL``/``COM1``… with any extension), no leading ``.`` (so no ``..``
and no hidden files such as ``.git``) or ``-`` (never read as an option), no control or
invisible characters, at most ``MAX_NAME_BYTES`` bytes of UTF-8 (file systems count bytes, and
Chinese characters are three each). Names are NFC-normalised, so the two encodings of "é" are
one file.
"""

from __future__ import annotations

import unicodedata

from kb.errors import InvalidFileName

MAX_NAME_BYTES = 120

_FORBIDDEN = frozenset('/\\<>:"|?*')
# Unicode categories of control, format (zero-width, bidi overrides), surrogate, private-use and
# unassigned characters: none has a place in a file name a person reads.
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn"))
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{device}{digit}" for device in ("COM", "LPT") for digit in ("0123456789¹²³")]
)


def validate(name: str) -> str:
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
