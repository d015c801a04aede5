"""Diagrams and procedure pages generated from the definitions; committed pages never drift.

The last tests pin what the Mermaid engine of ``transitions`` draws of the same machines, on
which docs/decisions.md (« Diagrams ») rests.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
from small import ticket, whole
from transitions import State as MachineState
from transitions.extensions.diagrams import GraphMachine, HierarchicalGraphMachine

from stechnique import GUARDS, Actor, Engine, Procedure, Record, dot, mermaid
from stechnique._machine import machine_for
from stechnique.diagram import procedure_page
from stechnique.i18n import use_locale
from stechnique.workflows import default_registry

DOCS = Path(__file__).parent.parent / "docs"
CENTRE = Actor("cs-acacias", {"centre"})
COMMITTEE = Actor("copil", {"steering_committee"})
PUBLISHED = list(default_registry())


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
    return whole(engine, case.id)


def test_mermaid_shows_every_state_in_french_and_every_transition(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    text = mermaid(procedure)
    lines = text.splitlines()
    assert lines[:4] == [
        "---",
        "title: \"Convention d'objectifs et de moyens pluri-partenariale autour du projet social "
        '(convention-pluripartenariale@2013)"',
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
    steps = ["protocol", "territorial_diagnosis", "priority_objectives", "social_project"]
    steps += ["objectives_convention", "evaluation"]
    for step in steps:
        assert f"    {step} --> abandoned : abandon" in lines
        # One loop a state, since Mermaid draws no second one: both transitions on it.
        loop = f"{step} --> {step} : submit_step<br>arbitrate = rework [step_submitted]"
        assert f"    {loop}" in lines
    assert [line for line in lines if "--> [*]" in line] == [
        "    closed --> [*]",
        "    abandoned --> [*]",
    ]
    assert "    class closed, abandoned terminal" in lines
    arrows = [line for line in lines if " --> " in line and "[*]" not in line]
    assert len(arrows) == 6 + 6 + 6
    assert len({arrow.split(" : ")[0] for arrow in arrows}) == len(arrows)
    assert "✔" not in text
    assert "visited" not in text


def test_mermaid_highlights_the_path_a_case_took(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    lines = mermaid(procedure, path=convention_path(engine)).splitlines()
    assert (
        "    protocol --> protocol : submit_step ✔×2<br>arbitrate = rework [step_submitted] ✔"
    ) in lines
    assert (
        "    protocol --> territorial_diagnosis : arbitrate = approve [step_submitted] ✔" in lines
    )
    assert (
        "    territorial_diagnosis --> territorial_diagnosis : "
        "submit_step<br>arbitrate = rework [step_submitted]"
    ) in lines
    assert "    class protocol, territorial_diagnosis visited" in lines
    assert lines[-1] == "    class territorial_diagnosis current"
    assert sum(line.count("✔") for line in lines) == 3


def test_records_of_another_procedure_highlight_nothing(engine: Engine) -> None:
    mstr = engine.procedure("soutien-technique-renforce", "2015-2017")
    assert mermaid(mstr, path=convention_path(engine)) == mermaid(mstr)
    assert dot(mstr, path=convention_path(engine)) == dot(mstr)


def test_labels_cannot_break_the_diagram_syntax_and_keep_their_text() -> None:
    open_state = attrs.evolve(ticket().states[0], fr='Ouvert: "à traiter"; <vite> #1')
    procedure = ticket(states=(open_state, *ticket().states[1:]), fr='Ticket: "urgent"')
    lines = mermaid(procedure).splitlines()
    # Mermaid draws each entity code as its character: the label reads as written.
    assert '    state "Ouvert#58; #quot;à traiter#quot;#59; #lt;vite#gt; #35;1" as open' in lines
    assert lines[1] == 'title: "Ticket: \\"urgent\\" (ticket@1)"'
    assert '"open" [label="Ouvert: \\"à traiter\\"; <vite> #1"];' in dot(procedure)


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
    page = procedure_page(procedure, lang="en")
    assert page.startswith(f"# {procedure.en}\n")
    assert f"Fingerprint: `{procedure.fingerprint}`" in page
    assert f"```mermaid\n{mermaid(procedure, lang='en')}```" in page
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
    page = procedure_page(engine.procedure("soutien-technique-renforce", "2015-2017"), lang="en")
    assert "| `manager` | `management` | association → `administrator`, federation → " in page
    assert "| `submit_report.report` |" in page
    bar = procedure_page(ticket(fr="Ticket | urgent"), lang="fr")
    assert bar.startswith("# Ticket | urgent\n")
    assert (
        "`comment.secret` | `owner` | `boss` | à partir de l'état `done` | Secret | Secret |" in bar
    )
    # The parties, who binds them, and who reads what once a draft is validated.
    assert "| `manager` | le gestionnaire | the manager | the body that started the case |" in page
    assert "Coordinating roles (they see every case of the version): `caf_coordinator`" in page
    assert "the record `validate_report` validated, once it fires" in page


def test_the_french_page_speaks_french_and_draws_french_labels(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    french, english = procedure_page(procedure, lang="fr"), procedure_page(procedure, lang="en")
    assert french.startswith(f"# {procedure.fr}\n\n*{procedure.en}*")
    assert f"Empreinte : `{procedure.fingerprint}`" in french
    assert "## États" in french
    assert "## States" not in french
    assert "| `abandon` | tout état non final (`*`) | `abandoned` |" in french
    assert "| `agreement_expiry` | date | Échéance de l'agrément délivré par la Caf |" in french
    assert "Aucun champ confidentiel" in french
    # Each diagram names the states in its page's language.
    closed = procedure.state("closed")
    assert f'state "{closed.fr}" as closed' in french
    assert f'state "{closed.en}" as closed' in english
    assert f'state "{closed.fr}"' not in english


def test_the_page_and_diagram_follow_the_locale_unless_told(engine: Engine) -> None:
    procedure = engine.procedure("convention-pluripartenariale", "2013")
    with use_locale("en"):
        assert procedure_page(procedure) == procedure_page(procedure, lang="en")
        assert mermaid(procedure) == mermaid(procedure, lang="en")
        assert dot(procedure) == dot(procedure, lang="en")
        assert '"closed" [label="Process closed"' in dot(procedure)
        assert procedure_page(procedure, lang="fr").startswith(f"# {procedure.fr}\n")
    with use_locale("fr"):
        assert procedure_page(procedure) == procedure_page(procedure, lang="fr")
        assert mermaid(procedure) == mermaid(procedure, lang="fr")


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


# -- transitions' own Mermaid engine ---------------------------------------------------------
# We write Mermaid ourselves because the engine of transitions cannot carry what the pages and
# the CLI show (docs/decisions.md, « Diagrams »). Each test below pins one thing it draws or
# cannot draw, on the machine the engine compiled; when one fails after an upgrade of
# transitions, re-check that decision.


class _LabelledState(MachineState):
    """transitions' ``State`` takes no label, but its graphs draw one when the state has it."""

    def __init__(self, name: str, label: str = "", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.label = label or name


class _Drawing(GraphMachine):
    state_cls = _LabelledState


def _drawing(states: list[dict[str, Any]], transitions: list[dict[str, Any]]) -> Any:
    machine = _Drawing(
        model=None,
        states=states,
        initial=states[0]["name"],
        transitions=transitions,
        auto_transitions=False,
        send_event=True,
        graph_engine="mermaid",
    )
    return machine.graph_cls(machine)


def _their_graph(procedure: Procedure) -> Any:
    """transitions' Mermaid graph of ``machine_for(procedure)``, with the French labels."""
    machine = machine_for(procedure)
    transitions = []
    for event in machine.events.values():
        for source, moves in event.transitions.items():
            # The machine keeps a source's transitions in definition order, as candidates does.
            for move, step in zip(moves, procedure.candidates(source, event.name), strict=True):
                assert move.dest == step.target
                transitions.append(
                    {"trigger": event.name, "source": source, "dest": move.dest,
                     "conditions": [c.func for c in move.conditions], "label": step.fr}
                )  # fmt: skip
    states = [{"name": s.id, "label": s.fr, "final": s.terminal} for s in procedure.states]
    assert states[0]["name"] == machine.initial
    return _drawing(states, transitions)


def _lines(graph: Any, title: str = "T") -> list[str]:
    return [line.strip() for line in graph.get_graph(title=title).source.splitlines()]


def _arrows(lines: list[str]) -> set[tuple[str, str]]:
    found = (re.match(r"(\[\*\]|\w+) --> (\[\*\]|\w+)", line) for line in lines)
    return {(match[1], match[2]) for match in found if match}


@pytest.mark.parametrize("procedure", PUBLISHED, ids=lambda p: p.key)
def test_transitions_draws_the_arrows_we_draw_except_the_ends(procedure: Procedure) -> None:
    ours = _arrows([line.strip() for line in mermaid(procedure).splitlines()])
    ends = {(s.id, "[*]") for s in procedure.states if s.terminal}
    assert ends <= ours
    assert _arrows(_lines(_their_graph(procedure))) == ours - ends


def test_transitions_carries_french_labels_and_payload_branches(engine: Engine) -> None:
    lines = _lines(_their_graph(engine.procedure("convention-pluripartenariale", "2013")))
    assert (
        'state "Diagnostic territorial participatif et partagé" as territorial_diagnosis' in lines
    )
    # « arbitrage »: approve moves on, rework stays (drawn on the loop with submit_step).
    assert "protocol --> territorial_diagnosis: Arbitrage : protocole validé" in lines
    assert (
        "protocol --> protocol: Transmettre le protocole d'expérimentation | "
        "Arbitrage : protocole à retravailler"
    ) in lines


def test_transitions_leaves_start_unlabelled_terminals_open_no_title(engine: Engine) -> None:
    convention = engine.procedure("convention-pluripartenariale", "2013")
    lines = _lines(_their_graph(convention), title="Convention (convention-pluripartenariale@2013)")
    # The start arrow takes no label: no place for the guards at start (ours: "start [...]").
    assert lines[-1] == "[*] --> protocol"
    # States marked final get no end arrow from the flat graph...
    assert not [line for line in lines if line.endswith("--> [*]")]
    # ...and the hierarchical one, which draws it, reads the "_" of our ids as nesting (unless
    # given a state class with another separator: a second kind of machine for the drawing).
    nested = HierarchicalGraphMachine(
        model=None, states=[s.id for s in convention.states], initial="protocol",
        auto_transitions=False, graph_engine="mermaid",
    )  # fmt: skip
    assert "state territorial {" in _lines(nested.graph_cls(nested))
    # The title is written as a bare line where Mermaid reads a YAML mapping: none is shown.
    assert lines[:3] == ["---", "Convention (convention-pluripartenariale@2013)", "---"]


def test_transitions_writes_labels_and_ids_unescaped() -> None:
    graph = _drawing(
        [{"name": "pre-instruction", "label": 'Aide "accordée"'}, {"name": "done"}],
        [{"trigger": "decide", "source": "pre-instruction", "dest": "done",
          "label": "Décision ; notifiée"}],
    )  # fmt: skip
    lines = _lines(graph)
    # Mermaid stops at the inner quote, at the ";", and at the "-" of the id (transitions#708).
    assert 'state "Aide "accordée"" as pre-instruction' in lines
    assert "pre-instruction --> done: Décision ; notifiée" in lines


def test_transitions_cannot_mark_the_transitions_a_case_took(engine: Engine) -> None:
    graph = _their_graph(engine.procedure("convention-pluripartenariale", "2013"))
    edges = [line for line in _lines(graph) if "-->" in line]
    graph.set_previous_transition("protocol", "territorial_diagnosis")
    graph.set_node_style("territorial_diagnosis", "active")
    marked = _lines(graph)
    # Its way to mark a step styles the states only: the arrows are as before.
    assert [line for line in marked if "-->" in line] == edges
    assert "Class protocol s_previous" in marked
    # One style a state: a terminal state the case is in cannot show both.
    graph.set_node_style("closed", "terminal")
    graph.set_node_style("closed", "active")
    assert [line for line in _lines(graph) if line.startswith("Class closed")] == [
        "Class closed s_active"
    ]
