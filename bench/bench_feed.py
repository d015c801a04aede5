"""Benchmark: the change feed: catch-up rate from position 0, and wake-up latency on PostgreSQL.

* **Catch-up.** A SQLite store of copies of one 15-record MSTR history, built as
  ``bench_audit.py`` builds its stores (bulk inserts, every record valid, positions one case's
  copy after another), read from position 0 to the end by ``Engine.changes`` (batches of
  1,000, as the CAF coordinator, who sees every case: every record is redacted for it and
  checked as the link after the one before), against ``audit()`` of the same store (the
  target: at least the audit's rate) and ``SQLStorage.changes`` alone (the reads, for
  context). Runs taken in turns, a fresh engine each time; records per second.
* **Wake-up.** A follower process runs ``Engine.follow`` on PostgreSQL; this process fires
  one event at a time, at random intervals, and the follower notes when each record reaches
  it. The latency is from the return of ``fire`` (the commit is done) to the follower holding
  the record: median and 99th percentile, with ``LISTEN/NOTIFY`` and, for comparison, with
  polling alone (the backoff every other backend uses).

    python bench/bench_feed.py                      # 15,000 records, 200 wake-ups
    python bench/bench_feed.py --records 1000000    # the 1M-record store (several minutes)
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import (
    POSTGRES_URL,
    Report,
    drop_tables,
    interleaved,
    parser,
    postgres_available,
    timed,
)
from _shape import procedure
from bench_audit import build

from stechnique import Actor, Engine, Registry
from stechnique.audit import audit
from stechnique.storage import SQLStorage
from stechnique.storage.base import Sleeper

#: The CAF coordinator sees every MSTR case: the feed gives it every record.
COORDINATOR = Actor("caf-13", {"caf_coordinator"})
PREFIX = "stfeed_"
WORKER = Actor("w", {"worker"})


def catch_up(url: str) -> int:
    """Read the whole feed from position 0 as the coordinator; the records read."""
    storage = SQLStorage(url)
    engine = Engine(storage)
    after = 0
    while True:
        batch = engine.changes(after, 1000, viewer=COORDINATOR)
        if batch.position == after:
            break
        after = batch.position
    storage.close()
    return after


def read_positions(url: str) -> int:
    """``SQLStorage.changes`` from position 0 to the end, nothing else; the records read."""
    storage = SQLStorage(url)
    after, read = 0, 0
    while rows := storage.changes(after, 1000):
        read += len(rows)
        after = rows[-1][0]
    storage.close()
    return read


def audited(url: str) -> int:
    """``audit()`` of the whole store; the records checked."""
    storage = SQLStorage(url)
    report = audit(storage)
    storage.close()
    assert report.ok, report.violations[:3]
    return report.records_checked


def _measure_catch_up(report: Report, records: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "feed.db"
        built, _ = build(path, records)
        url = f"sqlite:///{path}"
        rates = interleaved(
            {
                "feed": timed(lambda: catch_up(url)),
                "audit": timed(lambda: audited(url)),
                "reads": timed(lambda: read_positions(url)),
            },
            repeats,
        )
    report.row(f"Engine.changes from position 0, {built:,} records (SQLite)", rates["feed"],
               "records/s")  # fmt: skip
    report.row(f"audit() of the same store, {built:,} records", rates["audit"], "records/s")
    report.row("SQLStorage.changes alone (reads and decoding)", rates["reads"], "records/s")
    report.target("feed catch-up / audit, records/s", rates["feed"] / rates["audit"], 1.0)


def _follower(url: str, listen: bool, ready: Any, arrivals: Any) -> None:
    """Follow the feed; put ``(case id, seq, monotonic time)`` of each record as it arrives."""
    storage = SQLStorage(url, table_prefix=PREFIX)
    if not listen:
        storage.listen = Sleeper  # type: ignore[method-assign]  # poll, as the other backends do
    engine = Engine(storage, Registry((procedure(),)))
    follower = engine.follow(viewer=WORKER, after=storage.last_position(), idle=5)
    ready.set()
    for batch in follower:
        now = time.monotonic()
        for change in batch:
            arrivals.put((change.record.case_id, change.record.seq, now))
    arrivals.put(None)
    storage.close()


def wake_ups(wakes: int, listen: bool) -> list[float]:
    """Latencies (ms) from the return of ``fire`` to the follower holding the record."""
    context = multiprocessing.get_context("spawn")
    url = POSTGRES_URL
    storage = SQLStorage(url, table_prefix=PREFIX)
    engine = Engine(storage, Registry((procedure(),)))
    case_id = engine.start("bench", actor=WORKER, facts={}).id
    for event in [f"step{i}" for i in range(5)]:
        engine.fire(case_id, event, actor=WORKER)
    ready, arrivals = context.Event(), context.Queue()
    follower = context.Process(target=_follower, args=(url, listen, ready, arrivals))
    follower.start()
    ready.wait(60)
    time.sleep(0.5)  # the follower is waiting, its first wait long past
    fired: dict[int, float] = {}
    for n in range(wakes):
        time.sleep(random.uniform(0.005, 0.05))
        case = engine.fire(case_id, "note", actor=WORKER, payload={"text": str(n)})
        fired[case.seq] = time.monotonic()
    latencies = []
    while len(latencies) < wakes:
        got = arrivals.get(timeout=30)
        if got is None:
            break
        _, seq, at = got
        if seq in fired:
            latencies.append((at - fired[seq]) * 1000)
    follower.join(timeout=30)
    storage.close()
    return latencies


def _measure_wake_ups(report: Report, wakes: int) -> None:
    problem = postgres_available()
    if problem is not None:
        report.note(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
        return
    drop_tables(PREFIX)
    try:
        for listen, how in ((True, "LISTEN/NOTIFY"), (False, "polling only")):
            latencies = sorted(wake_ups(wakes, listen))
            p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
            report.row(f"wake-up, PostgreSQL, {how}: median", statistics.median(latencies),
                       "ms")  # fmt: skip
            report.row(f"wake-up, PostgreSQL, {how}: p99", p99, "ms")
            if listen:
                report.target("wake-up p99 / 50 ms", p99 / 50, 1.0, higher_is_better=False)
    finally:
        drop_tables(PREFIX)


def main() -> None:
    """Measure both and report."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--records", type=int, default=15_000, help="records in the store")
    options.add_argument("--wakes", type=int, default=200, help="fires timed for wake-ups")
    args = options.parse_args()
    report = Report("feed", "7. change feed: catch-up and wake-up",
                    {"records": args.records, "wakes": args.wakes,
                     "repeats": args.repeats})  # fmt: skip
    _measure_catch_up(report, args.records, args.repeats)
    _measure_wake_ups(report, args.wakes)
    report.emit(args.json)


if __name__ == "__main__":
    main()
