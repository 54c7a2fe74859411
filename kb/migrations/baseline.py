"""The schema of revision 0001: every table, index and trigger kb made before it had migrations.

Frozen on purpose: it is what revision 0001 creates and what a database made before Alembic is
checked against when ``kb migrate`` adopts it (``kb.migrations.adopt``). A later change to
``kb.models`` is a new revision in ``versions/``, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

REVISION = "0001"

schema = sa.MetaData()


def _at(name: str, *, nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, index=index)


sa.Table(
    "users",
    schema,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("clearance", sa.String(16), nullable=False),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("email", sa.String(256), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    _at("created_at"),
    sa.Column("language", sa.String(8)),
)
sa.Table(
    "login_sessions",
    schema,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("address", sa.String(64), nullable=False),
    _at("created_at"),
    _at("expires_at"),
)
sa.Table(
    "api_tokens",
    schema,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(128), nullable=False),
    _at("created_at"),
    _at("expires_at", nullable=True),
    _at("revoked_at", nullable=True),
    _at("last_used_at", nullable=True),
)
sa.Table(
    "audit_trail",
    schema,
    sa.Column("id", sa.Integer, primary_key=True),
    _at("at", index=True),
    sa.Column("actor", sa.String(64), nullable=False, index=True),
    sa.Column("address", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(256), nullable=False, index=True),
    sa.Column("revision", sa.String(40)),
    sa.Column("level", sa.String(16)),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_action_at", "action", "at"),
)
sa.Table(
    "documents",
    schema,
    sa.Column("path", sa.String(200), primary_key=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("access", sa.String(16), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("owner", sa.String(64), nullable=False),
    _at("updated_at"),
    sa.Column("updated_by", sa.String(128), nullable=False),
    sa.Column("revision", sa.String(40), nullable=False),
    sa.Column("blob", sa.String(40), nullable=False),
    sa.Column("review_by", sa.Date, index=True),
    _at("archived_at", nullable=True, index=True),
    sa.Column("archived_by", sa.String(64)),
    sa.Column("archive_reason", sa.String(500)),
)
sa.Table(
    "document_tags",
    schema,
    sa.Column(
        "path",
        sa.String(200),
        sa.ForeignKey("documents.path", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    ),
    sa.Column("tag", sa.String(100), primary_key=True, index=True),
    sa.Column("position", sa.Integer, nullable=False),
)
sa.Table(
    "document_links",
    schema,
    sa.Column(
        "source",
        sa.String(200),
        sa.ForeignKey("documents.path", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    ),
    sa.Column("target", sa.String(200), primary_key=True, index=True),
)
sa.Table(
    "versions",
    schema,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("file_path", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("revision", sa.String(40), nullable=False, index=True),
    sa.Column("blob", sa.String(40), index=True),
    sa.Column("access", sa.String(16)),
    sa.Column("title", sa.String(300)),
    sa.Column("status", sa.String(16)),
    sa.Column("author_name", sa.String(128), nullable=False),
    sa.Column("author_email", sa.String(256), nullable=False),
    _at("date"),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_versions_path_id", "path", "id"),
)
sa.Table(
    "sync_state",
    schema,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("commit", sa.String(40)),
)

# the database itself refuses to change or remove an audit entry (see kb.stores.audit);
# each statement may run again on a database that already has the trigger
APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_trail_no_update BEFORE UPDATE ON audit_trail "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_trail_no_delete BEFORE DELETE ON audit_trail "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION kb_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$ LANGUAGE plpgsql",
        "DROP TRIGGER IF EXISTS audit_trail_append_only ON audit_trail",
        "CREATE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail "
        "FOR EACH ROW EXECUTE FUNCTION kb_audit_append_only()",
    ],
}


def create_triggers(connection: Connection) -> None:
    """Make the audit trail append-only on ``connection``'s database (SQLite or PostgreSQL)."""
    for statement in APPEND_ONLY.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)
