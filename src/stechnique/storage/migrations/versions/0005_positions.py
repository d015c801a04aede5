"""The change feed: a global position on every record, its counter, the durable consumers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

* ``records.position``: the record's place in the store's append order (1, 2, 3... with no
  gap), unique. It is not part of the record's hash: every hash and fingerprint stays as it was.
* ``<prefix>positions(id, position)``: one row (``id`` 1) holding the last position handed
  out. Each append increments it in its own transaction and keeps the row locked until it
  commits, so positions become visible in the order they were given (see ``docs/decisions.md``,
  "The change feed"); the row starts at the last position of the upgraded records.
* ``<prefix>consumers(name, position)``: each durable consumer of the feed and
  the last position it acknowledged.

Existing stores, 0.1.0 ones included, upgrade in place. Their records are numbered in the
order of the time each claims (``at``), then case id, then seq; a record whose time is earlier
than one before it in its own case takes that earlier record's time, so each case's records
keep their seq order. Every table name starts with ``table_prefix``, which ``env.py`` passes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _ident(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _table_options() -> dict[str, Any]:
    # As in 0001 (a migration never imports another): binary collations on MariaDB/MySQL.
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return {}
    collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": collation}


def upgrade(table_prefix: str) -> None:
    """Add and fill the position column, create the counter and the consumers tables."""
    options = _table_options()
    records_name = f"{table_prefix}records"
    op.add_column(records_name, sa.Column("position", sa.BigInteger, nullable=True))
    _number(records_name)
    op.create_index(f"{records_name}_position", records_name, ["position"], unique=True)
    positions = op.create_table(
        f"{table_prefix}positions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        **options,
    )
    records = sa.table(records_name, sa.column("position", sa.BigInteger))
    last = sa.select(sa.func.coalesce(sa.func.max(records.c.position), 0)).scalar_subquery()
    op.execute(positions.insert().values(id=1, position=last))
    op.create_table(
        f"{table_prefix}consumers",
        sa.Column("name", _ident(255), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        **options,
    )


def _number(records_name: str) -> None:
    """Number the existing records in the order the module docstring documents."""
    records = sa.table(
        records_name,
        sa.column("case_id"),
        sa.column("seq"),
        sa.column("at"),
        sa.column("position"),
    )
    # Each record's time, never earlier than the times before it in its case.
    claimed = sa.select(
        records.c.case_id,
        records.c.seq,
        sa.func.max(records.c.at)
        .over(partition_by=records.c.case_id, order_by=records.c.seq)
        .label("at"),
    ).subquery("claimed")
    order = (claimed.c.at, claimed.c.case_id, claimed.c.seq)
    numbered = sa.select(
        claimed.c.case_id,
        claimed.c.seq,
        sa.func.row_number().over(order_by=order).label("position"),
    ).subquery("numbered")
    op.execute(
        records.update()
        .values(position=numbered.c.position)
        .where(records.c.case_id == numbered.c.case_id, records.c.seq == numbered.c.seq)
    )


def downgrade(table_prefix: str) -> None:
    """Drop the consumers, the counter and every record's position."""
    op.drop_table(f"{table_prefix}consumers")
    op.drop_table(f"{table_prefix}positions")
    records_name = f"{table_prefix}records"
    op.drop_index(f"{records_name}_position", table_name=records_name)
    with op.batch_alter_table(records_name) as batch:
        batch.drop_column("position")
