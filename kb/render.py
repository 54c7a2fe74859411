"""Markdown to safe HTML.

Python-Markdown renders (tables, fenced code highlighted by Pygments, a table of contents,
relative links between documents); nh3 then removes anything executable, so no script, event
handler or ``javascript:`` URL survives whatever a document contains. A blob never changes, so
its HTML is rendered once and cached by blob id.
"""

from __future__ import annotations

import posixpath
import threading
from collections import OrderedDict
from urllib.parse import quote, urlsplit

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.toc import slugify_unicode
from markdown.treeprocessors import Treeprocessor

_EXTENSIONS = ["tables", "fenced_code", "codehilite", "toc", "sane_lists", "attr_list", "def_list", "abbr"]
_EXTENSION_CONFIGS = {
    "codehilite": {"css_class": "highlight", "guess_lang": False},
    "toc": {"permalink": False, "toc_depth": "2-4", "slugify": slugify_unicode},
}

_ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"span", "div", "pre", "code", "table", "thead", "tbody", "tr", "th", "td",
                                    "hr", "img", "dl", "dt", "dd", "sup", "sub", "del", "ins", "mark"}
_ALLOWED_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"id", "class", "title"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align", "style"},
    "td": {"align", "style"},
}


class _DocumentLinks(Treeprocessor):
    """Rewrite relative links (``../02-process/变更管理流程``) to the linked document's page."""

    def __init__(self, md: markdown.Markdown, folder: str) -> None:
        super().__init__(md)
        self.folder = folder

    def run(self, root: object) -> None:
        for link in root.iter("a"):  # type: ignore[attr-defined]
            href = link.get("href", "")
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("/", "#")) or not parts.path:
                continue
            target = posixpath.normpath(posixpath.join(self.folder, parts.path)).removesuffix(".md")
            if target.startswith(".."):
                continue
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            link.set("href", "/docs/" + quote(target) + fragment)


class _DocumentLinksExtension(Extension):
    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_DocumentLinks(md, self.folder), "kb_document_links", 5)


def render(body: str, path: str = "") -> str:
    """Sanitized HTML of a Markdown body; relative links resolve against ``path``'s folder."""
    converter = markdown.Markdown(
        extensions=[*_EXTENSIONS, _DocumentLinksExtension(posixpath.dirname(path))],
        extension_configs=_EXTENSION_CONFIGS,
    )
    html = converter.convert(body)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class RenderCache:
    """HTML memoised by (blob id, path): a blob never changes and the path fixes relative links.

    Keyed without the body, so a cache of thousands of documents holds only their HTML.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def html(self, blob: str, path: str, body: str) -> str:
        key = (blob, path)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        html = render(body, path)
        with self._lock:
            self._entries[key] = html
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return html
