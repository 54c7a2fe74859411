"""Which current documents link to a document ("referenced by"), as the caller may see them.

The catalog records the links of every current document (``DocumentLink``, found by
``kb.links.link_targets``) whenever it records the document, so a page can list what
references it with one indexed query.
"""

from __future__ import annotations

from sqlalchemy import Row, Select, String, bindparam, cast, select, union_all
from sqlalchemy.orm import Session, aliased

from kb import access
from kb.access import Principal
from kb.models import Document, DocumentLink, Version


def referenced_by(session: Session, user: Principal, path: str) -> list[Row]:
    """The current documents that link to the document at ``path`` and that ``user`` may see
    (their level and status filtered as in the document list), ordered by title: rows of
    ``path``, ``title``, ``access`` and ``status``. One query.

    Links to a path the document was moved away from count too, as long as that address still
    leads to it (``documents.missing``): no document took its place, and it is the last document
    moved away from there.
    """
    if not access.can(user, "view"):
        return []
    levels, statuses = set(access.visible_levels(user)), set(access.visible_statuses(user))
    return [
        row
        for row in session.execute(_REFERENCED_BY, {"path": path})
        if row.access in levels and row.status in statuses
    ]


def _referenced_by_query() -> Select:
    """The query of ``referenced_by``, built once (building it costs more than running it)."""
    path = bindparam("path", type_=String)
    old, later = aliased(Version), aliased(Version)
    moved_to = (
        select(later.path)
        .where(later.file_path == old.file_path, later.path != later.file_path)
        .order_by(later.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    former = select(old.file_path).where(
        old.path == path,
        old.file_path != path,
        moved_to == path,
        ~select(Document.path).where(Document.path == old.file_path).exists(),
    )
    # from the index on the target to each linking document by its key (a filter on the level or
    # status in SQL would make SQLite scan the documents instead)
    return (
        select(Document.path, Document.title, Document.access, Document.status)
        .distinct()
        .join(DocumentLink, DocumentLink.source == Document.path)
        .where(DocumentLink.target.in_(union_all(select(cast(path, String)), former)), Document.path != path)
        .order_by(Document.title, Document.path)
    )


_REFERENCED_BY = _referenced_by_query()
