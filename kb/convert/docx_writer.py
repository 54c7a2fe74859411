"""kb's rendered HTML written into a python-docx document, block by block.

The HTML is ``kb.render``'s (sanitized, a known small set of tags), so a walk over it covers
everything a body can hold: headings, paragraphs with bold, italic, code and links, nested
lists, tables, code blocks, quotes, definition lists and images. Word's own styles (Heading n,
List Bullet n, Table Grid, Quote) carry the looks, so the file restyles like any Word document.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bs4 import BeautifulSoup, NavigableString, Tag
from docx.document import Document
from docx.image.exceptions import UnrecognizedImageError
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Inches, Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

# the bytes of an image the body refers to (its ``src``), or None when the document has none
ImageSource = Callable[[str], bytes | None]

MONOSPACE = "Consolas"
_TEXT_WIDTH = Inches(6)  # A4 or Letter less python-docx's default margins
_LIST_DEPTH = 3  # Word's template has List Bullet, List Bullet 2 and List Bullet 3
_LINKED_SCHEMES = ("http://", "https://", "mailto:")


@dataclass(frozen=True)
class _Look:
    bold: bool = False
    italic: bool = False
    code: bool = False
    strike: bool = False
    superscript: bool = False
    subscript: bool = False


_LOOKS = {
    "strong": {"bold": True},
    "b": {"bold": True},
    "th": {"bold": True},
    "dt": {"bold": True},
    "em": {"italic": True},
    "i": {"italic": True},
    "code": {"code": True},
    "del": {"strike": True},
    "s": {"strike": True},
    "sup": {"superscript": True},
    "sub": {"subscript": True},
}


class DocxWriter:
    """Appends the blocks of a rendered body to ``document``; images come from ``image``."""

    def __init__(self, document: Document, image: ImageSource) -> None:
        self.document = document
        self.image = image

    def write(self, html: BeautifulSoup | Tag) -> None:
        for node in html.children:
            self._block(node)

    def _block(self, node: object, style: str | None = None) -> None:
        if isinstance(node, NavigableString):
            if str(node).strip():
                self._inline(self.document.add_paragraph(style=style), node, _Look())
            return
        if not isinstance(node, Tag):
            return
        name = node.name
        if name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._inlines(self.document.add_heading(level=int(name[1])), node, _Look())
        elif name in ("ul", "ol"):
            self._list(node, 1)
        elif name == "table":
            self._table(node)
        elif name == "pre":
            self._code(node.get_text())
        elif name == "blockquote":
            for child in node.children:
                self._block(child, "Quote")
        elif name in ("div", "dl", "section", "article"):
            for child in node.children:
                self._block(child, style)
        elif name == "dd":
            paragraph = self.document.add_paragraph(style=style)
            paragraph.paragraph_format.left_indent = Inches(0.4)
            self._inlines(paragraph, node, _Look())
        elif name == "hr":
            self.document.add_paragraph(style=style)
        else:  # p, dt, and any inline element standing alone
            self._inline(self.document.add_paragraph(style=style), node, _Look())

    def _list(self, node: Tag, depth: int) -> None:
        kind = "List Number" if node.name == "ol" else "List Bullet"
        style = kind if min(depth, _LIST_DEPTH) == 1 else f"{kind} {min(depth, _LIST_DEPTH)}"
        for item in node.find_all("li", recursive=False):
            paragraph = self.document.add_paragraph(style=style)
            for child in item.children:
                if isinstance(child, Tag) and child.name in ("ul", "ol"):
                    self._list(child, depth + 1)
                elif isinstance(child, Tag) and child.name == "p":
                    self._inlines(paragraph, child, _Look())
                else:
                    self._inline(paragraph, child, _Look())
            if paragraph.runs:  # the line break before a nested list
                paragraph.runs[-1].text = paragraph.runs[-1].text.rstrip()

    def _table(self, node: Tag) -> None:
        rows = [row.find_all(["th", "td"], recursive=False) for row in node.find_all("tr")]
        columns = max((len(cells) for cells in rows), default=0)
        if not columns:
            return
        table = self.document.add_table(rows=len(rows), cols=columns)
        table.style = self.document.styles["Table Grid"]
        for row, cells in zip(table.rows, rows, strict=True):
            for cell, source in zip(row.cells, cells, strict=False):
                self._cell(cell, source)

    def _cell(self, cell: _Cell, source: Tag) -> None:
        look = _Look(bold=source.name == "th")
        self._inlines(cell.paragraphs[0], source, look)

    def _code(self, text: str) -> None:
        paragraph = self.document.add_paragraph()
        paragraph.paragraph_format.left_indent = Inches(0.2)
        for number, line in enumerate(text.rstrip("\n").split("\n")):
            if number:
                paragraph.add_run().add_break()
            _monospace(paragraph.add_run(line))

    def _inlines(self, paragraph: Paragraph, node: Tag, look: _Look) -> None:
        for child in node.children:
            self._inline(paragraph, child, look)

    def _inline(self, paragraph: Paragraph, node: object, look: _Look) -> None:
        if isinstance(node, NavigableString):
            text = re.sub(r"\s+", " ", str(node))
            if text.strip() or paragraph.runs:
                _styled(paragraph.add_run(text.lstrip() if not paragraph.runs else text), look)
            return
        if not isinstance(node, Tag):
            return
        if node.name == "br":
            paragraph.add_run().add_break()
        elif node.name == "img":
            self._picture(paragraph, node)
        elif node.name == "a" and str(node.get("href") or "").startswith(_LINKED_SCHEMES):
            self._link(paragraph, node, look)
        elif node.name in ("ul", "ol", "table", "pre"):
            self._inline(paragraph, NavigableString(node.get_text(" ")), look)
        else:
            self._inlines(paragraph, node, replace(look, **_LOOKS.get(node.name, {})))

    def _link(self, paragraph: Paragraph, node: Tag, look: _Look) -> None:
        """A real hyperlink (python-docx has no call for one): runs moved into ``w:hyperlink``."""
        target = paragraph.part.relate_to(str(node["href"]), RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
        link = OxmlElement("w:hyperlink")
        link.set(qn("r:id"), target)
        first = len(paragraph.runs)
        self._inlines(paragraph, node, look)
        for run in paragraph.runs[first:]:
            run.font.color.rgb = RGBColor(0x05, 0x63, 0xC1)
            run.font.underline = True
            link.append(run._r)
        paragraph._p.append(link)

    def _picture(self, paragraph: Paragraph, node: Tag) -> None:
        data = self.image(str(node.get("src") or ""))
        alt = str(node.get("alt") or node.get("src") or "")
        if data is not None:
            try:
                shape = paragraph.add_run().add_picture(io.BytesIO(data))
            except (UnrecognizedImageError, ValueError, ZeroDivisionError):
                pass  # a format Word cannot show (SVG, WebP…): its alt text below instead
            else:
                if shape.width > _TEXT_WIDTH:
                    shape.height = Emu(int(shape.height * _TEXT_WIDTH / shape.width))
                    shape.width = _TEXT_WIDTH
                return
        paragraph.add_run(f"[{alt}]").italic = True


def _styled(run: Run, look: _Look) -> None:
    run.bold = look.bold or None
    run.italic = look.italic or None
    run.font.strike = look.strike or None
    run.font.superscript = look.superscript or None
    run.font.subscript = look.subscript or None
    if look.code:
        _monospace(run)


def _monospace(run: Run) -> None:
    run.font.name = MONOSPACE
    run.font.size = Pt(9.5)
