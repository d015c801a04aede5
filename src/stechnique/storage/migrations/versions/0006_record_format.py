"""Record format: each record's format and the salts of its confidential values.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-08

* ``records.format``: the record format (``Record.format``); every row written before it
  existed is format 1, as its ``server_default`` says, and keeps its hash;
* ``records.salts``: the salt of each confidential value of a format-2 record, as JSON; NULL
  for a record that has none (every format-1 record).

Existing stores, 0.1.0 ones included, upgrade in place: the rows they hold become format-1
records, exactly what they are. Every table name starts with ``table_prefix``, which ``env.py``
passes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade(table_prefix: str) -> None:
    """Add the two columns to the records table."""
    records = f"{table_prefix}records"
    op.add_column(records, sa.Column("format", sa.SmallInteger, nullable=False, server_default="1"))
    op.add_column(records, sa.Column("salts", sa.JSON, nullable=True))


def downgrade(table_prefix: str) -> None:
    """Drop the two columns (a format-2 record then no longer verifies: downgrade only a store
    that holds none)."""
    with op.batch_alter_table(f"{table_prefix}records") as batch:
        batch.drop_column("salts")
        batch.drop_column("format")
