"""What an import gives back, and the steps the Word and HTML importers share: naming the
images they take out of the source, and turning clean HTML into kb's Markdown.

Both importers go through HTML (mammoth writes it from Word; an HTML file already is), and
markdownify writes the Markdown: unlike mammoth's own Markdown writer, which is deprecated and
drops tables, it keeps tables as pipe tables, lists, links, code blocks and images.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

from kb.errors import UnreadableFile


@dataclass(frozen=True)
class File:
    """An image taken out of the source, for the new document's files. ``content_type`` is what
    the source declared: the caller checks the bytes (``kb.files``) before storing them."""

    name: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Imported:
    """A converted document: its title, its Markdown body (images referred to by their files'
    relative names, ``![](image-1.png)``), those files, and what the converter could not keep."""

    title: str
    markdown: str
    files: tuple[File, ...] = ()
    warnings: tuple[str, ...] = ()


def unreadable(filename: str, kind: tuple[str, str], reason: tuple[str, str]) -> UnreadableFile:
    """The one error of an import that gave nothing: ``kind`` and ``reason`` in Chinese and English,
    ``("Word 文档", "a Word document")``, ``("文件已损坏", "damaged")``."""
    return UnreadableFile(
        f"无法读取 {filename}（{kind[0]}）：{reason[0]} (cannot read {filename} as {kind[1]}: {reason[1]})",
        filename=filename,
    )


# the extensions a browser and a git viewer recognise; mimetypes answers the rest (emf, tiff…)
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    # Word's vector drawings: kept as they are (a browser shows neither)
    "image/x-emf": ".emf",
    "image/x-wmf": ".wmf",
}


@dataclass
class Images:
    """The images of one import, named ``image-1.png``, ``image-2.jpg``… in the order met."""

    files: list[File] = field(default_factory=list)

    def add(self, data: bytes, content_type: str) -> str:
        """Keep an image; returns the name the Markdown refers to it by."""
        content_type = content_type.lower()
        extension = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"
        name = f"image-{len(self.files) + 1}{extension}"
        self.files.append(File(name, data, content_type))
        return name


_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]


def text_of(element: Tag | None) -> str:
    """The text of an element on one line, or ``""``."""
    return " ".join(element.get_text(" ").split()) if element else ""


def first_heading(soup: BeautifulSoup) -> str:
    """The text of the first heading of a page, or ``""``."""
    return text_of(soup.find(_HEADINGS))


def stem(filename: str) -> str:
    """``变更流程`` for ``C:\\导入\\变更流程.docx``: the title of last resort."""
    return posixpath.splitext(posixpath.basename(filename.replace("\\", "/")))[0] or filename


def _code_language(element: Tag) -> str | None:
    """``python`` for ``<pre><code class="language-python">`` (or the class on ``<pre>``)."""
    for tag in [element, *element.find_all("code", limit=1)]:
        for name in tag.get_attribute_list("class"):
            if name and name.startswith(("language-", "lang-")):
                return str(name.split("-", 1)[1])
    return None


_CONVERTER = MarkdownConverter(
    heading_style="ATX",
    # a line break as a trailing backslash: trailing spaces would not survive the clean-up below
    newline_style="backslash",
    bullets="-",
    # Word's tables have no header row: the first row becomes the pipe table's header
    table_infer_header=True,
    # an image in a table cell or a heading stays an image (markdownify keeps only its alt text)
    keep_inline_images_in=["td", "th", *_HEADINGS],
    code_language_callback=_code_language,
)


def to_markdown(soup: BeautifulSoup) -> str:
    """kb's Markdown of a parsed HTML page: no run of blank lines, one newline at the end."""
    text = _CONVERTER.convert_soup(soup)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
