"""kb.files, the engine of attachments: names, types decided from the bytes, and bounded text
extraction, each checked with real files made here (PNG, PDF, DOCX, XLSX, PPTX) and with
hostile ones (script in SVG, a zip bomb, a PDF that never ends, an executable)."""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile

import pytest
import sample_files
from PIL import Image

from kb.errors import InvalidFileName, UnsupportedMediaType
from kb.files import names, types

# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["截图.png", "error dialog (2).PNG", "SLA_2026-v1.2.pdf", "日志.log", "a", "console.txt"],
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert names.validate(name) == name


def test_names_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "résumé.pdf")
    assert decomposed != "résumé.pdf"
    assert names.validate(decomposed) == "résumé.pdf"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "../secret.png",
        "..",
        ".",
        "a/b.png",
        "a\\b.png",
        "..\\..\\boot.ini",
        ".git",
        ".hidden.png",
        "-rf.png",
        "tab\there.png",
        "new\nline.png",
        "nul\x00.png",
        "zero\u200bwidth.png",
        "bidi\u202egnp.exe",
        "CON",
        "con.png",
        "Lpt1.txt",
        "COM9 .log",
        "trailing.",
        "trailing ",
        " leading.png",
        'quote".png',
        "what?.png",
        "star*.png",
        "pipe|.png",
        "colon:stream.png",
        "<tag>.png",
        "长" * 41,  # 123 bytes of UTF-8
        "a" * 121,
    ],
)
def test_unsafe_names_are_a_400(name: str) -> None:
    with pytest.raises(InvalidFileName) as caught:
        names.validate(name)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_file_name"
    assert "(" in caught.value.message  # Chinese, then the English in parentheses


def test_the_length_limit_counts_bytes_of_utf8() -> None:
    assert names.validate("长" * 40) == "长" * 40  # 120 bytes
    assert names.validate("a" * 120) == "a" * 120


# --- types ---------------------------------------------------------------------------------


def _pillow(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (5, 4), (200, 30, 30)).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (sample_files.png, "x.png", types.PNG),
        (lambda: _pillow("JPEG"), "x.jpg", types.JPEG),
        (lambda: _pillow("GIF"), "x.gif", types.GIF),
        (lambda: _pillow("WEBP"), "x.webp", types.WEBP),
        (lambda: sample_files.pdf([["中文"]]), "x.pdf", types.PDF),
        (lambda: sample_files.docx_file(["段落"]), "x.docx", types.DOCX),
        (lambda: sample_files.xlsx_file([["a", 1]]), "x.xlsx", types.XLSX),
        (lambda: sample_files.pptx_file([("标题", "正文")]), "x.pptx", types.PPTX),
    ],
)
def test_real_files_are_known_by_their_bytes_whatever_their_name(make, name: str, expected: types.FileType) -> None:
    data = make()
    assert types.detect(data, name) == expected
    assert types.detect(data, "renamed.txt") == expected  # the name never decides a binary type


def test_office_files_are_told_apart_by_their_main_part_not_their_zip() -> None:
    docx = sample_files.docx_file(["x"])
    archive = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as copy:  # the same content types, the main part missing
        for info in archive.infolist():
            if info.filename != "word/document.xml":
                copy.writestr(info, archive.read(info))
    assert types.detect(out.getvalue(), "x.docx") == types.ZIP


def test_a_plain_zip_is_a_download() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert types.detect(out.getvalue(), "bundle.zip") == types.ZIP
    assert not types.ZIP.inline


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        ("服务台日志 2026-12-04 ERROR 502\n".encode(), "x.log", types.FileType("text/plain", ".log", True, "utf-8")),
        ("# 标题\n正文".encode(), "README.md", types.FileType("text/plain", ".md", True, "utf-8")),
        (b"plain", "noext", types.TEXT),
        (b"plain", "x.exe", types.TEXT),
        ("\ufeffwith a BOM".encode(), "x.txt", types.TEXT),
        (b"", "empty.txt", types.TEXT),
        ("工单,状态\n1,已关闭\n".encode(), "tickets.CSV", types.CSV),
    ],
)
def test_text_is_valid_utf8_without_nul(data: bytes, name: str, expected: types.FileType) -> None:
    assert types.detect(data, name) == expected
    assert expected.header.endswith("; charset=utf-8")


HOSTILE_SVG = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)">
  <script>fetch('/api/v1/tokens', {method: 'POST'})</script>
  <rect width="10" height="10"/>
</svg>"""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (HOSTILE_SVG, types.SVG),
        (b"  <svg><script>alert(1)</script></svg>", types.SVG),
        (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", types.HTML),
        (b"<script>alert(1)</script>", types.HTML),
        (b'<?xml version="1.0"?><note>x</note>', types.XML),
        (b"<2026-12-04> a log line", types.MARKUP),
    ],
)
def test_markup_a_browser_would_run_is_only_downloaded(data: bytes, expected: types.FileType) -> None:
    for name in ("x.svg", "x.png", "x.txt", "x.csv"):
        found = types.detect(data, name)
        assert found == expected
        assert not found.inline


def test_only_images_pdf_and_plain_text_may_be_shown_inline() -> None:
    inline = {t.content_type for t in vars(types).values() if isinstance(t, types.FileType) and t.inline}
    assert inline == {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain", "text/csv"}


def _windows_executable() -> bytes:
    header = bytearray(512)
    header[:16] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    header[0x3C:0x40] = (0x80).to_bytes(4, "little")
    header[0x80:0x84] = b"PE\x00\x00"
    return bytes(header)


@pytest.mark.parametrize(
    "data",
    [
        _windows_executable(),
        b"\x7fELF\x02\x01\x01" + bytes(100),
        b"\x1f\x8b\x08\x00" + bytes(50),
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        os.urandom(4096) + b"\x00",
        "GBK 编码的文本".encode("gbk"),
        "UTF-16 text".encode("utf-16"),
    ],
)
def test_everything_else_is_a_415_saying_what_is_allowed(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        types.detect(data, "harmless.png")
    assert caught.value.status == 415
    assert caught.value.code == "unsupported_media_type"
    assert "allowed: PNG, JPEG" in caught.value.message


def test_a_corrupt_zip_is_a_415() -> None:
    docx = sample_files.docx_file(["x"])
    with pytest.raises(UnsupportedMediaType, match="corrupt zip"):
        types.detect(docx[: len(docx) // 2], "x.docx")


def test_a_zip_bomb_is_typed_without_being_inflated() -> None:
    assert types.detect(sample_files.zip_bomb_docx(), "bomb.docx") == types.DOCX
