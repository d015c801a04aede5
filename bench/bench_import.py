"""Benchmark: ``import_jsonl`` records/s against the audit's records/s, on the same file.

The file is the export of a store of copies of one real MSTR history (``bench_audit.build``:
every record valid, every guard re-judged by the audit). Into SQLite (a new file each run) and
into PostgreSQL (the prefix's tables emptied before each run, not timed), each run imports the
file (verified as it streams, one transaction) and then audits the store it just filled: the
two contestants read the same records, in turns. The target: the import runs at least at 0.8×
the audit's records/s.

    python bench/bench_import.py                       # 20,000 records
    python bench/bench_import.py --records 100000 --repeats 3
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from _harness import POSTGRES_URL, Report, drop_tables, parser, postgres_available
from bench_audit import build

from stechnique import Actor
from stechnique.audit import audit
from stechnique.export import export_jsonl, import_jsonl
from stechnique.storage import SQLStorage

PREFIX = "stimport_"
TARGET = 0.8
_AUDITOR = {"auditor": Actor("bench", {"auditor"}), "reason": "benchmark"}


def exported(directory: Path, records: int) -> tuple[Path, int]:
    """The JSONL export of a store of about ``records`` records; its path and line count."""
    store = directory / "source.db"
    build(store, records)
    path = directory / "histories.jsonl"
    storage = SQLStorage(f"sqlite:///{store}")
    try:
        written = export_jsonl(storage, path, **_AUDITOR)
    finally:
        storage.close()
    return path, written


def measure(
    report: Report, name: str, open_empty: Callable[[], SQLStorage], path: Path, repeats: int
) -> None:
    """Import ``path`` into a new empty store, then audit it, ``repeats`` times in turns."""
    rates: dict[str, list[float]] = {"import": [], "audit": [], "import cpu": [], "audit cpu": []}
    for _ in range(repeats):
        storage = open_empty()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            imported = import_jsonl(storage, path)
            rates["import"].append(imported.records / (time.perf_counter() - wall))
            rates["import cpu"].append(imported.records / (time.process_time() - cpu))
            wall, cpu = time.perf_counter(), time.process_time()
            audited = audit(storage)
            rates["audit"].append(audited.records_checked / (time.perf_counter() - wall))
            rates["audit cpu"].append(audited.records_checked / (time.process_time() - cpu))
            assert audited.ok, audited.summary()
            assert audited.records_checked == imported.records
        finally:
            storage.close()
    medians = {what: statistics.median(values) for what, values in rates.items()}
    report.row(f"{name}: import_jsonl, records/s", medians["import"], "records/s")
    report.row(f"{name}: audit of the imported store, records/s", medians["audit"], "records/s")
    # On a busy machine the CPU figures move less (this process's CPU only: a server's work,
    # PostgreSQL's, is not in them).
    report.row(f"{name}: import_jsonl, records per CPU second", medians["import cpu"], "records/s")
    report.row(f"{name}: audit, records per CPU second", medians["audit cpu"], "records/s")
    report.target(f"{name} import / audit, records/s", medians["import"] / medians["audit"], TARGET)


def _emptied_postgres() -> SQLStorage:
    storage = SQLStorage(POSTGRES_URL, table_prefix=PREFIX)
    schema = storage.schema
    engine = sa.create_engine(POSTGRES_URL, poolclass=sa.NullPool)
    with engine.begin() as connection:
        for table in (schema.case_readers, schema.records, schema.cases):
            connection.execute(table.delete())
    engine.dispose()
    return storage


def main() -> None:
    """Export the file once; import and audit it on each backend; report the ratio."""
    options = parser(__doc__.split("\n\n")[0])
    options.add_argument("--records", type=int, default=20_000)
    options.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    options.set_defaults(repeats=3)
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        path, lines = exported(directory, args.records)
        report = Report("import", f"6. import of a JSONL file of {lines:,} records vs its audit",
                        {"repeats": args.repeats, "records": lines})  # fmt: skip
        if "sqlite" in args.backends:
            runs = iter(range(args.repeats))

            def new_sqlite() -> SQLStorage:
                return SQLStorage(f"sqlite:///{directory / f'import-{next(runs)}.db'}")

            measure(report, "SQLite", new_sqlite, path, args.repeats)
        if "postgresql" in args.backends:
            problem = postgres_available()
            if problem is not None:
                report.note(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
            else:
                drop_tables(PREFIX)
                try:
                    measure(report, "PostgreSQL", _emptied_postgres, path, args.repeats)
                finally:
                    drop_tables(PREFIX)
    report.emit(args.json)


if __name__ == "__main__":
    main()
