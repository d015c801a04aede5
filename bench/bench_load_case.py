"""Benchmark 4: reading one case of 1,000 records, and verifying it, against the raw driver.

The case is written by the engine (start, five steps, 988 ``note`` self-loops with a text
payload, the six remaining steps: 1,000 records). Then, on SQLite and on PostgreSQL:

* **load**: ``Engine.history(case_id)`` (the case, then its records as ``Record`` values)
  against the raw driver selecting the case's records by seq and decoding their JSON columns.
* **load and verify**: ``Engine.audit(case_id)`` (chain, hashes, steps against the transition
  table, roles, payloads, the guard, the case row) against raw code that loads the same rows and
  checks them by table lookup: seq contiguity, ``prev_hash`` chain, each record's SHA-256 over
  its canonical JSON, ``(state, event) -> (target, roles)`` from the transition table, the case
  row's state, seq and head. A raw replay that skips the hashes is shown too, for context; the
  target compares runs that do the same checks. A raw replay that fires every event through a
  shared ``transitions`` machine instead of looking steps up shows what the table saves.

Medians of ``--repeats`` calls, taken in turns.

    python bench/bench_load_case.py [--records 1000] [--backends sqlite postgresql] [--json]
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
from _harness import (
    POSTGRES_URL,
    Report,
    drop_tables,
    libpq_url,
    median_seconds,
    parser,
    postgres_available,
)
from _shape import STEPS, TickingClock, procedure
from transitions import Machine

from stechnique import ANY_ACTIVE, Actor, Engine, Registry
from stechnique.storage import SQLStorage

PREFIX = "stload_"
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


#: Who writes and reads the case: the shape's one role.
WORKER = Actor("w", {"worker"})


def build(storage: SQLStorage, records: int) -> tuple[Engine, str]:
    """A case of ``records`` records written by the engine."""
    worker = WORKER
    engine = Engine(storage, Registry((procedure(),)), TickingClock())
    case_id = engine.start("bench", actor=worker, facts={}).id
    for event, _, _ in STEPS[:5]:
        engine.fire(case_id, event, actor=worker)
    for number in range(records - 1 - len(STEPS)):
        engine.fire(case_id, "note", actor=worker, payload={"text": f"Relance n°{number}"})
    for event, _, _ in STEPS[5:]:
        engine.fire(case_id, event, actor=worker)
    return engine, case_id


def transition_table() -> dict[tuple[str, str], tuple[str, frozenset[str]]]:
    """``(state, event) -> (target, roles)``, as raw code would write it from the definition."""
    table: dict[tuple[str, str], tuple[str, frozenset[str]]] = {}
    definition = procedure()
    active = [state.id for state in definition.states if not state.terminal]
    for transition in definition.transitions:
        sources = active if transition.sources == (ANY_ACTIVE,) else transition.sources
        for source in sources:
            table[(source, transition.event)] = (transition.target, frozenset(transition.roles))
    return table


class _Model:
    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class RawCase:
    """Raw driver code reading and checking one case (SQLite ``sqlite3`` or ``psycopg``)."""

    def __init__(self, kind: str, connect: Callable[[], Any], prefix: str) -> None:
        self.kind, self.connect = kind, connect
        mark = "?" if kind == "sqlite" else "%s"
        # By name: the bench's records carry no actor body, and no confidential value (their
        # format-2 hash commits no digest).
        columns = ("case_id, seq, event, source, target, actor_id, actor_roles, at, payload, "
                   "name, version, fingerprint, idempotency_key, prev_hash, hash, "
                   "format")  # fmt: skip
        self.select_records = (
            f"SELECT {columns} FROM {prefix}records WHERE case_id = {mark} ORDER BY seq"
        )
        self.select_case = f"SELECT state, seq, head FROM {prefix}cases WHERE id = {mark}"
        self.table = transition_table()
        self.machine = Machine(model=None, states=list({t for t, _ in self.table.values()}
                               | {s for s, _ in self.table}), initial="s0", auto_transitions=False,
                               transitions=[{"trigger": e, "source": s, "dest": t[0]}
                                            for (s, e), t in self.table.items()])  # fmt: skip

    def _rows(self, case_id: str) -> tuple[list[Any], Any]:
        connection = self.connect()
        try:
            rows = connection.execute(self.select_records, (case_id,)).fetchall()
            case = connection.execute(self.select_case, (case_id,)).fetchone()
        finally:
            connection.close()
        return rows, case

    def _decoded(self, row: Any) -> tuple[Any, ...]:
        if self.kind == "sqlite":
            # The stored text is naive UTC; the canonical form is ISO 8601 with the offset.
            at = row[7].replace(" ", "T") + "+00:00"
            return (*row[:6], json.loads(row[6]), at, json.loads(row[8]), *row[9:])
        return (*row[:7], row[7].astimezone(UTC).isoformat(timespec="microseconds"), *row[8:])

    def load(self, case_id: str) -> list[tuple[Any, ...]]:
        """The case's records, JSON decoded."""
        rows, _ = self._rows(case_id)
        return [self._decoded(row) for row in rows]

    def replay_by_triggers(self, case_id: str) -> str:
        """Load the case and replay it by firing each event through a shared ``transitions``
        machine (what checking steps without a transition table costs); the final state."""
        rows, _ = self._rows(case_id)
        model = _Model(rows[0][4])
        for row in rows[1:]:
            self.machine.events[row[2]].trigger(model)
        return model.state

    def verify(self, case_id: str, hashes: bool = True) -> list[str]:
        """Load and check the case by table lookup; return the problems found."""
        rows, case = self._rows(case_id)
        problems: list[str] = []
        state, head, seq = None, "0" * 64, 0
        for row in rows:
            (_, number, event, source, target, actor_id, roles, at, payload, name, version,
             fingerprint, key, prev_hash, digest, kind) = self._decoded(row)  # fmt: skip
            seq += 1
            if number != seq or prev_hash != head or source != state:
                problems.append(f"link {number}")
            if hashes:
                body = {"case_id": case_id, "seq": number, "event": event, "source": source,
                        "target": target, "actor": {"id": actor_id, "roles": sorted(roles)},
                        "at": at, "payload": payload, "name": name, "version": version,
                        "fingerprint": fingerprint, "idempotency_key": key,
                        "prev_hash": prev_hash}  # fmt: skip
                if kind != 1:
                    body["format"], body["digests"] = kind, {}
                if hashlib.sha256(_ENCODE(body).encode()).hexdigest() != digest:
                    problems.append(f"hash {number}")
            if number > 1:
                step = self.table.get((state, event))
                if step is None or step[0] != target or step[1].isdisjoint(roles):
                    problems.append(f"step {number}")
            state, head = target, digest
        if case is None or tuple(case) != (state, seq, head):
            problems.append("case row")
        return problems


def _measure(report: Report, kind: str, url: str, records: int, repeats: int) -> None:
    storage = SQLStorage(url, table_prefix=PREFIX)
    try:
        engine, case_id = build(storage, records)
        if kind == "sqlite":
            path = url.removeprefix("sqlite:///")
            raw = RawCase(kind, lambda: sqlite3.connect(path), PREFIX)
        else:
            raw = RawCase(kind, lambda: psycopg.connect(libpq_url(url)), PREFIX)
        if engine.audit(case_id).records_checked != records or raw.verify(case_id):
            raise RuntimeError("the built case does not verify")
        # Raw and stechnique both open a fresh connection per call on SQLite (sqlite3 connects
        # in microseconds) but not on PostgreSQL, where SQLStorage keeps a pool: give the raw
        # side one held connection there, so the comparison is not about connecting.
        if kind == "postgresql":
            held = psycopg.connect(libpq_url(url))
            raw.connect = lambda: _Unclosed(held)
        seconds = median_seconds(
            {
                "raw load": lambda: raw.load(case_id),
                "ours load": lambda: engine.history(case_id, WORKER),
                "raw verify, no hashes": lambda: raw.verify(case_id, hashes=False),
                "raw triggers": lambda: raw.replay_by_triggers(case_id),
                "raw verify": lambda: raw.verify(case_id),
                "ours verify": lambda: engine.audit(case_id),
            },
            repeats,
        )
    finally:
        storage.close()
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    for what, label in (
        ("raw load", f"{name}: raw driver load of {records:,} records"),
        ("ours load", f"{name}: Engine.history, checked, {records:,} records"),
        ("raw verify, no hashes", f"{name}: raw load + table-lookup replay, no hashes"),
        ("raw triggers", f"{name}: raw load + replay through transitions triggers"),
        ("raw verify", f"{name}: raw load + table-lookup replay + hash chain"),
        ("ours verify", f"{name}: Engine.audit(case_id) (load and verify)"),
    ):
        report.row(label, seconds[what] * 1000, "ms")
    report.target(f"{name} load and verify / raw (same checks), time", seconds["ours verify"]
                  / seconds["raw verify"], 1.3, higher_is_better=False)  # fmt: skip
    report.target(f"{name} load and verify / raw without hashes, time", seconds["ours verify"]
                  / seconds["raw verify, no hashes"], 1.3, higher_is_better=False)  # fmt: skip


class _Unclosed:
    """A held psycopg connection that ``close`` leaves open."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, sql: str, values: tuple[Any, ...]) -> Any:
        return self.connection.execute(sql, values)

    def close(self) -> None:
        self.connection.commit()


def main() -> None:
    """Build the case on each backend, measure, report."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--records", type=int, default=1000)
    options.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = options.parse_args()
    report = Report("load_case", f"4. load and verify one case of {args.records:,} records",
                    {"repeats": args.repeats})  # fmt: skip
    if "sqlite" in args.backends:
        with tempfile.TemporaryDirectory() as scratch:
            url = f"sqlite:///{Path(scratch) / 'load.db'}"
            _measure(report, "sqlite", url, args.records, args.repeats)
    if "postgresql" in args.backends:
        problem = postgres_available()
        if problem is not None:
            report.note(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
        else:
            drop_tables(PREFIX)
            try:
                _measure(report, "postgresql", POSTGRES_URL, args.records, args.repeats)
            finally:
                drop_tables(PREFIX)
    report.emit(args.json)


if __name__ == "__main__":
    main()
