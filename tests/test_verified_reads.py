"""The engine decides from the history, never from a case row edited behind its back.

Issue « A store that cannot be bent », item 2: with only the cases table (or one record)
edited, a fresh engine used to fire on top of the forgery, extending it with records signed by
real actors. Now every read of a case checks its row against the history it derives from, and
refuses, naming what does not match, writing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from small import whole

from stechnique import Actor, Engine, HistoryCorrupted
from stechnique.records import Parties
from stechnique.storage import SQLStorage
from stechnique.testing import snapshot

MSTR = "soutien-technique-renforce"
ADMIN = Actor("ca-belle-de-mai", {"administrator"})
FEDERATION = Actor("federation-13", {"federation"})
CAF = Actor("caf-coordination", {"caf_coordinator"})
ETAT = Actor("etat", {"funder"})
PROVIDER = Actor("cabinet", {"provider"})
FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["governance"],
}


def referred(engine: Engine) -> str:
    case = engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS).id
    engine.fire(case, "refer", actor=CAF, payload={"funders": ["etat"]})
    return case


def edit_row(storage: SQLStorage, case_id: str, **values: Any) -> None:
    table = storage.schema.cases
    with storage._backend.engine.begin() as connection:  # someone edits the row by hand
        connection.execute(sa.update(table).where(table.c.id == case_id).values(**values))


def refused_unchanged(storage: SQLStorage, call: Callable[[], object], what: str) -> None:
    before = snapshot(storage)
    with pytest.raises(HistoryCorrupted, match=what):
        call()
    assert snapshot(storage) == before


def test_a_state_moved_on_in_the_row_is_not_extended(sql_storage: SQLStorage) -> None:
    case = referred(Engine(sql_storage))
    edit_row(sql_storage, case, state="validated")  # no funder ever approved
    fresh = Engine(sql_storage)
    fire = lambda: fresh.fire(case, "acknowledge_confidentiality", actor=PROVIDER)  # noqa: E731
    refused_unchanged(sql_storage, fire, "the case row's state")


def test_an_edited_fact_gives_no_one_a_role(sql_storage: SQLStorage) -> None:
    case = referred(Engine(sql_storage))
    edit_row(sql_storage, case, facts={**FACTS, "management": "federation"})
    fresh = Engine(sql_storage)
    fire = lambda: fresh.fire(case, "withdraw", actor=FEDERATION, payload={"reason": "x"})  # noqa: E731
    refused_unchanged(sql_storage, fire, "the case row's facts")


def test_a_head_no_record_has_is_refused(sql_storage: SQLStorage) -> None:
    case = referred(Engine(sql_storage))
    edit_row(sql_storage, case, head="f" * 64)
    fresh = Engine(sql_storage)
    fire = lambda: fresh.fire(case, "record_funder_decision", actor=ETAT,  # noqa: E731
                              payload={"decision": "approve"})  # fmt: skip
    refused_unchanged(sql_storage, fire, "the case row's head")


def test_parties_added_to_the_row_open_nothing(sql_storage: SQLStorage) -> None:
    case = referred(Engine(sql_storage))
    intruder = Actor("ville-vitrolles", {"funder"})
    forged = Parties(frozenset({("consulted_funder", "", "ville-vitrolles")}))
    edit_row(sql_storage, case, parties=forged.to_data())
    fresh = Engine(sql_storage)
    refused_unchanged(sql_storage, lambda: fresh.history(case, intruder), "parties")


def test_an_edited_record_is_neither_shown_nor_extended(sql_storage: SQLStorage) -> None:
    engine = Engine(sql_storage)
    case = referred(engine)
    records = sql_storage.schema.records
    with sql_storage._backend.engine.begin() as connection:
        connection.execute(
            sa.update(records)
            .where(records.c.case_id == case, records.c.seq == 2)
            .values(payload={"funders": ["etat", "ville-vitrolles"]})
        )
    fresh = Engine(sql_storage)
    refused_unchanged(sql_storage, lambda: fresh.history(case, CAF), "hash does not match")
    fire = lambda: fresh.fire(case, "record_funder_decision", actor=ETAT,  # noqa: E731
                              payload={"decision": "approve"})  # fmt: skip
    refused_unchanged(sql_storage, fire, "hash does not match")


def test_an_honest_case_reads_and_fires_as_before(sql_storage: SQLStorage) -> None:
    case = referred(Engine(sql_storage))
    fresh = Engine(sql_storage, known_cases=0)
    fresh.fire(case, "record_funder_decision", actor=ETAT, payload={"decision": "approve"})
    assert [r.event for r in whole(fresh, case)] == ["start", "refer", "record_funder_decision"]
