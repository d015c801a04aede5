"""Building the SQLAlchemy engine of a SQL store, with the settings each backend needs.

SQLite: the ``sqlite3`` module's own transaction handling is switched off (it would start
transactions late and commit before DDL); stechnique emits ``BEGIN IMMEDIATE`` for writes, so two
processes never deadlock upgrading a read lock to a write lock, and nothing for single-statement
reads. Every connection runs in WAL mode with a busy timeout, so several processes can share one
file, and with ``synchronous=FULL`` unless the caller chose ``NORMAL``.

Read-only (``read_only=True``), SQLite opens the file as an SQLite URI with ``mode=ro`` and
switches nothing (no WAL, no ``synchronous``): the file must exist, and is never written. A
store archived in a directory nobody may write to (no write permission bits) and without a
``-wal`` file is opened ``immutable=1`` as well: SQLite could not create the WAL index there,
and no writer can change a file whose journal it cannot create.

MariaDB/MySQL: the connection uses ``utf8mb4``, so every Unicode character round-trips.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from stechnique.errors import StorageError, StoreNotFound
from stechnique.storage._sql_driver import DriverConnections
from stechnique.storage._sql_errors import translated
from stechnique.storage._sql_statements import dumps

__all__ = ["SYNCHRONOUS", "Backend", "hide_password", "make_backend", "parse_url"]

#: The ``synchronous`` settings SQLite may use (``OFF`` would lose commits on power loss).
SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")

#: Execution option that makes the SQLite ``begin`` event emit ``BEGIN IMMEDIATE``.
WRITE = "stechnique_write"
#: Execution option that makes the SQLite ``begin`` event emit nothing (one-statement reads).
AUTOCOMMIT = "stechnique_autocommit"


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
        shown = hide_password(url)
        with translated(f"read the database URL {shown!r}"):
            try:
                parsed = sa.make_url(url)
            except ValueError as error:  # e.g. a port that is not a number
                raise StorageError(f"the database URL {shown!r} is not valid: {error}") from error
    kind = parsed.get_backend_name()
    if kind not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise StorageError(
            f"SQLStorage supports sqlite, postgresql and mysql/mariadb URLs, not {kind!r} "
            f"({parsed.render_as_string(hide_password=True)})"
        )
    if kind == "sqlite" and parsed.get_driver_name() != "pysqlite":
        raise StorageError("SQLStorage uses SQLite through the standard sqlite3 module: sqlite:///")
    return parsed


def hide_password(url: str) -> str:
    """``url`` as text with its password masked, even when SQLAlchemy cannot parse it."""
    return _PASSWORD.sub(r"\1***@", url)


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def make_backend(
    url: str | URL,
    *,
    synchronous: str | None = None,
    busy_timeout: float = 30.0,
    engine_options: Mapping[str, Any] | None = None,
    read_only: bool = False,
) -> Backend:
    """Create the engine for ``url`` (nothing is connected yet); see the module docstring for
    ``read_only``."""
    parsed = parse_url(url)
    kind = "mysql" if parsed.get_backend_name() == "mariadb" else parsed.get_backend_name()
    if synchronous is not None and kind != "sqlite":
        raise ValueError(f"synchronous= applies to SQLite only, not to {kind}")
    options: dict[str, Any] = {"json_serializer": dumps, **(engine_options or {})}
    if kind == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if kind == "sqlite":
        return _sqlite(parsed, synchronous or "FULL", busy_timeout, options, read_only=read_only)
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
        raise StorageError(_missing_driver(url)) from exc


def _read_only_sqlite(url: URL) -> URL:
    """The SQLite URI URL that opens ``url``'s file read-only; ``StoreNotFound`` if no file."""
    if url.query.get("uri"):
        return url  # already an SQLite URI: the caller chose its mode
    shown = url.render_as_string(hide_password=True)
    if url.database in (None, "", ":memory:"):
        raise StoreNotFound(shown, "an in-memory database starts empty")
    path = Path(url.database).absolute()
    if not path.is_file():
        raise StoreNotFound(shown, f"{path} is not a file" if path.exists() else "no such file")
    query = {"mode": "ro", "uri": "true"}
    folder = path.parent
    archived = not (folder.stat().st_mode & 0o222) or not os.access(folder, os.W_OK)
    if archived and not Path(f"{path}-wal").exists():
        query["immutable"] = "1"
    return url.set(database="file:" + urllib.parse.quote(str(path)), query=query)


def _missing_driver(url: URL) -> str:
    """What to do when the URL's driver is not installed: the extra only serves its driver."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    missing = f"the {backend} driver {driver!r} is not installed"
    served = _SERVED.get(backend)
    if served is None:
        return missing
    extra, ours = served
    if driver != ours:
        return (
            f"{missing}; stechnique's drivers use {backend}+{ours}:// URLs "
            f"(pip install 'stechnique[{extra}]'), e.g. {backend}+{ours}://user@host/dbname"
        )
    return f"{missing}; install it with: pip install 'stechnique[{extra}]'"


#: The extra that installs each backend's driver, and the driver name it serves.
_SERVED = {
    "postgresql": ("postgres", "psycopg"),
    "mysql": ("mysql", "pymysql"),
    "mariadb": ("mysql", "pymysql"),
}


def _sqlite(
    url: URL, synchronous: str, busy_timeout: float, options: dict[str, Any], *, read_only: bool
) -> Backend:
    opened = _read_only_sqlite(url) if read_only else url
    synchronous = synchronous.upper()
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous={synchronous!r}: choose one of {', '.join(SYNCHRONOUS)}")
    connect_args = {"timeout": busy_timeout, **options.pop("connect_args", {})}
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        # One shared connection, or every pooled connection would see its own empty database.
        options.setdefault("poolclass", StaticPool)
        connect_args["check_same_thread"] = False
    engine = _create(opened, {**options, "connect_args": connect_args})
    millis = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {millis}")
        if not read_only:  # switching a read-only store to WAL would write its header
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
