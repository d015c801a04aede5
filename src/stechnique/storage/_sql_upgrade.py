"""Bringing a SQL schema up to date through the Alembic migrations shipped in the package.

Opening a store first reads the schema revision without any lock (the common case: already up
to date). Only when it is behind does it take a lock that serializes upgraders, so two processes
opening a fresh database never both create the tables: a PostgreSQL transaction advisory lock, a
MariaDB/MySQL ``GET_LOCK``, or SQLite's ``BEGIN IMMEDIATE`` write lock. Under the lock Alembic
reads the revision again and applies only what is still missing: of several processes opening
an old store at once, one upgrades it and the others find it done (``SchemaUpgrade``).

A revision the shipped migrations do not know was written by a newer stechnique: the store is
refused (``SchemaTooNew``), for reading as for writing, whether it is found so on opening or
under the lock (a newer process upgraded it while this one waited). Its records may be in a form
this version cannot verify, and its tables may hold what this version would not keep up to date.
The head is read from the migration scripts, never written here.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from stechnique.errors import SchemaOutOfDate, SchemaTooNew, StorageError, StoreNotFound
from stechnique.storage._sql_engine import Backend
from stechnique.storage._sql_errors import translated
from stechnique.storage._sql_schema import SQLSchema

__all__ = [
    "MIGRATIONS",
    "SchemaUpgrade",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "upgrade",
]

#: The Alembic script directory shipped in the package.
MIGRATIONS = Path(__file__).with_name("migrations")

_LOCK_TIMEOUT_SECONDS = 300


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def head_revision() -> str:
    """The newest revision of the shipped migrations."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection, schema: SQLSchema) -> str | None:
    """The revision the database is at for this prefix (None: no stechnique tables yet)."""
    context = MigrationContext.configure(connection, opts={"version_table": schema.version_table})
    return context.get_current_revision()


def _known(revision: str) -> bool:
    return any(script.revision == revision for script in _scripts().walk_revisions())


def _refuse_newer(schema: SQLSchema, current: str | None) -> None:
    """``SchemaTooNew`` if ``current`` is a revision no shipped migration has."""
    if current is not None and not _known(current):
        raise SchemaTooNew(schema.prefix, current, head_revision())


@attrs.frozen
class SchemaUpgrade:
    """An upgrade one opening of a store applied: from ``before`` (None: there were no tables,
    it created them) to ``after``."""

    before: str | None
    after: str


def ensure_schema(
    backend: Backend, schema: SQLSchema, *, upgrade_to_head: bool, how: str, read_only: bool = False
) -> SchemaUpgrade | None:
    """Make sure the schema is at head: upgrade it, or refuse with ``SchemaOutOfDate``; refuse
    a schema a newer stechnique upgraded with ``SchemaTooNew``. Returns the upgrade this call
    applied (None: the schema was at head, or another process upgraded it meanwhile).

    ``read_only``: tables missing altogether are ``StoreNotFound`` (nothing to read).
    """
    head = head_revision()
    with backend.translated("read the schema revision"), backend.reader.connect() as connection:
        current = current_revision(connection, schema)
    if current == head:
        return None
    if current is None and read_only:
        where = backend.url.render_as_string(hide_password=True)
        raise StoreNotFound(where, f"no stechnique tables with prefix {schema.prefix!r}")
    _refuse_newer(schema, current)
    if not upgrade_to_head:
        raise SchemaOutOfDate(current, head, how)
    before = upgrade(backend, schema, "head")
    return None if before == head else SchemaUpgrade(before, head)


def upgrade(backend: Backend, schema: SQLSchema, revision: str) -> str | None:
    """Apply the migrations up to ``revision``, serialized against concurrent upgraders; return
    the revision found under the lock, before upgrading (``None``: no tables yet)."""
    with (
        translated(
            f"upgrade the schema of prefix {schema.prefix!r} to {revision}",
            driver=(*backend.driver_errors, CommandError),
        ),
        backend.writer.connect() as connection,
        _session_lock(connection, schema),
        connection.begin(),
    ):
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(schema)}
            )
        before = current_revision(connection, schema)
        # A newer process may have upgraded past this version while this one waited.
        _refuse_newer(schema, before)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        config.attributes["table_prefix"] = schema.prefix
        command.upgrade(config, revision)
    return before


def _lock_key(schema: SQLSchema) -> int:
    digest = hashlib.sha256(f"stechnique schema {schema.prefix}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _session_lock(connection: Connection, schema: SQLSchema) -> Iterator[None]:
    """MariaDB/MySQL: a named lock for the session (its DDL commits, so no transaction lock)."""
    if connection.dialect.name != "mysql":
        yield
        return
    database = connection.exec_driver_sql("SELECT DATABASE()").scalar()
    name = "stechnique:" + hashlib.sha256(f"{database}:{schema.prefix}".encode()).hexdigest()[:48]
    got = connection.execute(
        sa.text("SELECT GET_LOCK(:name, :timeout)"),
        {"name": name, "timeout": _LOCK_TIMEOUT_SECONDS},
    ).scalar()
    connection.commit()
    if got != 1:
        raise StorageError(
            f"timed out waiting for another process to upgrade prefix {schema.prefix!r}"
        )
    try:
        yield
    finally:
        connection.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        connection.commit()
