"""The only module that imports ``transitions``: each procedure version as a ``Machine``.

Each version compiles once into one ``transitions.Machine`` (``model=None``, no auto
transitions), cached by fingerprint and shared by every case of that version: nothing is bound
to cases. Every fire moves its case through it (``trigger``) on a light per-call model, once
the judge (``_judge.py``) has decided the step may be taken. The audit replays millions of
records and reads the same steps from the definition's transition table instead (a dictionary
lookup where a trigger costs microseconds); ``tests/test_machine.py`` proves table and machine
equal on every state and event of every registered version, and ``stechnique.testing``
triggers the machine for every record of every generated history.

Guards are not part of the machine: the judge evaluates them wherever a step is decided. Only
``Transition.when`` is a condition here, because it picks the target.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from transitions import Machine, MachineError

from stechnique.definition import Procedure, Transition

__all__ = ["machine_for", "trigger"]

_machines: dict[str, Any] = {}
_lock = threading.Lock()


class _Step:
    """The per-call model: the state before (and after) firing, and the payload."""

    __slots__ = ("payload", "state")

    def __init__(self, state: str, payload: Mapping[str, Any]) -> None:
        self.state = state
        self.payload = payload


def _conditions(transition: Transition) -> list[Any]:
    if transition.when is None:
        return []
    # Among transitions sharing an event and a source, the payload picks one.
    field, value = transition.when
    return [lambda event_data: event_data.model.payload.get(field) == value]


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


def trigger(procedure: Procedure, state: str, event: str, payload: Mapping[str, Any]) -> str | None:
    """Where the version's machine takes ``event`` from ``state``, or None if it refuses.

    Guards are assumed to hold (the judge has decided them): this answers "is this a step of
    the procedure, and to where", the payload picking among branches.
    """
    machine = machine_for(procedure)
    if event not in machine.events:
        return None
    step = _Step(state, payload)
    try:
        moved = machine.events[event].trigger(step)
    except MachineError:  # the event does not leave this state
        return None
    return step.state if moved else None
