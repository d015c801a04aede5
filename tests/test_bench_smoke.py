"""Every benchmark script still runs (tiny sizes, figures ignored), so ``bench/`` cannot rot.

No timing is asserted: only that each script completes and reports its rows and targets in the
JSON form ``run_all.py`` gathers, and that ``run_all.py`` writes a results page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from _harness import postgres_available  # noqa: E402  (bench/ is on sys.path from here on)

pytestmark = pytest.mark.slow  # benchmark scripts, not the package: the full suite runs them

_REQUIRED = os.environ.get("STECHNIQUE_REQUIRE_SERVERS") == "1"


def _run(script: str, *arguments: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--json", *arguments],
        capture_output=True, text=True, cwd=BENCH, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _postgres_or_skip() -> None:
    problem = postgres_available()
    if problem is not None:
        if _REQUIRED:
            pytest.fail(f"PostgreSQL is required but does not answer: {problem}")
        pytest.skip(f"PostgreSQL does not answer: {problem}")


@pytest.mark.parametrize(
    ("script", "arguments", "rows"),
    [
        ("bench_memory_fire.py", ["--cases", "3", "--repeats", "1"], 3),
        ("bench_sqlite_fire.py", ["--cases", "1", "--repeats", "1", "--synchronous", "NORMAL"], 3),
        ("bench_cases_query.py", ["--cases", "500", "--repeats", "1"], 8),
        ("bench_load_case.py", ["--records", "20", "--repeats", "1", "--backends", "sqlite"], 6),
        ("bench_import.py", ["--records", "150", "--repeats", "1", "--backends", "sqlite"], 4),
    ],
)
def test_local_benchmark_runs(script: str, arguments: list[str], rows: int) -> None:
    report = _run(script, *arguments)
    assert len(report["rows"]) == rows
    assert all(row["value"] > 0 for row in report["rows"])
    assert report["targets"] or script == "bench_cases_query.py"


def test_postgres_benchmarks_run() -> None:
    _postgres_or_skip()
    fire = _run("bench_postgres_fire.py", "--cases", "1", "--repeats", "1", "--processes", "1")
    assert [t["name"] for t in fire["targets"]] == [
        "PostgreSQL fire / raw 3 statements, 1 process(es)"
    ]
    load = _run("bench_load_case.py", "--records", "20", "--repeats", "1", "--backends",
                "postgresql")  # fmt: skip
    assert len(load["rows"]) == 6
    feed = _run("bench_feed.py", "--records", "300", "--wakes", "5", "--repeats", "1")
    assert len(feed["rows"]) == 7
    assert [t["name"] for t in feed["targets"]] == [
        "feed catch-up / audit, records/s",
        "wake-up p99 / 50 ms",
    ]


def test_serve_benchmark_runs() -> None:
    _postgres_or_skip()
    pytest.importorskip("fastapi")
    serve = _run("bench_serve.py", "--cases", "1", "--repeats", "1", "--clients", "1", "2")
    assert [t["name"] for t in serve["targets"]] == [
        "serve / minimal endpoint, 1 client(s)", "serve / minimal endpoint, 2 client(s)",
    ]  # fmt: skip
    assert all(row["value"] > 0 for row in serve["rows"])


def test_run_all_writes_the_results_page(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--quick", "--output", str(output),
         "--only", "bench_memory_fire.py", "bench_audit.py"],
        capture_output=True, text=True, cwd=BENCH, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = output.read_text(encoding="utf-8")
    for expected in ("## Machine", "| CPU |", "| Python |", "| SQLite |", "## Targets",
                     "memory fire / raw transitions", "audit records/s"):  # fmt: skip
        assert expected in page
