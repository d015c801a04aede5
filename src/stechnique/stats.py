"""« Suivi et évaluation du dispositif »: the figures the Convention cadre asks for.

``figures(cases, records_of)`` counts cases by state, by year opened and by procedure
version, the funders' decisions recorded, and the time cases spent in each state (median and
90th percentile, in days, over the stays that ended). The same figures feed the web page
(``stechnique serve``) and ``stechnique stats``.

Figures shown to someone who may not see every case must not single one out: with
``suppress=True`` every count under ``SMALL`` is withheld (``None``, shown « < 5 »), and so is
a duration computed over fewer stays. Percentiles come from ``statistics.quantiles`` (the
standard library's, inclusive method).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta

import attrs

from stechnique.records import Case, Record

__all__ = ["SMALL", "TABLES", "Duration", "Figures", "figures", "to_csv"]

#: Counts under this are withheld from those who may not see every case.
SMALL = 5
#: The tables of ``Figures``, by the name their CSV download takes.
TABLES = ("by_state", "by_year", "by_procedure", "decisions", "durations")


@attrs.frozen
class Duration:
    """The time spent in one state: how many stays ended there, their median and 90th
    percentile in days (``None`` when withheld)."""

    stays: int | None
    median_days: float | None
    p90_days: float | None


@attrs.frozen
class Figures:
    """The figures of a set of cases (counts ``None`` where withheld as too small)."""

    cases: int | None
    by_state: dict[str, int | None]
    by_year: dict[str, int | None]
    by_procedure: dict[str, int | None]
    decisions: dict[str, int | None]
    durations: dict[str, Duration]
    suppressed: bool


def _shown(count: int, suppress: bool) -> int | None:
    return None if suppress and count < SMALL else count


def _counted(counter: Counter[str], suppress: bool) -> dict[str, int | None]:
    return {key: _shown(counter[key], suppress) for key in sorted(counter)}


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 2)


def _stays(records: Sequence[Record]) -> Iterable[tuple[str, timedelta]]:
    """Each stay of the case in a state that it left: the state, how long."""
    current: str | None = None
    entered = None
    for record in records:
        if record.target != current:
            if current is not None and entered is not None:
                yield current, record.at - entered
            current, entered = record.target, record.at


def _duration(spans: list[timedelta], suppress: bool) -> Duration:
    if suppress and len(spans) < SMALL:
        return Duration(None, None, None)
    days = sorted(_days(span) for span in spans)
    p90 = statistics.quantiles(days, n=10, method="inclusive")[8] if len(days) > 1 else days[0]
    return Duration(len(days), round(statistics.median(days), 2), round(p90, 2))


def figures(
    cases: Iterable[Case],
    records_of: Callable[[str], Sequence[Record]],
    *,
    suppress: bool,
    labels: Mapping[str, str] | None = None,
) -> Figures:
    """The figures of ``cases`` (their records read by ``records_of``), counts under
    ``SMALL`` withheld when ``suppress``. ``labels`` names the states (by ``name@version:
    state``... or plain state id) in the tables; the id where it has none."""
    named = labels or {}
    states: Counter[str] = Counter()
    years: Counter[str] = Counter()
    procedures: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    spans: defaultdict[str, list[timedelta]] = defaultdict(list)
    total = 0
    for case in cases:
        total += 1
        states[named.get(case.state, case.state)] += 1
        years[str(case.created_at.year)] += 1
        procedures[f"{case.name}@{case.version}"] += 1
        records = records_of(case.id)
        for record in records:
            decision = record.payload.get("decision")
            if isinstance(decision, str):
                decisions[f"{record.event}: {decision}"] += 1
        for state, span in _stays(records):
            spans[named.get(state, state)].append(span)
    return Figures(
        _shown(total, suppress),
        _counted(states, suppress),
        _counted(years, suppress),
        _counted(procedures, suppress),
        _counted(decisions, suppress),
        {state: _duration(spans[state], suppress) for state in sorted(spans)},
        suppress,
    )


def _cell(value: object) -> str:
    return "<5" if value is None else str(value)


def to_csv(found: Figures, table: str) -> str:
    """One table of ``found`` as CSV (a header row, then one row a key; withheld: ``<5``)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r} (known: {', '.join(TABLES)})")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if table == "durations":
        writer.writerow(["state", "stays", "median_days", "p90_days"])
        for state, d in found.durations.items():
            writer.writerow([state, _cell(d.stays), _cell(d.median_days), _cell(d.p90_days)])
    else:
        counts: dict[str, int | None] = getattr(found, table)
        writer.writerow(["key", "count"])
        for key, count in counts.items():
            writer.writerow([key, _cell(count)])
    return out.getvalue()
