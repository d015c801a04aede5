"""Benchmark 3: ``Engine.fire`` on PostgreSQL against raw ``psycopg``, 1 and 4 processes.

All sides use tables created by ``SQLStorage`` (same schema and indexes, prefix ``stbench_``,
dropped at the end) and the very same SQL text the storage runs:

* raw 3 statements: the conditional ``UPDATE`` of the case row (rowcount checked), the
  ``INSERT`` of the record, ``COMMIT``: one connection, psycopg's default transactions and
  automatic prepared statements. This is the baseline the targets use.
* raw one statement: the same update and insert as one data-modifying ``WITH``, autocommit
  (one round trip), for context.
* stechnique: ``Engine.fire`` on ``SQLStorage``; it also reads the case first.

With ``--processes 4`` each process fires on its own cases, all starting together; the rate is
the total fires over the wall time of the slowest. Only fires are timed; medians of 5 (3 for
the multi-process runs).

    python bench/bench_postgres_fire.py [--cases 30] [--processes 1 4] [--json]
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from _harness import (
    POSTGRES_URL,
    Report,
    Run,
    drop_tables,
    interleaved,
    libpq_url,
    parser,
    postgres_available,
)
from _shape import STEPS, TickingClock, engine_fires, procedure
from sqlalchemy.dialects import postgresql

from stechnique import Engine, Registry
from stechnique.records import Parties
from stechnique.storage import SQLStorage
from stechnique.storage._sql_schema import RecordRow, schema_for
from stechnique.storage._sql_statements import parties_json

PREFIX = "stbench_"
_T0 = datetime(2020, 1, 1, tzinfo=UTC)


#: The parties of every bench case, as the engine writes them (the shape declares none).
PARTIES = parties_json(Parties(frozenset(), procedure().seen_by_roles))


def _statements() -> Any:
    storage = SQLStorage(POSTGRES_URL, table_prefix=PREFIX)
    statements = storage._sql
    storage.close()
    return statements


def _case_values(case_id: str, seq: int, state: str, source: str | None = None) -> dict[str, Any]:
    at = _T0 + timedelta(microseconds=seq)
    return {"c_id": case_id, "c_name": "bench", "c_version": "1", "c_fingerprint": "f" * 64,
            "c_state": state, "c_seq": seq, "c_facts": "{}", "c_created_at": _T0,
            "c_updated_at": at, "c_head": f"{seq:064d}", "c_parties": PARTIES,
            "b_prev": seq - 1, "b_source": source, "b_prev_hash": f"{seq - 1:064d}",
            "b_parties": PARTIES}  # fmt: skip


def _record_values(case_id: str, seq: int, event: str, source: str, target: str) -> dict[str, Any]:
    return {"r_case_id": case_id, "r_seq": seq, "r_event": event, "r_source": source,
            "r_target": target, "r_actor_id": "w", "r_actor_roles": '["worker"]',
            "r_actor_body": None,
            "r_at": _T0 + timedelta(microseconds=seq), "r_payload": "{}", "r_name": "bench",
            "r_version": "1", "r_fingerprint": "f" * 64, "r_idempotency_key": None,
            "r_prev_hash": f"{seq - 1:064d}", "r_hash": f"{seq:064d}", "r_format": 2,
            "r_salts": None}  # fmt: skip


def _raw_cases(connection: psycopg.Connection[Any], sql: Any, cases: int) -> list[str]:
    ids = [f"raw-{uuid.uuid4()}" for _ in range(cases)]
    with connection.cursor() as cursor:
        for case_id in ids:
            cursor.execute(sql.insert_case.sql, _case_values(case_id, 1, "s0"))
    connection.commit()
    return ids


def raw_three_statements(cases: int, feed: bool = True) -> Run:
    """UPDATE; INSERT; COMMIT per fire on one connection; with ``feed`` (the baseline) the
    record's position is counted as the storage does (``UPDATE`` of the positions row, read
    by the ``INSERT``), without it the record has none, as before the change feed."""
    sql = _statements()
    tick = sql.tick.sql if feed else None
    insert = sql.insert_record.sql if feed else _plain_insert()
    connection = psycopg.connect(libpq_url(POSTGRES_URL))

    def run() -> tuple[int, float]:
        ids = _raw_cases(connection, sql, cases)
        began = time.perf_counter()
        with connection.cursor() as cursor:
            for case_id in ids:
                for seq, (event, source, target) in enumerate(STEPS, start=2):
                    cursor.execute(sql.update_same_parties.sql,
                                   _case_values(case_id, seq, target, source))  # fmt: skip
                    if cursor.rowcount != 1:
                        raise RuntimeError("the conditional update matched no row")
                    if tick is not None:
                        cursor.execute(tick)
                    cursor.execute(insert, _record_values(case_id, seq, event, source, target))
                    connection.commit()
        return cases * len(STEPS), time.perf_counter() - began

    return run


def _plain_insert() -> str:
    records = schema_for(PREFIX).records
    statement = records.insert().values({n: sa.bindparam(f"r_{n}") for n in RecordRow._fields})
    return str(statement.compile(dialect=postgresql.psycopg.dialect()))


def raw_one_statement(cases: int) -> Run:
    """The update and the insert as one statement (autocommit): one round trip per fire."""
    sql = _statements()
    connection = psycopg.connect(libpq_url(POSTGRES_URL))

    def run() -> tuple[int, float]:
        ids = _raw_cases(connection, sql, cases)
        connection.autocommit = True
        began = time.perf_counter()
        with connection.cursor() as cursor:
            for case_id in ids:
                for seq, (event, source, target) in enumerate(STEPS, start=2):
                    values = {**_case_values(case_id, seq, target, source),
                              **_record_values(case_id, seq, event, source, target)}  # fmt: skip
                    cursor.execute(sql.append.sql, values)
                    if cursor.fetchone() is None:
                        raise RuntimeError("the conditional update matched no row")
        seconds = time.perf_counter() - began
        connection.autocommit = False
        return cases * len(STEPS), seconds

    return run


def stechnique_postgres(cases: int) -> Run:
    """``Engine.fire`` on ``SQLStorage``."""
    engine = Engine(SQLStorage(POSTGRES_URL, table_prefix=PREFIX), Registry((procedure(),)),
                    TickingClock())  # fmt: skip
    return engine_fires(engine, cases)


_SIDES = {
    "raw": raw_three_statements,
    "no feed": lambda cases: raw_three_statements(cases, feed=False),
    "ours": stechnique_postgres,
}


def _worker(side: str, cases: int, barrier: Any, results: Any) -> None:
    run = _SIDES[side](cases)
    run()  # warm up: connections, prepared statements, compiled machine
    # Each process times its own fires; the parent takes the span from first start to last end.
    barrier.wait()
    began = time.time()
    count, seconds = run()
    results.put((count, began, began + seconds))


def in_processes(side: str, processes: int, cases: int) -> Run:
    """``processes`` processes firing on distinct cases at the same time."""
    context = multiprocessing.get_context("spawn")

    def run() -> tuple[int, float]:
        barrier, results = context.Barrier(processes), context.Queue()
        workers = [context.Process(target=_worker, args=(side, cases, barrier, results))
                   for _ in range(processes)]  # fmt: skip
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=600) for _ in workers]
        for worker in workers:
            worker.join()
        count = sum(outcome[0] for outcome in outcomes)
        span = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)
        return count, span

    return run


def main() -> None:
    """Run every side and report."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--cases", type=int, default=30, help="cases per run (11 fires each)")
    options.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    args = options.parse_args()
    report = Report("postgres_fire", "3. fire on PostgreSQL vs raw psycopg",
                    {"cases per run and process": args.cases, "repeats": args.repeats})  # fmt: skip
    problem = postgres_available()
    if problem is not None:
        report.note(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
        report.emit(args.json)
        return
    drop_tables(PREFIX)
    try:
        _measure(report, args.cases, args.processes, args.repeats)
    finally:
        drop_tables(PREFIX)
    report.emit(args.json)


def _measure(report: Report, cases: int, processes: list[int], repeats: int) -> None:
    for count in processes:
        if count == 1:
            sides = {"raw": raw_three_statements(cases), "cte": raw_one_statement(cases),
                     "no feed": raw_three_statements(cases, feed=False),
                     "ours": stechnique_postgres(cases)}  # fmt: skip
            rates = interleaved(sides, repeats)
            report.row("raw psycopg, UPDATE; count; INSERT; COMMIT, 1 process", rates["raw"],
                       "fires/s")  # fmt: skip
            report.row("raw psycopg, one WITH statement, 1 process", rates["cte"], "fires/s")
        else:
            rates = interleaved({side: in_processes(side, count, cases) for side in _SIDES},
                                max(1, min(repeats, 3)))  # fmt: skip
            report.row(f"raw psycopg, UPDATE; count; INSERT; COMMIT, {count} processes",
                       rates["raw"], "fires/s")  # fmt: skip
        report.row(f"raw psycopg, UPDATE; INSERT; COMMIT (no feed), {count} process(es)",
                   rates["no feed"], "fires/s")  # fmt: skip
        report.note(f"{count} process(es): counting positions costs raw psycopg "
                    f"{1 - rates['raw'] / rates['no feed']:.0%} of its fires/s")  # fmt: skip
        report.row(f"stechnique fire, PostgreSQL, {count} process(es)", rates["ours"], "fires/s")
        report.target(f"PostgreSQL fire / raw 3 statements, {count} process(es)",
                      rates["ours"] / rates["raw"], 1.0)  # fmt: skip


if __name__ == "__main__":
    main()
