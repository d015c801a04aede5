"""Transitions per second of ``Engine.fire`` on SQL storage, against the raw driver doing the
same writes, measured in one process, one run.

For each backend (SQLite always; PostgreSQL when it answers) and each of ``--runs`` rounds:

* **stechnique**: ``Engine.fire`` of a self-loop event (``note`` of the ``permit`` procedure in
  ``stechnique.testing``) on one case of a ``SQLStorage``: load the case, check the event, the
  roles and the payload, hash the record, then the conditional update and the insert.
* **raw**: the driver alone doing what a fire writes, on identical tables (created by the same
  migrations): SQLite ``BEGIN IMMEDIATE; UPDATE ... WHERE id = ? AND seq = ?; INSERT; COMMIT``
  with the same ``synchronous`` setting; psycopg ``UPDATE; INSERT; COMMIT``.

Rounds alternate stechnique and raw so machine load hits both alike. The medians of the rounds
are printed with their ratio (stechnique / raw; above 1 means stechnique is faster).

    python bench/bench_sql_fire.py [--fires 500] [--runs 5] [--synchronous FULL|NORMAL]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stechnique import Actor, Engine, Registry
from stechnique.storage import SQLStorage
from stechnique.testing.contract import PERMIT

POSTGRES = os.environ.get(
    "STECHNIQUE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
APPLICANT = Actor("applicant-1", {"applicant"})
HASH = "a" * 64


def stechnique_fires(url: str, prefix: str, fires: int, **options: Any) -> float:
    """Fires per second of ``Engine.fire`` on a fresh case."""
    storage = SQLStorage(url, table_prefix=prefix, **options)
    engine = Engine(storage, registry=Registry((PERMIT,)))
    case = engine.start("permit", actor=APPLICANT, facts={"title": "bench"})
    engine.fire(case.id, "submit", actor=APPLICANT)
    for n in range(20):
        engine.fire(case.id, "note", actor=APPLICANT, payload={"text": f"warm {n}"})
    started = time.perf_counter()
    for n in range(fires):
        engine.fire(case.id, "note", actor=APPLICANT, payload={"text": f"note {n}"})
    elapsed = time.perf_counter() - started
    storage.close()
    return fires / elapsed


def _rows(prefix: str, placeholder: str) -> tuple[str, str]:
    p = placeholder
    update = (
        f"UPDATE {prefix}cases SET name = {p}, version = {p}, fingerprint = {p}, state = {p}, "
        f"seq = {p}, facts = {p}, created_at = {p}, updated_at = {p}, head = {p} "
        f"WHERE id = {p} AND seq = {p}"
    )
    insert = f"INSERT INTO {prefix}records VALUES ({', '.join([p] * 15)})"
    return update, insert


def _params(case_id: str, seq: int, now: Any, note: str) -> tuple[tuple[Any, ...], ...]:
    facts = json.dumps({"title": "bench"}, ensure_ascii=False, separators=(",", ":"))
    payload = json.dumps({"text": note}, ensure_ascii=False, separators=(",", ":"))
    update = ("permit", "1", HASH, "submitted", seq, facts, now, now, HASH, case_id, seq - 1)
    insert = (case_id, seq, "note", "submitted", "submitted", APPLICANT.id, '["applicant"]',
              now, payload, "permit", "1", HASH, None, HASH, HASH)  # fmt: skip
    return update, insert


def _seed(url: str, prefix: str) -> str:
    """Create the tables through the migrations, and one case at seq 1."""
    storage = SQLStorage(url, table_prefix=prefix)
    engine = Engine(storage, registry=Registry((PERMIT,)))
    case_id = engine.start("permit", actor=APPLICANT, facts={"title": "bench"}).id
    storage.close()
    return case_id


def raw_sqlite_fires(url: str, prefix: str, fires: int, synchronous: str) -> float:
    """Fires per second of raw ``sqlite3``: conditional update and insert per commit."""
    case_id = _seed(url, prefix)
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    update, insert = _rows(prefix, "?")

    def fire(seq: int) -> None:
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        set_case, record = _params(case_id, seq, now, f"note {seq}")
        connection.execute("BEGIN IMMEDIATE")
        if connection.execute(update, set_case).rowcount != 1:
            raise RuntimeError("lost race")
        connection.execute(insert, record)
        connection.execute("COMMIT")

    rate = _timed(fire, fires)
    connection.close()
    return rate


def raw_psycopg_fires(url: str, prefix: str, fires: int) -> float:
    """Fires per second of raw ``psycopg``: UPDATE; INSERT; COMMIT."""
    import psycopg
    from sqlalchemy import make_url

    case_id = _seed(url, prefix)
    parsed = make_url(url)
    connection = psycopg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, dbname=parsed.database,
    )  # fmt: skip
    update, insert = _rows(prefix, "%s")
    cursor = connection.cursor()

    def fire(seq: int) -> None:
        set_case, record = _params(case_id, seq, datetime.now(UTC), f"note {seq}")
        cursor.execute(update, set_case)
        if cursor.rowcount != 1:
            raise RuntimeError("lost race")
        cursor.execute(insert, record)
        connection.commit()

    rate = _timed(fire, fires)
    connection.close()
    return rate


def _timed(fire: Callable[[int], None], fires: int) -> float:
    for seq in range(2, 22):
        fire(seq)
    started = time.perf_counter()
    for seq in range(22, 22 + fires):
        fire(seq)
    return fires / (time.perf_counter() - started)


def _drop(url: str, prefixes: list[str]) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        for prefix in prefixes:
            for table in ("records", "cases", "alembic_version"):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {prefix}{table}")
    engine.dispose()


def _report(name: str, ours: list[float], raw: list[float], raw_name: str) -> None:
    mine, theirs = statistics.median(ours), statistics.median(raw)
    print(f"{name:<28} stechnique {mine:8.0f} fires/s   {raw_name} {theirs:8.0f} fires/s   "
          f"ratio {mine / theirs:5.2f}")  # fmt: skip
    print(f"{'':<28} rounds: stechnique {[round(x) for x in ours]}, raw {[round(x) for x in raw]}")


def bench_sqlite(fires: int, runs: int, synchronous: str) -> None:
    """stechnique against raw sqlite3, alternating, ``runs`` rounds."""
    ours, raw = [], []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            ours.append(stechnique_fires(f"sqlite:///{Path(folder) / f's{run}.db'}", "bench_",
                                         fires, synchronous=synchronous))  # fmt: skip
            raw.append(raw_sqlite_fires(f"sqlite:///{Path(folder) / f'r{run}.db'}", "bench_",
                                        fires, synchronous))  # fmt: skip
    _report(f"SQLite (synchronous={synchronous})", ours, raw, "raw sqlite3")


def bench_postgres(fires: int, runs: int) -> None:
    """stechnique against raw psycopg, alternating, ``runs`` rounds (skipped if unreachable)."""
    try:
        import psycopg  # noqa: F401

        SQLStorage(POSTGRES, table_prefix="bench_probe_").close()
    except Exception as exc:
        print(f"PostgreSQL: skipped ({str(exc).splitlines()[0]})")
        return
    prefixes = ["bench_probe_"]
    ours, raw = [], []
    try:
        for _ in range(runs):
            mine, theirs = f"b{uuid.uuid4().hex[:8]}_", f"r{uuid.uuid4().hex[:8]}_"
            prefixes += [mine, theirs]
            ours.append(stechnique_fires(POSTGRES, mine, fires))
            raw.append(raw_psycopg_fires(POSTGRES, theirs, fires))
    finally:
        _drop(POSTGRES, prefixes)
    _report("PostgreSQL", ours, raw, "raw psycopg")


def main() -> None:
    """Parse the options and run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fires", type=int, default=500, help="timed fires per round")
    parser.add_argument("--runs", type=int, default=5, help="rounds (medians are reported)")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    options = parser.parse_args()
    print(f"{options.fires} fires per round, median of {options.runs} rounds")
    bench_sqlite(options.fires, options.runs, options.synchronous)
    bench_postgres(options.fires, options.runs)


if __name__ == "__main__":
    main()
