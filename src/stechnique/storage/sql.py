"""``SQLStorage``: cases and histories in SQLite, PostgreSQL or MariaDB/MySQL (SQLAlchemy Core).

It follows the ``Storage`` contract (``storage/base.py``); this page documents only what is
particular to SQL. See ``docs/storage.md`` for deployments where several processes or machines
share one database.

* **Schema.** ``<prefix>cases`` and ``<prefix>records``, with ``<prefix>case_readers`` (the
  readers index of ``cases(seen_by=...)``) and ``<prefix>accesses`` (the access log), created
  and upgraded by the Alembic migrations shipped in the package. By default opening a store
  brings the schema up to date; with ``upgrade=False`` an out-of-date schema is refused with
  ``SchemaOutOfDate``, whose message says what to run (``upgrade_schema``). A schema a newer
  stechnique upgraded is refused with ``SchemaTooNew`` (see ``_sql_upgrade``).
* **Read-only.** ``read_only=True`` opens an existing store for reading and never creates or
  changes anything: no file, no table, no upgrade, no switch to WAL. A missing file or missing
  tables raise ``StoreNotFound``, an older schema ``SchemaOutOfDate``. A SQLite file archived
  in a directory nobody may write to can be read (see ``_sql_engine``). SQLite also refuses
  any write through such a store; on a server, the account's grants decide.
* **Firing.** ``append`` is one transaction: update the case only if its seq is still the one
  the record follows, then insert the record. On PostgreSQL both run as one statement (a
  data-modifying ``WITH``), so a fire is one round trip. The records primary key
  ``(case_id, seq)`` and the unique ``(case_id, idempotency_key)`` are a second defence.
* **Parties.** The update also requires the stored case to have the parties the appended case
  has (compared as the stored JSON text): then the readers index stays as it is and the fire
  costs nothing more. A fire that changes the parties, where that update finds no row, runs
  again in a transaction that locks the case row, reads its parties, and writes only the
  readers that changed. ``create`` indexes the new case in the same transaction (on PostgreSQL,
  the same statement).
* **Limits.** Case ids, actor ids, actor bodies, party bodies, coordinating roles and
  idempotency keys up to 255 characters; procedure names, versions, states and events up to
  200. Longer values are refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL

from stechnique.errors import (
    ConcurrencyConflict,
    HistoryCorrupted,
    StorageError,
    StoreNotEmpty,
    UnknownCase,
)
from stechnique.records import Access, Actor, Case, Parties, Record
from stechnique.storage._sql_engine import make_backend, parse_url
from stechnique.storage._sql_listen import PostgresListener
from stechnique.storage._sql_schema import (
    ID_LENGTH,
    NAME_LENGTH,
    READER_LENGTH,
    SQLSchema,
    schema_for,
)
from stechnique.storage._sql_statements import DECODED, Statements, dumps, parties_json
from stechnique.storage._sql_upgrade import SchemaUpgrade, ensure_schema, upgrade
from stechnique.storage.base import Listener, Sleeper, not_followed, readers_of

__all__ = ["SQLStorage", "upgrade_schema"]

_STREAM_BATCH = 500
# Records sent per ``executemany`` by ``restore``: large enough that a round trip is shared by
# many rows, small enough that a batch's rows are a few megabytes at most.
_RESTORE_BATCH = 2_000

_T = TypeVar("_T")


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
    ``"postgresql"`` or ``"mysql"``), ``schema`` (the tables of the prefix), ``read_only`` and
    ``upgraded`` (the ``SchemaUpgrade`` this opening applied, if any: of several processes
    opening an old store at once, exactly one has it). A schema upgraded by a newer stechnique
    is refused with ``SchemaTooNew``, read-only or not.
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
            #: The schema upgrade this opening applied (None: none was needed, or another
            #: process applied it while this one waited for the lock).
            self.upgraded: SchemaUpgrade | None = ensure_schema(
                self._backend, self.schema, upgrade_to_head=upgrade and not read_only,
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
        readers = _readers(case.parties)
        sql = self._sql
        case_row, record_row = sql.case_row(case), sql.record_row(first)
        self._driver.run(_create, sql, case_row, record_row, readers,
                         transaction=not sql.one_statement, action=f"create case {case.id}",
                         case_id=case.id)  # fmt: skip

    def append(self, case: Case, record: Record) -> None:
        """See ``Storage.append``. One transaction; on PostgreSQL one statement (when the
        parties do not change, see the module docstring)."""
        _check(case, record)
        expected = record.seq - 1
        if case.seq != record.seq:
            self._refuse(case.id, expected)
        sql = self._sql
        one = sql.one_statement
        follows = (expected, record.source, record.prev_hash)
        case_row, record_row = sql.case_row(case), sql.record_row(record)
        action = f"append record {record.seq} to case {case.id}"
        moved = self._driver.run(_append_one if one else _append_two, sql, follows, case_row,
                                 record_row, case.parties, transaction=not one, action=action,
                                 case_id=case.id, expected_seq=expected)  # fmt: skip
        if moved is None:  # PostgreSQL, the parties changed (or the case moved): again, locked
            moved = self._driver.run(_append_changed, sql, follows, case_row, record_row,
                                     case.parties, transaction=True, action=action,
                                     case_id=case.id, expected_seq=expected)  # fmt: skip
        if not moved:
            self._refuse(case.id, expected, record)

    def set_parties(self, case_id: str, seq: int, parties: Parties) -> bool:
        """See ``Storage.set_parties``. One transaction, the case row locked; a store opened
        ``read_only`` writes nothing and says so (the engine reads the parties again next
        time)."""
        if self.read_only:
            return False
        readers = _readers(parties)
        return self._driver.run(_set_parties, self._sql, case_id, seq, parties, readers,
                                transaction=True,
                                action=f"set the parties of case {case_id}")  # fmt: skip

    def log_access(self, access: Access) -> None:
        """See ``Storage.log_access``. A reason holding a NUL character, or an actor id or
        body longer than 255 characters, is refused with ``StorageError``, nothing written."""
        actor = access.actor
        if "\x00" in access.reason:
            raise StorageError("the reason of an access holds a NUL character; SQLStorage "
                               "keeps text without one")  # fmt: skip
        _check_length("actor id", actor.id, ID_LENGTH)
        _check_length("actor body", actor.body or "", ID_LENGTH)
        row = {"at": access.at, "actor_id": actor.id, "actor_body": actor.body,
               "actor_roles": sorted(actor.roles), "reason": access.reason,
               "case_ids": list(access.case_ids)}  # fmt: skip
        with self._backend.translated("log an access"), self._backend.writer.begin() as conn:
            conn.execute(self.schema.accesses.insert(), row)

    def restore(self, histories: Iterable[tuple[Case, Sequence[Record]]]) -> int:
        """See ``Storage.restore``. One transaction (on SQLite it holds the write lock until
        the import ends); the rows go in by batches of ``executemany``. A store opened
        ``read_only`` refuses it."""
        return self._driver.run(_restore, self._sql, histories, transaction=True,
                                action="restore the imported histories")  # fmt: skip

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
        self,
        *,
        name: str | None = None,
        version: str | None = None,
        state: str | None = None,
        seen_by: Actor | None = None,
    ) -> Sequence[Case]:
        """See ``Storage.cases``; served by the ``(name, version, state)`` or ``(state)`` index,
        and with ``seen_by`` by the readers index (``cases_query``)."""
        query = self.cases_query(name=name, version=version, state=state, seen_by=seen_by)
        with self._backend.translated("list cases"), self._backend.reader.connect() as connection:
            try:
                return [self._sql.case(row, DECODED) for row in connection.execute(query)]
            except (TypeError, ValueError, AttributeError):
                # SQLAlchemy's own decoding met a cell it cannot read: read the rows again as
                # the driver gives them, through the store's codec, to name the case and column.
                self._unreadable_listing(connection, query)
                raise

    def _unreadable_listing(self, connection: sa.Connection, query: sa.Select[Any]) -> None:
        """Raise the ``HistoryCorrupted`` of the first case row of ``query`` that cannot be a
        case (if none, return: the caller re-raises what it met)."""
        raw = query.with_only_columns(
            *(sa.type_coerce(column, sa.types.NullType()) for column in self.schema.case_columns),
            maintain_column_froms=True,
        )
        for row in connection.execute(raw):
            self._sql.case(row)

    def cases_query(
        self,
        *,
        name: str | None = None,
        version: str | None = None,
        state: str | None = None,
        seen_by: Actor | None = None,
    ) -> sa.Select[Any]:
        """The query ``cases`` runs (to read its plan with ``EXPLAIN``).

        With ``seen_by`` it starts from the viewer's readers in ``case_readers`` and reads
        only those cases, by primary key: the other cases of the store are never read.
        """
        table = self.schema.cases
        query = sa.select(*self.schema.case_columns).order_by(table.c.created_at, table.c.id)
        if seen_by is not None:
            readers = self.schema.case_readers
            seen = (
                sa.select(readers.c.case_id)
                .where(readers.c.reader.in_(sorted(readers_of(seen_by))))
                .distinct()
            )
            if self.kind == "postgresql":
                # As a join, PostgreSQL hashes the viewer's case ids and scans every case once
                # they are more than a few hundred (1% of 100,000); an array of them, computed
                # once, makes it look each up by primary key (and runs faster).
                ids = sa.func.array(seen.scalar_subquery())
                query = query.where(table.c.id == sa.any_(ids))
            else:
                found = seen.subquery("seen")
                query = query.join_from(found, table, table.c.id == found.c.case_id)
        for column, value in (("name", name), ("version", version), ("state", state)):
            if value is not None:
                query = query.where(table.c[column] == value)
        return query

    def cases_without_parties(self) -> Iterator[str]:
        """See ``Storage.cases_without_parties``: streamed, in constant memory."""
        table = self.schema.cases
        query = sa.select(table.c.id).where(table.c.parties.is_(None)).order_by(table.c.id)
        with self._backend.translated("read case ids"), self._backend.engine.connect() as conn:
            for row in conn.execution_options(yield_per=_STREAM_BATCH).execute(query):
                yield row[0]

    def accesses(self) -> Sequence[Access]:
        """See ``Storage.accesses``."""
        table = self.schema.accesses
        columns = ("actor_id", "actor_roles", "actor_body", "at", "reason", "case_ids")
        query = sa.select(*(table.c[name] for name in columns)).order_by(table.c.id)
        with self._backend.translated("read the access log"), self._backend.reader.connect() as c:
            return [
                Access(Actor(actor_id, roles, body), at, reason, tuple(case_ids))
                for actor_id, roles, body, at, reason, case_ids in c.execute(query)
            ]

    def iter_records(self, case_id: str | None = None) -> Iterator[Record]:
        """See ``Storage.iter_records``: rows stream in batches through a server-side cursor.

        The precompiled SQL runs as driver SQL and rows are decoded by the storage's codec, as
        in ``records``. On SQLite the driver's own cursor streams (``sqlite3`` steps the query
        as rows are fetched); elsewhere SQLAlchemy does the streaming, each dialect its own way.
        A row that cannot be a record raises ``HistoryCorrupted`` (naming the case, the seq and
        the column); the cursor and its connection are closed on that error as on any other,
        and when the caller stops reading (``close()`` on the iterator).
        """
        return self._stream(case_id, self._sql.record)

    def iter_rows(self, case_id: str | None = None) -> Iterator[Record | HistoryCorrupted]:
        """``iter_records``, except that a row which cannot be a record comes as the
        ``HistoryCorrupted`` saying why, in its place, and the stream goes on: what the audit
        reads (``stechnique._histories.StreamsRows``), so one bad cell does not hide the rest
        of the store."""
        return self._stream(case_id, self._sql.record_or_problem)

    def _stream(self, case_id: str | None, decode: Callable[[Any], _T]) -> Iterator[_T]:
        sql = self._sql
        if case_id is None:
            statement, values = sql.all_records, None
        else:
            statement, values = sql.one_case_records, sql.one_case_records.bind((case_id,))
        if self.kind == "sqlite":
            # Skipping SQLAlchemy's row objects saves about 0.6 µs a record (6.6 -> 6.0 µs).
            # ``cursor()`` closes the cursor and gives the connection back on every exit.
            with self._backend.translated("read records"), self._driver.cursor() as cursor:
                # Row by row: sqlite3 steps the statement in C, no batch needs holding.
                yield from map(decode, cursor.execute(statement.sql, values or ()))
            return
        with self._backend.translated("read records"), self._backend.engine.connect() as connection:
            streaming = connection.execution_options(yield_per=_STREAM_BATCH)
            result = streaming.exec_driver_sql(statement.sql, values)
            try:
                yield from map(decode, result)
            finally:
                # The server-side cursor first, then the connection (``with``) rolls back: a
                # PostgreSQL session is never left « idle in transaction », holding locks.
                result.close()

    # -- the change feed (``Feed``) -----------------------------------------------------------

    def changes(self, after: int = 0, limit: int = 500) -> Sequence[tuple[int, Record]]:
        """See ``Feed.changes``: served by the unique index on ``records.position``."""
        statement = self._sql.changes
        rows = self._driver.run(_all, statement.sql, statement.bind((after, limit)),
                                transaction=False,
                                action=f"read the changes after position {after}")  # fmt: skip
        return [(row[0], self._sql.record(row[1:])) for row in rows]

    def last_position(self) -> int:
        """See ``Feed.last_position``."""
        statement = self._sql.last_position
        row = self._driver.run(_one, statement.sql, statement.bind(()), transaction=False,
                               action="read the last position")  # fmt: skip
        return 0 if row is None else int(row[0])

    def acknowledged(self, consumer: str) -> int:
        """See ``Feed.acknowledged``."""
        table = self.schema.consumers
        query = sa.select(table.c.position).where(table.c.name == consumer)
        with (
            self._backend.translated(f"read consumer {consumer}"),
            self._backend.reader.connect() as c,
        ):
            found = c.execute(query).scalar()
        return 0 if found is None else int(found)

    def acknowledge(self, consumer: str, position: int) -> None:
        """See ``Feed.acknowledge``: one transaction, only ever moving the position forward."""
        _check_length("consumer name", consumer, ID_LENGTH)
        table = self.schema.consumers
        moved = (
            table.update()
            .where(table.c.name == consumer, table.c.position < position)
            .values(position=position)
        )
        known = sa.select(table.c.name).where(table.c.name == consumer)
        with self._backend.translated(f"acknowledge for consumer {consumer}"), \
                self._backend.writer.begin() as conn:  # fmt: skip
            if conn.execute(moved).rowcount == 0 and conn.execute(known).first() is None:
                conn.execute(table.insert().values(name=consumer, position=position))

    def listen(self) -> Listener:
        """See ``SignalsAppends.listen``: on PostgreSQL a connection of its own that has run
        ``LISTEN`` on the store's channel (see ``_sql_listen``); elsewhere a ``Sleeper``
        (followers poll)."""
        if self._sql.channel is None:
            return Sleeper()
        with self._backend.translated("listen for appends"):
            return PostgresListener(self._backend.engine, self._sql.channel)

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
    cursor: Any,
    sql: Statements,
    case_row: tuple[Any, ...],
    record_row: tuple[Any, ...],
    readers: frozenset[str],
) -> None:
    if sql.one_statement:
        if readers:
            values = (*case_row, *record_row, dumps(sorted(readers)))
            cursor.execute(sql.create_read.sql, sql.create_read.bind(values))
        else:
            cursor.execute(sql.create.sql, sql.create.bind(case_row + record_row))
        return
    cursor.execute(sql.insert_case.sql, sql.insert_case.bind(case_row))
    _index(cursor, sql, case_row[0], frozenset(), readers)
    _insert_record(cursor, sql, record_row)


def _append_one(
    cursor: Any,
    sql: Statements,
    follows: tuple[int, str | None, str],
    case_row: tuple[Any, ...],
    record_row: tuple[Any, ...],
    _parties: Parties | None,
) -> bool | None:
    """PostgreSQL: the update and the insert as one statement, if the parties stay as they
    are; True if the case moved, None if not (it moved on, or the parties change)."""
    values = (*case_row, *record_row, *follows, case_row[-1])
    cursor.execute(sql.append.sql, sql.append.bind(values))
    return True if cursor.fetchone() is not None else None


def _append_two(
    cursor: Any,
    sql: Statements,
    follows: tuple[int, str | None, str],
    case_row: tuple[Any, ...],
    record_row: tuple[Any, ...],
    parties: Parties | None,
) -> bool:
    """The conditional update (parties unchanged), then the insert, in the caller's
    transaction; else ``_append_changed`` in the same transaction. Whether the case moved (the
    caller explains why not, after the rollback)."""
    statement = sql.update_same_parties
    cursor.execute(statement.sql, statement.bind((*case_row, *follows, case_row[-1])))
    if cursor.rowcount != 1:
        return _append_changed(cursor, sql, follows, case_row, record_row, parties)
    _insert_record(cursor, sql, record_row)
    return True


def _append_changed(
    cursor: Any,
    sql: Statements,
    follows: tuple[int, str | None, str],
    case_row: tuple[Any, ...],
    record_row: tuple[Any, ...],
    parties: Parties | None,
) -> bool:
    """The append whose parties may change, in the caller's transaction: lock the case row,
    check where it is, update it, write the readers that changed, insert the record."""
    case_id = case_row[0]
    cursor.execute(sql.lock_case.sql, sql.lock_case.bind((case_id,)))
    row = cursor.fetchone()
    if row is None or tuple(row[:3]) != follows:
        return False
    new = _readers(parties)
    cursor.execute(sql.update_case.sql, sql.update_case.bind((*case_row, *follows)))
    _index(cursor, sql, case_id, _readers(sql.parties(row[3])), new)
    _insert_record(cursor, sql, record_row)
    return True


def _restore(
    cursor: Any, sql: Statements, histories: Iterable[tuple[Case, Sequence[Record]]]
) -> int:
    """``Storage.restore`` in the caller's transaction: refuse a store that holds anything,
    then insert the rows by batches as ``histories`` yields them."""
    for statement in sql.any_case, sql.any_record:
        cursor.execute(statement.sql)
        if cursor.fetchone() is not None:
            raise StoreNotEmpty
    written = 0
    cases: list[Any] = []
    records: list[Any] = []
    readers: list[Any] = []
    for case, history in histories:
        for record in history:
            _check(case, record)
            # The feed numbers the records 1, 2, 3... in the order the import gives them.
            position = written + len(records) + 1
            records.append(sql.insert_record_at.bind((*sql.record_row(record), position)))
        cases.append(sql.insert_case.bind(sql.case_row(case)))
        readers += [
            sql.insert_reader.bind((case.id, one)) for one in sorted(_readers(case.parties))
        ]
        if len(records) >= _RESTORE_BATCH:
            written += _insert(cursor, sql, cases, records, readers)
            cases, records, readers = [], [], []
    written += _insert(cursor, sql, cases, records, readers)
    cursor.execute(sql.set_position.sql, sql.set_position.bind((written,)))
    return written


def _insert(
    cursor: Any, sql: Statements, cases: list[Any], records: list[Any], readers: list[Any]
) -> int:
    """One batch of ``restore``: its case rows, record rows and readers; the records count."""
    for statement, rows in (
        (sql.insert_case, cases),
        (sql.insert_record_at, records),
        (sql.insert_reader, readers),
    ):
        if rows:
            cursor.executemany(statement.sql, rows)
    return len(records)


def _insert_record(cursor: Any, sql: Statements, record_row: tuple[Any, ...]) -> None:
    """Count the next position, then insert the record at it, in the caller's transaction.

    The last writes of the transaction: the ``positions`` row stays locked from the count to
    the commit, so the next writer counts only once this one has committed (or rolled back,
    and then it takes the same position). Positions thus become visible in order, with no
    gap, which is what lets the feed move past a position without missing one (see
    ``docs/decisions.md``, "The change feed"). On PostgreSQL the feed's channel is told.
    """
    cursor.execute(sql.tick.sql, sql.tick.bind(()))
    cursor.execute(sql.insert_record.sql, sql.insert_record.bind(record_row))
    if sql.notify is not None:
        cursor.execute(sql.notify.sql, sql.notify.bind((sql.channel, "")))


def _set_parties(
    cursor: Any,
    sql: Statements,
    case_id: str,
    seq: int,
    parties: Parties,
    readers: frozenset[str],
) -> bool:
    """``Storage.set_parties`` in the caller's transaction, the case row locked."""
    cursor.execute(sql.lock_case.sql, sql.lock_case.bind((case_id,)))
    row = cursor.fetchone()
    if row is None or row[0] != seq:
        return False
    values = (case_id, seq, parties_json(parties))
    cursor.execute(sql.set_parties.sql, sql.set_parties.bind(values))
    _index(cursor, sql, case_id, _readers(sql.parties(row[3])), readers)
    return True


def _index(
    cursor: Any, sql: Statements, case_id: str, old: frozenset[str], new: frozenset[str]
) -> None:
    """Index ``case_id`` under ``new`` where it was under ``old``: only the difference."""
    if old - new:
        rows = [sql.delete_reader.bind((case_id, reader)) for reader in sorted(old - new)]
        cursor.executemany(sql.delete_reader.sql, rows)
    if new - old:
        rows = [sql.insert_reader.bind((case_id, reader)) for reader in sorted(new - old)]
        cursor.executemany(sql.insert_reader.sql, rows)


def _readers(parties: Parties | None) -> frozenset[str]:
    """What a case with ``parties`` is indexed under (nothing for None), each reader short
    enough for the column, else ``StorageError`` before anything is written."""
    if parties is None:
        return frozenset()
    readers = parties.readers()
    for reader in readers:
        if len(reader) > READER_LENGTH:
            what = "party body" if reader.startswith("body:") else "coordinating role"
            value = reader.partition(":")[2]
            raise StorageError(
                f"{what} {value[:40]!r}... is {len(value)} characters long; "
                f"SQLStorage keeps at most {READER_LENGTH - len('body:')}"
            )
    return readers


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
        and (record.actor.body is None or len(record.actor.body) <= ID_LENGTH)
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
        ("actor body", record.actor.body or "", ID_LENGTH),
        ("idempotency key", record.idempotency_key or "", ID_LENGTH),
        ("procedure name", record.name, NAME_LENGTH),
        ("procedure version", record.version, NAME_LENGTH),
        ("state", record.target, NAME_LENGTH),
        ("event", record.event, NAME_LENGTH),
    )
    for what, value, limit in limits:
        _check_length(what, value, limit)


def _check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise StorageError(
            f"{what} {value[:40]!r}... is {len(value)} characters long; "
            f"SQLStorage keeps at most {limit}"
        )
