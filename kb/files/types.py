"""What a file is, decided from its bytes, and how a browser may be given it.

The client's ``Content-Type`` and the name's extension are never trusted: both are whatever the
uploader chose. The bytes decide, against an allow-list:

- images (PNG, JPEG, GIF, WebP) and PDF, by the fixed signatures their specifications put at
  offset 0 (a table of six lines here: for an allow-list, exact and auditable beats a guess);
- Word, Excel and PowerPoint files (OOXML), which are zips: told apart by the main part that
  ``[Content_Types].xml`` declares and the zip really holds; any other zip, macro-enabled Office
  files included, is a plain zip;
- text: valid UTF-8 without NUL bytes. Text that begins with ``<`` is markup a browser would
  run (HTML, SVG, XML) and is only ever downloaded. SVG is not sanitised: a sanitiser that
  misses one of SVG's many ways to run script is a stored XSS, and a download is always safe.

Anything else is a 415 that lists what is allowed. The signatures are written here rather than
taken from a library: puremagic (the newest release for Python 3.11) ranks "ZoneAlam data file"
above "Windows executable" for a real PE header and cannot tell the three Office formats apart;
python-magic needs libmagic on every machine and parses hostile bytes in C inside the server;
filetype tells Office files apart by searching the bytes for ``word/``. For an allow-list, six
exact signatures from the formats' specifications are the auditable choice.

``inline`` says whether the file may be shown in the browser (images, PDF, plain text and CSV)
or must be sent with ``Content-Disposition: attachment``; the routes add ``nosniff`` and a CSP
``sandbox`` to both.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from xml.etree import ElementTree

from kb.errors import UnsupportedMediaType


@dataclass(frozen=True)
class FileType:
    """What the bytes are: the MIME type to serve them as (without parameters), the extension
    that type is known by, whether a browser may show it inline, and the charset of text."""

    content_type: str
    extension: str
    inline: bool
    charset: str | None = None

    @property
    def header(self) -> str:
        """The ``Content-Type`` header's value, with the charset of text."""
        return f"{self.content_type}; charset={self.charset}" if self.charset else self.content_type


PNG = FileType("image/png", ".png", inline=True)
JPEG = FileType("image/jpeg", ".jpg", inline=True)
GIF = FileType("image/gif", ".gif", inline=True)
WEBP = FileType("image/webp", ".webp", inline=True)
PDF = FileType("application/pdf", ".pdf", inline=True)
ZIP = FileType("application/zip", ".zip", inline=False)
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", inline=False)
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", inline=False)
PPTX = FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx", inline=False)
TEXT = FileType("text/plain", ".txt", inline=True, charset="utf-8")
CSV = FileType("text/csv", ".csv", inline=True, charset="utf-8")
SVG = FileType("image/svg+xml", ".svg", inline=False, charset="utf-8")
HTML = FileType("text/html", ".html", inline=False, charset="utf-8")
XML = FileType("application/xml", ".xml", inline=False, charset="utf-8")
MARKUP = FileType("text/plain", ".txt", inline=False, charset="utf-8")  # begins with "<", neither of the three

ALLOWED = "PNG, JPEG, GIF, WebP, PDF, Word (.docx), Excel (.xlsx), PowerPoint (.pptx), UTF-8 text, CSV, zip"

# The text files whose own extension is kept (a .log stays a .log); other text is a .txt.
TEXT_SUFFIXES = frozenset((".txt", ".log", ".md", ".markdown", ".csv"))

_SIGNATURES: tuple[tuple[bytes, int, FileType], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, PNG),
    (b"\xff\xd8\xff", 0, JPEG),
    (b"GIF87a", 0, GIF),
    (b"GIF89a", 0, GIF),
    (b"%PDF-", 0, PDF),
    (b"WEBP", 8, WEBP),  # after "RIFF" and the chunk's length, checked below
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; the end record of an empty zip

_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
# An honest [Content_Types].xml is a few KiB; a larger one is not read here (the zip stays a zip).
MAX_CONTENT_TYPES_BYTES = 1 << 20
# What may go wrong reading a hostile zip's directory or its one small part.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


def detect(data: bytes, name: str) -> FileType:
    """The type of ``data``; the (validated) ``name`` only tells CSV and the text suffixes apart.
    Raises UnsupportedMediaType (415) for bytes outside the allow-list."""
    for signature, offset, file_type in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature and (file_type is not WEBP or data[:4] == b"RIFF"):
            return file_type
    if data.startswith(_ZIP_SIGNATURES):
        return _zip_type(data)
    text = _text(data)
    if text is None:
        raise UnsupportedMediaType(
            f"不支持的文件类型，允许：{ALLOWED} (unsupported file type; allowed: {ALLOWED})", allowed=ALLOWED
        )
    if text.lstrip().startswith("<"):
        return _markup_type(text)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return CSV
    if suffix in TEXT_SUFFIXES:
        return FileType(TEXT.content_type, suffix, TEXT.inline, TEXT.charset)
    return TEXT


def _zip_type(data: bytes) -> FileType:
    """DOCX, XLSX or PPTX when the zip's content types name one of their main parts and the zip
    holds that part; any other readable zip is a plain zip; an unreadable one is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = set(archive.namelist())
            try:
                info = archive.getinfo("[Content_Types].xml")
            except KeyError:
                return ZIP
            if info.file_size > MAX_CONTENT_TYPES_BYTES:
                return ZIP
            content_types = archive.read(info)
    except _ZIP_ERRORS as error:
        raise UnsupportedMediaType("zip 文件已损坏 (corrupt zip file)", found="corrupt zip") from error
    try:
        root = ElementTree.fromstring(content_types)
    except ElementTree.ParseError:
        return ZIP
    for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        office = _OOXML_MAIN.get(override.get("ContentType", ""))
        if office is not None and override.get("PartName", "").lstrip("/") in members:
            return office
    return ZIP


def _text(data: bytes) -> str | None:
    """``data`` as text when it is valid UTF-8 (a BOM allowed) without NUL bytes, else None."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _markup_type(text: str) -> FileType:
    """SVG, HTML or XML by what the markup's first few KiB contain; each is download-only."""
    head = text[:4096].lower()
    if "<svg" in head:
        return SVG
    if "<html" in head or "<!doctype html" in head or "<body" in head or "<script" in head:
        return HTML
    if head.lstrip().startswith("<?xml"):
        return XML
    return MARKUP
