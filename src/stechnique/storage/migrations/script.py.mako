"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Every table name starts with ``table_prefix``, which ``env.py`` passes to both functions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | None = ${repr(branch_labels)}
depends_on: str | None = ${repr(depends_on)}


def upgrade(table_prefix: str) -> None:
    """Upgrade the tables of ``table_prefix``."""
    ${upgrades if upgrades else "pass"}


def downgrade(table_prefix: str) -> None:
    """Undo ``upgrade`` for the tables of ``table_prefix``."""
    ${downgrades if downgrades else "pass"}
