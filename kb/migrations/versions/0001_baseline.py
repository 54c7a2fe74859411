"""The schema as kb made it before migrations: users, sessions, tokens, the audit trail (append-only
by trigger) and the catalog of git (documents, tags, links, versions, sync state).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from kb.migrations import baseline

revision = baseline.REVISION
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    baseline.schema.create_all(connection)
    baseline.create_triggers(connection)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS kb_audit_append_only() CASCADE")
    baseline.schema.drop_all(connection)
