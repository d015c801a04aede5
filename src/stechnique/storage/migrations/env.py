"""Alembic environment of the stechnique SQL schema.

Run through ``stechnique.storage.upgrade_schema`` (or ``SQLStorage``), which hands over an open
connection, already inside the transaction and lock that serialize concurrent upgrades, and the
table prefix. Each prefix has its own version table, ``<prefix>alembic_version``.
"""

from __future__ import annotations

from alembic import context

from stechnique.storage._sql_schema import schema_for

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "the stechnique migrations run on a live connection: call "
        "stechnique.storage.upgrade_schema(url, table_prefix=...) instead of the alembic command"
    )
prefix: str = config.attributes["table_prefix"]
schema = schema_for(prefix)
context.configure(
    connection=connection,
    target_metadata=schema.metadata,
    version_table=schema.version_table,
)
with context.begin_transaction():
    context.run_migrations(table_prefix=prefix)
