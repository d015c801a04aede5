"""Accounts of the HTTP service (``stechnique serve``): who calls, for which body, with what.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-08

``<prefix>accounts``: one row per account the service's operator created. An account is a
body, the actor ids that act for it, the roles granted to it per procedure version (JSON:
``[{"name", "version", "roles"}]``), whether it is an auditor's, and the SHA-256 digest of its
bearer token (never the token). ``revoked_at`` is set when the account is revoked: its token is
refused from then on. The digest is unique and indexed: a request finds its account by it.

(Numbered 0007 while 0005 and 0006 are written on other branches: the chain is set at merge.)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
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
    """Create the accounts table."""
    op.create_table(
        f"{table_prefix}accounts",
        sa.Column("id", _ident(255), primary_key=True),
        sa.Column("body", _ident(255), nullable=False),
        sa.Column("actors", sa.JSON, nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        sa.Column("auditor", sa.Boolean, nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.UniqueConstraint("token_digest", name=f"{table_prefix}accounts_token_digest"),
        **_table_options(),
    )


def downgrade(table_prefix: str) -> None:
    """Drop the accounts table (every account and token with it)."""
    op.drop_table(f"{table_prefix}accounts")
