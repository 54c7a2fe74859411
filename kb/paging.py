"""One page of a list, the one shape every listing returns (documents, the archive, deleted
documents, the past, the audit trail): its items, how many there are in all, and where the page
is. Built one way: from a SQL query (counted, then cut in SQL) or from a list already made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

# the most items a page holds, unless a list says otherwise
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int  # items in the whole list
    page: int  # 1-based
    per_page: int

    @staticmethod
    def bounds(page: int, per_page: int, most: int = MAX_PER_PAGE) -> tuple[int, int]:
        """``page`` and ``per_page`` brought into range (page 1 on, 1 to ``most`` items)."""
        return max(page, 1), min(max(per_page, 1), most)

    @classmethod
    def of_query(
        cls,
        session: Session,
        query: Select[Any],
        order: Sequence[Any],
        page: int,
        per_page: int,
        most: int = MAX_PER_PAGE,
    ) -> Page[Any]:
        """The page of ``query``'s rows (in ``order``) and the count of them all."""
        page, per_page = cls.bounds(page, per_page, most)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(*order).limit(per_page).offset((page - 1) * per_page))
        return Page(list(rows), total, page, per_page)

    @classmethod
    def of_list(cls, items: Sequence[T], page: int, per_page: int, most: int = MAX_PER_PAGE) -> Page[T]:
        """The page of a list made in full (the past is read from git, not from SQL)."""
        page, per_page = cls.bounds(page, per_page, most)
        return Page(list(items[(page - 1) * per_page : page * per_page]), len(items), page, per_page)
