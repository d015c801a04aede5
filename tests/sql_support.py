"""SQL test servers and table prefixes, shared by every test that touches a SQL database.

The servers are reached through ``STECHNIQUE_TEST_POSTGRES_URL`` / ``STECHNIQUE_TEST_MYSQL_URL``
(defaults: the local PostgreSQL and MariaDB). A server that does not answer skips its tests with
the reason, except when ``STECHNIQUE_REQUIRE_SERVERS=1`` (CI), where it fails them. Each test run
uses its own table prefix and drops its tables at the end, so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from stechnique.storage import SQLStorage
from stechnique.storage._sql_schema import schema_for

SERVERS = {
    "postgres": (
        "STECHNIQUE_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        {"connect_timeout": 3},
    ),
    "mysql": (
        "STECHNIQUE_TEST_MYSQL_URL",
        "mysql+pymysql://root@127.0.0.1:3306/test",
        {"connect_timeout": 3},
    ),
}
REQUIRE = "STECHNIQUE_REQUIRE_SERVERS"

_engines: dict[str, sa.Engine] = {}


@attrs.frozen
class SQLBackend:
    """Where a SQL test stores: ``kind`` (sqlite, postgres, mysql), ``url`` and table prefix."""

    kind: str
    url: str
    prefix: str

    def open(self, **options: Any) -> SQLStorage:
        """A ``SQLStorage`` on these tables (schema created or upgraded on first use)."""
        return SQLStorage(self.url, table_prefix=self.prefix, **options)


def unique_prefix(tag: str = "t") -> str:
    """A table prefix no other run uses."""
    return f"{tag}{uuid.uuid4().hex[:10]}_"


def server_url(kind: str) -> str:
    """The URL of the ``kind`` server, or skip (fail under ``STECHNIQUE_REQUIRE_SERVERS=1``)."""
    variable, default, connect_args = SERVERS[kind]
    url = os.environ.get(variable, default)
    engine = sa.create_engine(url, connect_args=connect_args, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        message = f"no {kind} server answers at {shown} (set {variable}): {exc}".splitlines()[0]
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{message}; {REQUIRE}=1 makes this a failure", pytrace=False)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


def _engine(url: str) -> sa.Engine:
    if url not in _engines:
        _engines[url] = sa.create_engine(url, poolclass=sa.NullPool)
    return _engines[url]


def empty_tables(url: str, prefix: str) -> None:
    """Delete every case and record of ``prefix`` (the tables stay, at their revision)."""
    schema = schema_for(prefix)
    with _engine(url).begin() as connection:
        existing = set(sa.inspect(connection).get_table_names())
        tables = (schema.accesses, schema.case_readers, schema.records, schema.cases,
                  schema.consumers)  # fmt: skip
        for table in tables:
            if table.name in existing:
                connection.execute(table.delete())
        if schema.positions.name in existing:  # the feed starts again at position 1
            connection.execute(schema.positions.update().values(position=0))


def drop_prefix(url: str, prefix: str) -> None:
    """Drop every table of ``prefix``, its Alembic version table included."""
    schema = schema_for(prefix)
    with _engine(url).begin() as connection:
        existing = set(sa.inspect(connection).get_table_names())
        for name in schema.table_names:
            if name in existing:
                connection.exec_driver_sql(f"DROP TABLE {_quoted(connection, name)}")


def schema_differences(url: str, prefix: str) -> list[Any]:
    """What Alembic's autogenerate finds between the tables of ``prefix`` in the database at
    ``url`` and the ``Table`` objects the adapter queries (``_sql_schema``): [] when they agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    schema = schema_for(prefix)

    def ours(name: str | None, kind: str, _parent: object) -> bool:
        return kind != "table" or bool(name and name.startswith(prefix))

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "version_table": schema.version_table,
                      "include_name": ours},
            )  # fmt: skip
            return list(compare_metadata(context, schema.metadata))
    finally:
        engine.dispose()


def _quoted(connection: sa.Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def open_empty(backend: SQLBackend, **options: Any) -> Iterator[SQLStorage]:
    """Yield a storage on ``backend``; afterwards close it and delete what the test wrote."""
    storage = backend.open(**options)
    try:
        yield storage
    finally:
        storage.close()
        empty_tables(backend.url, backend.prefix)


def dispose_engines() -> None:
    """Close the connections the helpers above opened."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
