"""Diagrams and procedure pages generated from the definitions; committed pages never drift."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import attrs
import pytest
from small import ticket

from stechnique import GUARDS, Actor, Engine, Record, dot, mermaid
from stechnique.diagram import procedure_page

DOCS = Path(__file__).parent.parent / "docs"
CENTRE = Actor("cs-acacias", {"centre"})
COMMITTEE = Actor("copil", {"steering_committee"})


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(clock=lambda: datetime(2014, 2, 3, tzinfo=UTC))


def convention_path(engine: Engine) -> list[Record]:
    """A case that submitted twice, was sent back once, then moved to the diagnosis."""
    facts = {
        "centre": "Centre social Les Acacias",
        "agreement_expiry": "2017-06-30",
        "federation_member": True,
        "local_authority_interest": True,
    }
    case = engine.start("convention-pluripartenariale", actor=CENTRE, facts=facts)
    steps = [
        ("submit_step", CENTRE, {"document": "protocole-v1.pdf"}),
        ("arbitrate", COMMITTEE, {"decision": "rework"}),
        ("submit_step", CENTRE, {"document": "protocole-v2.pdf"}),
        ("arbitrate", COMMITTEE, {"decision": "approve"}),
    ]
    for event, actor, payload in steps:
        engine.fire(case.id, event, actor=actor, payload=payload)
    return engine.history(case.id)


def test_mermaid_shows_every_state_in_french_and_every_transition(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    text = mermaid(procedure)
    lines = text.splitlines()
    assert lines[:4] == [
        "---",
        "title: Convention d'objectifs et de moyens pluri-partenariale autour du projet social "
        "(convention-pluripartenariale@2013)",
        "---",
        "stateDiagram-v2",
    ]
    assert '    state "Protocole d\'expérimentation" as protocol' in lines
    assert '    state "Évaluation du projet social" as evaluation' in lines
    assert "    [*] --> protocol : start [selection_criteria]" in lines
    assert (
        "    objectives_convention --> evaluation : "
        "arbitrate = approve [step_submitted, one_year_before_expiry]"
    ) in lines
    rework = "objectives_convention --> objectives_convention : arbitrate = rework [step_submitted]"
    assert f"    {rework}" in lines
    steps = ("protocol", "territorial_diagnosis", "priority_objectives", "social_project")
    steps += ("objectives_convention", "evaluation")
    for step in steps:
        assert f"    {step} --> abandoned : abandon" in lines
        assert f"    {step} --> {step} : submit_step" in lines
    assert [line for line in lines if "--> [*]" in line] == [
        "    closed --> [*]",
        "    abandoned --> [*]",
    ]
    assert "    class closed, abandoned terminal" in lines
    arrows = [line for line in lines if " --> " in line and "[*]" not in line]
    assert len(arrows) == 6 + 12 + 6
    assert "✔" not in text
    assert "visited" not in text


def test_mermaid_highlights_the_path_a_case_took(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    lines = mermaid(procedure, path=convention_path(engine)).splitlines()
    assert "    protocol --> protocol : submit_step ✔×2" in lines
    assert "    protocol --> protocol : arbitrate = rework [step_submitted] ✔" in lines
    assert (
        "    protocol --> territorial_diagnosis : arbitrate = approve [step_submitted] ✔" in lines
    )
    assert "    territorial_diagnosis --> territorial_diagnosis : submit_step" in lines
    assert "    class protocol, territorial_diagnosis visited" in lines
    assert lines[-1] == "    class territorial_diagnosis current"
    assert sum("✔" in line for line in lines) == 3


def test_records_of_another_procedure_highlight_nothing(engine: Engine) -> None:
    mstr = engine.procedure("soutien-technique-renforce", "2015-2017")
    assert mermaid(mstr, path=convention_path(engine)) == mermaid(mstr)
    assert dot(mstr, path=convention_path(engine)) == dot(mstr)


def test_labels_cannot_break_the_diagram_syntax() -> None:
    open_state = attrs.evolve(ticket().states[0], fr='Ouvert: "à traiter"; vite')
    procedure = ticket(states=(open_state, *ticket().states[1:]))
    assert "    state \"Ouvert - 'à traiter', vite\" as open" in mermaid(procedure).splitlines()
    assert '"open" [label="Ouvert: \\"à traiter\\"; vite"];' in dot(procedure)


def test_dot_marks_terminal_states_and_the_path(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    plain = dot(procedure).splitlines()
    assert plain[0] == 'digraph "convention-pluripartenariale@2013" {'
    assert plain[-1] == "}"
    assert '    "closed" [label="Démarche clôturée", peripheries="2"];' in plain
    assert '    "__start__" -> "protocol" [label="start [selection_criteria]"];' in plain
    assert '    "protocol" -> "protocol" [label="submit_step"];' in plain
    walked = dot(procedure, path=convention_path(engine)).splitlines()
    assert (
        '    "protocol" -> "protocol" [label="submit_step ✔×2", color="#1d4ed8", penwidth="2"];'
    ) in walked
    assert (
        '    "territorial_diagnosis" [label="Diagnostic territorial participatif et partagé", '
        'style="rounded,filled", fillcolor="#1d4ed8", fontcolor="#ffffff"];'
    ) in walked
    assert (
        '    "protocol" [label="Protocole d\'expérimentation", style="rounded,filled", '
        'fillcolor="#dbeafe"];'
    ) in walked


def test_the_page_has_the_tables_and_the_diagram(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    page = procedure_page(procedure)
    assert page.startswith(f"# {procedure.fr}\n")
    assert f"Fingerprint: `{procedure.fingerprint}`" in page
    assert f"```mermaid\n{mermaid(procedure)}```" in page
    guard = GUARDS["one_year_before_expiry"]
    assert f"| `one_year_before_expiry` | {guard.fr} | {guard.en} |" in page
    assert (
        "| `arbitrate` | `objectives_convention` | `evaluation` | `steering_committee` | "
        "`step_submitted`, `one_year_before_expiry`; payload `decision` = `approve` | "
        "`decision` choice of approve, rework |"
    ) in page
    assert "| `abandon` | any non-terminal state (`*`) | `abandoned` |" in page
    assert "| `agreement_expiry` | date | Échéance de l'agrément délivré par la Caf |" in page
    assert "No confidential field" in page


def test_the_page_lists_case_roles_and_confidentiality(engine: Engine) -> None:
    page = procedure_page(engine.procedure("soutien-technique-renforce", "2015-2017"))
    assert "| `manager` | `management` | association → `administrator`, federation → " in page
    assert "| `submit_report.report` |" in page
    bar = procedure_page(ticket(fr="Ticket | urgent"))
    assert bar.startswith("# Ticket | urgent\n")
    assert "`comment.secret` | `owner` | `boss` | `done` | Secret | Secret |" in bar


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_procedures", DOCS / "gen_procedures.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_procedure_pages_equal_what_generation_gives_now() -> None:
    generated: dict[str, str] = _generator().pages()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (DOCS / "procedures").glob("*.md")}
    assert sorted(committed) == sorted(generated), "run: python docs/gen_procedures.py"
    for name, text in generated.items():
        assert committed[name] == text, (
            f"docs/procedures/{name} is stale: python docs/gen_procedures.py"
        )
