"""Static properties of every definition, judged from its states and transitions alone.

Every state is reachable; a terminal state is reachable from every state; terminal states have
no way out; an unguarded exit (``withdraw``, ``abandon``) leaves every non-terminal state; no
event is ambiguous. The published versions, the small test procedure and generated definitions
must have them all; broken definitions must be caught, by ``definition_problems`` and, where the
rule is one a definition must keep to be built at all, by ``DefinitionError``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from small import ticket
from strategies import procedures

from stechnique import ANY_ACTIVE, DefinitionError, Procedure, State, Transition
from stechnique.testing import definition_problems
from stechnique.workflows import default_registry

PUBLISHED = list(default_registry())
EXITS = {"soutien-technique-renforce": "withdraw", "convention-pluripartenariale": "abandon"}


@pytest.mark.parametrize("procedure", [*PUBLISHED, ticket()], ids=lambda p: p.key)
def test_definition_has_every_static_property(procedure: Procedure) -> None:
    assert definition_problems(procedure.states, procedure.transitions) == []


@pytest.mark.parametrize("procedure", PUBLISHED, ids=lambda p: p.key)
def test_published_exit_leaves_every_non_terminal_state(procedure: Procedure) -> None:
    exit_event = EXITS[procedure.name]
    for state in procedure.states:
        transition = procedure.transition(state.id, exit_event)
        if state.terminal:
            assert procedure.events_from(state.id) == ()
            continue
        assert transition is not None, f"no {exit_event} from {state.id}"
        assert procedure.state(transition.target).terminal
        assert transition.guards == ()


@given(procedures())
def test_generated_definition_has_every_static_property(procedure: Procedure) -> None:
    assert definition_problems(procedure.states, procedure.transitions) == []


Broken = tuple[list[State], list[Transition]]


def _parts(procedure: Procedure) -> tuple[list[State], list[Transition], str, str, str]:
    first = procedure.initial.id
    end = next(state.id for state in procedure.states if state.terminal)
    return list(procedure.states), list(procedure.transitions), first, end, procedure.roles[0].id


def _withdraw_from_old_states(
    states: list[State], transitions: list[Transition]
) -> list[Transition]:
    """``withdraw`` from the states there are, not from one about to be added."""
    active = tuple(state.id for state in states if not state.terminal)
    return [attrs.evolve(t, sources=active) if t.event == "withdraw" else t for t in transitions]


def detour_without_exit(procedure: Procedure) -> Broken:
    states, transitions, first, end, role = _parts(procedure)
    return [*states, State("detour", "Détour", "Detour")], [
        *_withdraw_from_old_states(states, transitions),
        Transition("go_round", first, "detour", role),
        Transition("leave", "detour", end, role, guards=("always",)),
    ]


def trap(procedure: Procedure) -> Broken:
    states, transitions, first, _, role = _parts(procedure)
    return [*states, State("trap", "Piège", "Trap")], [
        *_withdraw_from_old_states(states, transitions),
        Transition("fall", first, "trap", role),
    ]


def orphan(procedure: Procedure) -> Broken:
    states, transitions, _, end, role = _parts(procedure)
    return [*states, State("orphan", "Orphelin", "Orphan")], [
        *transitions,
        Transition("leave_orphan", "orphan", end, role),
    ]


def way_out_of_an_end(procedure: Procedure) -> Broken:
    states, transitions, first, end, role = _parts(procedure)
    return states, [*transitions, Transition("revive", end, first, role)]


def ambiguous(procedure: Procedure) -> Broken:
    states, transitions, first, _, _ = _parts(procedure)
    finish = next(t for t in transitions if t.event == "finish")
    return states, [*transitions, attrs.evolve(finish, target=first)]


#: How to break a definition, what must be reported, and whether it can still be built.
BREAKS: dict[str, tuple[Callable[[Procedure], Broken], str, bool]] = {
    "detour without exit": (detour_without_exit, "no unguarded exit from 'detour'", True),
    "trap": (trap, "state 'trap' cannot reach a terminal state", False),
    "orphan": (orphan, "state 'orphan' is unreachable", False),
    "way out of an end": (way_out_of_an_end, "has a way out", False),
    "ambiguous": (ambiguous, "event 'finish' is ambiguous", False),
}


@given(procedures(), st.sampled_from(sorted(BREAKS)))
def test_broken_definition_is_caught(procedure: Procedure, how: str) -> None:
    breaker, expected, buildable = BREAKS[how]
    states, transitions = breaker(procedure)
    problems = definition_problems(states, transitions)
    assert any(expected in problem for problem in problems), problems
    if buildable:
        attrs.evolve(procedure, states=states, transitions=transitions)
    else:
        with pytest.raises(DefinitionError):
            attrs.evolve(procedure, states=states, transitions=transitions)


def test_any_active_means_every_non_terminal_state() -> None:
    procedure = ticket()
    cancel = next(t for t in procedure.transitions if t.event == "cancel")
    assert cancel.sources == (ANY_ACTIVE,)
    assert set(procedure.sources_of(cancel)) == {"open", "approved"}
