"""Create the cases and records tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Every table name starts with ``table_prefix``, which ``env.py`` passes to both functions.
Identifiers compare byte for byte on every backend; times keep microseconds (``DATETIME(6)`` on
MariaDB/MySQL, which store them in UTC without a zone).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _ident(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _time() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")


def _table_options() -> dict[str, Any]:
    dialect = op.get_bind().dialect
    if dialect.name != "mysql":
        return {}
    # The default collations ignore case and trailing spaces: "A" and "a " would be one id.
    collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": collation}


def upgrade(table_prefix: str) -> None:
    """Create ``<prefix>cases`` and ``<prefix>records``."""
    options = _table_options()
    op.create_table(
        f"{table_prefix}cases",
        sa.Column("id", _ident(255), primary_key=True),
        sa.Column("name", _ident(200), nullable=False),
        sa.Column("version", _ident(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", _ident(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        **options,
    )
    op.create_table(
        f"{table_prefix}records",
        sa.Column("case_id", _ident(255), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event", _ident(200), nullable=False),
        sa.Column("source", _ident(200), nullable=True),
        sa.Column("target", _ident(200), nullable=False),
        sa.Column("actor_id", _ident(255), nullable=False),
        sa.Column("actor_roles", sa.JSON, nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("name", _ident(200), nullable=False),
        sa.Column("version", _ident(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("idempotency_key", _ident(255), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "idempotency_key", name=f"{table_prefix}records_case_key"),
        **options,
    )


def downgrade(table_prefix: str) -> None:
    """Drop both tables (and every history in them)."""
    op.drop_table(f"{table_prefix}records")
    op.drop_table(f"{table_prefix}cases")
