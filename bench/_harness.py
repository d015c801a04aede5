"""What every benchmark script shares: interleaved timing, medians, targets, the printed report.

Contestants of one comparison run in turns (A, B, A, B, ...), so on a busy machine both meet
the same load; each keeps the median of its runs. A script prints a table for people, or with
``--json`` one JSON object that ``run_all.py`` collects into ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

#: A contestant: one run, returning (operations done, seconds they took).
Run = Callable[[], tuple[int, float]]

POSTGRES_URL = os.environ.get(
    "STECHNIQUE_BENCH_POSTGRES_URL",
    os.environ.get(
        "STECHNIQUE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)


def timed(work: Callable[[], int]) -> Run:
    """A contestant timing all of ``work`` (which returns its operation count)."""

    def run() -> tuple[int, float]:
        began = time.perf_counter()
        count = work()
        return count, time.perf_counter() - began

    return run


def interleaved(contestants: dict[str, Run], repeats: int = 5) -> dict[str, float]:
    """Median operations per second of each contestant, runs taken in turns."""
    rates: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(repeats):
        for name, run in contestants.items():
            count, seconds = run()
            rates[name].append(count / seconds)
    return {name: statistics.median(values) for name, values in rates.items()}


def median_seconds(contestants: dict[str, Callable[[], Any]], repeats: int = 5) -> dict[str, float]:
    """Median wall seconds of one call of each contestant, calls taken in turns."""
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(repeats):
        for name, call in contestants.items():
            began = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


class Report:
    """The rows and targets of one benchmark, printed for people or as JSON."""

    def __init__(self, bench: str, title: str, settings: dict[str, Any]) -> None:
        self.bench, self.title, self.settings = bench, title, settings
        self.rows: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def row(self, what: str, value: float, unit: str) -> None:
        """One measured figure."""
        self.rows.append({"what": what, "value": value, "unit": unit})

    def target(self, name: str, ratio: float, wanted: float, higher_is_better: bool = True) -> None:
        """A ratio against its target (``ours / raw`` rates, or ``ours / raw`` times)."""
        met = ratio >= wanted if higher_is_better else ratio <= wanted
        sign = ">=" if higher_is_better else "<="
        self.targets.append(
            {"name": name, "ratio": round(ratio, 3), "target": f"{sign} {wanted}", "met": met}
        )

    def note(self, text: str) -> None:
        """A remark printed under the table."""
        self.notes.append(text)

    def emit(self, as_json: bool) -> None:
        """Print the report."""
        if as_json:
            print(json.dumps(self.__dict__))
            return
        print(f"{self.title}  {self.settings}")
        for row in self.rows:
            print(f"  {row['what']:<58} {format_value(row['value'], row['unit'])}")
        for target in self.targets:
            verdict = "met" if target["met"] else "NOT met"
            print(f"  {target['name']:<58} {target['ratio']:>10.2f}x  target {target['target']}"
                  f"  {verdict}")  # fmt: skip
        for note in self.notes:
            print(f"  note: {note}")


def format_value(value: float, unit: str) -> str:
    """A figure with its unit, readable."""
    if unit == "ms":
        return f"{value:>12,.2f} ms"
    if unit == "MB":
        return f"{value:>12,.1f} MB"
    return f"{value:>12,.0f} {unit}"


def parser(description: str) -> argparse.ArgumentParser:
    """The options every script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=5, help="runs per contestant (median)")
    return parser


def postgres_available(url: str = POSTGRES_URL) -> str | None:
    """None when PostgreSQL answers at ``url``, else why not."""
    import psycopg

    try:
        psycopg.connect(libpq_url(url), connect_timeout=3).close()
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]
    return None


def drop_tables(prefix: str, url: str = POSTGRES_URL) -> None:
    """Remove a bench's tables (those of ``prefix``) from the PostgreSQL server."""
    import sqlalchemy as sa

    from stechnique.storage._sql_schema import schema_for

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        for table in schema_for(prefix).table_names:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()


def libpq_url(url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def ratio_row(report: Report, name: str, ours: float, raw: float, wanted: float) -> None:
    """Record ``ours / raw`` as a target."""
    report.target(name, ours / raw, wanted)


def sizes(values: Sequence[int]) -> str:
    """Sizes for a settings line."""
    return ", ".join(f"{value:,}" for value in values)
