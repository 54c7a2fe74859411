"""kb.files, the engine of attachments: names (kb.docpath), types decided from the bytes, and bounded text
extraction, each checked with real files made here (PNG, PDF, DOCX, XLSX, PPTX) and with
hostile ones (script in SVG, a zip bomb, a PDF that never ends, an executable)."""

from __future__ import annotations

import io
import os
import time
import unicodedata
import zipfile

import pytest
import sample_files
from PIL import Image

from kb import docpath
from kb.errors import InvalidFileName, UnsupportedMediaType
from kb.files import extract, types

# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["截图.png", "error dialog (2).PNG", "SLA_2026-v1.2.pdf", "日志.log", "a", "console.txt"],
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert docpath.validate_file_name(name) == name


def test_names_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "résumé.pdf")
    assert decomposed != "résumé.pdf"
    assert docpath.validate_file_name(decomposed) == "résumé.pdf"


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
        docpath.validate_file_name(name)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_file_name"
    assert "(" in caught.value.message  # Chinese, then the English in parentheses


def test_the_length_limit_counts_bytes_of_utf8() -> None:
    assert docpath.validate_file_name("长" * 40) == "长" * 40  # 120 bytes
    assert docpath.validate_file_name("a" * 120) == "a" * 120


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


# --- extract -------------------------------------------------------------------------------

QUICK = extract.Limits(seconds=20)


def _text_of(data: bytes, name: str, limits: extract.Limits = QUICK) -> extract.Extraction:
    result = extract.extract(data, types.detect(data, name).content_type, limits)
    assert result.seconds < limits.seconds + 5
    return result


def test_the_text_of_a_pdf_in_chinese_and_english() -> None:
    result = _text_of(sample_files.pdf([["服务级别协议 SLA", "可用性 99.9%"], ["第二页：升级流程"]]), "sla.pdf")
    assert result.reason is None
    assert "服务级别协议 SLA" in result.text
    assert "可用性 99.9%" in result.text
    assert "第二页：升级流程" in result.text
    assert result.peak_rss > 0


def test_the_text_of_a_word_document_with_its_table() -> None:
    data = sample_files.docx_file(["处理 502 错误：重启 nginx。"], [["优先级", "响应时间"], ["P1", "15 分钟"]])
    result = _text_of(data, "sop.docx")
    assert result.reason is None
    assert "处理 502 错误：重启 nginx。" in result.text
    assert "优先级\t响应时间" in result.text
    assert "P1\t15 分钟" in result.text


def test_the_text_of_a_workbook_with_its_sheet_names() -> None:
    result = _text_of(sample_files.xlsx_file([["工单号", "状态"], ["INC-1", "已解决"], [3.5, None]]), "t.xlsx")
    assert result.reason is None
    assert result.text.splitlines() == ["工单", "工单号\t状态", "INC-1\t已解决", "3.5"]


def test_the_text_of_a_presentation() -> None:
    result = _text_of(sample_files.pptx_file([("变更评审", "回滚计划已批准"), ("第二张", "CAB 会议")]), "cab.pptx")
    assert result.reason is None
    for text in ("变更评审", "回滚计划已批准", "第二张", "CAB 会议"):
        assert text in result.text


def test_the_text_of_text_files() -> None:
    assert _text_of("\ufeff日志 ERROR 502\n".encode(), "a.log").text == "日志 ERROR 502\n"
    assert _text_of(b"a,b\n1,2\n", "a.csv").text == "a,b\n1,2\n"


def test_types_without_text_are_not_read() -> None:
    result = extract.extract(sample_files.png(), types.PNG.content_type)
    assert (result.text, result.seconds) == ("", 0.0)
    assert result.reason is not None and result.reason.startswith("no text")
    assert not extract.extractable(types.SVG.content_type)


def test_the_text_stops_at_its_limit() -> None:
    result = _text_of(("工单" * 5000).encode(), "a.txt", extract.Limits(seconds=20, max_chars=1000))
    assert result.text == "工单" * 500
    assert result.reason == "truncated: the first 1000 characters"


def test_a_zip_bomb_is_refused_from_its_directory_without_inflating() -> None:
    result = _text_of(sample_files.zip_bomb_docx(2048), "bomb.docx")
    assert result.text == ""
    assert result.reason == "zip bomb: parts inflate to 2048 MiB (limit 256 MiB)"
    assert result.peak_rss < 100 << 20  # nothing was inflated


def test_a_small_part_that_inflates_too_many_times_is_refused() -> None:
    result = _text_of(sample_files.zip_bomb_docx(20), "bomb.docx")
    assert result.reason is not None
    assert result.reason.startswith("zip bomb: word/media/bomb.bin inflates")


def test_the_zip_check_lets_honest_office_files_through() -> None:
    for data in (sample_files.docx_file(["x" * 100_000]), sample_files.xlsx_file([["y" * 1000]] * 500)):
        assert extract.zip_bomb(data) is None


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (sample_files.pdf([["第一页"], ["第二页"]])[:300], types.PDF.content_type),
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R", types.PDF.content_type),
        (b"%PDF-" + os.urandom(20_000), types.PDF.content_type),
        (b"PK\x03\x04" + os.urandom(5000), types.DOCX.content_type),
        (sample_files.xlsx_file([["a"]])[:-200], types.XLSX.content_type),
        (sample_files.docx_file(["a"]), types.PPTX.content_type),  # a Word file said to be slides
    ],
)
def test_a_corrupt_file_is_a_reason_not_an_exception(data: bytes, content_type: str) -> None:
    result = extract.extract(data, content_type, QUICK)
    assert result.text == ""
    assert result.reason is not None and result.reason.startswith("corrupt: ")
    assert result.seconds < QUICK.seconds


def test_an_encrypted_pdf_is_a_reason() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(sample_files.pdf([["机密"]]))))
    writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert _text_of(out.getvalue(), "secret.pdf").reason == "encrypted"


def test_a_pdf_that_never_ends_is_stopped_by_the_time_limit() -> None:
    hostile = sample_files.pdf_that_never_ends()
    control = _text_of(sample_files.pdf_that_never_ends(pages=2), "two-pages.pdf")
    assert control.reason is None  # the same pages, fewer of them: the limit is what stops it
    limits = extract.Limits(seconds=3)
    started = time.monotonic()
    result = extract.extract(hostile, types.PDF.content_type, limits)
    waited = time.monotonic() - started
    assert result.reason == "timeout: over 3 s"
    assert result.text == ""
    assert 3 <= waited < 8


def _docx_of_paragraphs(count: int) -> bytes:
    """A DOCX whose body is ``count`` paragraphs: 36 bytes of XML each, far more once parsed."""
    honest = zipfile.ZipFile(io.BytesIO(sample_files.docx_file(["x"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info in honest.infolist():
            data = honest.read(info)
            if info.filename == "word/document.xml":
                head, tail = data.split(b"<w:body>")
                data = head + b"<w:body>" + b"<w:p><w:r><w:t>memory</w:t></w:r></w:p>" * count + tail
            archive.writestr(info.filename, data)
    return out.getvalue()


def test_a_file_that_needs_too_much_memory_is_stopped_by_the_memory_limit() -> None:
    data = _docx_of_paragraphs(300_000)  # 11 MiB of XML, about 200 MiB parsed
    roomy = extract.Limits(seconds=30, max_ratio=10_000, max_chars=100)
    control = extract.extract(data, types.DOCX.content_type, roomy)
    assert control.reason == "truncated: the first 100 characters"  # parsed whole, then stopped early
    assert control.peak_rss > 160 << 20
    tight = extract.Limits(seconds=30, max_ratio=10_000, max_chars=100, memory_bytes=128 << 20)
    result = extract.extract(data, types.DOCX.content_type, tight)
    assert result.text == ""
    assert result.reason is not None and result.reason.startswith("memory: over 128 MiB")
    assert result.peak_rss <= 128 << 20


def test_a_child_that_dies_without_answering_is_a_reason() -> None:
    # 1 MiB of address space: the child cannot even hold the file, nor always its own answer
    result = extract.extract(b"x" * 20_000_000, types.TEXT.content_type, extract.Limits(memory_bytes=1 << 20))
    assert result.text == ""
    assert result.reason is not None and result.reason.startswith(("memory: ", "crashed: exit code"))
    roomier = extract.extract(b"x" * 20_000_000, types.TEXT.content_type, extract.Limits(memory_bytes=30 << 20))
    assert roomier.reason == "memory: over 30 MiB"
