"""Word (.docx) to Markdown.

mammoth reads the document's structure rather than its looks: headings, lists, tables, links,
bold and italic come out as clean HTML (which ``kb.convert.imported`` turns into Markdown), and
each embedded image is handed to us, so it becomes one of the document's files instead of a
``data:`` URL. Anything mammoth cannot place (an unknown style, a linked image) is a warning
of the result, not a failure.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any
from xml.etree import ElementTree

import mammoth
from bs4 import BeautifulSoup

from kb.convert.imported import Images, Imported, first_heading, stem, to_markdown, unreadable

# Word's "Title" and "Subtitle" paragraphs are headings to a reader, mammoth drops them to <p>
_STYLE_MAP = """
p[style-name='Title'] => h1:fresh
p[style-name='Subtitle'] => h2:fresh
"""
# a docx of a few thousand pages is well under this once unpacked; a zip bomb is far over it
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_CORE = "docProps/core.xml"
_KIND = ("Word 文档", "a Word document")
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"


def docx_to_markdown(data: bytes, filename: str) -> Imported:
    """The Markdown, title and images of a .docx; ``filename`` names the title's last resort
    and the error. Raises ``UnreadableFile`` when it is no Word document or is damaged."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise unreadable(filename, _KIND, ("不是 zip 包", "not a zip package")) from error
    with package:
        names = set(package.namelist())
        if "word/document.xml" not in names or "[Content_Types].xml" not in names:
            raise unreadable(filename, _KIND, ("缺少 word/document.xml", "no word/document.xml in it"))
        if sum(entry.file_size for entry in package.infolist()) > MAX_UNPACKED_BYTES:
            limit = f"{MAX_UNPACKED_BYTES // 1024 // 1024} MiB"
            raise unreadable(filename, _KIND, (f"解压后超过 {limit}", f"unpacks to more than {limit}"))
        core_title = _core_title(package) if _CORE in names else ""
    images = Images()

    def image(element: Any) -> dict[str, str]:
        with element.open() as stream:
            name = images.add(stream.read(), element.content_type or "application/octet-stream")
        return {"src": name, "alt": element.alt_text or ""}

    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data), style_map=_STYLE_MAP, convert_image=mammoth.images.img_element(image)
        )
        soup = BeautifulSoup(result.value, "html.parser")
        markdown = to_markdown(soup)
    except Exception as error:  # mammoth's and the zip reader's errors are many; all mean "damaged"
        raise unreadable(filename, _KIND, ("文件已损坏", f"damaged ({type(error).__name__})")) from error
    title = first_heading(soup) or core_title or stem(filename)
    warnings = tuple(f"{message.type}: {message.message}" for message in result.messages)
    return Imported(title, markdown, tuple(images.files), warnings)


def _core_title(package: zipfile.ZipFile) -> str:
    """The title in the document's properties (File > Info in Word), or ``""``."""
    try:
        root = ElementTree.fromstring(package.read(_CORE))
    except Exception:  # damaged properties (bad XML, CRC, encryption) lose only this fallback
        return ""
    element = root.find(_DC_TITLE)
    return " ".join((element.text or "").split()) if element is not None else ""
