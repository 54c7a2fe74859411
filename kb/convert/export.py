"""One document as a Word file or a PDF, for people outside kb (an auditor, a customer).

Both start from ``kb.render``'s HTML of the body, so an export shows what the page shows, and
both carry the title, a line with revision, author and date, the access level on every page
(Word: the header of the section; PDF: the top right margin box of every page) and the
document's own images, embedded from the bytes the caller gives: nothing is fetched.

Why these tools. WeasyPrint lays out HTML and CSS for print in-process: paged media with margin
boxes and page counters, fonts through fontconfig (Chinese with the installed WenQuanYi Micro
Hei), a few MB of wheels over Pango, which Debian ships as small libraries. python-docx writes
the Word file itself, from kb's HTML, with Word's own styles, and needs only lxml. pandoc would
have been one tool for both, but it is a 100+ MB binary outside PyPI, and its PDF route needs a
LaTeX installation (xeCJK for Chinese: gigabytes) or an HTML engine anyway; LibreOffice
headless converts well but is ~500 MB, starts a process of seconds per file, and must be kept
from the network and from running macros. Both would also add a second renderer of Markdown
beside kb.render, so an export could differ from the page.
"""

from __future__ import annotations

import html
import io
import mimetypes
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import docx
from bs4 import BeautifulSoup
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from kb.convert.docx_writer import DocxWriter
from kb.render import render

# what Word and the PDF print for Chinese text where the reader's machine has the font
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC")


@dataclass(frozen=True)
class ExportDocument:
    """What an export prints. ``access`` as it should read on every page (the caller translates
    it: ``内部 (internal)``); ``date`` as it should read (the caller picks the time zone);
    ``files`` the document's images by the name the body refers to them with (``image-1.png``,
    a relative path); ``path`` the document's path, against which the body's links resolve."""

    title: str
    body: str
    access: str
    revision: str
    author: str
    date: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    path: str = ""

    def meta_line(self) -> str:
        return f"版本 {self.revision} · 作者 {self.author} · 日期 {self.date}"

    def image(self, source: str) -> bytes | None:
        """The bytes of the image at ``source`` (as written in the body, relative), or None:
        another site's image, a path above the document, a name the document has no file for."""
        parts = urlsplit(source)
        if parts.scheme or parts.netloc or not parts.path:
            return None
        wanted = posixpath.normpath(unquote(parts.path))
        for name, data in self.files.items():
            if posixpath.normpath(name) == wanted:
                return data
        return None

    def body_html(self) -> BeautifulSoup:
        """The rendered body, without its first heading when that repeats the title."""
        soup = BeautifulSoup(render(self.body, self.path), "html.parser")
        first = soup.find(True)
        if first is not None and first.name == "h1" and " ".join(first.get_text(" ").split()) == self.title.strip():
            first.decompose()
        return soup


def to_docx(document: ExportDocument) -> bytes:
    """The document as a .docx: title, meta line, body, the access level in every page's header."""
    word = docx.Document()
    word.core_properties.title = document.title
    word.core_properties.author = document.author
    _cjk_font(word)
    section = word.sections[0]
    header = section.header.paragraphs[0]
    header.text = document.access
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer = section.footer.paragraphs[0]
    footer.text = f"{document.title} · {document.access} · 第 "
    footer.runs[-1]._r.addnext(_page_field())
    footer.add_run(" 页")
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    word.add_heading(document.title, level=0)
    meta = word.add_paragraph().add_run(document.meta_line())
    meta.font.size = Pt(9)
    meta.font.color.rgb = RGBColor(0x59, 0x59, 0x59)
    DocxWriter(word, document.image).write(document.body_html())
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _cjk_font(word: Any) -> None:
    """Chinese text in the Normal style (and the styles built on it) set in a CJK font."""
    fonts = word.styles["Normal"].element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), "Microsoft YaHei")


def _page_field() -> Any:
    """A ``PAGE`` field: Word prints the page's number there."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    return field


# the base of the relative names in the body; the fetcher answers only below it, from ``files``
_BASE = "file:///kb-export/"


class _DocumentFiles(URLFetcher):
    """WeasyPrint's fetcher, answering with the document's files and refusing everything else
    (another site, the local disk), so an export never reaches the network or the disk."""

    def __init__(self, document: ExportDocument) -> None:
        super().__init__(allowed_protocols=["file"])
        self.document = document

    def fetch(self, url: str, headers: object = None) -> Any:
        data = self.document.image(url.removeprefix(_BASE)) if url.startswith(_BASE) else None
        if data is None:
            raise ValueError(f"not a file of the document: {url}")
        content_type = mimetypes.guess_type(unquote(urlsplit(url).path))[0] or "application/octet-stream"
        return URLFetcherResponse(url, data, {"Content-Type": content_type})


def _css_string(text: str) -> str:
    """``text`` as a CSS string: every character but letters, digits and spaces escaped."""
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in text) + '"'


_PRINT_CSS = """
@page {
    size: A4;
    margin: 22mm 18mm 20mm;
    @top-left { content: %(title)s; font-size: 8pt; color: #555; }
    @top-right { content: %(access)s; font-size: 9pt; font-weight: bold; color: #a00; }
    @bottom-center { content: "第 " counter(page) " / " counter(pages) " 页"; font-size: 8pt; color: #555; }
}
html { font-family: %(fonts)s, sans-serif; font-size: 10.5pt; line-height: 1.6; color: #111; }
h1.title { font-size: 20pt; margin: 0 0 2mm; }
p.meta { font-size: 8.5pt; color: #555; margin: 0 0 8mm; border-bottom: 0.5pt solid #999; padding-bottom: 2mm; }
h1, h2, h3, h4 { line-height: 1.3; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%%; margin: 3mm 0; }
th, td { border: 0.5pt solid #888; padding: 1mm 2mm; vertical-align: top; }
th { background: #eee; }
tr { page-break-inside: avoid; }
pre, code { font-family: "WenQuanYi Micro Hei Mono", "DejaVu Sans Mono", monospace; font-size: 9pt; }
pre { background: #f4f4f4; padding: 2mm 3mm; white-space: pre-wrap; }
blockquote { border-left: 2pt solid #bbb; margin-left: 0; padding-left: 4mm; color: #444; }
img { max-width: 100%%; }
a { color: #0563c1; }
"""


def to_pdf(document: ExportDocument) -> bytes:
    """The document as a PDF: title, meta line, body; title, access level and page number on
    every page."""
    page = (
        '<!doctype html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>{html.escape(document.title)}</title>"
        f'<meta name="author" content="{html.escape(document.author)}"></head><body>'
        f'<h1 class="title">{html.escape(document.title)}</h1>'
        f'<p class="meta">{html.escape(document.meta_line())}</p>'
        f"{document.body_html()}</body></html>"
    )
    fetcher = _DocumentFiles(document)
    css = _PRINT_CSS % {
        "title": _css_string(document.title),
        "access": _css_string(document.access),
        "fonts": ", ".join(f'"{font}"' for font in CJK_FONTS),
    }
    pdf: bytes = HTML(string=page, base_url=_BASE, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(string=css, url_fetcher=fetcher)]
    )
    return pdf
