"""The importer for a file's type: the one call an import makes for a Word file or a web page.

The type is the caller's (decided from the bytes by ``kb.files``, not from the name), so a
.docx that is really a PDF is refused here by its type, and one that merely claims to be a
Word file fails in the Word importer with the same clear error.
"""

from __future__ import annotations

from collections.abc import Callable

from kb.convert.docx_in import docx_to_markdown
from kb.convert.html_in import html_to_markdown
from kb.convert.imported import Imported, unreadable

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IMPORTERS: dict[str, Callable[[bytes, str], Imported]] = {
    DOCX: docx_to_markdown,
    "text/html": html_to_markdown,
    "application/xhtml+xml": html_to_markdown,
}


def import_document(data: bytes, filename: str, content_type: str) -> Imported:
    """``data`` converted by the importer of ``content_type`` (parameters such as ``charset``
    ignored). Raises ``UnreadableFile`` for a type kb does not import, or a file it cannot read."""
    importer = IMPORTERS.get(content_type.split(";", 1)[0].strip().lower())
    if importer is None:
        raise unreadable(filename, ("可导入的文档", "an importable document"), (f"类型 {content_type}", content_type))
    return importer(data, filename)
