"""Case parties: the actor's body, the parties of a case, their readers index, the access log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

* ``records.actor_body``: the body an actor acted for (``Actor.body``), NULL when none was given
  (every record written before bodies existed);
* ``cases.parties``: the case's ``Parties`` as JSON, NULL for every case row upgraded from
  before parties (``Case.parties is None``, until the engine derives them from the history);
* ``<prefix>case_readers(case_id, reader)``: each case under every reader of its parties
  (``body:<id>``, ``role:<role>``), indexed by ``(reader, case_id)`` so that listing the cases a
  viewer may see reads only theirs;
* ``<prefix>accesses``: one row per unredacted read by an auditor.

Existing stores, 0.1.0 ones included, upgrade in place: the new columns are nullable and the
new tables start empty. Every table name starts with ``table_prefix``, which ``env.py`` passes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _ident(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _time() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")


def _table_options() -> dict[str, Any]:
    # As in 0001 (a migration never imports another): binary collations on MariaDB/MySQL.
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return {}
    collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": collation}


def upgrade(table_prefix: str) -> None:
    """Add the two columns and create the two tables and the readers index."""
    options = _table_options()
    op.add_column(f"{table_prefix}records", sa.Column("actor_body", _ident(255), nullable=True))
    op.add_column(f"{table_prefix}cases", sa.Column("parties", sa.JSON, nullable=True))
    readers = f"{table_prefix}case_readers"
    op.create_table(
        readers,
        sa.Column("case_id", _ident(255), primary_key=True),
        sa.Column("reader", _ident(260), primary_key=True),
        **options,
    )
    op.create_index(f"{readers}_reader_case_id", readers, ["reader", "case_id"])
    op.create_table(
        f"{table_prefix}accesses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor_id", _ident(255), nullable=False),
        sa.Column("actor_body", _ident(255), nullable=True),
        sa.Column("actor_roles", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("case_ids", sa.JSON, nullable=False),
        **options,
    )


def downgrade(table_prefix: str) -> None:
    """Drop the tables and columns (the access log, the readers, every case's parties and
    every actor's body with them)."""
    op.drop_table(f"{table_prefix}accesses")
    readers = f"{table_prefix}case_readers"
    op.drop_index(f"{readers}_reader_case_id", table_name=readers)
    op.drop_table(readers)
    with op.batch_alter_table(f"{table_prefix}cases") as batch:
        batch.drop_column("parties")
    with op.batch_alter_table(f"{table_prefix}records") as batch:
        batch.drop_column("actor_body")
