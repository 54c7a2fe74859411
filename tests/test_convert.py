"""kb.convert on real files made here: Word files written with python-docx and HTML pages
imported to Markdown with their images; documents exported to Word and PDF and read back
(python-docx, poppler's pdftotext and pdfimages)."""

from __future__ import annotations

import base64
import io
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches
from PIL import Image

from kb.convert import docx_in
from kb.convert.docx_in import docx_to_markdown
from kb.convert.export import ExportDocument, to_docx, to_pdf
from kb.convert.html_in import html_to_markdown
from kb.convert.importing import DOCX, import_document
from kb.errors import UnreadableFile


def png(colour: str = "red", size: int = 12) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, "PNG")
    return out.getvalue()


def add_link(paragraph, url: str, text: str) -> None:
    """A hyperlink as Word writes one (python-docx has no call for it)."""
    target = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), target)
    run = OxmlElement("w:r")
    words = OxmlElement("w:t")
    words.text = text
    run.append(words)
    link.append(run)
    paragraph._p.append(link)


def word_file(image: bytes) -> bytes:
    document = docx.Document()
    document.core_properties.title = "属性里的标题"
    document.add_heading("变更管理流程", level=1)
    document.add_paragraph("本流程适用于所有生产变更。")
    document.add_heading("步骤", level=2)
    document.add_paragraph("提交变更申请", style="List Bullet")
    document.add_paragraph("变更经理审批", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for (row, column), text in {(0, 0): "角色", (0, 1): "职责", (1, 0): "变更经理", (1, 1): "审批变更"}.items():
        table.cell(row, column).text = text
    add_link(document.add_paragraph("详见 "), "https://example.com/sla", "服务级别协议")
    document.add_picture(io.BytesIO(image), width=Inches(1))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_word_file_becomes_markdown_with_its_image_as_a_file():
    image = png()
    imported = docx_to_markdown(word_file(image), "变更管理流程.docx")
    assert imported.title == "变更管理流程"
    markdown = imported.markdown
    assert markdown.startswith("# 变更管理流程\n\n本流程适用于所有生产变更。\n\n## 步骤\n")
    assert "- 提交变更申请\n- 变更经理审批\n" in markdown
    assert "| 角色 | 职责 |\n| --- | --- |\n| 变更经理 | 审批变更 |" in markdown
    assert "详见 [服务级别协议](https://example.com/sla)" in markdown
    assert "![](image-1.png)" in markdown
    [file] = imported.files
    assert (file.name, file.content_type, file.data) == ("image-1.png", "image/png", image)


def test_a_word_file_without_headings_takes_its_title_from_its_properties_then_its_name():
    document = docx.Document()
    document.add_paragraph("只有正文。")
    document.add_paragraph("标题样式的段落也是标题", style="Title")
    out = io.BytesIO()
    document.save(out)
    assert docx_to_markdown(out.getvalue(), "x.docx").title == "标题样式的段落也是标题"

    document = docx.Document()
    document.add_paragraph("只有正文。")
    document.core_properties.title = "属性里的标题"
    out = io.BytesIO()
    document.save(out)
    assert docx_to_markdown(out.getvalue(), "x.docx").title == "属性里的标题"

    document.core_properties.title = ""
    out = io.BytesIO()
    document.save(out)
    imported = docx_to_markdown(out.getvalue(), "导入/值班手册.docx")
    assert (imported.title, imported.markdown, imported.files) == ("值班手册", "只有正文。\n", ())


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        for name, data in entries.items():
            package.writestr(name, data)
    return out.getvalue()


def damaged_document() -> bytes:
    """A real docx whose main part is no longer XML."""
    with zipfile.ZipFile(io.BytesIO(word_file(png()))) as package:
        entries = {name: package.read(name) for name in package.namelist()}
    entries["word/document.xml"] = b"<w:document><w:body><w:p>"
    return zipped(entries)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(bytes(range(256)) * 40, id="random bytes"),
        pytest.param(zipped({"readme.txt": b"hello"}), id="a zip that is no docx"),
        pytest.param(word_file(png())[:3000], id="a truncated docx"),
        pytest.param(damaged_document(), id="a docx with broken XML"),
        pytest.param(b"", id="empty"),
    ],
)
def test_what_is_no_word_document_fails_with_one_clear_error(data):
    with pytest.raises(UnreadableFile) as raised:
        docx_to_markdown(data, "值班手册.docx")
    error = raised.value
    assert error.code == "unreadable_file" and error.status == 400
    assert error.message.startswith("无法读取 值班手册.docx（Word 文档）：")
    assert "(cannot read 值班手册.docx as a Word document: " in error.message
    assert error.details == {"filename": "值班手册.docx"}


def test_a_zip_bomb_named_docx_is_refused_before_it_is_unpacked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(docx_in, "MAX_UNPACKED_BYTES", 1024 * 1024)  # a bomb of 2 MiB, not of gigabytes
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", b"<Types/>")
        package.writestr("word/document.xml", b" " * (2 * 1024 * 1024))
    assert len(out.getvalue()) < 10_000
    with pytest.raises(UnreadableFile, match="unpacks to more than"):
        docx_to_markdown(out.getvalue(), "bomb.docx")


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>服务目录</title>
<style>p {{ color: red }}</style><script>alert("页面脚本")</script></head>
<body><h1>邮件服务</h1>
<p>联系 <a href="https://example.com/desk">服务台</a>，<b>工作日</b>响应。<a href=" JavaScript:alert(1)">点我</a></p>
<table><thead><tr><th>服务</th><th>可用性</th></tr></thead>
<tbody><tr><td>邮件</td><td>99.9%</td></tr></tbody></table>
<p><img alt="架构图" src="data:image/png;base64,{image}"><img src="https://example.com/logo.png"></p>
<p><img alt="坏的" src="data:image/png;base64,@@@"><img src="data:text/html,<script>x()</script>"></p>
<pre><code class="language-sh">systemctl status postfix
</code></pre>
<script>document.write("跟踪")</script><noscript>请启用脚本</noscript></body></html>
"""


def test_an_html_page_becomes_markdown_with_its_inlined_image_as_a_file():
    image = png("blue")
    imported = html_to_markdown(PAGE.format(image=base64.b64encode(image).decode()).encode(), "服务目录.html")
    assert imported.title == "服务目录"
    markdown = imported.markdown
    assert markdown.startswith("# 邮件服务\n\n联系 [服务台](https://example.com/desk)，**工作日**响应。点我\n")
    assert "| 服务 | 可用性 |\n| --- | --- |\n| 邮件 | 99.9% |" in markdown
    assert "![架构图](image-1.png)![](https://example.com/logo.png)" in markdown
    assert "```sh\nsystemctl status postfix\n```" in markdown
    for gone in ("页面脚本", "alert", "JavaScript", "color", "跟踪", "请启用脚本", "坏的", "data:"):
        assert gone not in markdown
    [file] = imported.files
    assert (file.name, file.content_type, file.data) == ("image-1.png", "image/png", image)


def test_an_html_page_in_its_declared_encoding_titled_by_its_heading_or_its_name():
    page = '<html><head><meta charset="gb2312"></head><body><h1>值班表</h1><p>夜班</p></body></html>'
    imported = html_to_markdown(page.encode("gb2312"), "a.html")
    assert (imported.title, imported.markdown) == ("值班表", "# 值班表\n\n夜班\n")
    assert html_to_markdown("<p>正文</p>".encode(), "docs/交接.htm").title == "交接"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(png(), "not utf-8 text", id="an image named .html"),
        pytest.param(b"<p>\x00\x01\x02</p>", "NUL characters", id="binary"),
        pytest.param("只是一句话".encode(), "no markup", id="plain text"),
        pytest.param("<p>错误的编码</p>".encode("gbk"), "not utf-8 text", id="undeclared gbk"),
    ],
)
def test_what_is_no_html_text_fails_with_one_clear_error(data, reason):
    with pytest.raises(UnreadableFile) as raised:
        html_to_markdown(data, "页面.html")
    assert raised.value.message.startswith("无法读取 页面.html（HTML 文本）：")
    assert reason in raised.value.message


META = "版本 3f2a9c1e5b7d4f60a8e2c4b6d8f0a1c3e5b7d9f1 · 作者 chen.jie · 日期 2026-12-04 15:00 UTC"
BODY = """# 服务级别协议

本协议约定**邮件服务**的可用性，参见 [服务台](https://example.com/desk)。

## 指标

| 指标 | 目标 |
|---|---|
| 可用性 | 99.9% |

- 工作日响应
    - 十五分钟内

```sh
systemctl status postfix
```

![架构图](images/架构图.png)

![远程图片](https://example.com/tracker.png) ![本机文件](../../../etc/passwd)

"""
LONG = "\n\n".join(f"第 {n} 条：服务中断时由值班工程师在十五分钟内响应并通报。" * 4 for n in range(60))


def export_document(image: bytes) -> ExportDocument:
    return ExportDocument(
        title="服务级别协议",
        body=BODY + LONG,
        access="机密 (confidential)",
        revision="3f2a9c1e5b7d4f60a8e2c4b6d8f0a1c3e5b7d9f1",
        author="chen.jie",
        date="2026-12-04 15:00 UTC",
        files={"images/架构图.png": image},
        path="08-compliance/服务级别协议",
    )


@pytest.fixture
def poppler() -> None:
    if not (shutil.which("pdftotext") and shutil.which("pdfimages")):
        pytest.fail("pdftotext and pdfimages (poppler-utils) read the PDFs back: scripts/test.sh installs them")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every connection attempted, refused."""
    attempts: list[object] = []

    def connect(self, address):
        attempts.append(address)
        raise OSError("no network in an export")

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def test_a_pdf_export_has_the_access_level_on_every_page_and_its_image(tmp_path: Path, poppler, no_network):
    image = png("green", 40)
    pdf = tmp_path / "sla.pdf"
    pdf.write_bytes(to_pdf(export_document(image)))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= 3
    for page in pages:
        assert "机密 (confidential)" in page
        assert "服务级别协议" in page
    first = pages[0]
    assert META in first
    assert "本协议约定邮件服务的可用性" in first and "可用性" in first and "99.9%" in first
    assert "systemctl status postfix" in first
    assert "第 59 条：服务中断时由值班工程师在十五分钟内响应并通报。" in pages[-1]
    assert first.count("服务级别协议") == 2  # the page header and the title: the body's own h1 is not repeated
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = listing.splitlines()[2:]
    assert len(images) == 1 and images[0].split()[3:5] == ["40", "40"]  # the document's, not the remote one
    assert no_network == []


def test_a_pdf_export_reads_no_file_from_the_disk(monkeypatch: pytest.MonkeyPatch, no_network):
    document = export_document(png())
    assert document.image("images/架构图.png") == document.files["images/架构图.png"]
    assert document.image("images/%E6%9E%B6%E6%9E%84%E5%9B%BE.png") == document.files["images/架构图.png"]
    for elsewhere in ("../../../etc/passwd", "/etc/passwd", "file:///etc/passwd", "https://example.com/x.png", "x.png"):
        assert document.image(elsewhere) is None
    opened: list[str] = []
    real_open = open

    def watched_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", watched_open)
    to_pdf(document)
    assert not [name for name in opened if "passwd" in name]


def test_a_word_export_has_the_access_level_in_its_header_and_embeds_its_image():
    image = png("green", 40)
    word = docx.Document(io.BytesIO(to_docx(export_document(image))))
    section = word.sections[0]
    assert [paragraph.text for paragraph in section.header.paragraphs] == ["机密 (confidential)"]
    assert section.footer.paragraphs[0].text.startswith("服务级别协议 · 机密 (confidential) · 第 ")
    assert 'w:instr="PAGE"' in section.footer._element.xml
    paragraphs = [(paragraph.style.name, paragraph.text) for paragraph in word.paragraphs]
    assert paragraphs[0] == ("Title", "服务级别协议")
    assert paragraphs[1] == ("Normal", META)
    assert ("Normal", "本协议约定邮件服务的可用性，参见 服务台。") in paragraphs
    assert ("Heading 2", "指标") in paragraphs and ("Heading 1", "服务级别协议") not in paragraphs
    assert ("List Bullet", "工作日响应") in paragraphs and ("List Bullet 2", "十五分钟内") in paragraphs
    assert ("Normal", "systemctl status postfix") in paragraphs
    assert ("Normal", "[远程图片] [本机文件]") in paragraphs
    [table] = word.tables
    assert [[cell.text for cell in row.cells] for row in table.rows] == [["指标", "目标"], ["可用性", "99.9%"]]
    [shape] = word.inline_shapes
    embedded = word.part.related_parts[shape._inline.graphic.graphicData.pic.blipFill.blip.embed]
    assert embedded.blob == image
    assert "https://example.com/desk" in [rel.target_ref for rel in word.part.rels.values() if rel.is_external]
    assert word.core_properties.title == "服务级别协议"


def test_an_image_word_cannot_show_is_its_alt_text_and_a_title_cannot_escape_the_print_stylesheet(tmp_path, poppler):
    document = ExportDocument(
        title='SLA "v2" \\ } @page { margin: 0 }',
        body="正文\n\n![损坏的图](broken.png)\n",
        access="公开 (public)",
        revision="0" * 40,
        author="chen.jie",
        date="2026-12-04",
        files={"broken.png": b"not an image at all"},
    )
    word = docx.Document(io.BytesIO(to_docx(document)))
    assert "[损坏的图]" in [paragraph.text for paragraph in word.paragraphs]
    assert len(word.inline_shapes) == 0
    pdf = tmp_path / "title.pdf"
    pdf.write_bytes(to_pdf(document))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert text.count('SLA "v2" \\ } @page { margin: 0 }') == 2  # the page header and the title, as written
    assert "公开 (public)" in text and "正文" in text


def test_an_import_picks_its_converter_by_the_type_of_the_bytes():
    assert import_document(word_file(png()), "a.docx", DOCX).title == "变更管理流程"
    assert import_document("<h1>值班表</h1>".encode(), "a.htm", "text/html; charset=utf-8").title == "值班表"
    with pytest.raises(UnreadableFile, match=r"^无法读取 a\.docx（可导入的文档）：类型 application/pdf "):
        import_document(b"%PDF-1.7", "a.docx", "application/pdf")
    with pytest.raises(UnreadableFile, match="Word"):
        import_document(b"%PDF-1.7", "a.docx", DOCX)
