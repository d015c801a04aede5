"""The version's ``transitions`` machine, which every fire moves its case through, against the
transition table the judge and the audit read.

``_machine`` compiles each version into one shared ``transitions.Machine``. For every state and
every event (payload choices included) machine and table must agree, on the published versions
and on generated ones; every production fire triggers the machine; and the store checks of
``stechnique.testing`` must report a stored step the machine refuses.
"""

from __future__ import annotations

import pytest
import transitions.core
from hypothesis import given
from small import ticket
from strategies import procedures

from stechnique import Actor, Engine, Procedure, Registry, StechniqueError
from stechnique._machine import machine_for, trigger
from stechnique.testing import _checks, store_problems
from stechnique.workflows import default_registry

PUBLISHED = list(default_registry())


def _choices(procedure: Procedure, state: str, event: str) -> list[dict[str, str]]:
    """The payloads that matter to the step: one per ``when`` option, else the empty one."""
    picks = [t.when for t in procedure.candidates(state, event) if t.when is not None]
    return [{field: value} for field, value in picks] or [{}]


def _disagreements(procedure: Procedure) -> list[str]:
    events = {t.event for t in procedure.transitions}
    found = []
    for state in procedure.states:
        for event in sorted(events):
            for payload in _choices(procedure, state.id, event):
                chosen = procedure.transition(state.id, event, payload)
                table = None if chosen is None else chosen.target
                machine = trigger(procedure, state.id, event, payload)
                if table != machine:
                    found.append(f"{state.id} -{event} {payload}-> {table}, machine: {machine}")
    return found


@pytest.mark.parametrize("procedure", [*PUBLISHED, ticket()], ids=lambda p: p.key)
def test_table_and_machine_agree_on_every_step(procedure: Procedure) -> None:
    assert _disagreements(procedure) == []


@given(procedures())
def test_table_and_machine_agree_on_generated_procedures(procedure: Procedure) -> None:
    assert _disagreements(procedure) == []


def test_one_machine_per_version_shared_by_every_case() -> None:
    first, second = ticket(), ticket()
    assert machine_for(first) is machine_for(second)


def test_the_machine_refuses_an_event_that_does_not_leave_the_state() -> None:
    procedure = ticket()
    terminal = next(state.id for state in procedure.states if state.terminal)
    event = procedure.transitions[0].event
    assert trigger(procedure, terminal, event, {}) is None
    assert trigger(procedure, terminal, "no-such-event", {}) is None


def test_store_checks_report_a_step_the_machine_would_not_take(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    procedure = ticket()
    engine = Engine(registry=Registry((procedure,)))
    actor = Actor("a", {"clerk", "boss"})
    case = engine.start("ticket", actor=actor, facts={"title": "t", "kind": "solo"}, case_id="c1")
    engine.fire(case.id, "approve", actor=actor)
    assert store_problems(engine) == []

    monkeypatch.setattr(_checks, "trigger", lambda *_: "elsewhere")
    assert store_problems(engine) == [
        "case c1 seq 2: the transitions machine takes 'approve' from 'open' to 'elsewhere'"
    ]


def test_every_fire_moves_its_case_through_the_versions_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    procedure = ticket()
    machine = machine_for(procedure)
    triggered: list[str] = []
    original = transitions.core.Event.trigger

    def counting(event: transitions.core.Event, model: object, *args: object) -> bool:
        if event.machine is machine:
            triggered.append(event.name)
        return original(event, model, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(transitions.core.Event, "trigger", counting)
    engine = Engine(registry=Registry((procedure,)))
    boss, clerk = Actor("b", {"boss"}), Actor("c", {"clerk"})
    case = engine.start("ticket", actor=clerk, facts={"title": "t", "kind": "solo"})
    engine.fire(case.id, "approve", actor=boss)
    engine.fire(case.id, "comment", actor=clerk, payload={"text": "vu"})
    with pytest.raises(StechniqueError):  # refused by the judge: the machine is not asked
        engine.fire(case.id, "approve", actor=boss)
    engine.fire(case.id, "finish", actor=clerk, payload={"note": "fini"})
    assert triggered == ["approve", "comment", "finish"]
