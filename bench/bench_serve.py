"""Benchmark 7: fires per second through ``stechnique serve`` against a minimal FastAPI endpoint.

Both sides are uvicorn processes on 127.0.0.1 with the same settings (one worker, a plain
``def`` endpoint run in FastAPI's thread pool, SQLAlchemy's default pool) over the same
PostgreSQL, and the same load client (``httpx``, one client per thread, keep-alive):

* baseline: ``POST /raw/{case_id}/{seq}`` runs the storage's own SQL for a fire, the
  conditional ``UPDATE`` of the case row (rowcount checked) and the ``INSERT`` of the record,
  then ``COMMIT``: no token, no history, no hash, no judge;
* stechnique: ``POST /cases/{id}/events/{event}`` with a bearer token: the account looked up by
  its digest, the case's version read, the engine's fire (the judge, the sealed record, the
  one-statement append).

Each client fires the eleven steps of its own cases (``_shape.py``), cases started untimed;
1 and 16 concurrent clients; the rate is fires over the wall time of the burst, with the
median (p50) and p99 latency of one fire. While the 16 clients fire, a probe thread asks the
service's ``/openapi.json`` (an ``async`` route, answered on the event loop): its p99 shows
whether the loop is kept free while the database works (against its p99 when idle).
Bounded: ``--cases`` per client, ``--repeats`` runs per side (interleaved), each burst limited
to ``--seconds``.

    python bench/bench_serve.py [--cases 3] [--clients 1 16] [--repeats 3] [--json]
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _harness import POSTGRES_URL, Report, drop_tables, parser, postgres_available
from _shape import STEPS

from stechnique.server.accounts import AccountStore, Grant
from stechnique.storage import SQLStorage

PREFIX = "stserve_"
BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"

# The two servers, each run by ``python -c`` with ``bench/`` and ``src/`` importable.
_OURS = """
import sys, uvicorn
from stechnique import Registry
from stechnique.server.app import create_app
from _shape import procedure
app = create_app(sys.argv[1], table_prefix=sys.argv[2], registry=Registry((procedure(),)))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""
_RAW = """
import sys, uvicorn
from fastapi import FastAPI, HTTPException
import sqlalchemy as sa
from stechnique.storage import SQLStorage
from bench_postgres_fire import _case_values, _record_values
from _shape import STEPS
storage = SQLStorage(sys.argv[1], table_prefix=sys.argv[2])
sql = storage._sql
storage.close()
engine = sa.create_engine(sys.argv[1])
app = FastAPI()

@app.post("/raw/{case_id}/{seq}")
def fire(case_id: str, seq: int) -> dict:
    event, source, target = STEPS[seq - 2]
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql.update_same_parties.sql, _case_values(case_id, seq, target, source))
        if cursor.rowcount != 1:
            raise HTTPException(409, "the conditional update matched no row")
        # The record's feed position, counted as the storage counts it (docs/decisions.md).
        cursor.execute(sql.tick.sql)
        cursor.execute(sql.insert_record.sql, _record_values(case_id, seq, event, source, target))
        connection.commit()
    finally:
        connection.close()
    return {"id": case_id, "seq": seq}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _server(code: str) -> Iterator[str]:
    port = _free_port()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(BENCH)])}
    process = subprocess.Popen(
        [sys.executable, "-c", code, POSTGRES_URL, PREFIX, str(port)],
        env=environment, cwd=BENCH, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                httpx.get(base + "/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _token() -> str:
    store = AccountStore(POSTGRES_URL, table_prefix=PREFIX)
    try:
        name = f"bench-{time.time_ns()}"
        _, token = store.add(name, body=name, grants=[Grant("bench", "1", {"worker"})],
                             now=datetime.now(UTC))  # fmt: skip
        return token
    finally:
        store.close()


class _Burst:
    """One burst: ``clients`` threads firing their cases' steps, the latency of each fire."""

    def __init__(self, clients: int, seconds: float) -> None:
        self.clients, self.seconds = clients, seconds
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def run(self, prepare: Callable[[httpx.Client], list[Callable[[], None]]], base: str,
            headers: dict[str, str]) -> tuple[int, float]:  # fmt: skip
        """Fire every prepared call of every client; return (fires, wall seconds)."""
        sessions = [httpx.Client(base_url=base, headers=headers, timeout=30)
                    for _ in range(self.clients)]  # fmt: skip
        plans = [prepare(session) for session in sessions]
        barrier = threading.Barrier(self.clients + 1)
        deadline: list[float] = []

        def client(plan: list[Callable[[], None]]) -> None:
            barrier.wait()
            mine = []
            for call in plan:
                if time.perf_counter() > deadline[0]:
                    break
                began = time.perf_counter()
                call()
                mine.append(time.perf_counter() - began)
            with self._lock:
                self.latencies += mine

        threads = [threading.Thread(target=client, args=(plan,)) for plan in plans]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        deadline.append(began + self.seconds)
        barrier.wait()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        for session in sessions:
            session.close()
        return len(self.latencies), wall


def _ours(cases: int, token: str) -> Callable[[httpx.Client], list[Callable[[], None]]]:
    def prepare(session: httpx.Client) -> list[Callable[[], None]]:
        calls: list[Callable[[], None]] = []
        for _ in range(cases):
            started = session.post("/cases", json={"procedure": "bench", "version": "1",
                                                   "facts": {}})  # fmt: skip
            started.raise_for_status()
            path = f"/cases/{started.json()['id']}/events/"
            calls += [_post(session, path + event) for event, _, _ in STEPS]
        return calls

    return prepare


def _raw(cases: int) -> Callable[[httpx.Client], list[Callable[[], None]]]:
    import psycopg
    from _harness import libpq_url
    from bench_postgres_fire import _raw_cases

    storage = SQLStorage(POSTGRES_URL, table_prefix=PREFIX)
    statements = storage._sql  # the storage's own SQL, on this bench's tables
    storage.close()

    def prepare(session: httpx.Client) -> list[Callable[[], None]]:
        with psycopg.connect(libpq_url(POSTGRES_URL)) as connection:
            ids = _raw_cases(connection, statements, cases)
        return [_post(session, f"/raw/{case_id}/{seq}") for case_id in ids
                for seq in range(2, len(STEPS) + 2)]  # fmt: skip

    return prepare


def _post(session: httpx.Client, path: str) -> Callable[[], None]:
    def call() -> None:
        session.post(path).raise_for_status()

    return call


def _probe(base: str, stop: threading.Event, seen: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=30) as session:
        while not stop.is_set():
            began = time.perf_counter()
            session.get("/openapi.json").raise_for_status()
            seen.append(time.perf_counter() - began)
            time.sleep(0.01)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    """Run both sides at each client count and report."""
    options = parser(__doc__.split("\n\n")[0])
    options.set_defaults(repeats=3)
    options.add_argument("--cases", type=int, default=3, help="cases per client (11 fires each)")
    options.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    options.add_argument("--seconds", type=float, default=5.0, help="longest burst")
    args = options.parse_args()
    report = Report("serve", "7. fire through stechnique serve vs a minimal FastAPI endpoint",
                    {"cases per client": args.cases, "repeats": args.repeats})  # fmt: skip
    problem = postgres_available()
    if problem is not None:
        report.note(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
        report.emit(args.json)
        return
    drop_tables(PREFIX)
    SQLStorage(POSTGRES_URL, table_prefix=PREFIX).close()
    try:
        with _server(_OURS) as ours, _server(_RAW) as raw:
            token = _token()
            for clients in args.clients:
                _measure(report, clients, args, ours, raw, token)
    finally:
        drop_tables(PREFIX)
    report.emit(args.json)


def _measure(report: Report, clients: int, args: Any, ours: str, raw: str, token: str) -> None:
    rates: dict[str, list[float]] = {"raw": [], "ours": []}
    latencies: dict[str, list[float]] = {"raw": [], "ours": []}
    probed: list[float] = []
    for _ in range(args.repeats):
        for side in ("raw", "ours"):
            burst = _Burst(clients, args.seconds)
            stop = threading.Event()
            probe = threading.Thread(target=_probe, args=(ours, stop, probed))
            if side == "ours" and clients > 1:
                probe.start()
            if side == "raw":
                count, wall = burst.run(_raw(args.cases), raw, {})
            else:
                count, wall = burst.run(_ours(args.cases, token), ours,
                                        {"Authorization": f"Bearer {token}"})  # fmt: skip
            stop.set()
            if probe.is_alive():
                probe.join()
            rates[side].append(count / wall)
            latencies[side] += burst.latencies
    for side, label in (
        ("raw", "minimal FastAPI endpoint, same SQL"),
        ("ours", "stechnique serve"),
    ):
        report.row(f"{label}, {clients} client(s)", statistics.median(rates[side]), "fires/s")
        report.row(
            f"{label}, {clients} client(s), p50", 1000 * _percentile(latencies[side], 0.5), "ms"
        )
        report.row(
            f"{label}, {clients} client(s), p99", 1000 * _percentile(latencies[side], 0.99), "ms"
        )
    ratio = statistics.median(rates["ours"]) / statistics.median(rates["raw"])
    report.target(f"serve / minimal endpoint, {clients} client(s)", ratio, 0.8)
    if probed:
        report.row(f"/openapi.json (event loop) during {clients} clients, p99",
                   1000 * _percentile(probed, 0.99), "ms")  # fmt: skip
        idle: list[float] = []
        stop = threading.Event()
        probe = threading.Thread(target=_probe, args=(ours, stop, idle))
        probe.start()
        time.sleep(1.0)
        stop.set()
        probe.join()
        report.row("/openapi.json (event loop) idle, p99", 1000 * _percentile(idle, 0.99), "ms")


if __name__ == "__main__":
    main()
