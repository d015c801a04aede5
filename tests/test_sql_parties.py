"""SQL storage of case parties: the readers index serves ``cases(seen_by=...)``, the fast
append leaves it alone, values too long for it are refused before writing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from stechnique import Actor, StorageError
from stechnique.records import Access, Parties
from stechnique.storage import SQLStorage, sql
from stechnique.testing.contract import T0, CaseBuilder, parties, seen, stored

#: Cases in the plan test, and one in how many a viewer body takes part in.
CASES, SHARE = 3000, 100


def _fill(storage: SQLStorage) -> None:
    """``CASES`` case rows, each with its own manager, one in ``SHARE`` also with « viewer »;
    every case coordinated by role « caf » (so a role reader matches every case)."""
    schema = storage.schema
    case = CaseBuilder("model").start()[0]
    rows, readers = [], []
    for number in range(CASES):
        case_id = f"case-{number:05d}"
        bound = [("manager", "", f"asso-{number}")]
        if number % SHARE == 7:
            bound.append(("funder", "", "viewer"))
        found = Parties(frozenset(bound), {"caf"})
        at = T0 + timedelta(seconds=number)
        rows.append({"id": case_id, "name": "permit", "version": "1", "fingerprint": "f" * 64,
                     "state": "draft", "seq": 1, "facts": case.facts, "created_at": at,
                     "updated_at": at, "head": "0" * 64, "parties": found.to_data()})  # fmt: skip
        readers += [{"case_id": case_id, "reader": reader} for reader in found.readers()]
    engine = sa.create_engine(storage.url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(schema.cases.insert(), rows)
            connection.execute(schema.case_readers.insert(), readers)
        with engine.begin() as connection:
            for table in (schema.cases, schema.case_readers):
                name = connection.dialect.identifier_preparer.quote(table.name)
                analyze = {"sqlite": "ANALYZE {}", "postgresql": "ANALYZE {}"}
                connection.exec_driver_sql(
                    analyze.get(connection.dialect.name, "ANALYZE TABLE {}").format(name)
                )
    finally:
        engine.dispose()


def _plan(storage: SQLStorage, query: sa.Select[Any]) -> list[Any]:
    """The backend's plan of ``query``: rows of ``EXPLAIN`` (``EXPLAIN QUERY PLAN`` on
    SQLite), values inlined."""
    engine = sa.create_engine(storage.url, poolclass=sa.NullPool)
    try:
        text = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if storage.kind == "sqlite" else "EXPLAIN "
        with engine.connect() as connection:
            result = connection.exec_driver_sql(explain + text)
            return [dict(row._mapping) for row in result]
    finally:
        engine.dispose()


def test_seen_by_reads_the_readers_index_not_every_case(sql_storage: SQLStorage) -> None:
    """The plan starts from the viewer's readers in ``case_readers`` (by its
    ``(reader, case_id)`` index) and reads each of those cases by primary key: the cases
    table is never scanned."""
    _fill(sql_storage)
    viewer = Actor("someone", {"applicant"}, body="viewer")
    want = [f"case-{n:05d}" for n in range(CASES) if n % SHARE == 7]
    assert seen(sql_storage, viewer) == want
    assert len(seen(sql_storage, Actor("agent", {"caf"}))) == CASES
    index = f"{sql_storage.schema.prefix}case_readers_reader_case_id"
    cases = sql_storage.schema.cases.name
    steps = _plan(sql_storage, sql_storage.cases_query(seen_by=viewer))
    shown = json.dumps(steps, default=str)
    if sql_storage.kind == "sqlite":
        details = [step["detail"] for step in steps]
        assert any(index in detail for detail in details), shown
        assert not [d for d in details if d.startswith(f"SCAN {cases}")], shown
    elif sql_storage.kind == "postgresql":
        plan = "\n".join(step["QUERY PLAN"] for step in steps)
        assert index in plan, plan
        assert f"Seq Scan on {cases}" not in plan, plan
    else:
        by_table = {step["table"]: step for step in steps}
        assert any(step["key"] == index for step in steps), shown
        assert by_table[cases]["type"] in ("eq_ref", "ref"), shown


def test_an_append_that_keeps_the_parties_takes_the_fast_path(
    sql_storage: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only an append that changes the parties reads them back and touches the readers."""
    calls: list[str] = []
    slow = sql._append_changed

    def counted(cursor: Any, sql_: Any, follows: Any, case_row: Any, *rest: Any) -> bool:
        calls.append(case_row[0])
        return slow(cursor, sql_, follows, case_row, *rest)

    monkeypatch.setattr(sql, "_append_changed", counted)
    builder = CaseBuilder("fast")
    sql_storage.create(*builder.start(parties=parties(("manager", "asso"))))
    for _ in range(3):
        sql_storage.append(*builder.step())
    assert calls == []
    sql_storage.append(*builder.step(parties=parties(("manager", "asso"), ("funder", "ville"))))
    assert calls == ["fast"]
    sql_storage.append(*builder.step())
    assert calls == ["fast"]
    assert seen(sql_storage, Actor("v", body="ville")) == ["fast"]


def test_values_too_long_for_the_readers_are_refused_before_writing(
    sql_storage: SQLStorage,
) -> None:
    long_body = "b" * 256
    with pytest.raises(StorageError, match=r"^party body 'b+'\.\.\. is 256 characters long"):
        sql_storage.create(*CaseBuilder("long").start(parties=parties(("manager", long_body))))
    builder = CaseBuilder("ok")
    sql_storage.create(*builder.start(parties=parties(("manager", "asso"))))
    before = stored(sql_storage)
    with pytest.raises(StorageError, match="party body"):
        sql_storage.append(*builder.step(parties=parties(("manager", long_body))))
    with pytest.raises(StorageError, match="coordinating role"):
        sql_storage.set_parties("ok", 1, parties(coordinators={"r" * 256}))
    again = CaseBuilder("ok")
    again.case = before[0][0]
    bodied = again.step(actor=Actor("a", {"applicant"}, body=long_body))
    with pytest.raises(StorageError, match="actor body"):
        sql_storage.append(*bodied)
    assert stored(sql_storage) == before
    assert seen(sql_storage, Actor("a", body="asso")) == ["ok"]


def test_an_access_the_columns_cannot_hold_is_refused(sql_storage: SQLStorage) -> None:
    auditor = Actor("auditor", {"auditor"})
    with pytest.raises(StorageError, match="NUL character"):
        sql_storage.log_access(Access(auditor, T0, "a\x00b", ("c",)))
    with pytest.raises(StorageError, match="actor id"):
        sql_storage.log_access(Access(Actor("a" * 256), T0, "why", ()))
    with pytest.raises(StorageError, match="actor body"):
        sql_storage.log_access(Access(Actor("a", body="b" * 256), T0, "why", ()))
    assert list(sql_storage.accesses()) == []
