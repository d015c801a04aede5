"""Print a pyinstrument profile of one hot path: where a fire, or an audit, spends its time.

    python bench/profile_hot_paths.py memory     # Engine.fire on MemoryStorage
    python bench/profile_hot_paths.py sqlite     # Engine.fire on SQLite (synchronous=NORMAL)
    python bench/profile_hot_paths.py audit      # Engine.audit of one 1,000-record SQLite case

Needs ``pip install -e ".[bench]"`` (pyinstrument).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from _shape import STEPS, TickingClock, procedure
from bench_load_case import build
from pyinstrument import Profiler

from stechnique import Actor, Engine, Registry
from stechnique.storage import MemoryStorage, SQLStorage
from stechnique.storage.base import Storage

WORKER = Actor("w", {"worker"})


def fires(storage: Storage, cases: int) -> Callable[[], None]:
    """Start ``cases`` cases now; the returned work fires their eleven steps."""
    engine = Engine(storage, Registry((procedure(),)), TickingClock())
    ids = [engine.start("bench", actor=WORKER, facts={}).id for _ in range(cases)]

    def work() -> None:
        for case_id in ids:
            for event, _, _ in STEPS:
                engine.fire(case_id, event, actor=WORKER)

    return work


def main() -> None:
    """Profile the path asked for and print the tree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", choices=["memory", "sqlite", "audit"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'profile.db'}"
        if args.path == "memory":
            work = fires(MemoryStorage(), 3000)
        elif args.path == "sqlite":
            work = fires(SQLStorage(url, synchronous="NORMAL"), 200)
        else:
            engine, case_id = build(SQLStorage(url, synchronous="NORMAL"), 1000)

            def work() -> None:
                for _ in range(10):
                    engine.audit(case_id)

        profiler = Profiler(interval=0.0002)
        profiler.start()
        work()
        profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
