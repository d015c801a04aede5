"""``SQLStorage``: cases and histories in SQLite, PostgreSQL or MariaDB/MySQL (SQLAlchemy Core).

It follows the ``Storage`` contract (``storage/base.py``); this page documents only what is
particular to SQL. See ``docs/storage.md`` for deployments where several processes or machines
share one database.

* **Schema.** Two tables, ``<prefix>cases`` and ``<prefix>records``, created and upgraded by the
  Alembic migrations shipped in the package. By default opening a store brings the schema up to
  date; with ``upgrade=False`` an out-of-date schema is refused with ``SchemaOutOfDate``, whose
  message says what to run (``upgrade_schema``).
* **Read-only.** ``read_only=True`` opens an existing store for reading and never creates or
  changes anything: no file, no table, no upgrade, no switch to WAL. A missing file or missing
  tables raise ``StoreNotFound``, an older schema ``SchemaOutOfDate``. A SQLite file archived
  in a directory nobody may write to can be read (see ``_sql_engine``). SQLite also refuses
  any write through such a store; on a server, the account's grants decide.
* **Firing.** ``append`` is one transaction: update the case only if its seq is still the one
  the record follows, then insert the record. On PostgreSQL both run as one statement (a
  data-modifying ``WITH``), so a fire is one round trip. The records primary key
  ``(case_id, seq)`` and the unique ``(case_id, idempotency_key)`` are a second defence.
* **Limits.** Case ids, actor ids and idempotency keys up to 255 characters; procedure names,
  versions, states and events up to 200. Longer values are refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import URL

from stechnique.errors import ConcurrencyConflict, StorageError, UnknownCase
from stechnique.records import Case, Record
from stechnique.storage._sql_engine import make_backend, parse_url
from stechnique.storage._sql_schema import ID_LENGTH, NAME_LENGTH, SQLSchema, schema_for
from stechnique.storage._sql_statements import DECODED, Statements
from stechnique.storage._sql_upgrade import ensure_schema, upgrade
from stechnique.storage.base import not_followed

__all__ = ["SQLStorage", "upgrade_schema"]

_STREAM_BATCH = 500


def upgrade_schema(
    url: str | URL, *, table_prefix: str = "stechnique_", revision: str = "head"
) -> str | None:
    """Create or upgrade the stechnique tables of ``table_prefix`` in the database at ``url``.

    Runs the Alembic migrations shipped with stechnique up to ``revision`` (default: the
    newest). Safe to run from several processes at once: upgraders take turns under a database
    lock, and a schema already at ``revision`` is left alone. Deployments that open their stores
    with ``SQLStorage(url, upgrade=False)`` run this once per release, before starting the
    application.

    Returns the revision the tables were at before (``None``: there were none, they were
    created), so a caller can say what it did.
    """
    schema = schema_for(table_prefix)
    backend = make_backend(url)
    try:
        return upgrade(backend, schema, revision)
    finally:
        backend.dispose()


class SQLStorage:
    """Cases and their histories in a SQL database, shared safely by processes and machines.

    ``url`` is a SQLAlchemy URL: ``sqlite:///cases.db``, ``postgresql+psycopg://user@host/db``
    or ``mysql+pymysql://user@host/db``. ``table_prefix`` starts every table name, so several
    applications can share one database. ``upgrade`` (default True) brings an empty or older
    schema up to date when the store opens. ``synchronous`` (SQLite only) is ``"FULL"`` by
    default, durable on power loss; ``"NORMAL"`` is faster and may lose the last commits on
    power loss (never on a process crash). ``busy_timeout`` is how long, in seconds, a SQLite
    writer waits for another. ``engine_options`` go to ``sqlalchemy.create_engine`` (pool size,
    ``pool_pre_ping``, ``connect_args``...). ``read_only`` opens an existing store without
    creating or changing anything (see the module docstring).

    Attributes: ``url`` (as given, a SQLAlchemy ``URL``), ``kind`` (``"sqlite"``,
    ``"postgresql"`` or ``"mysql"``), ``schema`` (the tables of the prefix) and ``read_only``.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        table_prefix: str = "stechnique_",
        upgrade: bool = True,
        synchronous: str | None = None,
        busy_timeout: float = 30.0,
        engine_options: Mapping[str, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        self.schema: SQLSchema = schema_for(table_prefix)
        self._backend = make_backend(url, synchronous=synchronous, busy_timeout=busy_timeout,
                                     engine_options=engine_options,
                                     read_only=read_only)  # fmt: skip
        #: The URL as given (the engine may add driver options, e.g. the MySQL charset).
        self.url = parse_url(url)
        self.kind = self._backend.kind
        #: Whether the store was opened with ``read_only=True``.
        self.read_only = read_only
        try:
            ensure_schema(self._backend, self.schema, upgrade_to_head=upgrade and not read_only,
                          how=self._how_to_upgrade(), read_only=read_only)  # fmt: skip
        except BaseException:
            self._backend.dispose()
            raise
        self._sql = Statements(self.schema, self._backend.engine.dialect)
        self._driver = self._backend.driver

    def _how_to_upgrade(self) -> str:
        url = self.url.render_as_string(hide_password=True)
        prefix = self.schema.prefix
        return (
            f"run stechnique.storage.upgrade_schema({url!r}, table_prefix={prefix!r}) or "
            f"`stechnique db upgrade --db {url} --table-prefix {prefix}` once, "
            "or open SQLStorage with upgrade=True"
        )

    def __repr__(self) -> str:
        url = self.url.render_as_string(hide_password=True)
        return f"SQLStorage({url!r}, table_prefix={self.schema.prefix!r})"

    def __enter__(self) -> SQLStorage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------

    def create(self, case: Case, first: Record) -> None:
        """See ``Storage.create``. One transaction; on PostgreSQL one statement."""
        _check(case, first)
        sql = self._sql
        case_row, record_row = sql.case_row(case), sql.record_row(first)
        self._driver.run(_create, sql, case_row, record_row, transaction=not sql.one_statement,
                         action=f"create case {case.id}", case_id=case.id)  # fmt: skip

    def append(self, case: Case, record: Record) -> None:
        """See ``Storage.append``. One transaction; on PostgreSQL one statement."""
        _check(case, record)
        expected = record.seq - 1
        if case.seq != record.seq:
            self._refuse(case.id, expected)
        sql = self._sql
        one = sql.one_statement
        follows = (expected, record.source, record.prev_hash)
        moved = self._driver.run(_append_one if one else _append_two, sql, follows,
                                 sql.case_row(case), sql.record_row(record), transaction=not one,
                                 action=f"append record {record.seq} to case {case.id}",
                                 case_id=case.id, expected_seq=expected)  # fmt: skip
        if not moved:
            self._refuse(case.id, expected, record)

    def _refuse(self, case_id: str, expected: int, record: Record | None = None) -> NoReturn:
        """Raise why an append cannot apply: the case is absent, not at ``expected``, or (at
        ``expected``) not in the state or at the head ``record`` follows."""
        stored = self.get(case_id)
        if stored is not None and stored.seq == expected and record is not None:
            raise ConcurrencyConflict(case_id, expected, expected, not_followed(stored, record))
        _refused(case_id, expected, None if stored is None else stored.seq)

    # -- reads ----------------------------------------------------------------------------

    def get(self, case_id: str) -> Case | None:
        """See ``Storage.get``."""
        statement = self._sql.get_case
        row = self._driver.run(_one, statement.sql, statement.bind((case_id,)),
                               transaction=False, action=f"read case {case_id}")  # fmt: skip
        return None if row is None else self._sql.case(row)

    def records(self, case_id: str, after_seq: int = 0) -> Sequence[Record]:
        """See ``Storage.records``."""
        statement = self._sql.case_records
        rows = self._driver.run(_all, statement.sql, statement.bind((case_id, after_seq)),
                                transaction=False,
                                action=f"read the records of case {case_id}")  # fmt: skip
        return [self._sql.record(row) for row in rows]

    def record_by_key(self, case_id: str, idempotency_key: str) -> Record | None:
        """See ``Storage.record_by_key``."""
        statement = self._sql.record_by_key
        row = self._driver.run(_one, statement.sql, statement.bind((case_id, idempotency_key)),
                               transaction=False,
                               action=f"read a record of case {case_id}")  # fmt: skip
        return None if row is None else self._sql.record(row)

    def cases(
        self, *, name: str | None = None, version: str | None = None, state: str | None = None
    ) -> Sequence[Case]:
        """See ``Storage.cases``; served by the ``(name, version, state)`` or ``(state)`` index."""
        table = self.schema.cases
        query = sa.select(*self.schema.case_columns).order_by(table.c.created_at, table.c.id)
        for column, value in (("name", name), ("version", version), ("state", state)):
            if value is not None:
                query = query.where(table.c[column] == value)
        with self._backend.translated("list cases"), self._backend.reader.connect() as connection:
            return [self._sql.case(row, DECODED) for row in connection.execute(query)]

    def iter_records(self, case_id: str | None = None) -> Iterator[Record]:
        """See ``Storage.iter_records``: rows stream in batches through a server-side cursor.

        The precompiled SQL runs as driver SQL and rows are decoded by the storage's codec, as
        in ``records``. On SQLite the driver's own cursor streams (``sqlite3`` steps the query
        as rows are fetched); elsewhere SQLAlchemy does the streaming, each dialect its own way.
        """
        sql = self._sql
        if case_id is None:
            statement, values = sql.all_records, None
        else:
            statement, values = sql.one_case_records, sql.one_case_records.bind((case_id,))
        if self.kind == "sqlite":
            # Skipping SQLAlchemy's row objects saves about 0.6 µs a record (6.6 -> 6.0 µs).
            with self._backend.translated("read records"), self._driver.cursor() as cursor:
                # Row by row: sqlite3 steps the statement in C, no batch needs holding.
                yield from map(sql.record, cursor.execute(statement.sql, values or ()))
            return
        with self._backend.translated("read records"), self._backend.engine.connect() as connection:
            streaming = connection.execution_options(yield_per=_STREAM_BATCH)
            result = streaming.exec_driver_sql(statement.sql, values)
            for row in result:
                yield sql.record(row)

    def iter_case_ids(self) -> Iterator[str]:
        """See ``StreamsCaseIds.iter_case_ids`` (an optional capability beyond ``Storage``)."""
        table = self.schema.cases
        query = sa.select(table.c.id).order_by(table.c.id)
        with self._backend.translated("read case ids"), self._backend.engine.connect() as conn:
            for row in conn.execution_options(yield_per=_STREAM_BATCH).execute(query):
                yield row[0]

    def close(self) -> None:
        """Close every pooled connection (see ``Storage.close``)."""
        self._backend.dispose()


# The work of the hot paths, run on a driver cursor by ``DriverConnections.run``.


def _one(cursor: Any, sql: str, values: Any) -> Any:
    cursor.execute(sql, values)
    return cursor.fetchone()


def _all(cursor: Any, sql: str, values: Any) -> Any:
    cursor.execute(sql, values)
    return cursor.fetchall()


def _create(
    cursor: Any, sql: Statements, case_row: tuple[Any, ...], record_row: tuple[Any, ...]
) -> None:
    if sql.one_statement:
        cursor.execute(sql.create.sql, sql.create.bind(case_row + record_row))
        return
    cursor.execute(sql.insert_case.sql, sql.insert_case.bind(case_row))
    cursor.execute(sql.insert_record.sql, sql.insert_record.bind(record_row))


def _append_one(
    cursor: Any,
    sql: Statements,
    follows: tuple[int, str | None, str],
    case_row: tuple[Any, ...],
    record_row: tuple[Any, ...],
) -> bool:
    """PostgreSQL: the update and the insert as one statement; whether the case moved."""
    cursor.execute(sql.append.sql, sql.append.bind((*case_row, *record_row, *follows)))
    return cursor.fetchone() is not None


def _append_two(
    cursor: Any,
    sql: Statements,
    follows: tuple[int, str | None, str],
    case_row: tuple[Any, ...],
    record_row: tuple[Any, ...],
) -> bool:
    """The conditional update, then the insert, in the caller's transaction; whether the case
    moved (the caller explains why not, after the rollback)."""
    cursor.execute(sql.update_case.sql, sql.update_case.bind((*case_row, *follows)))
    if cursor.rowcount != 1:
        return False
    cursor.execute(sql.insert_record.sql, sql.insert_record.bind(record_row))
    return True


def _refused(case_id: str, expected: int, actual: int | None) -> NoReturn:
    if actual is None:
        raise UnknownCase(case_id)
    raise ConcurrencyConflict(case_id, expected, actual)


def _check(case: Case, record: Record) -> None:
    """Refuse values a SQL store cannot keep whole, before anything is written."""
    if record.case_id != case.id:
        raise ValueError(f"record of case {record.case_id!r} given with case {case.id!r}")
    if (
        len(case.id) <= ID_LENGTH
        and len(record.actor.id) <= ID_LENGTH
        and (record.idempotency_key is None or len(record.idempotency_key) <= ID_LENGTH)
        and len(record.name) <= NAME_LENGTH
        and len(record.version) <= NAME_LENGTH
        and len(record.target) <= NAME_LENGTH
        and len(record.event) <= NAME_LENGTH
    ):
        return  # the usual case, checked without building the table below
    limits = (
        ("case id", case.id, ID_LENGTH),
        ("actor id", record.actor.id, ID_LENGTH),
        ("idempotency key", record.idempotency_key or "", ID_LENGTH),
        ("procedure name", record.name, NAME_LENGTH),
        ("procedure version", record.version, NAME_LENGTH),
        ("state", record.target, NAME_LENGTH),
        ("event", record.event, NAME_LENGTH),
    )
    for what, value, limit in limits:
        if len(value) > limit:
            raise StorageError(
                f"{what} {value[:40]!r}... is {len(value)} characters long; "
                f"SQLStorage keeps at most {limit}"
            )
