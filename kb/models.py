"""SQLAlchemy 2.0 models.

Users, login sessions, tokens and the audit trail are the truth. ``Document``, ``DocumentTag``,
``DocumentLink`` and ``Version`` are caches of the git repository (the catalog): ``SyncState``
records the commit they reflect, and ``kb reindex`` rebuilds them from nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Table, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kb import clock


def utcnow() -> dt.datetime:
    return clock.now()


class UTCDateTime(TypeDecorator):
    """Stored as UTC, always read back timezone-aware (SQLite would drop the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The ``Table`` of a mapped class (SQLAlchemy types ``__table__`` as any FROM clause)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="reader")
    clearance: Mapped[str] = mapped_column(String(16), default="internal")
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str] = mapped_column(String(256), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the UI language the user last chose ("zh", "en"); None: the browser's or the default
    language: Mapped[str | None] = mapped_column(String(8))

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")
    login_sessions: Mapped[list[LoginSession]] = relationship(back_populates="user", cascade="all, delete-orphan")


class LoginSession(Base):
    """One browser login. The session cookie carries a random key whose SHA-256 is stored here,
    so logging out, resetting a password or disabling an account ends the session on the server:
    a copied cookie stops working, which a signed cookie alone could not promise."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="login_sessions")


class ApiToken(Base):
    """An API token; only its SHA-256 is stored, so a database leak does not leak tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    @property
    def state(self) -> str:
        """``revoked``, ``expired`` or ``active``: what the account pages show."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


class AuditEntry(Base):
    """One audited event. Entries are only ever appended (database triggers refuse UPDATE and
    DELETE); each carries the hash of the one before, so an edited or removed entry breaks the
    chain at a place ``kb audit verify`` names (see ``kb.stores.audit``)."""

    __tablename__ = "audit_trail"
    __table_args__ = (Index("ix_audit_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), default="", index=True)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(256), default="", index=True)
    revision: Mapped[str | None] = mapped_column(String(40))
    # the access level of the document concerned: who may read the entry follows it
    level: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Document(Base):
    """One current document as of ``SyncState('catalog')``: listings need no git call."""

    __tablename__ = "documents"

    path: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    access: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128), default="")
    revision: Mapped[str] = mapped_column(String(40))
    blob: Mapped[str] = mapped_column(String(40))
    # from the front matter, for the review-due and archive lists (nullable: older catalogs)
    review_by: Mapped[dt.date | None] = mapped_column(Date, index=True)
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    archived_by: Mapped[str | None] = mapped_column(String(64))
    archive_reason: Mapped[str | None] = mapped_column(String(500))

    tags: Mapped[list[DocumentTag]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentTag.position", lazy="selectin"
    )

    @property
    def tag_names(self) -> list[str]:
        return [tag.tag for tag in self.tags]

    @property
    def overdue(self) -> bool:
        """Whether its review date has passed (by this machine's calendar, as the lists count)."""
        return self.review_by is not None and self.review_by < dt.date.today()


class DocumentTag(Base):
    __tablename__ = "document_tags"

    path: Mapped[str] = mapped_column(
        ForeignKey("documents.path", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class DocumentLink(Base):
    """A link in a current document's body to another document's path, which need not exist
    (yet): read backwards by ``target``, the "referenced by" list of a page. Part of the catalog,
    rebuilt from the bodies in git (see ``kb.services.links``)."""

    __tablename__ = "document_links"

    source: Mapped[str] = mapped_column(
        ForeignKey("documents.path", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class Version(Base):
    """One commit's change to one document. ``path`` follows moves, ``file_path`` is where the
    content lived in that commit, so a past version reads straight from its blob."""

    __tablename__ = "versions"
    __table_args__ = (Index("ix_versions_path_id", "path", "id"),)
    # blob: what a past tree's file was (the as-of listing); file_path: where a moved one went

    # ids grow in commit order, so (path, id) orders one document's history
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(200))
    file_path: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    revision: Mapped[str] = mapped_column(String(40), index=True)
    blob: Mapped[str | None] = mapped_column(String(40), index=True)
    access: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str | None] = mapped_column(String(16))
    author_name: Mapped[str] = mapped_column(String(128))
    author_email: Mapped[str] = mapped_column(String(256))
    date: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text, default="")


class SyncState(Base):
    """The git commit a derived store (the catalog) reflects, and the catalog's layout version
    (``catalog-layout``), so a kb that records more per document rebuilds an older catalog."""

    __tablename__ = "sync_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    commit: Mapped[str | None] = mapped_column(String(40))
