"""Tampering with a SQL store behind the library's back, and the audit naming case and seq.

Each test writes two real MSTR histories through the engine, then changes the database with
plain SQL statements on ``<prefix>records`` / ``<prefix>cases`` (what someone with database
access could do), and checks that the audit reports the tampered case at the tampered seq, and
nothing on the untouched case. Runs on every SQL backend (SQLite, PostgreSQL, MariaDB).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from audit_stories import CAF, engine_on, mstr_closed, mstr_validated
from sql_support import SQLBackend

from stechnique import AuditReport, Record, export_checkpoint, verify_checkpoint
from stechnique.audit import audit
from stechnique.records import seal
from stechnique.storage import SQLStorage
from stechnique.storage._sql_schema import SQLSchema, schema_for

TAMPERED, UNTOUCHED = "mstr-closed", "mstr-validated"


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
        self.engine = sa.create_engine(backend.url, poolclass=sa.NullPool)
        self.schema: SQLSchema = schema_for(backend.prefix)

    def run(self, *statements: sa.Executable) -> None:
        with self.engine.begin() as connection:
            for statement in statements:
                connection.execute(statement)

    def record(self, case_id: str, seq: int) -> Any:
        table = self.schema.records
        return table.update().where(table.c.case_id == case_id, table.c.seq == seq)

    def case(self, case_id: str) -> Any:
        return self.schema.cases.update().where(self.schema.cases.c.id == case_id)

    def rewrite(self, storage: SQLStorage, case_id: str, seq: int, **changes: Any) -> None:
        """Change record ``seq``, re-seal it and every later record, move the case head."""
        records = list(storage.records(case_id))
        head = records[seq - 2].hash if seq > 1 else records[0].prev_hash
        statements = []
        for record in records[seq - 1 :]:
            wanted = changes if record.seq == seq else {}
            sealed = seal(attrs.evolve(record, prev_hash=head, **wanted))
            statements.append(self.record(case_id, record.seq).values(_row(sealed)))
            head = sealed.hash
        case_values = {"head": head}
        case_values.update({k: v for k, v in changes.items() if k in ("version", "fingerprint")})
        self.run(*statements, self.case(case_id).values(case_values))


def _row(record: Record) -> dict[str, Any]:
    row = {name: getattr(record, name) for name in attrs.fields_dict(Record) if name != "actor"}
    row.update(actor_id=record.actor.id, actor_roles=sorted(record.actor.roles))
    return row


@pytest.fixture
def database(sql_backend: SQLBackend) -> Iterator[Database]:
    database = Database(sql_backend)
    yield database
    database.engine.dispose()


def found(report: AuditReport) -> set[tuple[str, int | None, str]]:
    return {(v.case_id, v.seq, v.code) for v in report.violations}


def test_a_changed_payload(storage: SQLStorage, database: Database) -> None:
    database.run(database.record(TAMPERED, 8).values(payload={"report": "Tout va bien"}))
    assert found(audit(storage)) == {(TAMPERED, 8, "hash")}


def test_a_deleted_record(storage: SQLStorage, database: Database) -> None:
    table = database.schema.records
    database.run(table.delete().where(table.c.case_id == TAMPERED, table.c.seq == 8))
    report = audit(storage)
    first = report.violations[0]
    assert (first.case_id, first.seq, first.code) == (TAMPERED, 8, "seq")
    assert "record 8 is missing" in first.message
    # What follows the gap no longer chains: reported at 9, never on the other case.
    assert {seq for case_id, seq, _ in found(report)} == {8, 9}
    assert {case_id for case_id, _, _ in found(report)} == {TAMPERED}


def test_the_last_record_deleted(storage: SQLStorage, database: Database) -> None:
    table = database.schema.records
    database.run(table.delete().where(table.c.case_id == TAMPERED, table.c.seq == 15))
    assert found(audit(storage)) == {(TAMPERED, 15, "seq")}


def test_two_records_swapped(storage: SQLStorage, database: Database) -> None:
    database.run(
        database.record(TAMPERED, 8).values(seq=-1),
        database.record(TAMPERED, 9).values(seq=8),
        database.record(TAMPERED, -1).values(seq=9),
    )
    report = audit(storage)
    first = report.violations[0]
    assert (first.case_id, first.seq) == (TAMPERED, 8)
    # Record 10 chained on the record that was at 9: its link breaks too.
    assert {seq for _, seq, _ in found(report)} == {8, 9, 10}
    assert {case_id for case_id, _, _ in found(report)} == {TAMPERED}


def test_a_changed_actor(storage: SQLStorage, database: Database) -> None:
    database.run(database.record(TAMPERED, 10).values(actor_id="quelqu-un-d-autre"))
    assert found(audit(storage)) == {(TAMPERED, 10, "hash")}


def test_a_changed_state_in_the_case_row(storage: SQLStorage, database: Database) -> None:
    database.run(database.case(TAMPERED).values(state="accompaniment"))
    report = audit(storage)
    assert found(report) == {(TAMPERED, 15, "case")}
    assert "stored state 'accompaniment' but the history gives 'closed'" in str(report)


def test_a_forged_record_with_a_recomputed_hash_but_an_illegal_step(
    storage: SQLStorage, database: Database
) -> None:
    case = storage.get(UNTOUCHED)
    assert case is not None
    last = storage.records(UNTOUCHED)[-1]
    # « close » is not allowed from « validated »; the row is sealed and chained like a real one.
    forged = seal(
        attrs.evolve(last, seq=6, event="close", source="validated", target="closed", actor=CAF,
                     payload={"summary": "Clôture"}, prev_hash=last.hash)
    )  # fmt: skip
    database.run(
        database.schema.records.insert().values(_row(forged)),
        database.case(UNTOUCHED).values(seq=6, state="closed", head=forged.hash),
    )
    report = audit(storage)
    assert found(report) == {(UNTOUCHED, 6, "step")}
    assert "'close' is not allowed from 'validated'" in str(report)


def test_a_fingerprint_naming_an_unknown_procedure_version(
    storage: SQLStorage, database: Database
) -> None:
    # Re-sealed, so the chain holds: only the pinned version gives it away.
    database.rewrite(storage, TAMPERED, 15, version="2099", fingerprint="f" * 64)
    report = audit(storage)
    assert found(report) == {(TAMPERED, 15, "fingerprint")}
    assert "unknown procedure fingerprint ffffffffffff" in str(report)


def test_a_whole_chain_rewrite_is_caught_by_an_earlier_checkpoint(
    storage: SQLStorage, database: Database
) -> None:
    checkpoint = export_checkpoint(storage, "Jeanne Martin, auditrice", key=b"clef")
    database.rewrite(storage, TAMPERED, 8, payload={"report": "Tout va bien"})
    assert audit(storage).ok  # every hash recomputed, every rule kept
    report = verify_checkpoint(storage, checkpoint, key=b"clef")
    assert found(report) == {(TAMPERED, 15, "checkpoint")}


def test_an_untampered_store_still_passes_after_reopening(
    sql_backend: SQLBackend, sql_storage: SQLStorage
) -> None:
    mstr_closed(engine_on(sql_storage), TAMPERED)
    reopened = sql_backend.open()
    try:
        assert audit(reopened).ok
    finally:
        reopened.close()
