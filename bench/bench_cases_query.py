"""Benchmark 6: ``Engine.cases(...)`` on a SQLite store of 100,000 cases.

The case rows are bulk-inserted into tables created by ``SQLStorage`` (the query reads only
the cases table, so no history is needed): one procedure, every state of the 12-state shape
equally often, and 100 cases ``abandoned``. Each query is timed with stechnique
(``Engine.cases``, ``Case`` values out) and with raw ``sqlite3`` running the same SQL and
decoding the same columns; SQLite's query plan is printed, to show which index serves it.

    python bench/bench_cases_query.py [--cases 100000] [--json]
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _harness import Report, median_seconds, parser
from _shape import STATES, procedure

from stechnique import Engine, Registry
from stechnique.storage import SQLStorage

RARE = 100


def build(path: Path, cases: int) -> None:
    """``cases`` case rows, states spread evenly, ``RARE`` of them abandoned."""
    storage = SQLStorage(f"sqlite:///{path}", synchronous="NORMAL")
    insert_case = storage._sql.insert_case.sql  # the storage's own SQL text
    storage.close()
    fingerprint = procedure().fingerprint
    start = datetime(2015, 1, 1)
    rows = []
    for number in range(cases):
        state = "abandoned" if number % (cases // RARE) == 7 else STATES[number % len(STATES)]
        at = (start + timedelta(minutes=number)).isoformat(" ", "microseconds")
        facts = json.dumps({"centre": f"Centre {number}"})
        rows.append((f"case-{number:07d}", "bench", "1", fingerprint, state, 3, facts, at, at,
                     "0" * 64))  # fmt: skip
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    connection.executemany(insert_case, rows)
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


def raw_query(path: Path, where: str, values: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The same query through ``sqlite3``, JSON and times decoded."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            f"SELECT * FROM stechnique_cases WHERE {where} ORDER BY created_at, id", values
        ).fetchall()
    finally:
        connection.close()
    return [
        (*row[:6], json.loads(row[6]), datetime.fromisoformat(row[7]).replace(tzinfo=UTC),
         datetime.fromisoformat(row[8]).replace(tzinfo=UTC), row[9])
        for row in rows
    ]  # fmt: skip


def plan(path: Path, where: str, values: tuple[Any, ...]) -> str:
    """SQLite's plan for the query, one line."""
    connection = sqlite3.connect(path)
    try:
        steps = connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM stechnique_cases WHERE "
            f"{where} ORDER BY created_at, id",
            values,
        ).fetchall()
    finally:
        connection.close()
    return "; ".join(step[-1] for step in steps)


def main() -> None:
    """Build the store, run each query both ways, report."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--cases", type=int, default=100_000)
    args = options.parse_args()
    report = Report("cases_query", f"6. Engine.cases on {args.cases:,} SQLite cases",
                    {"repeats": args.repeats})  # fmt: skip
    queries = [
        ("state='abandoned'", {"state": "abandoned"}, "state = ?", ("abandoned",)),
        ("name, version, state='abandoned'", {"name": "bench", "version": "1",
         "state": "abandoned"}, "name = ? AND version = ? AND state = ?", ("bench", "1",
         "abandoned")),
        ("state='s3'", {"state": "s3"}, "state = ?", ("s3",)),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cases.db"
        build(path, args.cases)
        storage = SQLStorage(f"sqlite:///{path}")
        engine = Engine(storage, Registry((procedure(),)))
        for label, filters, where, values in queries:
            found = len(engine.cases(**filters))
            if found != len(raw_query(path, where, values)):
                raise RuntimeError(f"{label}: stechnique and raw disagree")
            seconds = median_seconds(
                {
                    "raw": lambda w=where, v=values: raw_query(path, w, v),
                    "ours": lambda f=filters: engine.cases(**f),
                },
                args.repeats,
            )
            report.row(f"raw sqlite3, {label} ({found:,} cases)", seconds["raw"] * 1000, "ms")
            report.row(f"Engine.cases({label}) ({found:,} cases)", seconds["ours"] * 1000, "ms")
            report.note(f"{label}: stechnique / raw time {seconds['ours'] / seconds['raw']:.2f}x;"
                        f" plan: {plan(path, where, values)}")  # fmt: skip
        storage.close()
    report.emit(args.json)


if __name__ == "__main__":
    main()
