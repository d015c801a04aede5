"""Benchmark 6: ``Engine.cases(...)`` and ``cases(seen_by=...)`` on a SQLite store of 100,000 cases.

The case rows are bulk-inserted into tables created by ``SQLStorage`` (the queries read only
the cases and their readers, so no history is needed): one procedure, every state of the
12-state shape equally often, and 100 cases ``abandoned``. Each case has parties: a manager
(one of 1,000 centres), the coordinating role « caf », and for 1% of them the funder
« viewer ». Each query is timed with stechnique (``Engine.cases``, or ``SQLStorage.cases``
with ``seen_by``, ``Case`` values out) and with raw ``sqlite3`` running the same SQL and
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

from stechnique import Actor, Engine, Registry
from stechnique.records import Parties
from stechnique.storage import SQLStorage

RARE = 100
#: One case in ``SHARE`` has the viewer's body among its parties.
SHARE = 100
CENTRES = 1000
VIEWER = Actor("agent-1", {"funder"}, body="viewer")

#: What ``cases(seen_by=VIEWER)`` runs, written out for ``sqlite3``: the viewer's case ids from
#: the readers index, each case then read by primary key.
SEEN = (
    "SELECT stechnique_cases.* FROM (SELECT DISTINCT case_id FROM stechnique_case_readers "
    "WHERE reader IN (?, ?)) AS seen JOIN stechnique_cases ON stechnique_cases.id = seen.case_id "
    "ORDER BY stechnique_cases.created_at, stechnique_cases.id"
)
SEEN_VALUES = ("body:viewer", "role:funder")


def build(path: Path, cases: int) -> None:
    """``cases`` case rows, states spread evenly, ``RARE`` of them abandoned, each indexed
    under the readers of its parties."""
    storage = SQLStorage(f"sqlite:///{path}", synchronous="NORMAL")
    insert_case = storage._sql.insert_case.sql  # the storage's own SQL text
    insert_reader = storage._sql.insert_reader.sql
    storage.close()
    fingerprint = procedure().fingerprint
    start = datetime(2015, 1, 1)
    rows, readers = [], []
    for number in range(cases):
        case_id = f"case-{number:07d}"
        state = "abandoned" if number % (cases // RARE) == 7 else STATES[number % len(STATES)]
        at = (start + timedelta(minutes=number)).isoformat(" ", "microseconds")
        facts = json.dumps({"centre": f"Centre {number}"})
        bound = [("manager", "", f"centre-{number % CENTRES}")]
        if number % SHARE == 7:
            bound.append(("funder", "", VIEWER.acts_for))
        parties = Parties(frozenset(bound), {"caf"})
        rows.append((case_id, "bench", "1", fingerprint, state, 3, facts, at, at, "0" * 64,
                     json.dumps(parties.to_data(), separators=(",", ":"))))  # fmt: skip
        readers += [(case_id, reader) for reader in sorted(parties.readers())]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN")
    connection.executemany(insert_case, rows)
    connection.executemany(insert_reader, readers)
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


def _decoded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:6], json.loads(row[6]), datetime.fromisoformat(row[7]).replace(tzinfo=UTC),
            datetime.fromisoformat(row[8]).replace(tzinfo=UTC), row[9],
            None if row[10] is None else json.loads(row[10]))  # fmt: skip


def _sql(where: str) -> str:
    if where == "seen_by":
        return SEEN
    return f"SELECT * FROM stechnique_cases WHERE {where} ORDER BY created_at, id"


def raw_query(path: Path, where: str, values: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The same query through ``sqlite3``, JSON and times decoded."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(_sql(where), values).fetchall()
    finally:
        connection.close()
    return [_decoded(row) for row in rows]


def plan(path: Path, where: str, values: tuple[Any, ...]) -> str:
    """SQLite's plan for the query, one line."""
    connection = sqlite3.connect(path)
    try:
        steps = connection.execute("EXPLAIN QUERY PLAN " + _sql(where), values).fetchall()
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
        ("seen_by=viewer (1%)", {"seen_by": VIEWER}, "seen_by", SEEN_VALUES),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "cases.db"
        build(path, args.cases)
        storage = SQLStorage(f"sqlite:///{path}")
        engine = Engine(storage, Registry((procedure(),)))
        ours_plan = plan_of(storage, path)
        for label, filters, where, values in queries:
            # A listing names who reads: the viewer's listing is ``Engine.cases(viewer=)``; the
            # plain filters are the store's (an auditor's listing would log every call).
            if "seen_by" in filters:
                ours: Any = lambda **_: engine.cases(viewer=VIEWER)  # noqa: E731
            else:
                ours = storage.cases
            found = len(ours(**filters))
            if found != len(raw_query(path, where, values)):
                raise RuntimeError(f"{label}: stechnique and raw disagree")
            seconds = median_seconds(
                {
                    "raw": lambda w=where, v=values: raw_query(path, w, v),
                    "ours": lambda f=filters, call=ours: call(**f),
                },
                args.repeats,
            )
            name = "Engine.cases" if "seen_by" in filters else "SQLStorage.cases"
            report.row(f"raw sqlite3, {label} ({found:,} cases)", seconds["raw"] * 1000, "ms")
            report.row(f"{name}({label}) ({found:,} cases)", seconds["ours"] * 1000, "ms")
            report.note(f"{label}: stechnique / raw time {seconds['ours'] / seconds['raw']:.2f}x;"
                        f" plan: {plan(path, where, values)}")  # fmt: skip
        report.note(f"seen_by: plan of the query SQLStorage runs: {ours_plan}")
        storage.close()
    report.emit(args.json)


def plan_of(storage: SQLStorage, path: Path) -> str:
    """SQLite's plan for the very query ``SQLStorage.cases(seen_by=VIEWER)`` runs."""
    query = storage.cases_query(seen_by=VIEWER)
    text = str(query.compile(storage._backend.engine, compile_kwargs={"literal_binds": True}))
    connection = sqlite3.connect(path)
    try:
        steps = connection.execute("EXPLAIN QUERY PLAN " + text).fetchall()
    finally:
        connection.close()
    return "; ".join(step[-1] for step in steps)


if __name__ == "__main__":
    main()
