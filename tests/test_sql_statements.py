"""SQL statements: one row layout (``CaseRow``, ``RecordRow``) for binding, selecting, decoding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from sqlalchemy.dialects import mysql, sqlite

from stechnique import Actor, Case, Record
from stechnique.records import Parties
from stechnique.storage._sql_schema import CaseRow, RecordRow, schema_for
from stechnique.storage._sql_statements import Statements

DIALECTS = {"sqlite": sqlite.dialect(), "mysql": mysql.pymysql.dialect()}
AT = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)

# Every field different from every other, so a value read from the wrong column shows.
RECORD = Record(
    case_id="case-id", seq=7, event="the-event", source="the-source", target="the-target",
    actor=Actor("actor-id", {"role-b", "role-a"}), at=AT, payload={"payload": [1, "é"]},
    name="the-name", version="the-version", fingerprint="f" * 64, idempotency_key="the-key",
    prev_hash="p" * 64, hash="h" * 64,
)  # fmt: skip
CASE = Case(
    id="case-id", name="the-name", version="the-version", fingerprint="f" * 64,
    state="the-state", seq=7, facts={"facts": True}, created_at=AT - timedelta(days=1),
    updated_at=AT, head="h" * 64,
)  # fmt: skip


@pytest.mark.parametrize("kind", ["sqlite", "mysql"])
def test_rows_decode_to_what_they_encode(kind: str) -> None:
    """Each value comes back from its own column (PostgreSQL's driver decodes JSON itself)."""
    statements = Statements(schema_for("t_"), DIALECTS[kind])
    assert statements.record(tuple(statements.record_row(RECORD))) == RECORD
    assert statements.case(tuple(statements.case_row(CASE))) == CASE
    # The body and the parties, given or absent (0.1.0 rows), from their own columns too.
    acted = attrs.evolve(RECORD, actor=Actor("actor-id", {"role-a"}, body="the-body"))
    assert statements.record(tuple(statements.record_row(acted))) == acted
    parties = Parties({("the-party", "", "the-body")}, {"the-role"})
    known = attrs.evolve(CASE, parties=parties)
    assert statements.case(tuple(statements.case_row(known))) == known


def test_the_row_layouts_name_every_column_and_selects_follow_them() -> None:
    schema = schema_for("t_")
    assert [column.name for column in schema.case_columns] == list(CaseRow._fields)
    assert [column.name for column in schema.record_columns] == list(RecordRow._fields)
    assert sorted(CaseRow._fields) == sorted(schema.cases.c.keys())
    # A record's position is the feed's, not the record's: selected beside it (``changes``).
    assert sorted([*RecordRow._fields, "position"]) == sorted(schema.records.c.keys())
