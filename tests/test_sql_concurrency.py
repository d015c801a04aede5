"""Several processes firing on one SQL database at once: nothing lost, nothing doubled.

Each child process is a separate application instance with its own ``SQLStorage``. Afterwards
every history must be contiguous, every hash chain must verify (``audit``), and the comments in
the histories must be exactly the fires that returned successfully.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import pytest
from sql_support import SQLBackend
from sql_workers import CONTEXT, fire_comments, fire_with_key, open_ticket, registry, run_processes

from stechnique import Engine
from stechnique.audit import audit
from stechnique.storage import SQLStorage

pytestmark = pytest.mark.slow

PROCESSES = 4


def _prepared(storage: SQLStorage, case_ids: Iterable[str]) -> list[str]:
    engine = Engine(storage, registry=registry())
    for case_id in case_ids:
        open_ticket(engine, case_id)
    return list(case_ids)


def _verify(storage: SQLStorage, case_ids: Sequence[str], wins: Iterable[tuple[str, str]]):
    """Audit passes; histories are contiguous; comments are exactly the successful fires."""
    report = audit(storage, registry=registry())
    assert report.ok, report.violations
    won = Counter(wins)
    assert max(won.values(), default=1) == 1, "a worker label won twice"
    for case_id in case_ids:
        records = list(storage.records(case_id))
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        comments = Counter((case_id, r.payload["text"]) for r in records if r.event == "comment")
        assert comments == Counter({w: n for w, n in won.items() if w[0] == case_id})
        case = storage.get(case_id)
        assert case is not None
        assert (case.seq, case.head) == (records[-1].seq, records[-1].hash)
    return report


def _race(backend: SQLBackend, targets: Sequence[Sequence[str]], fires: int) -> list[dict]:
    barrier = CONTEXT.Barrier(len(targets))
    args = [(backend.url, backend.prefix, ids, n, fires, barrier) for n, ids in enumerate(targets)]
    return run_processes(fire_comments, args)


def test_processes_racing_on_one_case(sql_storage: SQLStorage, sql_backend: SQLBackend) -> None:
    case_ids = _prepared(sql_storage, ["shared"])
    outcomes = _race(sql_backend, [case_ids] * PROCESSES, fires=30)
    wins = [win for outcome in outcomes for win in outcome["wins"]]
    conflicts = sum(outcome["conflicts"] for outcome in outcomes)
    assert len(wins) + conflicts == PROCESSES * 30
    assert wins, "no fire succeeded"
    report = _verify(sql_storage, case_ids, [tuple(w) for w in wins])
    assert report.records_checked == 2 + len(wins)


def test_processes_on_different_cases_never_conflict(
    sql_storage: SQLStorage, sql_backend: SQLBackend
) -> None:
    case_ids = _prepared(sql_storage, [f"own-{n}" for n in range(PROCESSES)])
    outcomes = _race(sql_backend, [[case_id] for case_id in case_ids], fires=25)
    assert [outcome["conflicts"] for outcome in outcomes] == [0] * PROCESSES
    wins = [tuple(win) for outcome in outcomes for win in outcome["wins"]]
    assert len(wins) == PROCESSES * 25
    _verify(sql_storage, case_ids, wins)


def test_processes_mixing_shared_cases(sql_storage: SQLStorage, sql_backend: SQLBackend) -> None:
    case_ids = _prepared(sql_storage, ["m-a", "m-b", "m-c"])
    rotations = [case_ids[n % 3 :] + case_ids[: n % 3] for n in range(PROCESSES)]
    outcomes = _race(sql_backend, rotations, fires=30)
    wins = [tuple(win) for outcome in outcomes for win in outcome["wins"]]
    _verify(sql_storage, case_ids, wins)


def test_one_idempotency_key_from_every_process_applies_once(
    sql_storage: SQLStorage, sql_backend: SQLBackend
) -> None:
    _prepared(sql_storage, ["keyed"])
    barrier = CONTEXT.Barrier(PROCESSES)
    args = [(sql_backend.url, sql_backend.prefix, "keyed", "pay-once", barrier)] * PROCESSES
    seqs = run_processes(fire_with_key, args)
    records = list(sql_storage.records("keyed"))
    assert [r.idempotency_key for r in records] == [None, None, "pay-once"]
    assert seqs == [3] * PROCESSES
    assert audit(sql_storage, registry=registry()).ok
