"""Benchmark 1: ``Engine.fire`` on MemoryStorage against a raw ``transitions`` trigger.

Both sides fire the same eleven transitions of the same 12-state shape on fresh cases. The raw
side uses one shared ``transitions.Machine(model=None)`` and a light model per case, which is
the fastest correct way to use ``transitions`` (nothing bound, no per-case machine). The
stechnique side does everything a fire promises: load the case, check the event, the actor's
roles, the payload and the guard (``step5``) through the judge, move the case through the
version's shared ``transitions`` machine, seal a hash-chained record, write record and case
atomically. A third run times that trigger alone (``_machine.trigger``, the per-call model the
engine uses), so the report says what moving through ``transitions`` costs a fire. Only the
fires are timed (the cases are started before). Runs are interleaved; medians of
``--repeats`` runs.

    python bench/bench_memory_fire.py [--cases 500] [--json]
"""

from __future__ import annotations

import time

from _harness import Report, Run, interleaved, parser
from _shape import STATES, STEPS, TickingClock, engine_fires, procedure
from transitions import Machine

from stechnique import Engine, Registry
from stechnique._machine import trigger
from stechnique.storage import MemoryStorage


class _Model:
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = "s0"


def raw_transitions(cases: int) -> Run:
    """Fire the eleven steps of ``cases`` fresh models through one shared machine."""
    machine = Machine(
        model=None,
        states=STATES,
        initial="s0",
        transitions=[{"trigger": e, "source": s, "dest": t} for e, s, t in STEPS],
        auto_transitions=False,
        send_event=True,
    )
    events = [machine.events[event] for event, _, _ in STEPS]

    def run() -> tuple[int, float]:
        began = time.perf_counter()
        for _ in range(cases):
            model = _Model()
            for event in events:
                event.trigger(model)
        return cases * len(events), time.perf_counter() - began

    return run


def stechnique_trigger(cases: int) -> Run:
    """The engine's own trigger of the eleven steps, nothing else (what a fire pays to it)."""
    shape = procedure()
    steps = [(source, event) for event, source, _ in STEPS]

    def run() -> tuple[int, float]:
        began = time.perf_counter()
        for _ in range(cases):
            for source, event in steps:
                trigger(shape, source, event, {})
        return cases * len(steps), time.perf_counter() - began

    return run


def stechnique_memory(cases: int) -> Run:
    """Start ``cases`` cases (untimed), then fire their eleven steps (timed)."""
    engine = Engine(MemoryStorage(), Registry((procedure(),)), TickingClock())
    return engine_fires(engine, cases)


def main() -> None:
    """Run both sides and report."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--cases", type=int, default=500, help="cases per run")
    args = options.parse_args()
    runs = {
        "raw": raw_transitions(args.cases),
        "trigger": stechnique_trigger(args.cases),
        "ours": stechnique_memory(args.cases),
    }
    rates = interleaved(runs, args.repeats)
    report = Report("memory_fire", "1. fire on MemoryStorage vs raw transitions",
                    {"cases per run": args.cases, "repeats": args.repeats})  # fmt: skip
    report.row("raw transitions trigger (shared machine, nothing bound)", rates["raw"], "fires/s")
    report.row("stechnique trigger alone (_machine.trigger)", rates["trigger"], "fires/s")
    report.row("stechnique Engine.fire, MemoryStorage", rates["ours"], "fires/s")
    share = (1 / rates["trigger"]) / (1 / rates["ours"])
    report.note(f"the trigger takes {1e6 / rates['trigger']:.1f} µs of a {1e6 / rates['ours']:.1f} "
                f"µs fire ({share:.0%})")  # fmt: skip
    report.target("memory fire / raw transitions", rates["ours"] / rates["raw"], 0.4)
    report.emit(args.json)


if __name__ == "__main__":
    main()
