"""A process killed (SIGKILL) in the middle of a burst of fires leaves only whole fires.

The killed process may have been anywhere: between statements of a transaction, inside a
commit, between fires. Afterwards the audit passes, every history is contiguous, and every fire
that returned before the kill is stored (at most one more per kill: committed, not yet counted).
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
from sql_support import SQLBackend
from sql_workers import CONTEXT, burst, open_ticket, registry

from stechnique import Engine
from stechnique.audit import audit
from stechnique.storage import SQLStorage

pytestmark = pytest.mark.slow

KILLS = 3


def _kill_mid_burst(backend: SQLBackend, case_ids: list[str], progress: object) -> None:
    child = CONTEXT.Process(target=burst, args=(backend.url, backend.prefix, case_ids, progress))
    child.start()
    reached = progress.value + 15  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while progress.value < reached:  # type: ignore[attr-defined]
        assert child.is_alive(), f"the burst process died by itself (exit {child.exitcode})"
        assert time.monotonic() < deadline, "the burst process made no progress"
        time.sleep(0.005)
    time.sleep(random.uniform(0, 0.05))
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=10)
    assert child.exitcode == -signal.SIGKILL


def test_sigkill_mid_burst_leaves_whole_fires(
    sql_storage: SQLStorage, sql_backend: SQLBackend
) -> None:
    engine = Engine(sql_storage, registry=registry())
    case_ids = ["crash-a", "crash-b", "crash-c"]
    for case_id in case_ids:
        open_ticket(engine, case_id)
    progress = CONTEXT.Value("i", 0)
    for _ in range(KILLS):
        _kill_mid_burst(sql_backend, case_ids, progress)
    with sql_backend.open() as reopened:
        report = audit(reopened, registry=registry())
        assert report.ok, report.violations
        comments = 0
        for case_id in case_ids:
            records = list(reopened.records(case_id))
            assert [r.seq for r in records] == list(range(1, len(records) + 1))
            comments += sum(r.event == "comment" for r in records)
    assert progress.value <= comments <= progress.value + KILLS
