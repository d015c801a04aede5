"""The only module that imports ``transitions``.

Each procedure version compiles once into one ``transitions.Machine`` (``model=None``, no auto
transitions), cached by fingerprint and shared by every case of that version: nothing is bound
to cases. An event is fired on a light per-call model that carries the state and the guard
context; the transition's guards run as one ``transitions`` condition that evaluates them all
and remembers which failed, because ``transitions`` itself only reports False.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from transitions import Machine

from stechnique.definition import GuardContext, Procedure, Transition
from stechnique.errors import FailedGuard, GuardFailed

__all__ = ["failed_guards", "failed_guards_of", "fire", "machine_for"]

_machines: dict[str, Any] = {}
_lock = threading.Lock()


class _Call:
    """The per-call model: the state before (and after) firing, and what the guards said."""

    __slots__ = ("context", "failed", "state")

    def __init__(self, state: str, context: GuardContext) -> None:
        self.state = state
        self.context = context
        self.failed: tuple[FailedGuard, ...] = ()


def failed_guards(
    transition: Transition, context: GuardContext, *, judge_payload: bool = True
) -> tuple[FailedGuard, ...]:
    """Every guard of ``transition`` that does not hold in ``context`` (all are evaluated)."""
    return failed_guards_of(transition.guards, context, judge_payload=judge_payload)


def failed_guards_of(
    names: Sequence[str], context: GuardContext, *, judge_payload: bool = True
) -> tuple[FailedGuard, ...]:
    """Every guard among ``names`` that does not hold; payload guards skipped unless judged."""
    failed = []
    for name in names:
        guard = context.procedure.guard(name)
        if guard.uses_payload and not judge_payload:
            continue
        if not guard.check(context):
            failed.append(FailedGuard(guard.name, guard.fr, guard.en))
    return tuple(failed)


def _condition(transition: Transition) -> Any:
    def guards_hold(event_data: Any) -> bool:
        call: _Call = event_data.model
        call.failed = failed_guards(transition, call.context)
        return not call.failed

    return guards_hold


def _conditions(transition: Transition) -> list[Any]:
    conditions = []
    if transition.when is not None:
        # Among transitions sharing an event and a source, the payload picks one; only the
        # picked one's guards run, so the failures reported are the relevant ones.
        field, value = transition.when
        conditions.append(lambda event_data: event_data.model.context.payload.get(field) == value)
    if transition.guards:
        conditions.append(_condition(transition))
    return conditions


def _compile(procedure: Procedure) -> Any:
    transitions = [
        {
            "trigger": t.event,
            "source": list(procedure.sources_of(t)),
            "dest": t.target,
            "conditions": _conditions(t),
        }
        for t in procedure.transitions
    ]
    return Machine(
        model=None,
        states=[state.id for state in procedure.states],
        initial=procedure.initial.id,
        transitions=transitions,
        auto_transitions=False,
        send_event=True,
    )


def machine_for(procedure: Procedure) -> Any:
    """The shared machine of a procedure version, compiled on first use."""
    machine = _machines.get(procedure.fingerprint)
    if machine is None:
        with _lock:
            machine = _machines.get(procedure.fingerprint)
            if machine is None:
                machine = _machines[procedure.fingerprint] = _compile(procedure)
    return machine


def fire(procedure: Procedure, state: str, event: str, context: GuardContext) -> str:
    """Fire ``event`` from ``state`` through the shared machine; return the target state.

    The caller has already checked that the event exists from ``state``; a guard refusing it
    raises ``GuardFailed`` naming every failed guard.
    """
    call = _Call(state, context)
    if not machine_for(procedure).events[event].trigger(call):
        case_id = context.case.id if context.case is not None else None
        raise GuardFailed(case_id, event, call.failed)
    return call.state
