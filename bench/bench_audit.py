"""Benchmark: audit throughput (records/s) and peak memory on SQLite, for growing stores.

The store holds copies of one real history: an MSTR 2015-2017 case from request to closure
(15 records: referral, two funder decisions, validation, confidentiality, diagnosis, report,
revision, restitution, partner meeting, accompaniment, closure), written once by the engine and
then re-keyed and re-sealed for every case, so every record is valid and every guard is
re-judged. The store is built with bulk inserts into the storage's own tables (1M engine fires
would take longer than the audit under test); the schema is created by ``SQLStorage`` itself.

Each store is audited ``--repeats`` times (default 3) in a fresh subprocess, which reports the
median wall and CPU time of its audits (the CPU figure is the one to compare on a busy machine)
and its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) before and after
them: flat memory means the same peak whatever the size of the store.

    python bench/bench_audit.py                     # 10k records
    python bench/bench_audit.py 10000 1000000       # 10k and 1M records (a few minutes)
    python bench/bench_audit.py --dir /tmp/stores 1000000   # keep (and reuse) the stores
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa

from stechnique import Actor, Engine, Record
from stechnique._histories import case_from_history
from stechnique.audit import audit
from stechnique.records import GENESIS_HASH, canonical_json, seal
from stechnique.storage import MemoryStorage, SQLStorage

MSTR = "soutien-technique-renforce"
_BATCH = 20_000


def template() -> list[Record]:
    """One full MSTR history written by the engine."""
    admin = Actor("asso-belle-de-mai", {"administrator"})
    caf, provider = Actor("caf-13", {"caf_coordinator"}), Actor("cabinet", {"provider"})
    clock = iter(datetime(2016, 3, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(100))
    engine = Engine(MemoryStorage(), clock=lambda: next(clock))
    facts = {"centre": "Centre social Belle de Mai", "management": "association",
             "situation": "crisis", "domains": ["governance"]}  # fmt: skip
    engine.start(MSTR, version="2015-2017", actor=admin, facts=facts, case_id="t")
    steps: list[tuple[str, Actor, dict[str, Any] | None]] = [
        ("refer", caf, {"funders": ["etat", "caf-13-fin"]}),
        ("record_funder_decision", Actor("etat", {"funder"}), {"decision": "approve"}),
        ("record_funder_decision", Actor("caf-13-fin", {"funder"}), {"decision": "approve"}),
        ("validate", caf, None),
        ("acknowledge_confidentiality", provider, None),
        ("start_diagnosis", provider, None),
        ("submit_report", provider, {"report": "Gouvernance fragilisée " * 20}),
        ("request_revision", admin, {"reason": "Préciser la trésorerie"}),
        ("submit_report", provider, {"report": "Rapport révisé " * 20}),
        ("validate_report", admin, None),
        ("hold_restitution", provider, None),
        ("hold_partner_meeting", caf, None),
        ("start_accompaniment", provider, None),
        ("close", caf, {"summary": "Mission menée à son terme"}),
    ]
    for event, actor, payload in steps:
        engine.fire("t", event, actor=actor, payload=payload)
    return list(engine.storage.records("t"))


class _Sealer:
    """Hashes of a template record re-keyed to another case, without rebuilding its body.

    The canonical body is the same text for every copy except the case id and the previous
    hash, so it is split once around those two values; ``build`` checks the result against
    ``seal`` so the shortcut can never produce a record the library would not.
    """

    _CASE, _PREV = "\x01case\x01", "\x01prev\x01"

    def __init__(self, record: Record) -> None:
        body = attrs.evolve(record, case_id=self._CASE, prev_hash=self._PREV).body()
        text = canonical_json(body)
        before, rest = text.split(canonical_json(self._CASE))
        middle, after = rest.split(canonical_json(self._PREV))
        self.parts = (before.encode(), middle.encode(), after.encode())

    def hash(self, case_id: str, prev_hash: str) -> str:
        before, middle, after = self.parts
        text = b"".join([before, b'"', case_id.encode(), b'"', middle, b'"', prev_hash.encode(),
                         b'"', after])  # fmt: skip
        return hashlib.sha256(text).hexdigest()


def _record_row(record: Record) -> dict[str, Any]:
    row = {field: getattr(record, field) for field in attrs.fields_dict(Record) if field != "actor"}
    row["actor_id"], row["actor_roles"] = record.actor.id, sorted(record.actor.roles)
    row["actor_body"] = record.actor.body
    row["position"] = None  # set per copy (``_copies``): the change feed's order
    return row


def _case_row(records: list[Record]) -> dict[str, Any]:
    row = attrs.asdict(case_from_history(records), recurse=False)
    row["parties"] = None  # not read yet, as in a store upgraded from 0.1.0
    return row


def _encoded(table: sa.Table, row: dict[str, Any], dialect: sa.Dialect) -> list[Any]:
    """The row's values as the driver receives them (the column types' own bind processing)."""
    values = []
    for name, column in table.c.items():
        process = column.type.bind_processor(dialect)
        values.append(process(row[name]) if process else row[name])
    return values


def _insert_sql(table: sa.Table) -> str:
    names = ", ".join(table.c.keys())
    marks = ", ".join("?" for _ in table.c)
    return f"INSERT INTO {table.name} ({names}) VALUES ({marks})"


def _copies(
    history: list[Record], cases: int, schema: Any, dialect: sa.Dialect
) -> Iterator[tuple[list[tuple[Any, ...]], tuple[Any, ...]]]:
    """For each copy of ``history``: its encoded record rows and its encoded case row."""
    keys = list(schema.records.c.keys())
    at_case, at_prev, at_hash = keys.index("case_id"), keys.index("prev_hash"), keys.index("hash")
    at_position, position = keys.index("position"), 0
    templates = [_encoded(schema.records, _record_row(r), dialect) for r in history]
    case_template = _encoded(schema.cases, _case_row(history), dialect)
    case_keys = list(schema.cases.c.keys())
    at_id, at_head = case_keys.index("id"), case_keys.index("head")
    sealers = [_Sealer(record) for record in history]
    for number in range(cases):
        case_id, head, rows = f"case-{number:07d}", GENESIS_HASH, []
        for values, sealer in zip(templates, sealers, strict=True):
            row = list(values)
            row[at_case], row[at_prev] = case_id, head
            head = row[at_hash] = sealer.hash(case_id, head)
            position += 1
            row[at_position] = position
            rows.append(tuple(row))
        case_row = list(case_template)
        case_row[at_id], case_row[at_head] = case_id, head
        yield rows, tuple(case_row)


def _check_sealing(history: list[Record]) -> None:
    """The shortcut hashes equal ``seal``'s on a re-keyed copy (else the bench is invalid)."""
    head = GENESIS_HASH
    for record, sealer in zip(history, [_Sealer(r) for r in history], strict=True):
        sealed = seal(attrs.evolve(record, case_id="case-0000042", prev_hash=head))
        assert sealer.hash("case-0000042", head) == sealed.hash
        head = sealed.hash


def build(path: Path, records_wanted: int) -> tuple[int, float]:
    """Create a SQLite store of about ``records_wanted`` valid records; return (records, s)."""
    began = time.perf_counter()
    url = f"sqlite:///{path}"
    storage = SQLStorage(url, synchronous="NORMAL")
    schema = storage.schema
    storage.close()
    history = template()
    _check_sealing(history)
    cases = max(1, records_wanted // len(history))
    engine = sa.create_engine(url)
    records_sql, cases_sql = _insert_sql(schema.records), _insert_sql(schema.cases)
    record_rows: list[tuple[Any, ...]] = []
    case_rows: list[tuple[Any, ...]] = []
    with engine.begin() as connection:
        for rows, case_row in _copies(history, cases, schema, engine.dialect):
            record_rows += rows
            case_rows.append(case_row)
            if len(record_rows) >= _BATCH or len(case_rows) == cases:
                connection.exec_driver_sql(records_sql, record_rows)
                connection.exec_driver_sql(cases_sql, case_rows)
                record_rows, case_rows = [], []
        if record_rows:
            connection.exec_driver_sql(records_sql, record_rows)
            connection.exec_driver_sql(cases_sql, case_rows)
        # The feed's counter follows the positions given (one case's copy after another).
        connection.execute(schema.positions.update().values(position=cases * len(history)))
    with engine.connect() as connection:
        # Fold the write-ahead log into the database: the audit should not pay for it.
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return cases * len(history), time.perf_counter() - began


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, repeats: int) -> dict[str, Any]:
    """Audit the store at ``url`` ``repeats`` times (run in a fresh process); report the median
    time and the peak memory."""
    storage = SQLStorage(url)
    before = _peak_mb()
    walls, cpus = [], []
    for _ in range(repeats):
        began, cpu = time.perf_counter(), time.process_time()
        report = audit(storage)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - cpu)
    storage.close()
    seconds, cpu = statistics.median(walls), statistics.median(cpus)
    return {
        "ok": report.ok,
        "cases": report.cases_checked,
        "records": report.records_checked,
        "audits": repeats,
        "seconds": round(seconds, 2),
        "records_per_second": round(report.records_checked / seconds),
        "cpu_seconds": round(cpu, 2),
        "records_per_cpu_second": round(report.records_checked / cpu),
        "peak_rss_before_mb": round(before, 1),
        "peak_rss_after_mb": round(_peak_mb(), 1),
    }


def _run(records: int, directory: Path, repeats: int) -> dict[str, Any]:
    path = directory / f"audit-{records}.db"
    built: dict[str, Any] = {}
    if not path.exists():
        count, seconds = build(path, records)
        built = {"built_records": count, "build_seconds": round(seconds, 1)}
    child = subprocess.run(
        [sys.executable, __file__, "--measure", f"sqlite:///{path}", "--repeats", str(repeats)],
        check=True,
        capture_output=True,
        text=True,
    )
    return {"store_records": records, **built, **json.loads(child.stdout)}


def main() -> None:
    """Build each store size asked for and audit it in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000])
    parser.add_argument("--dir", type=Path, help="keep the stores here (reused when present)")
    parser.add_argument("--repeats", type=int, default=3, help="audits per store (median)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.repeats)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.dir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            print(json.dumps(_run(size, directory, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
