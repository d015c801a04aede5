"""The library's own labels: one text each, the same in the timeline, the command and the CSV."""

from __future__ import annotations

import csv
import io

import attrs
import pytest
from audit_stories import engine_on, mstr_migrated
from rich.console import Console
from small import AS_AUDITOR, whole

from stechnique import DefinitionError, Labels, ProcedureFileError, Relabel, load_labels
from stechnique._labels import (
    EVENTS,
    event_fr,
    field_label,
    guard_held,
    guard_refused,
    named_fields,
    option_label,
    party_label,
    procedure_label,
    role_label,
    state_fr,
)
from stechnique.cli import _render
from stechnique.definition import RESERVED_EVENTS, Procedure
from stechnique.engine import Engine
from stechnique.export import export_csv
from stechnique.i18n import use_locale
from stechnique.loader import load_procedure
from stechnique.storage.memory import MemoryStorage
from stechnique.timeline import timeline
from stechnique.workflows import convention_pluripartenariale_2013, default_registry
from stechnique.workflows.drafts import draft_registry


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = engine_on(MemoryStorage())
    mstr_migrated(engine, "m")
    return engine


def _table_text(engine: Engine) -> str:
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(_render.history_table(whole(engine, "m"), engine.registry, "m"))
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_every_event_the_library_writes_has_its_label() -> None:
    assert set(EVENTS) == RESERVED_EVENTS


@pytest.mark.parametrize("event", ["start", "migrate"])
def test_the_library_events_read_the_same_everywhere(engine: Engine, event: str) -> None:
    label = EVENTS[event].fr
    rows = io.StringIO()
    export_csv(engine.storage, rows, **AS_AUDITOR)
    rows.seek(0)
    csv_labels = {row["event_fr"] for row in csv.DictReader(rows) if row["event"] == event}
    assert csv_labels == {label}
    assert f"     {label} : " in timeline(whole(engine, "m"), engine.registry)
    assert f"{label} ({event})" in _table_text(engine)


def test_labels_of_unknown_procedures_and_states_are_empty(engine: Engine) -> None:
    record = whole(engine, "m")[1]
    assert event_fr(None, record) == ""
    assert event_fr(None, whole(engine, "m")[0]) == EVENTS["start"].fr
    procedure = engine.registry.by_fingerprint(record.fingerprint)
    assert state_fr(procedure, "no-such-state") == ""
    assert state_fr(procedure, None) == ""
    assert state_fr(procedure, record.target) == procedure.state(record.target).fr  # type: ignore[union-attr]


# -- the label model: options, guards, relabels (``Procedure.labels``) -----------------------


def _revisions() -> list[Procedure]:
    return list(draft_registry())


@pytest.mark.parametrize("procedure", _revisions(), ids=lambda p: p.revision_key)
def test_every_option_of_every_choice_field_has_both_labels(procedure: Procedure) -> None:
    for name, field in named_fields(procedure).items():
        for option in field.options:
            label = procedure.labels.option(name, option)
            assert label is not None, f"{procedure.revision_key}: {name} = {option} unlabelled"
            assert label.fr.strip()
            assert label.en.strip()


@pytest.mark.parametrize("procedure", list(default_registry()), ids=lambda p: p.revision_key)
def test_every_guard_of_a_published_revision_says_why_it_refuses(procedure: Procedure) -> None:
    for guard in procedure.guards:
        label = procedure.labels.guard(guard.name)
        assert label is not None, f"{procedure.revision_key}: guard {guard.name} unlabelled"
        assert label.refused_fr != guard.fr  # a refusal, not the rule's positive statement
        assert all((label.refused_fr, label.refused_en, label.held_fr, label.held_en))


@pytest.mark.parametrize("procedure", _revisions(), ids=lambda p: p.revision_key)
def test_labels_are_outside_the_fingerprint(procedure: Procedure) -> None:
    relabelled = attrs.evolve(
        procedure,
        labels=procedure.labels.extended(
            Labels(relabels=(Relabel("procedure", "", "Coquille", "Typo"),))
        ),
    )
    assert relabelled.fingerprint == procedure.fingerprint
    assert "labels" not in procedure.canonical()
    assert procedure_label(relabelled) == "Coquille"
    assert procedure_label(relabelled, "en") == "Typo"


def test_the_lookups_answer_in_the_language_in_force() -> None:
    mstr = Engine().procedure("soutien-technique-renforce", "2015-2017")
    assert option_label(mstr, "situation", "crisis") == "situation de crise avérée"
    assert option_label(mstr, "situation", "crisis", "en") == "actual crisis"
    with use_locale("en"):
        assert option_label(mstr, "decision", "approve") == "approved"
        assert role_label(mstr, "caf_coordinator") == "CAF coordinator"
        assert field_label(mstr, "situation") == "Situation"
    assert role_label(mstr, "caf_coordinator") == "Coordination Caf du dispositif"
    assert role_label(mstr, "manager") == "Gestionnaire du centre"  # a case role
    assert party_label(mstr, "consulted_funder") == "les financeurs consultés"
    assert guard_refused(mstr, "validated_by_funders").startswith("Pas validée")
    assert guard_held(mstr, "validated_by_funders", "en").startswith("Every consulted")
    # Unknown things read as their ids.
    assert option_label(mstr, "situation", "flood") == "flood"
    assert role_label(None, "caf_coordinator") == "caf_coordinator"
    dla = Engine().procedure("soutien-technique-renforce", "2019")
    assert option_label(dla, "actions.kind", "collective") == "collective"
    assert field_label(dla, "impact.jobs") == "emplois"


def test_a_data_file_carries_its_labels_outside_the_fingerprint() -> None:
    text = convention_pluripartenariale_2013.DATA_FILE.read_text("utf-8")
    labelled = text + (
        '\n[labels.options.decision]\napprove = { fr = "validé", en = "approved" }\n'
        'rework = { fr = "à reprendre", en = "rework" }\n'
        '[labels.guards.step_submitted]\nrefused_fr = "Rien de transmis"\n'
        'refused_en = "Nothing submitted"\nheld_fr = "Transmis"\nheld_en = "Submitted"\n'
        '[labels.relabels.procedure]\nfr = "Convention 2013"\nen = "2013 convention"\n'
    )
    procedure = load_procedure(labelled)
    assert procedure.fingerprint == convention_pluripartenariale_2013.PROCEDURE.fingerprint
    assert option_label(procedure, "decision", "rework") == "à reprendre"
    assert guard_refused(procedure, "step_submitted", "en") == "Nothing submitted"
    assert procedure_label(procedure) == "Convention 2013"


def test_malformed_labels_are_refused_with_their_key_and_line() -> None:
    text = '[options.decision]\napprove = { fr = "validé" }\n\n[guards.x]\nheld_fr = 3\n'
    with pytest.raises(ProcedureFileError) as caught:
        load_labels(text)
    keys = {(p.key, p.line) for p in caught.value.file_problems}
    assert ("options.decision.approve.en", 2) in keys
    assert ("guards.x.refused_fr", 4) in keys
    assert ("guards.x.held_fr", 5) in keys


def test_a_label_of_nothing_is_refused_when_attached() -> None:
    procedure = convention_pluripartenariale_2013.PROCEDURE
    with pytest.raises(DefinitionError) as caught:
        attrs.evolve(
            procedure,
            labels=load_labels('[options.decision]\nmaybe = { fr = "peut-être", en = "maybe" }\n'),
        )
    assert [p.kind for p in caught.value.definition_problems] == ["unknown_option"]
