"""The change feed under load: every record handled at least once, none skipped, in order.

Four writer processes fire on many cases (and start new ones) while two consumer processes
follow the feed; one of them is killed (SIGKILL) and restarted several times. Afterwards every
record of the store is in each consumer's log, each run of a consumer read consecutive
positions (a skipped position would show as a jump), and each case's records came in seq
order. Bounded in time: the writers write for ``WRITE_SECONDS``, the consumers stop once the
feed has been quiet for ``QUIET_SECONDS``.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sql_support import SQLBackend
from sql_workers import CONTEXT, engine, fire_for, follow_feed, open_ticket

from stechnique.storage import SQLStorage

pytestmark = pytest.mark.slow

WRITERS = 4
CASES = 40
WRITE_SECONDS = 12.0
QUIET_SECONDS = 3.0
KILLS = 5


def _start(target: Any, *args: Any) -> Any:
    process = CONTEXT.Process(target=target, args=args)
    process.start()
    return process


def _runs(log: Path) -> list[list[tuple[int, str, int]]]:
    """The record entries of each run of a consumer, as (position, case id, seq)."""
    runs: list[list[tuple[int, str, int]]] = []
    for line in log.read_text().splitlines():
        if line.startswith("run "):
            runs.append([])
            continue
        position, kind, case_id, seq = line.split(" ")
        if kind == "record":
            runs[-1].append((int(position), case_id, int(seq)))
    return runs


def _check(log: Path, stored: set[tuple[str, int]]) -> dict[str, int]:
    """Every stored record handled, no run skipping a position, each case in seq order."""
    runs = _runs(log)
    handled = [(case_id, seq) for run in runs for _, case_id, seq in run]
    missing = stored - set(handled)
    assert not missing, f"{log.name}: {len(missing)} records never handled: {sorted(missing)[:5]}"
    for run in runs:
        positions = [position for position, _, _ in run]
        jumps = [(a, b) for a, b in itertools.pairwise(positions) if b != a + 1]
        assert jumps == [], f"{log.name}: positions skipped (read right after): {jumps[:5]}"
        last: dict[str, int] = {}
        for _, case_id, seq in run:
            assert seq > last.get(case_id, 0), f"{log.name}: {case_id} #{seq} out of order"
            last[case_id] = seq
    duplicates = sum(count - 1 for count in Counter(handled).values())
    return {"handled": len(handled), "skipped": len(missing), "duplicates": duplicates,
            "runs": len(runs)}  # fmt: skip


def test_consumers_handle_every_record_under_writers_and_kills(
    sql_storage: SQLStorage, sql_backend: SQLBackend, tmp_path: Path
) -> None:
    url, prefix = sql_backend.url, sql_backend.prefix
    setup = engine(url, prefix)
    case_ids = [f"load-{n}" for n in range(CASES)]
    for case_id in case_ids:
        open_ticket(setup, case_id)
    setup.storage.close()
    steady, killed = tmp_path / "steady.log", tmp_path / "killed.log"
    barrier = CONTEXT.Barrier(WRITERS)
    results = CONTEXT.Queue()
    writers = [
        _start(_report, results, fire_for, url, prefix, case_ids, n, WRITE_SECONDS, barrier)
        for n in range(WRITERS)
    ]
    consumers = [_start(follow_feed, url, prefix, "steady", str(steady), QUIET_SECONDS)]
    victim = _start(follow_feed, url, prefix, "killed", str(killed), QUIET_SECONDS)
    for _ in range(KILLS):
        time.sleep(random.uniform(0.5, WRITE_SECONDS / KILLS))
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        victim = _start(follow_feed, url, prefix, "killed", str(killed), QUIET_SECONDS)
    consumers.append(victim)
    written = [results.get(timeout=WRITE_SECONDS + 60) for _ in writers]
    for process in (*writers, *consumers):
        process.join(timeout=WRITE_SECONDS + 60)
        assert process.exitcode == 0, f"a process ended with {process.exitcode}"
    with sql_backend.open() as store:
        stored = {(r.case_id, r.seq) for r in store.iter_records()}
        positions = [position for position, _ in store.changes(0, len(stored) + 10)]
        acknowledged = store.acknowledged("killed")
    figures = {name: _check(log, stored) for name, log in (("steady", steady), ("killed", killed))}
    assert positions == list(range(1, len(stored) + 1))
    assert acknowledged == positions[-1]
    fires, started = sum(w["fired"] for w in written), sum(w["started"] for w in written)
    lost = sum(w["conflicts"] for w in written)
    print(f"\n[{sql_backend.kind}] written {len(stored)} records ({fires} fires, {started} "
          f"cases started, {lost} lost races); {figures}")  # fmt: skip


def _report(results: Any, target: Any, *args: Any) -> None:
    results.put(target(*args))
