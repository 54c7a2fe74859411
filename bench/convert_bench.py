"""What converting costs, in-process: importing Word files and HTML pages to Markdown, and
exporting one document to Word and to PDF.

    .venv/bin/python bench/convert_bench.py [--files 100] [--exports 20]

The Word files are written here with python-docx from the generated corpus (a heading, twelve
paragraphs, a list, a five-row table and a PNG each); the HTML pages are the same documents
rendered by kb with the PNG inlined as a ``data:`` URL. Generating them is not timed. Exports
convert one of those documents with its image; the first export (WeasyPrint loading its
fonts) is reported apart from the steady p50 / p95.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import time

import docx
from docx.shared import Inches
from harness import print_table, summary, synthetic_documents
from PIL import Image

from kb.convert.docx_in import docx_to_markdown
from kb.convert.export import ExportDocument, to_docx, to_pdf
from kb.convert.html_in import html_to_markdown
from kb.render import render


def picture() -> bytes:
    out = io.BytesIO()
    Image.effect_mandelbrot((320, 200), (-2, -1.2, 1, 1.2), 60).convert("RGB").save(out, "PNG")
    return out.getvalue()


def word_file(text: str, image: bytes) -> bytes:
    title, *paragraphs = [block.lstrip("# ") for block in text.split("\n\n") if block.strip()]
    document = docx.Document()
    document.add_heading(title, level=1)
    for number, paragraph in enumerate(paragraphs):
        if number == 4:
            document.add_heading("步骤", level=2)
            for step in ("提交申请", "审批", "实施", "验证"):
                document.add_paragraph(step, style="List Number")
        document.add_paragraph(paragraph)
    table = document.add_table(rows=5, cols=3)
    for row in range(5):
        for column in range(3):
            table.cell(row, column).text = f"单元 {row}-{column}"
    document.add_picture(io.BytesIO(image), width=Inches(3))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def html_page(text: str, image: bytes) -> bytes:
    inlined = f'<p><img alt="图" src="data:image/png;base64,{base64.b64encode(image).decode()}"></p>'
    return f"<html><head><title>导入</title></head><body>{render(text)}{inlined}</body></html>".encode()


def rate(convert, files: list[bytes], name: str) -> list[object]:
    started = time.perf_counter()
    for data in files:
        convert(data, name)
    seconds = time.perf_counter() - started
    megabytes = sum(len(data) for data in files) / 1e6
    per_second = len(files) / seconds
    return [len(files), f"{megabytes:.2f}", f"{seconds:.2f}", f"{per_second:.1f}", f"{megabytes / seconds:.2f}"]


def export_row(export, document: ExportDocument, runs: int, label: str) -> list[object]:
    started = time.perf_counter()
    size = len(export(document))
    first_ms = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        export(document)
        samples.append((time.perf_counter() - started) * 1000)
    return [label, f"{first_ms:.0f}", summary(samples), f"{size / 1000:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--exports", type=int, default=20)
    args = parser.parse_args()
    image = picture()
    texts = [text for _, text in synthetic_documents(args.files)]
    words = [word_file(text, image) for text in texts]
    pages = [html_page(text, image) for text in texts]
    print_table(
        f"Import to Markdown ({args.files} files each, one PNG of {len(image) // 1000} kB in every file)",
        ["format", "files", "MB", "seconds", "documents / s", "MB / s"],
        [
            ["docx (mammoth)", *rate(docx_to_markdown, words, "bench.docx")],
            ["html (markdownify)", *rate(html_to_markdown, pages, "bench.html")],
        ],
    )
    body = texts[0] + "\n\n| 角色 | 职责 |\n|---|---|\n| 变更经理 | 审批 |\n\n![图](image-1.png)\n"
    document = ExportDocument(
        "文档 0", body, "内部 (internal)", "0" * 40, "bench", "2026-12-04 00:00 UTC", {"image-1.png": image}
    )
    print_table(
        f"Export of one document ({len(body)} characters, {len(document.body_html().get_text())} of text, one PNG), "
        f"{args.exports} runs after the first",
        ["format", "first ms", "p50 / p95 ms", "kB"],
        [
            export_row(to_docx, document, args.exports, "docx (python-docx)"),
            export_row(to_pdf, document, args.exports, "pdf (WeasyPrint)"),
        ],
    )
    print(f"\n(median document: {statistics.median(len(w) for w in words) / 1000:.0f} kB docx)")


if __name__ == "__main__":
    main()
