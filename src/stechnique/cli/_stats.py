"""``stechnique stats``: « Suivi et évaluation du dispositif » in the terminal.

The figures of ``stechnique.stats`` over every case of the store (whoever holds the store's
URL reads it whole: the figures are complete, nothing withheld), as tables, or one table as
CSV (``--csv by_state``), the same the web page offers for download.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from stechnique.cli._commands import Db, _out, app
from stechnique.cli._support import DEFAULT_DB, CommandLineError, open_engine
from stechnique.i18n import current_lang
from stechnique.stats import TABLES, Figures, figures, to_csv

__all__ = ["stats"]

# table -> (French title, English title)
_TITLES = {
    "by_state": ("Dossiers par état", "Cases by state"),
    "by_year": ("Dossiers par année d'ouverture", "Cases by year opened"),
    "by_procedure": ("Dossiers par procédure", "Cases by procedure"),
    "decisions": ("Décisions des financeurs", "Funders' decisions"),
    "durations": ("Temps passé dans chaque état (jours)", "Time spent in each state (days)"),
}


def _title(table: str) -> str:
    fr, en = _TITLES[table]
    return en if current_lang() == "en" else fr


def _shown(value: object) -> str:
    return "< 5" if value is None else str(value)


def _tables(found: Figures) -> list[Table]:
    english = current_lang() == "en"
    drawn = []
    for name in TABLES[:-1]:
        table = Table(title=_title(name))
        table.add_column("")
        table.add_column("Count" if english else "Nombre", justify="right")
        for key, count in getattr(found, name).items():
            table.add_row(key, _shown(count))
        drawn.append(table)
    durations = Table(title=_title("durations"))
    for column in ("State", "Stays", "Median", "P90") if english else (
            "État", "Séjours", "Médiane", "90e centile"):  # fmt: skip
        durations.add_column(column, justify="left" if column in ("State", "État") else "right")
    for state, d in found.durations.items():
        durations.add_row(state, _shown(d.stays), _shown(d.median_days), _shown(d.p90_days))
    drawn.append(durations)
    return drawn


@app.command("stats")
def stats(
    db: Db = DEFAULT_DB,
    csv: Annotated[
        str | None,
        typer.Option(
            "--csv", metavar="TABLE", help=f"Print one table as CSV: {', '.join(TABLES)}."
        ),
    ] = None,
) -> None:
    """Suivi et évaluation du dispositif: cases by state, year, procedure; funders'
    decisions; median and 90th-percentile days in each state."""
    if csv is not None and csv not in TABLES:
        raise CommandLineError(
            f"table inconnue : {csv!r} (possibles : {', '.join(TABLES)}) / "
            f"unknown table: {csv!r} (known: {', '.join(TABLES)})"
        )
    with open_engine(db, read_only=True) as engine:
        labels: dict[str, str] = {}
        for procedure in engine.registry:
            for state in procedure.states:
                labels.setdefault(state.id, state.en if current_lang() == "en" else state.fr)
        found = figures(engine.storage.cases(), engine.storage.records, suppress=False,
                        labels=labels)  # fmt: skip
    if csv is not None:
        _out().print(to_csv(found, csv), end="", markup=False, highlight=False, soft_wrap=True)
        return
    console = _out()
    console.print(f"Suivi et évaluation du dispositif — {found.cases} dossiers", markup=False)
    for table in _tables(found):
        console.print(table)
