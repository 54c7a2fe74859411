"""Adopting a database kb made before it had migrations (no ``alembic_version`` table).

Such a database was kept up to date by kb itself at every start: tables created when missing,
new nullable columns added, indexes created. Adoption does that once more, with Alembic's
operations, against the frozen schema of revision 0001 (``kb.migrations.baseline``), so the
database is exactly at 0001 and can be stamped; anything that cannot be mended that way (a
required column missing) is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from kb.errors import SchemaError
from kb.migrations import baseline


def adopt(connection: Connection) -> list[str]:
    """Bring the unversioned database on ``connection`` to revision 0001; returns what was
    changed (``table.column`` added, ``index name`` or ``table name`` created). Raises
    ``SchemaError`` when a table lacks a required column."""
    operations = Operations(MigrationContext.configure(connection))
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    changed: list[str] = []
    for table in baseline.schema.sorted_tables:
        if table.name not in existing:
            table.create(connection)
            changed.append(f"table {table.name}")
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise SchemaError(
                    f"表 {table.name} 缺少必需的列 {column.name}，无法升级 "
                    f"(table {table.name} lacks the required column {column.name}: "
                    "the database was made by an incompatible kb)"
                )
            operations.add_column(table.name, sa.Column(column.name, column.type))
            changed.append(f"{table.name}.{column.name}")
        indexes = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(connection)
                changed.append(f"index {index.name}")
    baseline.create_triggers(connection)
    return changed
