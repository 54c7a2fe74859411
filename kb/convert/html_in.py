"""HTML (a saved web page, a wiki's export, Word's "save as web page") to Markdown.

Scripts, styles, anything else that is not content and links that would run a script are
dropped before markdownify writes the Markdown; images inlined as ``data:`` URLs become the
document's files, so the body refers to them by name and stays small. Other images and links
are kept as written.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes

from bs4 import BeautifulSoup, Tag
from bs4.dammit import EncodingDetector

from kb.convert.imported import Images, Imported, first_heading, stem, text_of, to_markdown, unreadable

_KIND = ("HTML 文本", "HTML text")
# what a page runs, styles or embeds: none of it is the document's text
_SCRIPTED = ("javascript:", "vbscript:", "data:")
_DROPPED = ["script", "style", "noscript", "template", "iframe", "object", "embed", "head", "link", "meta"]


def html_to_markdown(data: bytes, filename: str) -> Imported:
    """The Markdown, title (``<title>``, else the first heading, else the file name) and inlined
    images of an HTML file. Raises ``UnreadableFile`` when it is not text in its declared
    encoding (UTF-8 when it declares none) or has no markup at all."""
    soup = BeautifulSoup(_decode(data, filename), "html.parser")
    if soup.find() is None:
        raise unreadable(filename, _KIND, ("没有任何 HTML 标记", "no markup in it"))
    title = text_of(soup.find("title"))
    for element in soup.find_all(_DROPPED):
        element.decompose()
    for link in soup.find_all("a", href=True):
        if str(link["href"]).strip().lower().startswith(_SCRIPTED):
            del link["href"]  # its text stays; kb.render would drop the URL anyway, the body should not hold it
    images = Images()
    for image in soup.find_all("img"):
        _take_inlined(image, images)
    return Imported(title or first_heading(soup) or stem(filename), to_markdown(soup), tuple(images.files))


def _decode(data: bytes, filename: str) -> str:
    data, bom_encoding = EncodingDetector.strip_byte_order_mark(data)
    encoding = bom_encoding or EncodingDetector.find_declared_encoding(data, is_html=True) or "utf-8"
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as error:
        raise unreadable(filename, _KIND, (f"不是 {encoding} 编码的文本", f"not {encoding} text")) from error
    if "\0" in text:
        raise unreadable(filename, _KIND, ("包含空字符，是二进制文件", "NUL characters: a binary file"))
    return text


def _take_inlined(image: Tag, images: Images) -> None:
    """Replace a ``data:`` image by a file of the import; drop one that cannot be decoded."""
    source = str(image.get("src") or "")
    if not source.lower().startswith("data:"):
        return
    header, _, payload = source[len("data:") :].partition(",")
    content_type, *parameters = header.split(";")
    try:
        data = (
            base64.b64decode(payload, validate=True)
            if "base64" in (parameter.strip().lower() for parameter in parameters)
            else unquote_to_bytes(payload)
        )
    except (binascii.Error, ValueError):
        image.decompose()
        return
    if not content_type.strip().lower().startswith("image/") or not data:
        image.decompose()
        return
    image["src"] = images.add(data, content_type.strip())
