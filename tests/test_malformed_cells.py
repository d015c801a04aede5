"""One malformed cell in a SQL store: reported where it is, never a crash.

Each test writes two real MSTR histories through the engine, then puts into one stored cell a
value the library never writes (a start payload that is a number, roles that are not a list of
text, a time that is not a time...), as someone with database access could. Then:

* the audit reports that row as a ``row`` violation at its case and seq, naming the column,
  and audits everything else (the untouched case stays clean);
* ``stechnique audit`` reports violations (exit 1), not an « internal error » (exit 2);
* the engine's and the store's reads of that case raise ``HistoryCorrupted`` naming the case
  and the column, in French and English, and saying what kind of value is there, never the
  value itself;
* a failed stream leaves no PostgreSQL session « idle in transaction » holding the tables.

Runs on every SQL backend; the cells only SQLite can hold (text in an integer column, non-JSON
text in a JSON column...) on SQLite only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from audit_stories import CAF, engine_on, mstr_closed, mstr_validated
from sql_support import SQLBackend
from test_cli import cli

from stechnique import Engine, HistoryCorrupted, StechniqueError
from stechnique.audit import audit
from stechnique.storage import SQLStorage
from stechnique.storage._sql_schema import SQLSchema, schema_for

TAMPERED, UNTOUCHED = "mstr-closed", "mstr-validated"
#: Put in a cell where the value could be confidential: no message may show it.
SECRET = "SECRET-7f3a"


@pytest.fixture
def storage(sql_storage: SQLStorage) -> SQLStorage:
    """Each SQL store in turn, holding two histories that audit clean."""
    engine = engine_on(sql_storage)
    mstr_closed(engine, TAMPERED)
    mstr_validated(engine, UNTOUCHED)
    clean = audit(sql_storage)
    assert clean.ok, clean.summary()
    return sql_storage


class Database:
    """Plain SQL on the store's tables, bypassing the library."""

    def __init__(self, backend: SQLBackend) -> None:
        self.backend = backend
        self.engine = sa.create_engine(backend.url, poolclass=sa.NullPool)
        self.schema: SQLSchema = schema_for(backend.prefix)

    def record(self, seq: int, **values: Any) -> None:
        """Set cells of record ``seq`` of the tampered case (through the column types)."""
        table = self.schema.records
        where = (table.c.case_id == TAMPERED, table.c.seq == seq)
        self._run(table.update().where(*where).values(values))

    def case(self, **values: Any) -> None:
        """Set cells of the tampered case's row (through the column types)."""
        table = self.schema.cases
        self._run(table.update().where(table.c.id == TAMPERED).values(values))

    def raw(self, table: str, column: str, sql_value: str, seq: int | None = None) -> None:
        """Set one cell to a raw SQL expression, past every column type (SQLite)."""
        name = f"{self.schema.prefix}{table}"
        if table == "records":
            where = f"case_id = '{TAMPERED}' AND seq = {seq}"
        else:
            where = f"id = '{TAMPERED}'"
        self._run(sa.text(f"UPDATE {name} SET {column} = {sql_value} WHERE {where}"))

    def _run(self, statement: sa.Executable) -> None:
        with self.engine.begin() as connection:
            assert connection.execute(statement).rowcount == 1  # type: ignore[attr-defined]


@pytest.fixture
def database(sql_backend: SQLBackend) -> Iterator[Database]:
    database = Database(sql_backend)
    yield database
    database.engine.dispose()


def sqlite_only(database: Database) -> None:
    if database.backend.kind != "sqlite":
        pytest.skip("only SQLite keeps a cell of another kind than its column's")


# Each malformed cell: (id, the seq the audit reports it at, its column, how to write it). A
# case row is reported at its history's last seq (15 for the closed MSTR case); a record whose
# seq is text, at no seq.
Tamper = Callable[[Database], None]
EVERY_BACKEND: list[tuple[str, int | None, str, Tamper]] = [
    ("start payload 5", 1, "payload", lambda db: db.record(1, payload=5)),
    ("start payload null", 1, "payload", lambda db: db.record(1, payload=None)),
    ("later payload a list", 8, "payload", lambda db: db.record(8, payload=[SECRET])),
    ("roles 5", 3, "actor_roles", lambda db: db.record(3, actor_roles=5)),
    ("roles [1, x]", 3, "actor_roles", lambda db: db.record(3, actor_roles=[1, "x"])),
    ("roles [[x]]", 3, "actor_roles", lambda db: db.record(3, actor_roles=[["x"]])),
    ("roles a text", 3, "actor_roles", lambda db: db.record(3, actor_roles=SECRET)),
    ("start roles 5", 1, "actor_roles", lambda db: db.record(1, actor_roles=5)),
    ("facts 5", 15, "facts", lambda db: db.case(facts=5)),
    ("facts a list", 15, "facts", lambda db: db.case(facts=[SECRET])),
    ("parties not parties", 15, "parties", lambda db: db.case(parties={"x": SECRET})),
    ("salts a list", 8, "salts", lambda db: db.record(8, salts=[SECRET])),
    ("salts not text", 8, "salts", lambda db: db.record(8, salts={"report": 5})),
]
SQLITE_ONLY: list[tuple[str, int | None, str, Tamper]] = [
    ("payload not JSON", 1, "payload", lambda db: db.raw("records", "payload", f"'{{{SECRET}'", 1)),
    ("payload blob", 8, "payload", lambda db: db.raw("records", "payload", "X'00ff'", 8)),
    ("roles not JSON", 3, "actor_roles", lambda db: db.raw("records", "actor_roles", "'[x'", 3)),
    ("unreadable time", 4, "at", lambda db: db.raw("records", "at", f"'{SECRET}'", 4)),
    ("time a number", 4, "at", lambda db: db.raw("records", "at", "20160301", 4)),
    ("text seq", None, "seq", lambda db: db.raw("records", "seq", f"'{SECRET}'", 3)),
    ("body blob", 3, "actor_body", lambda db: db.raw("records", "actor_body", "X'00ff'", 3)),
    ("actor id blob", 3, "actor_id", lambda db: db.raw("records", "actor_id", "X'00ff'", 3)),
    ("facts not JSON", 15, "facts", lambda db: db.raw("cases", "facts", f"'{SECRET}'")),
    ("created_at", 15, "created_at", lambda db: db.raw("cases", "created_at", f"'{SECRET}'")),
    ("case seq text", 15, "seq", lambda db: db.raw("cases", "seq", f"'{SECRET}'")),
    ("parties not JSON", 15, "parties", lambda db: db.raw("cases", "parties", f"'{SECRET}'")),
    ("format text", 8, "format", lambda db: db.raw("records", "format", f"'{SECRET}'", 8)),
    ("salts not JSON", 8, "salts", lambda db: db.raw("records", "salts", f"'{SECRET}'", 8)),
]
CELLS = [pytest.param(*cell[1:], False, id=cell[0]) for cell in EVERY_BACKEND] + [
    pytest.param(*cell[1:], True, id=cell[0]) for cell in SQLITE_ONLY
]


def assert_names_the_cell(error: HistoryCorrupted, column: str) -> None:
    text = str(error)
    assert f"la colonne {column} " in text  # French
    assert f" {column} column holds " in text  # English
    assert SECRET not in text  # the kind of value, never the value


@pytest.mark.parametrize(("seq", "column", "tamper", "only_sqlite"), CELLS)
def test_one_bad_cell(
    storage: SQLStorage,
    database: Database,
    seq: int | None,
    column: str,
    only_sqlite: bool,
    tamper: Tamper,
) -> None:
    if only_sqlite:
        sqlite_only(database)
    tamper(database)
    # The audit reports the row where it is, and audits every other case and record.
    report = audit(storage)
    assert not report.ok
    rows = [v for v in report.violations if v.code == "row"]
    assert [(v.case_id, v.seq) for v in rows] == [(TAMPERED, seq)], report.summary()
    assert f" {column} column holds " in rows[0].message
    assert SECRET not in rows[0].message
    assert report.cases_checked == 2
    assert report.records_checked == 15 + 5
    assert {v.case_id for v in report.violations} == {TAMPERED}
    # Every read of the case that meets the cell raises HistoryCorrupted naming it.
    engine = Engine(storage)
    reads: list[Callable[[], object]] = [
        lambda: engine.history(TAMPERED, CAF),
        lambda: engine.case(TAMPERED, CAF),
        lambda: engine.fire(TAMPERED, "close", actor=CAF),
        lambda: list(storage.iter_records(TAMPERED)),
        lambda: list(storage.iter_records()),
    ]
    errors: list[StechniqueError] = []
    for read in reads:
        try:
            read()
        except StechniqueError as error:  # a refusal judged before the cell is read: ours too
            errors.append(error)
    corrupted = [error for error in errors if isinstance(error, HistoryCorrupted)]
    assert len(corrupted) >= 2, errors
    for error in corrupted:
        assert error.case_id == TAMPERED
        assert_names_the_cell(error, column)
    # The untouched case reads as before.
    assert engine.case(UNTOUCHED, CAF).state == "validated"
    assert len(engine.history(UNTOUCHED, CAF)) == 5


def test_the_record_read_names_case_seq_and_column(storage: SQLStorage, database: Database) -> None:
    database.record(3, actor_roles=[1, "x"])
    with pytest.raises(HistoryCorrupted) as raised:
        storage.records(TAMPERED)
    error = raised.value
    assert (error.case_id, error.seq) == (TAMPERED, 3)
    assert "la colonne actor_roles de l'enregistrement contient une liste où un nombre" in str(
        error
    )
    assert "the record's actor_roles column holds a list holding a number" in str(error)
    database.case(facts=5)
    with pytest.raises(HistoryCorrupted) as raised:
        storage.get(TAMPERED)
    assert (raised.value.case_id, raised.value.seq) == (TAMPERED, 15)
    assert "the case row's facts column holds a number where a JSON object is expected" in str(
        raised.value
    )
    # A listing meets the bad case row too, and names it.
    with pytest.raises(HistoryCorrupted, match="facts column"):
        storage.cases()


def test_the_command_line_reports_violations(
    sql_backend: SQLBackend, storage: SQLStorage, database: Database
) -> None:
    database.record(1, payload=5)
    env = {"STECHNIQUE_TABLE_PREFIX": sql_backend.prefix}
    code, out, err = cli("audit", "--db", sql_backend.url, env=env)
    assert code == 1, (out, err)
    assert "VIOLATIONS" in out  # the verdict of a store that is not « conforme »
    assert "the record's payload column holds a number where a JSON object is expected" in out
    assert "internal error" not in out + err
    code, out, _ = cli("audit", "--json", "--db", sql_backend.url, env=env)
    assert code == 1
    found = json.loads(out)
    assert found["records_checked"] == 20
    assert any(v["code"] == "row" and v["seq"] == 1 for v in found["violations"])


def test_records_after_an_unreadable_one_are_still_checked(
    storage: SQLStorage, database: Database
) -> None:
    """Past the unreadable row the state is unknown, but each later record's own hash and its
    link to the record before are still checked: a change there is still found."""
    database.record(3, actor_roles=5)
    database.record(9, payload={"report": "Tout va bien"})
    found = {(v.case_id, v.seq, v.code) for v in audit(storage).violations}
    assert found == {(TAMPERED, 3, "row"), (TAMPERED, 9, "hash")}


def test_a_failed_audit_releases_the_tables(storage: SQLStorage, database: Database) -> None:
    """Whatever stops an audit (here its progress callback), the stream's cursor is closed
    with it: PostgreSQL is left with no session « idle in transaction » locking the tables."""

    def stop(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stopped:
        audit(storage, progress=stop)
    assert_tables_free(database)
    del stopped


def test_a_failed_stream_releases_the_tables(storage: SQLStorage, database: Database) -> None:
    database.record(3, actor_roles=5)
    with pytest.raises(HistoryCorrupted) as raised:
        list(storage.iter_records())
    assert_tables_free(database)
    del raised


def assert_tables_free(database: Database) -> None:
    """The records table can be locked exclusively within seconds (PostgreSQL), as a DROP or
    an ALTER would need."""
    if database.backend.kind != "postgres":
        return
    table = f'"{database.schema.prefix}records"'
    with database.engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        connection.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
