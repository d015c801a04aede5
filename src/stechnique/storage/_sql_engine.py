"""Building the SQLAlchemy engine of a SQL store, with the settings each backend needs.

SQLite: the ``sqlite3`` module's own transaction handling is switched off (it would start
transactions late and commit before DDL); stechnique emits ``BEGIN IMMEDIATE`` for writes, so two
processes never deadlock upgrading a read lock to a write lock, and nothing for single-statement
reads. Every connection runs in WAL mode with a busy timeout, so several processes can share one
file, and with ``synchronous=FULL`` unless the caller chose ``NORMAL``.

MariaDB/MySQL: the connection uses ``utf8mb4``, so every Unicode character round-trips.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from stechnique.errors import StorageError
from stechnique.storage._sql_driver import DriverConnections
from stechnique.storage._sql_errors import translated
from stechnique.storage._sql_statements import dumps

__all__ = ["SYNCHRONOUS", "Backend", "make_backend", "parse_url"]

#: The ``synchronous`` settings SQLite may use (``OFF`` would lose commits on power loss).
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")

#: Execution option that makes the SQLite ``begin`` event emit ``BEGIN IMMEDIATE``.
WRITE = "stechnique_write"
#: Execution option that makes the SQLite ``begin`` event emit nothing (one-statement reads).
AUTOCOMMIT = "stechnique_autocommit"

_DRIVERS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


@attrs.frozen
class Backend:
    """One database: the engine, the views of it used to read and to write through SQLAlchemy,
    and direct use of its driver connections for the hot paths."""

    kind: str
    url: URL
    engine: Engine
    reader: Engine
    writer: Engine
    keep: int = 1
    driver_errors: tuple[type[Exception], ...] = attrs.field(init=False)
    driver: DriverConnections = attrs.field(init=False)

    @driver_errors.default
    def _driver_errors(self) -> tuple[type[Exception], ...]:
        return (self.engine.dialect.loaded_dbapi.Error,)

    @driver.default
    def _driver(self) -> DriverConnections:
        return DriverConnections(self.engine, self.kind, self.keep, self.driver_errors)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.driver.close()
        self.engine.dispose()

    def translated(
        self, action: str, case_id: str | None = None, expected_seq: int | None = None
    ) -> AbstractContextManager[None]:
        """``translated`` for this backend's driver errors too."""
        return translated(action, case_id, expected_seq, self.driver_errors)

    def cursor(self, *, transaction: bool = False) -> AbstractContextManager[Any]:
        """A driver cursor (see ``DriverConnections.cursor``)."""
        return self.driver.cursor(transaction=transaction)


def parse_url(url: str | URL) -> URL:
    """The URL as SQLAlchemy reads it, or a ``StorageError`` saying what is wrong with it."""
    if isinstance(url, URL):
        parsed = url
    else:
        with translated(f"read the database URL {url!r}"):
            parsed = sa.make_url(url)
    kind = parsed.get_backend_name()
    if kind not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise StorageError(
            f"SQLStorage supports sqlite, postgresql and mysql/mariadb URLs, not {kind!r} "
            f"({parsed.render_as_string(hide_password=True)})"
        )
    if kind == "sqlite" and parsed.get_driver_name() != "pysqlite":
        raise StorageError("SQLStorage uses SQLite through the standard sqlite3 module: sqlite:///")
    return parsed


def make_backend(
    url: str | URL,
    *,
    synchronous: str | None = None,
    busy_timeout: float = 30.0,
    engine_options: Mapping[str, Any] | None = None,
) -> Backend:
    """Create the engine for ``url`` (nothing is connected yet)."""
    parsed = parse_url(url)
    kind = "mysql" if parsed.get_backend_name() == "mariadb" else parsed.get_backend_name()
    if synchronous is not None and kind != "sqlite":
        raise ValueError(f"synchronous= applies to SQLite only, not to {kind}")
    options: dict[str, Any] = {"json_serializer": dumps, **(engine_options or {})}
    if kind == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if kind == "sqlite":
        return _sqlite(parsed, synchronous or "FULL", busy_timeout, options)
    engine = _create(parsed, options)
    if kind == "postgresql":
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        return Backend(kind, parsed, engine, reader, engine, _keep(engine, options))
    return Backend(kind, parsed, engine, engine, engine, _keep(engine, options))


def _create(url: URL, options: Mapping[str, Any]) -> Engine:
    shown = url.render_as_string(hide_password=True)
    try:
        with translated(f"create an engine for {shown} with options {sorted(options)}"):
            return sa.create_engine(url, **options)
    except ImportError as exc:
        extra = _DRIVERS.get(url.get_backend_name(), "test")
        raise StorageError(
            f"the {url.get_backend_name()} driver {url.get_driver_name()!r} is not installed; "
            f"install it with: pip install 'stechnique[{extra}]'"
        ) from exc


def _sqlite(url: URL, synchronous: str, busy_timeout: float, options: dict[str, Any]) -> Backend:
    synchronous = synchronous.upper()
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous={synchronous!r}: choose one of {', '.join(SYNCHRONOUS)}")
    connect_args = {"timeout": busy_timeout, **options.pop("connect_args", {})}
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        # One shared connection, or every pooled connection would see its own empty database.
        options.setdefault("poolclass", StaticPool)
        connect_args["check_same_thread"] = False
    engine = _create(url, {**options, "connect_args": connect_args})
    millis = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {millis}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        execution = connection.get_execution_options()
        if execution.get(WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not execution.get(AUTOCOMMIT):
            connection.exec_driver_sql("BEGIN")

    reader = engine.execution_options(**{AUTOCOMMIT: True})
    writer = engine.execution_options(**{WRITE: True})
    return Backend("sqlite", url, engine, reader, writer, _keep(engine, options))


def _keep(engine: Engine, options: Mapping[str, Any]) -> int:
    """How many driver connections to keep ready: none when each checkout must be pinged or
    when pooling is off; as many as the pool holds otherwise."""
    pool = engine.pool
    if options.get("pool_pre_ping") or isinstance(pool, NullPool):
        return 0
    return pool.size() if isinstance(pool, QueuePool) else 1
