"""Driver connections for the hot paths, kept ready between calls.

Checking a connection out of SQLAlchemy's pool and back in costs about as much as a small
SQLite statement, twice per fire. So the store keeps up to ``keep`` connections checked out,
in autocommit mode, on a free list: a call takes one, runs its statements and puts it back
(with its cursor, on PostgreSQL). A transaction is opened explicitly (``BEGIN IMMEDIATE`` on
SQLite) and always ends, committed or rolled back, before the connection goes back on the
list, so an idle connection never holds a transaction, a lock or a stale snapshot. A
connection the driver reports as disconnected is invalidated instead of kept. With
``pool_pre_ping`` nothing is kept, so every call gets a pinged connection from the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from stechnique.storage._sql_errors import caught_errors, connection_lost, translate

__all__ = ["DriverConnections"]

T = TypeVar("T")


class DriverConnections:
    """Pooled connections of ``engine`` used directly through the driver (thread-safe)."""

    def __init__(
        self, engine: Engine, kind: str, keep: int, errors: tuple[type[Exception], ...]
    ) -> None:
        self._engine = engine
        self._kind = kind
        self._keep = keep
        self._errors = errors
        self._caught = caught_errors(errors)
        # list.append and list.pop are atomic: no lock needed to share the free list. Each
        # entry is a pool entry, its driver connection (looked up once, not per call) and, on
        # PostgreSQL, a cursor kept for the next call: a psycopg cursor costs a few
        # microseconds to build and holds nothing on the server. (An SQLite cursor left
        # unreset could hold a read snapshot: those are closed after each call.)
        self._reuse = kind == "postgresql"
        self._idle: list[tuple[Any, Any, Any]] = []

    @contextmanager
    def cursor(self, *, transaction: bool = False) -> Iterator[Any]:
        """A driver cursor; with ``transaction`` its statements commit together or not at all.

        Without ``transaction`` every statement commits by itself (one round trip).
        """
        pooled, connection, kept = self._take()
        cursor = None
        try:
            cursor = connection.cursor()
            if transaction:
                self._begin(connection, cursor)
            yield cursor
            if transaction:
                connection.commit()
        except BaseException as exc:
            self._recover(pooled, connection, cursor, exc, transaction)
            raise
        finally:
            self._close(cursor)
            self._give_back(pooled, connection, kept)

    def run(
        self,
        work: Callable[..., T],
        *args: Any,
        transaction: bool,
        action: str,
        case_id: str | None = None,
        expected_seq: int | None = None,
    ) -> T:
        """``work(cursor, *args)`` on a kept connection, its driver errors translated.

        What ``translated(action, case_id, expected_seq)`` around ``cursor(transaction=...)``
        does, without the two context managers: the hot paths run several times per fire.
        """
        try:
            pooled, connection, cursor = self._take()
        except self._caught as exc:
            raise translate(exc, action, case_id, expected_seq) from exc
        failed = True
        try:
            if cursor is None:
                cursor = connection.cursor()
            if transaction:
                self._begin(connection, cursor)
            result = work(cursor, *args)
            if transaction:
                connection.commit()
            failed = False
            return result
        except BaseException as exc:
            self._recover(pooled, connection, cursor, exc, transaction)
            if isinstance(exc, self._caught):
                raise translate(exc, action, case_id, expected_seq) from exc
            raise
        finally:
            if failed or not self._reuse:
                self._close(cursor)
                cursor = None
            self._give_back(pooled, connection, cursor)

    def close(self) -> None:
        """Hand every kept connection back to the pool."""
        while self._idle:
            pooled, _, cursor = self._idle.pop()
            self._close(cursor)
            self._return_to_pool(pooled)

    def _take(self) -> tuple[Any, Any, Any]:
        """A kept connection, else a new one from the pool: (pool entry, driver connection,
        its kept cursor or None)."""
        try:
            return self._idle.pop()
        except IndexError:
            pass
        pooled = self._engine.pool.connect()
        connection: Any = pooled.driver_connection
        try:
            if self._kind == "postgresql":
                connection.autocommit = True
            elif self._kind == "mysql":
                connection.autocommit(True)
        except BaseException as exc:
            self._recover(pooled, connection, None, exc, transaction=False)
            pooled.close()
            raise
        return pooled, connection, None

    def _give_back(self, pooled: Any, connection: Any, cursor: Any) -> None:
        if pooled.is_valid and len(self._idle) < self._keep:
            self._idle.append((pooled, connection, cursor))
        else:
            self._close(cursor)
            self._return_to_pool(pooled)

    def _close(self, cursor: Any) -> None:
        if cursor is not None:
            try:  # noqa: SIM105 (suppress() costs a context manager per call)
                cursor.close()
            except self._errors:
                pass

    def _return_to_pool(self, pooled: Any) -> None:
        if pooled.is_valid:
            connection = pooled.driver_connection
            with suppress(*self._errors):
                if self._kind == "postgresql":
                    connection.autocommit = False
                elif self._kind == "mysql":
                    connection.autocommit(False)
        pooled.close()

    def _begin(self, connection: Any, cursor: Any) -> None:
        if self._kind == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        elif self._kind == "mysql":
            connection.begin()
        else:
            cursor.execute("BEGIN")

    def _recover(
        self, pooled: Any, connection: Any, cursor: Any, exc: BaseException, transaction: bool
    ) -> None:
        gone = False
        if transaction:
            try:
                connection.rollback()
            except self._errors:
                gone = True  # a connection that cannot roll back cannot be trusted again
        error: Any = exc
        if isinstance(exc, self._errors) and (
            gone
            or connection_lost(exc)
            or self._engine.dialect.is_disconnect(error, connection, cursor)
        ):
            pooled.invalidate(exc)
