"""Index the cases by state, for ``Engine.cases(state=...)`` without a procedure name.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

``cases(name, version, state)`` only serves filters that name the procedure; listing the cases
in a state across procedures scanned the whole table. ``cases(state, created_at, id)`` finds
them and returns them in order. Every table name starts with ``table_prefix``.
"""

from __future__ import annotations

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade(table_prefix: str) -> None:
    """Create the index."""
    cases = f"{table_prefix}cases"
    op.create_index(f"{cases}_state_created_at_id", cases, ["state", "created_at", "id"])


def downgrade(table_prefix: str) -> None:
    """Drop the index."""
    cases = f"{table_prefix}cases"
    op.drop_index(f"{cases}_state_created_at_id", table_name=cases)
