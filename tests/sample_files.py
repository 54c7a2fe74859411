"""Real files of every type kb.files accepts, made here rather than checked in, and hostile ones.

Used by tests/test_files_engine.py and bench/extract_bench.py (which sizes them up). Office
files come from the libraries people's tools are built on (python-docx, openpyxl,
python-pptx); PDFs are written byte by byte with a Type0 font and a ToUnicode map, so Chinese
text is real text a reader extracts (no font is embedded: nothing here draws glyphs); a PNG is
written with zlib and struct; a zip bomb is a DOCX whose extra part is a real deflate stream
that inflates to gigabytes, built in well under a second.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence

import docx
import openpyxl
import pptx
from pptx.util import Inches


def png(width: int = 4, height: int = 3) -> bytes:
    """A valid RGB PNG (a grey picture)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _to_unicode_cmap(chars: Iterable[str]) -> bytes:
    """A ToUnicode map from the 2-byte code of each character (its UTF-16 unit) to itself, for
    the characters used only, as a subset font's map is."""
    pairs = [f"<{ord(ch):04X}> <{ord(ch):04X}>" for ch in sorted(set(chars))]
    blocks = "".join(
        f"{len(part)} beginbfchar\n" + "\n".join(part) + "\nendbfchar\n"
        for part in (pairs[i : i + 100] for i in range(0, len(pairs), 100))
    )
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{blocks}endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def _pdf_text(line: str) -> str:
    return "<" + line.encode("utf-16-be").hex().upper() + "> Tj"


def pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """A PDF with one page per item, each line of text (Chinese welcome) in a Flate-compressed
    content stream; the cross-reference table is exact, so every reader opens it without repair."""
    objects: dict[int, bytes] = {}
    font, descendant, cmap = 3, 4, 5
    first_page = 6
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages)))
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    objects[font] = (
        f"<< /Type /Font /Subtype /Type0 /BaseFont /KBSans /Encoding /Identity-H "
        f"/DescendantFonts [{descendant} 0 R] /ToUnicode {cmap} 0 R >>"
    ).encode()
    objects[descendant] = (
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /KBSans /CIDToGIDMap /Identity "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>"
    )
    objects[cmap] = _stream(_to_unicode_cmap("".join("".join(lines) for lines in pages)), compress=False)
    for i, lines in enumerate(pages):
        page, contents = first_page + 2 * i, first_page + 2 * i + 1
        objects[page] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {contents} 0 R >>"
        ).encode()
        operators = ["BT", "/F1 11 Tf", "14 TL", "50 800 Td"]
        operators += [f"{_pdf_text(line)} T*" for line in lines]
        operators.append("ET")
        objects[contents] = _stream("\n".join(operators).encode("ascii"), compress=True)
    return _pdf_file(objects)


def _stream(data: bytes, *, compress: bool) -> bytes:
    body = zlib.compress(data) if compress else data
    fil = b" /Filter /FlateDecode" if compress else b""
    return b"<< /Length %d%s >>\nstream\n" % (len(body), fil) + body + b"\nendstream"


def _pdf_file(objects: dict[int, bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def pdf_that_never_ends(pages: int = 20_000) -> bytes:
    """A small PDF with ``pages`` pages that all share one content stream of 200,000 text
    positioning operators and no text: every page is real work for a reader (a tenth of a
    second for pypdf), and no limit on the text's length ever stops it, so extracting all of the
    default 20,000 pages takes the best part of an hour."""
    objects: dict[int, bytes] = {}
    font, contents, first_page = 3, 4, 5
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages))
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()
    objects[font] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objects[contents] = _stream(b"BT /F1 1 Tf " + b"1 0 Td " * 200_000 + b"ET", compress=True)
    for i in range(pages):
        objects[first_page + i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {contents} 0 R >>"
        ).encode()
    return _pdf_file(objects)


def docx_file(paragraphs: Iterable[str], table: Sequence[Sequence[str]] = ()) -> bytes:
    """A Word document with a heading, the paragraphs and, when given, a table."""
    document = docx.Document()
    document.add_heading("知识库 测试文档", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx_file(rows: Iterable[Sequence[object]], title: str = "工单") -> bytes:
    """An Excel workbook with one sheet of ``rows``."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def pptx_file(slides: Iterable[tuple[str, str]]) -> bytes:
    """A PowerPoint deck with one title-and-text slide per (title, body)."""
    deck = pptx.Presentation()
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(8), Inches(4))
        box.text_frame.text = body
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def zip_bomb_docx(inflated_mib: int = 2048) -> bytes:
    """A real DOCX plus one part, ``word/media/bomb.bin``, whose deflate stream really inflates to
    ``inflated_mib`` MiB of zeros (the stream is a megabyte's compressed block repeated: zlib's
    full flush makes every block of zeros compress to the same bytes). A few MiB on disk."""
    honest = zipfile.ZipFile(io.BytesIO(docx_file(["炸弹"])))
    members = [(info.filename, honest.read(info)) for info in honest.infolist()]
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "zlib no longer repeats a flushed block"
    crc = 0
    for _ in range(inflated_mib):
        crc = zlib.crc32(mib, crc)
    bomb = block * inflated_mib + compressor.flush()
    return _raw_zip([*_deflated(members), ("word/media/bomb.bin", bomb, crc, inflated_mib << 20)])


def _deflated(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes, int, int]]:
    out = []
    for name, data in members:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        out.append((name, compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)))
    return out


def _raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already deflated members (name, deflate stream, CRC-32, inflated size < 4 GiB):
    zipfile compresses what it writes, and compressing gigabytes would take a test too long."""
    out = bytearray()
    directory = bytearray()
    for name, body, crc, size in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(body), size, len(encoded), 0)
        out += encoded + body
        directory += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            *(b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(body), size, len(encoded), 0, 0, 0, 0, 0, offset),
        )
        directory += encoded
    start = len(out)
    out += directory
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0)
    return bytes(out)
