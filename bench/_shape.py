"""The 12-state procedure shape every benchmark uses, declared once for stechnique and raw tools.

Eleven steps lead from ``s0`` to the terminal ``s11``; ``abandon`` leaves from any active state.
One step is guarded by a history-free guard, as real procedures are. ``note`` (with a text
payload) loops on ``s5``, so a case can grow a history of any length (bench 4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from stechnique import (
    ANY_ACTIVE,
    Actor,
    Engine,
    Field,
    Guard,
    GuardContext,
    Procedure,
    Role,
    State,
    Transition,
)

STATES = [f"s{i}" for i in range(12)]
STEPS = [(f"step{i}", STATES[i], STATES[i + 1]) for i in range(11)]


def _always(context: GuardContext) -> bool:
    return context.actor.id != ""


def procedure() -> Procedure:
    """The benchmark procedure as a stechnique definition."""
    states = [State(s, s, s, initial=(s == "s0"), terminal=(s == "s11")) for s in STATES]
    states.append(State("abandoned", "abandonné", "abandoned", terminal=True))
    transitions = [
        Transition(event, source, target, "worker", guards=("present",) if event == "step5" else ())
        for event, source, target in STEPS
    ]
    transitions.append(Transition("abandon", ANY_ACTIVE, "abandoned", "worker"))
    transitions.append(Transition("note", "s5", "s5", "worker", payload=(Field("text"),)))
    return Procedure(
        name="bench",
        version="1",
        fr="Banc",
        en="Bench",
        roles=(Role("worker", "agent", "worker"),),
        states=states,
        transitions=transitions,
        facts=(),
        start_roles=("worker",),
        guards=(Guard("present", "présent", "present", _always),),
    )


class TickingClock:
    """A cheap deterministic clock (one microsecond per call)."""

    def __init__(self) -> None:
        self.now = datetime(2020, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)
        return self.now


def engine_fires(engine: Engine, cases: int) -> Callable[[], tuple[int, float]]:
    """A run for the harness: start ``cases`` cases (untimed), then fire their steps (timed)."""
    worker = Actor("w", {"worker"})

    def run() -> tuple[int, float]:
        ids = [engine.start("bench", actor=worker, facts={}).id for _ in range(cases)]
        began = time.perf_counter()
        for case_id in ids:
            for event, _, _ in STEPS:
                engine.fire(case_id, event, actor=worker)
        return cases * len(STEPS), time.perf_counter() - began

    return run
