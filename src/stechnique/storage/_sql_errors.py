"""The one place where database driver errors become stechnique errors.

Every database call of ``SQLStorage`` (and of the schema upgrade) runs inside ``translated``,
or, on the hot paths, hands its errors to ``translate`` (``DriverConnections.run``).
A duplicate key (the records primary key, or an idempotency key already used on the case) and a
deadlock or serialization failure mean another writer won: ``ConcurrencyConflict``; a duplicate
key while creating a case means its id is taken: ``CaseIdTaken``. Everything else is a
``StorageError`` naming what was being done. The driver error is always chained
(``raise ... from exc``) so nothing is lost, and ``sqlalchemy.exc.*`` never escapes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from stechnique.errors import CaseIdTaken, ConcurrencyConflict, StorageError

__all__ = ["caught_errors", "connection_lost", "translate", "translated"]

# SQLSTATE (PostgreSQL), errno (MariaDB/MySQL) and extended result codes (SQLite).
_DUPLICATE: set[str | int] = {"23505", 1062, 1555, 2067}
_LOST_RACE: set[str | int] = {"40001", "40P01", 1213}
# Errors after which MariaDB/MySQL closes the connection although the driver does not call it a
# disconnect: a packet over max_allowed_packet (1153), network read/write errors and timeouts.
_CONNECTION_CLOSED: set[str | int] = {1153, 1158, 1159, 1160, 1161}


def connection_lost(exc: BaseException) -> bool:
    """Whether the server closed the connection on ``exc``: it must not be used again."""
    return bool(_codes(getattr(exc, "orig", exc)) & _CONNECTION_CLOSED)


def _codes(orig: BaseException | None) -> set[str | int]:
    """Every error code the driver attached: SQLSTATE, errno, SQLite extended code."""
    codes: set[str | int] = set()
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        codes.add(sqlstate)
    if isinstance(orig, sqlite3.Error):
        codes.add(getattr(orig, "sqlite_errorcode", -1))
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        codes.add(args[0])
    return codes


def _detail(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def caught_errors(driver: tuple[type[Exception], ...] = ()) -> tuple[type[BaseException], ...]:
    """The error classes ``translate`` turns into stechnique errors (``driver``: added ones)."""
    return (sa_exc.SQLAlchemyError, sqlite3.Error, *driver)


def translate(
    exc: BaseException, action: str, case_id: str | None = None, expected_seq: int | None = None
) -> StorageError | ConcurrencyConflict | CaseIdTaken:
    """The stechnique error for a driver or SQLAlchemy error ``exc`` (see ``translated``)."""
    codes = _codes(getattr(exc, "orig", exc))
    if case_id is not None and expected_seq is None and codes & _DUPLICATE:
        return CaseIdTaken(case_id)
    if case_id is not None and codes & (_DUPLICATE | _LOST_RACE):
        return ConcurrencyConflict(case_id, expected_seq, None)
    return StorageError(f"SQL storage could not {action}: {_detail(exc)}")


@contextmanager
def translated(
    action: str,
    case_id: str | None = None,
    expected_seq: int | None = None,
    driver: tuple[type[Exception], ...] = (),
) -> Iterator[None]:
    """Run a database step, re-raising driver errors as stechnique errors.

    ``action`` says what was being done ("append record 3 to case X"); ``case_id`` and
    ``expected_seq`` describe the conflict when another writer won (``expected_seq`` is None
    when creating a case: a duplicate key then means its id is taken). ``driver`` adds error
    classes to translate: the DB-API errors of a driver used directly (``sqlite3`` is always
    covered), Alembic's.
    """
    try:
        yield
    except caught_errors(driver) as exc:
        raise translate(exc, action, case_id, expected_seq) from exc
