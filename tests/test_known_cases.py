"""The cases an engine remembers: fires skip the read, and a stale memory is never trusted.

Two engines on one store stand for two processes: what one remembers goes stale when the other
fires. Every decision must then be the one a fresh read gives: the fire goes through from the
stored state, a refusal names the stored state, and an altered case row is not overwritten by
the remembered one. Run on memory and on every SQL backend.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from small import TickingClock, the_case, ticket
from test_engine import BOSS, CLERK, FACTS, START

from stechnique import ConcurrencyConflict, Engine, HistoryCorrupted, InvalidEvent, Registry
from stechnique.storage import MemoryStorage, SQLStorage
from stechnique.storage.base import Storage


def engines(storage: Storage, **options: Any) -> tuple[Engine, Engine]:
    """Two engines sharing ``storage``, as two processes would."""
    registry, clock = Registry((ticket(),)), TickingClock(START)
    return Engine(storage, registry, clock, **options), Engine(storage, registry, clock, **options)


class CountingReads:
    """A store that counts ``get`` calls (everything else passes through)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.gets = 0

    def get(self, case_id: str) -> Any:
        self.gets += 1
        return self.storage.get(case_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


def test_a_fire_on_a_remembered_case_does_not_read_it() -> None:
    store = CountingReads(MemoryStorage())
    engine = Engine(store, Registry((ticket(),)), TickingClock(START))  # type: ignore[arg-type]
    case = engine.start("ticket", actor=CLERK, facts=FACTS)
    engine.fire(case.id, "approve", actor=BOSS)
    engine.fire(case.id, "comment", actor=CLERK, payload={"text": "vu"})
    assert store.gets == 0


def test_without_memory_every_fire_reads_the_case() -> None:
    store = CountingReads(MemoryStorage())
    engine = Engine(store, Registry((ticket(),)), TickingClock(START), known_cases=0)  # type: ignore[arg-type]
    case = engine.start("ticket", actor=CLERK, facts=FACTS)
    engine.fire(case.id, "approve", actor=BOSS)
    assert store.gets == 1


def test_known_cases_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="known_cases must be 0 or more"):
        Engine(known_cases=-1)


def test_a_stale_memory_fires_from_the_stored_state(any_storage: Storage) -> None:
    first, second = engines(any_storage)
    case = first.start("ticket", actor=CLERK, facts=FACTS)
    the_case(second, case.id)  # the second engine now remembers the case at "open"
    first.fire(case.id, "approve", actor=BOSS)
    # "comment" is only possible once approved: decided on the stored case, it goes through.
    after = second.fire(case.id, "comment", actor=CLERK, payload={"text": "vu"})
    assert (after.state, after.seq) == ("approved", 3)
    assert [r.event for r in any_storage.records(case.id)] == ["start", "approve", "comment"]


def test_a_stale_memory_refuses_as_the_stored_state_does(any_storage: Storage) -> None:
    first, second = engines(any_storage)
    case = first.start("ticket", actor=CLERK, facts=FACTS)
    the_case(second, case.id)
    first.fire(case.id, "approve", actor=BOSS)
    with pytest.raises(InvalidEvent) as refused:
        second.fire(case.id, "approve", actor=BOSS)  # fine from "open", not from "approved"
    assert refused.value.state == "approved"
    assert len(any_storage.records(case.id)) == 2


def test_a_stale_memory_honours_the_expected_seq_of_the_store(any_storage: Storage) -> None:
    first, second = engines(any_storage)
    case = first.start("ticket", actor=CLERK, facts=FACTS)
    the_case(second, case.id)
    first.fire(case.id, "approve", actor=BOSS)
    after = second.fire(case.id, "comment", actor=CLERK, payload={"text": "a"}, expected_seq=2)
    assert after.seq == 3
    with pytest.raises(ConcurrencyConflict):
        second.fire(case.id, "comment", actor=CLERK, payload={"text": "b"}, expected_seq=2)


def test_an_altered_case_row_is_not_overwritten_by_the_memory(sql_storage: SQLStorage) -> None:
    remembering, reading = engines(sql_storage)
    forgetful = Engine(sql_storage, Registry((ticket(),)), TickingClock(START), known_cases=0)
    case = remembering.start("ticket", actor=CLERK, facts=FACTS)
    remembering.fire(case.id, "approve", actor=BOSS)
    table = sql_storage.schema.cases
    with sql_storage._backend.engine.begin() as connection:  # someone edits the row by hand
        connection.execute(sa.update(table).where(table.c.id == case.id).values(state="open"))
    # The remembered case says "approved"; the store says "open", which its history does not
    # give. Neither engine extends the forgery: the remembered one's append does not follow
    # the altered row, and a fresh read finds the row at odds with its history.
    for engine in (remembering, forgetful):
        with pytest.raises(HistoryCorrupted, match="the case row's state"):
            engine.fire(case.id, "comment", actor=CLERK, payload={"text": "vu"})
    assert len(sql_storage.records(case.id)) == 2
    assert the_case(reading, case.id).state == "open"
