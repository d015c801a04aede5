"""Run every benchmark and write ``bench/RESULTS.md`` (machine, versions, date, every figure).

Each benchmark runs in its own process, one after the other, with ``--json``; this script
only gathers what they print. ``--quick`` runs tiny sizes (a smoke run, figures meaningless).

    python bench/run_all.py                 # the full run (about 10 minutes), writes RESULTS.md
    python bench/run_all.py --quick --output /tmp/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from _harness import POSTGRES_URL, format_value, libpq_url, postgres_available

HERE = Path(__file__).resolve().parent
FULL: dict[str, list[str]] = {
    "bench_memory_fire.py": [],
    "bench_sqlite_fire.py": [],
    "bench_postgres_fire.py": [],
    "bench_load_case.py": [],
    "bench_cases_query.py": [],
    "bench_import.py": [],
    "bench_serve.py": [],
    "bench_feed.py": ["--records", "1000000"],
}
QUICK: dict[str, list[str]] = {
    "bench_memory_fire.py": ["--cases", "5", "--repeats", "1"],
    "bench_sqlite_fire.py": ["--cases", "2", "--repeats", "1"],
    "bench_postgres_fire.py": ["--cases", "2", "--repeats", "1"],
    "bench_load_case.py": ["--records", "30", "--repeats", "1"],
    "bench_cases_query.py": ["--cases", "1000", "--repeats", "1"],
    "bench_import.py": ["--records", "300", "--repeats", "1"],
    "bench_serve.py": ["--cases", "1", "--repeats", "1"],
    "bench_feed.py": ["--records", "300", "--wakes", "5", "--repeats", "1"],
}
AUDIT_SIZES = {"full": ["10000", "100000", "1000000"], "quick": ["300", "600"]}
AUDIT_TARGET = 50_000


def run_json(script: str, arguments: list[str]) -> dict[str, Any]:
    """Run one benchmark script with ``--json``; its report."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(HERE / script), "--json", *arguments],
        check=True, capture_output=True, text=True, cwd=HERE,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["seconds"] = round(time.perf_counter() - began, 1)
    return report


def run_audit(sizes: list[str]) -> dict[str, Any]:
    """Run ``bench_audit.py`` (JSON lines, one per store size) and shape it as a report."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "bench_audit.py"), *sizes],
                          check=True, capture_output=True, text=True, cwd=HERE)  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    report: dict[str, Any] = {
        "bench": "audit", "title": "5. audit on SQLite: records/s and peak memory",
        "settings": {"history": "copies of one 15-record MSTR case, every guard re-judged",
                     "audits per store": "3, median"},
        "rows": [], "targets": [], "notes": [], "seconds": 0.0,
    }  # fmt: skip
    for line in lines:
        size = f"{line['records']:,} records"
        report["rows"] += [
            {"what": f"audit of {size}: records/s (wall)", "value": line["records_per_second"],
             "unit": "records/s"},
            {"what": f"audit of {size}: records per CPU second",
             "value": line["records_per_cpu_second"], "unit": "records/s"},
            {"what": f"audit of {size}: peak memory of the process",
             "value": line["peak_rss_after_mb"], "unit": "MB"},
        ]  # fmt: skip
    smallest, largest = lines[0], lines[-1]
    for line in lines:
        rate = line["records_per_second"]
        report["targets"].append({"name": f"audit records/s, {line['records']:,} records",
                                  "ratio": round(rate / AUDIT_TARGET, 3), "target": ">= 1.0",
                                  "met": rate >= AUDIT_TARGET})  # fmt: skip
    growth = largest["peak_rss_after_mb"] / smallest["peak_rss_after_mb"]
    report["targets"].append({"name": f"audit peak memory, {largest['records']:,} / "
                              f"{smallest['records']:,} records", "ratio": round(growth, 3),
                              "target": "<= 1.1", "met": growth <= 1.1})  # fmt: skip
    report["notes"].append(f"audit ratios are records/s over the {AUDIT_TARGET:,} target")
    report["seconds"] = round(time.perf_counter() - began, 1)
    return report


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "load average before the run": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": _postgres_version(),
    }
    for package in ("stechnique", "transitions", "SQLAlchemy", "psycopg", "attrs", "cattrs"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def _postgres_version() -> str:
    if postgres_available() is not None:
        return "not reachable"
    import psycopg

    with psycopg.connect(libpq_url(POSTGRES_URL)) as connection:
        row = connection.execute("SHOW server_version").fetchone()
        sync = connection.execute("SHOW synchronous_commit").fetchone()
    return f"{row[0] if row else '?'} (synchronous_commit={sync[0] if sync else '?'})"


def markdown(facts: dict[str, str], reports: list[dict[str, Any]], command: str) -> str:
    """RESULTS.md."""
    lines = ["# Benchmark results", "",
             f"Written by `{command}`; do not edit by hand. What each benchmark measures, and how",
             "to run one alone: [README.md](README.md).", "", "## Machine", "",
             "| | |", "|---|---|"]  # fmt: skip
    lines += [f"| {key} | {value} |" for key, value in facts.items()]
    lines += ["", "## Targets", "", "| target | ratio | wanted | |", "|---|---:|---|---|"]
    for report in reports:
        for target in report["targets"]:
            verdict = "met" if target["met"] else "**not met**"
            lines.append(f"| {target['name']} | {target['ratio']:.2f} | {target['target']} | "
                         f"{verdict} |")  # fmt: skip
    lines += ["", "Rates are medians of runs taken in turns with their baseline; ratios are",
              "stechnique / raw for rates, stechnique / raw for times (lower is better) where",
              "the target reads `<=`.", ""]  # fmt: skip
    for report in reports:
        settings = ", ".join(f"{key}: {value}" for key, value in report["settings"].items())
        # The markers let a docs page include a benchmark's figures (pymdownx.snippets,
        # "bench/RESULTS.md:audit") instead of copying them by hand.
        lines += [f"## {report['title']}", "", f"<!-- --8<-- [start:{report['bench']}] -->",
                  "", f"{settings} ({report['seconds']} s)", "",
                  "| measure | value |", "|---|---:|"]  # fmt: skip
        lines += [f"| {row['what']} | {format_value(row['value'], row['unit']).strip()} |"
                  for row in report["rows"]]  # fmt: skip
        notes = [f"- {note}" for note in report["notes"]]
        lines += ["", *notes, *([""] if notes else []), f"<!-- --8<-- [end:{report['bench']}] -->"]
        lines += ["", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    """Run everything, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    args = parser.parse_args()
    facts = machine()
    plan = QUICK if args.quick else FULL
    reports = []
    for script, arguments in plan.items():
        if args.only and script not in args.only:
            continue
        print(f"running {script} ...", file=sys.stderr, flush=True)
        reports.append(run_json(script, arguments))
    if not args.only or "bench_audit.py" in args.only:
        print("running bench_audit.py ...", file=sys.stderr, flush=True)
        reports.append(run_audit(AUDIT_SIZES["quick" if args.quick else "full"]))
    reports.sort(key=lambda report: report["title"])
    command = "python bench/run_all.py" + (" --quick" if args.quick else "")
    args.output.write_text(markdown(facts, reports, command), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
