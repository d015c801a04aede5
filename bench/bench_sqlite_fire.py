"""Benchmark 2: ``Engine.fire`` on SQLite against raw ``sqlite3`` doing the same writes.

Both sides write to their own database file, created by ``SQLStorage`` (same schema, same
indexes), in WAL mode, at the same ``synchronous`` setting (``FULL``, the durable default, and
``NORMAL``, the opt-in). Each fire of the raw side is exactly the transaction a stechnique fire
commits, with the very same SQL text: ``BEGIN IMMEDIATE``; the conditional ``UPDATE`` of the
case row (``WHERE id = ? AND seq = ? AND state = ? AND head = ?``, rowcount checked); the
``INSERT`` of the record; ``COMMIT``. The raw side reads nothing and computes no hash: it is
the floor. The stechnique side also checks the event, roles, payload and guard, and seals the
record; it reads the case only when it does not remember it (here it always does: it started
or fired each case last).
Only fires are timed (cases are created before); runs are interleaved, medians of 5.

    python bench/bench_sqlite_fire.py [--cases 40] [--synchronous FULL NORMAL] [--json]
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from _harness import Report, Run, interleaved, parser
from _shape import STEPS, TickingClock, engine_fires, procedure

from stechnique import Engine, Registry
from stechnique.records import Parties
from stechnique.storage import SQLStorage
from stechnique.storage._sql_schema import RecordRow
from stechnique.storage._sql_statements import RECORD_ROW, Compiled, compile_for, parties_json

_TIME = "2020-01-01 00:00:00.{:06d}"
FIRST_HEAD = f"{1:064d}"  # heads are the seq written on 64 digits


def raw_sqlite(path: Path, synchronous: str, cases: int, feed: bool = True) -> Run:
    """The floor: the same transaction per fire, values ready-made, through ``sqlite3``.

    With ``feed`` (the baseline) it counts the record's position as the storage does
    (``UPDATE`` of the positions row, then the ``INSERT`` that reads it); without, it inserts
    the record with no position, as before the change feed: the difference is its cost.
    """
    storage = SQLStorage(f"sqlite:///{path}", synchronous=synchronous)
    # The statements the storage runs when a step leaves the parties as they are.
    update, insert = storage._sql.update_same_parties, storage._sql.insert_record
    tick = storage._sql.tick.sql if feed else None
    if not feed:
        insert = plain_insert(storage)
    insert_case = storage._sql.insert_case
    storage.close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    cursor = connection.cursor()
    fingerprint, roles, created = "f" * 64, '["worker"]', _TIME.format(0)
    parties = parties_json(Parties(frozenset(), procedure().seen_by_roles))

    def run() -> tuple[int, float]:
        # Random ids, as Engine.start gives: rows land where uuids put them in the indexes.
        ids = [str(uuid.uuid4()) for _ in range(cases)]
        cursor.execute("BEGIN IMMEDIATE")
        for case_id in ids:
            cursor.execute(insert_case.sql, insert_case.bind(
                (case_id, "bench", "1", fingerprint, "s0", 1, "{}", _TIME.format(0),
                 _TIME.format(0), FIRST_HEAD, parties)))  # fmt: skip
        cursor.execute("COMMIT")
        began = time.perf_counter()
        for case_id in ids:
            for seq, (event, source, target) in enumerate(STEPS, start=2):
                at, head, previous = _TIME.format(seq), f"{seq:064d}", f"{seq - 1:064d}"
                case_row = update.bind((case_id, "bench", "1", fingerprint, target, seq, "{}",
                                        created, at, head, parties, seq - 1, source, previous,
                                        parties))  # fmt: skip
                record_row = insert.bind((case_id, seq, event, source, target, "w", roles, None,
                                          at, "{}", "bench", "1", fingerprint, None, previous,
                                          head, 2, None))  # fmt: skip
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(update.sql, case_row)
                if cursor.rowcount != 1:
                    raise RuntimeError("the conditional update matched no row")
                if tick is not None:
                    cursor.execute(tick)
                cursor.execute(insert.sql, record_row)
                cursor.execute("COMMIT")
        return cases * len(STEPS), time.perf_counter() - began

    return run


def plain_insert(storage: SQLStorage) -> Compiled:
    """The record insert as it was before the change feed: no position."""
    records = storage.schema.records
    statement = records.insert().values({n: sa.bindparam(f"r_{n}") for n in RecordRow._fields})
    return compile_for(statement, storage._backend.engine.dialect, RECORD_ROW)


def stechnique_sqlite(path: Path, synchronous: str, cases: int) -> Run:
    """``Engine.fire`` on ``SQLStorage`` at the same setting."""
    storage = SQLStorage(f"sqlite:///{path}", synchronous=synchronous)
    engine = Engine(storage, Registry((procedure(),)), TickingClock())
    return engine_fires(engine, cases)


def main() -> None:
    """Run both sides at each setting and report."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--cases", type=int, default=40, help="cases per run (11 fires each)")
    options.add_argument("--synchronous", nargs="+", default=["FULL", "NORMAL"])
    args = options.parse_args()
    report = Report("sqlite_fire", "2. fire on SQLite vs raw sqlite3 (WAL)",
                    {"cases per run": args.cases, "repeats": args.repeats})  # fmt: skip
    for synchronous in args.synchronous:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            rates = interleaved(
                {
                    "raw": raw_sqlite(directory / "raw.db", synchronous, args.cases),
                    "no feed": raw_sqlite(directory / "nofeed.db", synchronous, args.cases, False),
                    "ours": stechnique_sqlite(directory / "ours.db", synchronous, args.cases),
                },
                args.repeats,
            )
        report.row(f"raw sqlite3, synchronous={synchronous}, update + count + insert",
                   rates["raw"], "fires/s")  # fmt: skip
        report.row(f"raw sqlite3, synchronous={synchronous}, update + insert (no feed)",
                   rates["no feed"], "fires/s")  # fmt: skip
        report.note(f"{synchronous}: counting positions costs raw sqlite3 "
                    f"{1 - rates['raw'] / rates['no feed']:.0%} of its fires/s")  # fmt: skip
        report.row(f"stechnique fire, SQLite synchronous={synchronous}", rates["ours"], "fires/s")
        report.target(f"SQLite {synchronous} fire / raw sqlite3", rates["ours"] / rates["raw"],
                      0.8)  # fmt: skip
    report.emit(args.json)


if __name__ == "__main__":
    main()
