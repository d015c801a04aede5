"""Index the cases for the engine's queries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

``cases(name, version, state)`` serves ``Engine.cases`` filters; ``cases(created_at, id)`` its
ordering. Every table name starts with ``table_prefix``, which ``env.py`` passes in.
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade(table_prefix: str) -> None:
    """Create both indexes."""
    cases = f"{table_prefix}cases"
    op.create_index(f"{cases}_name_version_state", cases, ["name", "version", "state"])
    op.create_index(f"{cases}_created_at_id", cases, ["created_at", "id"])


def downgrade(table_prefix: str) -> None:
    """Drop both indexes."""
    cases = f"{table_prefix}cases"
    op.drop_index(f"{cases}_created_at_id", table_name=cases)
    op.drop_index(f"{cases}_name_version_state", table_name=cases)
