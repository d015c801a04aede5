"""``stechnique.stats`` and ``stechnique stats``: the figures of « Suivi et évaluation du
dispositif », on cases driven through a real engine with a clock the test sets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from _stories import CAF, FUNDER_A, manager, mstr_facts
from typer.testing import CliRunner

from stechnique import Engine
from stechnique.cli import app
from stechnique.clock import ManualClock
from stechnique.stats import Figures, figures, to_csv
from stechnique.storage.sql import SQLStorage

NAME, VERSION = "soutien-technique-renforce", "2015-2017"


def _ten_cases(engine: Engine, clock: ManualClock) -> None:
    """Ten cases opened in 2016, the i-th referred i days later; the first funder approves
    in the first three."""
    for days in range(1, 11):
        clock.on("2016-03-01 09:00")
        case = engine.start(NAME, version=VERSION, actor=manager("association"),
                            facts=mstr_facts())  # fmt: skip
        clock.advance(timedelta(days=days))
        engine.fire(case.id, "refer", actor=CAF, payload={"funders": [FUNDER_A.id, "etat"]})
        if days <= 3:
            engine.fire(case.id, "record_funder_decision", actor=FUNDER_A,
                        payload={"decision": "approve"})  # fmt: skip


def _figures(engine: Engine, *, suppress: bool) -> Figures:
    return figures(engine.storage.cases(), engine.storage.records, suppress=suppress)


def test_counts_and_the_median_and_90th_percentile_of_each_stay() -> None:
    clock = ManualClock()
    engine = Engine(clock=clock)
    _ten_cases(engine, clock)
    found = _figures(engine, suppress=False)
    assert found.cases == 10
    assert found.by_state == {"referred": 10}
    assert found.by_year == {"2016": 10}
    assert found.by_procedure == {f"{NAME}@{VERSION}": 10}
    assert found.decisions == {"record_funder_decision: approve": 3}
    # stays in « requested » of 1, 2, ... 10 days; a stay not ended (« referred ») not counted
    requested = found.durations["requested"]
    assert (requested.stays, requested.median_days, requested.p90_days) == (10, 5.5, 9.1)
    assert "referred" not in found.durations


def test_counts_under_five_are_withheld_when_asked() -> None:
    clock = ManualClock()
    engine = Engine(clock=clock)
    _ten_cases(engine, clock)
    found = _figures(engine, suppress=True)
    assert found.by_state == {"referred": 10}  # ten: shown
    assert found.decisions == {"record_funder_decision: approve": None}  # three: withheld
    assert to_csv(found, "decisions") == "key,count\nrecord_funder_decision: approve,<5\n"
    three = figures(engine.storage.cases()[:3], engine.storage.records, suppress=True)
    assert three.cases is None
    assert three.by_state == {"referred": None}
    assert three.durations["requested"].median_days is None


def test_the_command_prints_the_same_figures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    clock = ManualClock()
    storage = SQLStorage(url)
    _ten_cases(Engine(storage, clock=clock), clock)
    storage.close()
    runner = CliRunner()
    answer = runner.invoke(app, ["stats", "--db", url, "--csv", "durations"])
    assert answer.exit_code == 0, answer.output
    assert "Fiche d'information transmise,10,5.5,9.1" in answer.output
    shown = runner.invoke(app, ["stats", "--db", url])
    assert shown.exit_code == 0
    assert "Suivi et évaluation du dispositif — 10 dossiers" in shown.output
    wrong = runner.invoke(app, ["stats", "--db", url, "--csv", "nothing"])
    assert wrong.exit_code == 2


@pytest.mark.parametrize("table", ["by_state", "by_year", "by_procedure", "decisions", "durations"])
def test_every_table_has_a_csv(table: str) -> None:
    clock = ManualClock()
    engine = Engine(clock=clock)
    _ten_cases(engine, clock)
    assert to_csv(_figures(engine, suppress=False), table).count("\n") >= 2
