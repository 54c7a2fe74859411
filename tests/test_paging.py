"""One page of a list (``kb.paging.Page``), without Flask: the same page from SQL and from a
list, bounds held to their range, and the total counting the whole list."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from kb.paging import MAX_PER_PAGE, Page


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(_Row(id=n, name=f"文档{n:02}") for n in range(1, 26))
        session.commit()
        yield session


def test_a_page_of_a_query_holds_its_rows_in_order_and_counts_them_all(session):
    found = Page.of_query(session, select(_Row).where(_Row.id > 5), (_Row.id.desc(),), page=2, per_page=7)
    assert [row.id for row in found.items] == [18, 17, 16, 15, 14, 13, 12]
    assert (found.total, found.page, found.per_page) == (20, 2, 7)


def test_a_page_of_a_list_is_the_same_page_as_of_the_query(session):
    names = [row.name for row in session.scalars(select(_Row).order_by(_Row.id))]
    from_list = Page.of_list(names, page=3, per_page=10)
    from_query = Page.of_query(session, select(_Row), (_Row.id,), page=3, per_page=10)
    assert from_list.items == [row.name for row in from_query.items] == names[20:]
    assert (from_list.total, from_list.page, from_list.per_page) == (25, 3, 10)


@pytest.mark.parametrize(
    ("asked", "held"),
    [((0, 10), (1, 10)), ((-3, 0), (1, 1)), ((2, 10_000), (2, MAX_PER_PAGE)), ((4, 5), (4, 5))],
)
def test_page_and_size_are_brought_into_range(asked, held):
    assert Page.bounds(*asked) == held


def test_a_page_past_the_end_is_empty_but_still_counts_the_list():
    found = Page.of_list(["甲", "乙", "丙"], page=5, per_page=2, most=2)
    assert found.items == [] and found.total == 3
