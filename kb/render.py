"""Markdown to safe HTML.

Python-Markdown renders (tables, fenced code highlighted by Pygments, a table of contents,
relative links between documents); nh3 then removes anything executable, so no script, event
handler or ``javascript:`` URL survives whatever a document contains. A blob never changes, so
its HTML is rendered once and cached by blob id: in memory, and on disk in the instance so
every worker process and every restart reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, ClassVar, cast
from urllib.parse import quote, unquote, urlsplit

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.toc import slugify_unicode
from markdown.treeprocessors import Treeprocessor
from pygments.formatters.html import HtmlFormatter

_EXTENSIONS = ["tables", "fenced_code", "codehilite", "toc", "sane_lists", "attr_list", "def_list", "abbr"]


class _Formatter(HtmlFormatter):
    """Pygments' HTML formatter, building its style tables once per style instead of once per
    code block (a quarter of the render time of a document with many code blocks)."""

    _tables: ClassVar[dict[tuple, tuple]] = {}
    # set by HtmlFormatter._create_stylesheet (private to Pygments: its stubs have neither)
    ttype2class: dict[Any, str]
    class2style: dict[str, tuple[str, Any, int]]

    def _create_stylesheet(self) -> None:
        key = (self.style, self.classprefix)
        if key not in self._tables:
            super()._create_stylesheet()  # type: ignore[misc]
            self._tables[key] = (self.ttype2class, self.class2style)
        self.ttype2class, self.class2style = self._tables[key]


_EXTENSION_CONFIGS: dict[str, dict[str, Any]] = {
    "codehilite": {"css_class": "highlight", "guess_lang": False, "pygments_formatter": _Formatter},
    "toc": {"permalink": False, "toc_depth": "2-4", "slugify": slugify_unicode},
    # align="…" rather than style="text-align: …": the Content-Security-Policy allows no inline style
    "tables": {"use_align_attribute": True},
}

_ALLOWED_TAGS = nh3.ALLOWED_TAGS | {
    "span",
    "div",
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "img",
    "dl",
    "dt",
    "dd",
    "sup",
    "sub",
    "del",
    "ins",
    "mark",
}
_ALLOWED_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"id", "class", "title"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
}


DOCS_PREFIX = "/docs/"


def document_link(folder: str, href: str) -> str | None:
    """The path of the document ``href`` leads to from a document in ``folder``, or None.

    The one rule for links between documents, used by the renderer (``_DocumentLinks``) and by
    the catalog's link table (``kb.services.links``). Relative links (``../02-process/变更管理流程``,
    with or without ``.md``) resolve against ``folder``; absolute ones count when they are a
    document page (``/docs/<path>``). Query and fragment are not part of the path;
    percent-escapes are decoded. None: another site, a mail address, a place on this page, a
    path above the root, any other page of kb.
    """
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    if path.startswith("/"):
        if not path.startswith(DOCS_PREFIX):
            return None
        folder, path = "", path[len(DOCS_PREFIX) :]
    target = posixpath.normpath(posixpath.join(folder, path)).removesuffix(".md")
    if target == "." or target.startswith(("..", "/")):
        return None
    return target


class _DocumentLinks(Treeprocessor):
    """Rewrite relative links (``../02-process/变更管理流程``) to the linked document's page.

    The folder of the document being rendered is set on the processor before each conversion,
    so one converter per thread serves every document (building one costs ~1.5 ms).
    """

    folder = ""

    def run(self, root: object) -> None:
        for link in root.iter("a"):  # type: ignore[attr-defined]
            href = link.get("href", "")
            target = document_link(self.folder, href)
            if target is None or href.startswith("/"):
                continue  # not a document, or already its page's address
            fragment = urlsplit(href).fragment
            link.set("href", DOCS_PREFIX + quote(target) + (f"#{fragment}" if fragment else ""))


class _DocumentLinksExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_DocumentLinks(md), "kb_document_links", 5)


_converters = threading.local()


def _converter() -> markdown.Markdown:
    if not hasattr(_converters, "md"):
        _converters.md = markdown.Markdown(
            extensions=[*_EXTENSIONS, _DocumentLinksExtension()], extension_configs=_EXTENSION_CONFIGS
        )
    return _converters.md


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: list[tuple[int, str, str]]  # (level, anchor, text) of the h2-h4 headings


def render(body: str, path: str = "") -> str:
    """Sanitized HTML of a Markdown body; relative links resolve against ``path``'s folder."""
    return render_page(body, path).html


def render_page(body: str, path: str = "") -> Rendered:
    """HTML and table of contents of a Markdown body."""
    converter = _converter()
    converter.reset()
    cast(_DocumentLinks, converter.treeprocessors["kb_document_links"]).folder = posixpath.dirname(path)
    html = converter.convert(body)
    toc = [(level, anchor, name) for level, anchor, name in _headings(converter.toc_tokens)]  # type: ignore[attr-defined]
    return Rendered(_clean(html), toc)


def _headings(tokens: list[dict]) -> list[tuple[int, str, str]]:
    found = []
    for token in tokens:
        if 2 <= token["level"] <= 4:
            found.append((token["level"], token["id"], nh3.clean(token["name"], tags=set())))
        found.extend(_headings(token["children"]))
    return found


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


class RenderCache:
    """Rendered pages memoised by (blob id, folder): a blob never changes and the folder fixes
    relative links. A small LRU in memory in front of files in ``directory`` (when given), which
    all worker processes share; files are written atomically, so a reader never sees half."""

    def __init__(self, directory: Path | None = None, size: int = 2048) -> None:
        self.directory = directory
        self.size = size
        self._entries: OrderedDict[str, Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, blob: str, path: str, body: str) -> Rendered:
        key = _key(blob, path)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        rendered = self._load(key)
        if rendered is None:
            rendered = render_page(body, path)
            self._store(key, rendered)
        with self._lock:
            self._entries[key] = rendered
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return rendered

    def html(self, blob: str, path: str, body: str) -> str:
        return self.page(blob, path, body).html

    def warm(self, documents: Iterable[tuple[str, str, str]], processes: int | None = None) -> int:
        """Render (blob, path, body) documents that have no cached page yet, on every core.

        Used after a bulk import, so the first view of each document is a cache hit instead
        of a render; returns how many were rendered.
        """
        if self.directory is None:
            return 0
        todo = [
            (key, path, body)
            for blob, path, body in documents
            if not (self.directory / (key := _key(blob, path))[:2] / f"{key}.json").exists()
        ]
        if len(todo) < 2 * _WARM_CHUNK:
            for key, path, body in todo:
                self._store(key, render_page(body, path))
            return len(todo)
        chunks = [todo[i : i + _WARM_CHUNK] for i in range(0, len(todo), _WARM_CHUNK)]
        with ProcessPoolExecutor(processes or os.cpu_count(), mp_context=get_context("fork")) as pool:
            list(pool.map(_warm_chunk, [self.directory] * len(chunks), chunks))
        return len(todo)

    def _file(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / key[:2] / f"{key}.json"

    def _load(self, key: str) -> Rendered | None:
        file = self._file(key)
        try:
            data = json.loads(file.read_text(encoding="utf-8")) if file else None
        except (OSError, ValueError):
            return None
        return Rendered(data["html"], [tuple(entry) for entry in data["toc"]]) if data else None

    def _store(self, key: str, rendered: Rendered) -> None:
        file = self._file(key)
        if file is None:
            return
        _write(file, rendered)


_WARM_CHUNK = 50
# part of every cache key: bump it when rendering changes, so no page from older code is served
RENDER_VERSION = 3  # 3: percent-escaped relative links decoded before they are quoted


def _key(blob: str, path: str) -> str:
    return hashlib.sha1(f"{RENDER_VERSION}\0{blob}\0{posixpath.dirname(path)}".encode()).hexdigest()


def _warm_chunk(directory: Path, chunk: list[tuple[str, str, str]]) -> None:
    for key, path, body in chunk:
        _write(directory / key[:2] / f"{key}.json", render_page(body, path))


def _write(file: Path, rendered: Rendered) -> None:
    """Write atomically (a reader never sees half a page); a cache that cannot be written only
    costs a render next time."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=file.parent, delete=False) as handle:
            json.dump({"html": rendered.html, "toc": rendered.toc}, handle, ensure_ascii=False)
        os.replace(handle.name, file)
    except OSError:
        pass
