"""The only module that imports ``transitions``: each procedure version as a ``Machine``.

Each version compiles once into one ``transitions.Machine`` (``model=None``, no auto
transitions), cached by fingerprint and shared by every case of that version: nothing is bound
to cases. It is the reference interpreter of the version's steps. The engine's hot paths (fire,
audit) read the same steps from the definition's transition table, which costs a dictionary
lookup where a trigger costs about 9 µs; ``stechnique.testing`` triggers this machine for
every record of every generated history and requires it to land where the table did, so the
two cannot drift apart unnoticed.

Guards are not part of the machine: they are judged by ``definition.failed_guards`` wherever a
step is decided. Only ``Transition.when`` is a condition here, because it picks the target.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from transitions import Machine, MachineError

from stechnique.definition import Procedure, Transition

__all__ = ["machine_for", "reference_target"]

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


def reference_target(
    procedure: Procedure, state: str, event: str, payload: Mapping[str, Any]
) -> str | None:
    """Where the version's machine takes ``event`` from ``state``, or None if it refuses.

    Guards are assumed to hold: this answers "is this a step of the procedure, and to where".
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
