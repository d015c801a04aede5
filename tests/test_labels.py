"""The library's own labels: one text each, the same in the timeline, the command and the CSV."""

from __future__ import annotations

import csv
import io

import pytest
from audit_stories import engine_on, mstr_migrated
from rich.console import Console
from small import AS_AUDITOR, whole

from stechnique._labels import EVENTS, event_fr, state_fr
from stechnique.cli import _render
from stechnique.definition import RESERVED_EVENTS
from stechnique.engine import Engine
from stechnique.export import export_csv
from stechnique.storage.memory import MemoryStorage
from stechnique.timeline import timeline


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = engine_on(MemoryStorage())
    mstr_migrated(engine, "m")
    return engine


def _table_text(engine: Engine) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(_render.history_table(whole(engine, "m"), engine.registry, "m"))
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_every_event_the_library_writes_has_its_label() -> None:
    assert set(EVENTS) == RESERVED_EVENTS


@pytest.mark.parametrize("event", ["start", "migrate"])
def test_the_library_events_read_the_same_everywhere(engine: Engine, event: str) -> None:
    label = EVENTS[event].fr
    rows = io.StringIO()
    export_csv(engine.storage, rows, **AS_AUDITOR)
    rows.seek(0)
    csv_labels = {row["event_fr"] for row in csv.DictReader(rows) if row["event"] == event}
    assert csv_labels == {label}
    assert f"     {label} : " in timeline(whole(engine, "m"), engine.registry)
    assert f"{label} ({event})" in _table_text(engine)


def test_labels_of_unknown_procedures_and_states_are_empty(engine: Engine) -> None:
    record = whole(engine, "m")[1]
    assert event_fr(None, record) == ""
    assert event_fr(None, whole(engine, "m")[0]) == EVENTS["start"].fr
    procedure = engine.registry.by_fingerprint(record.fingerprint)
    assert state_fr(procedure, "no-such-state") == ""
    assert state_fr(procedure, None) == ""
    assert state_fr(procedure, record.target) == procedure.state(record.target).fr  # type: ignore[union-attr]
