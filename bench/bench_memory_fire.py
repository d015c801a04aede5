"""Benchmark 1: ``Engine.fire`` on MemoryStorage against a raw ``transitions`` trigger.

Both sides fire the same eleven transitions of the same 12-state shape on fresh cases; the raw
side uses one shared ``transitions.Machine(model=None)`` and light models, which is the fastest
way to use ``transitions`` correctly. Prints medians of 5 runs and the ratio.

    python bench/bench_memory_fire.py [cases-per-run]
"""

from __future__ import annotations

import sys

from _shape import STATES, STEPS, TickingClock, median_rate, procedure
from transitions import Machine

from stechnique import Actor, Engine, Registry
from stechnique.storage import MemoryStorage


class _Model:
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = "s0"


def raw_transitions(cases: int) -> float:
    machine = Machine(
        model=None,
        states=STATES,
        initial="s0",
        transitions=[{"trigger": e, "source": s, "dest": t} for e, s, t in STEPS],
        auto_transitions=False,
        send_event=True,
    )
    events = [machine.events[event] for event, _, _ in STEPS]

    def run() -> int:
        for _ in range(cases):
            model = _Model()
            for event in events:
                event.trigger(model)
        return cases * len(events)

    return median_rate(run)


def stechnique_memory(cases: int) -> float:
    worker = Actor("w", {"worker"})
    engine = Engine(MemoryStorage(), Registry((procedure(),)), TickingClock())

    def run() -> int:
        ids = [engine.start("bench", actor=worker, facts={}).id for _ in range(cases)]
        import time

        started = time.perf_counter()
        for case_id in ids:
            for event, _, _ in STEPS:
                engine.fire(case_id, event, actor=worker)
        run.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
        return cases * len(STEPS)

    return _fires_only(run)


def _fires_only(run: object) -> float:
    """Median fires per second, timing the fires only (not the starts)."""
    import statistics

    rates = []
    for _ in range(5):
        count = run()  # type: ignore[operator]
        rates.append(count / run.elapsed)  # type: ignore[attr-defined]
    return statistics.median(rates)


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    raw = raw_transitions(cases)
    ours = stechnique_memory(cases)
    print(f"raw transitions trigger      {raw:>10,.0f} fires/s")
    print(f"stechnique fire (memory)     {ours:>10,.0f} fires/s")
    print(f"ratio stechnique / raw       {ours / raw:>10.2f}x   (target >= 0.50x)")


if __name__ == "__main__":
    main()
