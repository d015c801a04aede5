"""Scenario tests of ``convention-pluripartenariale`` 2013, the procedure declared as a data file.

Every transition is fired at least once, every guard is shown refusing and then passing, and
every role restriction refuses a party of the case lacking the role, while anyone else does not
know of the case. Revision 1 records no party facts, so a case's parties are the bodies that
acted on it: the centre's side (the starter and every body that submitted a step) and the
steering committee (every body that arbitrated or abandoned); the procedure has no coordinator.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from small import all_cases, assert_every_step_fired, the_case, whole

from stechnique import (
    Actor,
    Case,
    Engine,
    GuardFailed,
    InvalidData,
    InvalidEvent,
    ManualClock,
    PermissionDenied,
    UnknownCase,
)

NAME = "convention-pluripartenariale"
STEPS = (
    "protocol",
    "territorial_diagnosis",
    "priority_objectives",
    "social_project",
    "objectives_convention",
    "evaluation",
)
CENTRE = Actor("cs-acacias", {"centre"})
FEDERATION = Actor("fdcs-92", {"federation"})
COMMITTEE = Actor("copil-nanterre", {"steering_committee"})
PARTNER = Actor("caf-92", {"partner"})
FACTS = {
    "centre": "Centre social Les Acacias",
    "agreement_expiry": "2017-06-30",
    "federation_member": True,
    "local_authority_interest": True,
}


@pytest.fixture
def clock() -> ManualClock:
    """The engine's clock, moved by hand."""
    return ManualClock("2013-09-16 10:00")


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return Engine(clock=clock)


#: The centre's own body claiming the committee's role: a party of every case it starts, so
#: its refused arbitrations say why before the committee has taken part.
CENTRE_AS_COMMITTEE = Actor(CENTRE.id, {"steering_committee"})


def _unknown_to(engine: Engine, case_id: str, outsider: Actor) -> None:
    """``outsider`` is told nothing of the case: every read is ``UnknownCase``."""
    for read in (
        lambda: engine.case(case_id, outsider),
        lambda: engine.history(case_id, outsider),
        lambda: engine.available_events(case_id, outsider),
        lambda: engine.explain(case_id, "arbitrate", outsider),
    ):
        with pytest.raises(UnknownCase) as error:
            read()
        assert error.value.case_id == case_id
    assert case_id not in {case.id for case in engine.cases(viewer=outsider)}


def start(engine: Engine, actor: Actor = CENTRE, **facts: object) -> Case:
    return engine.start(NAME, version="2013", actor=actor, facts={**FACTS, **facts})


def submit(engine: Engine, case: Case, actor: Actor = CENTRE) -> Case:
    return engine.fire(
        case.id, "submit_step", actor=actor, payload={"document": f"{case.state}.pdf"}
    )


def arbitrate(engine: Engine, case: Case, decision: str, committee: Actor = COMMITTEE) -> Case:
    return engine.fire(case.id, "arbitrate", actor=committee, payload={"decision": decision})


def advance(engine: Engine, case: Case, to: str) -> Case:
    while case.state != to:
        case = arbitrate(engine, submit(engine, case), "approve")
    return case


def test_start_is_refused_unless_the_selection_criteria_hold(engine: Engine) -> None:
    for facts in ({"federation_member": False}, {"local_authority_interest": False}):
        with pytest.raises(GuardFailed) as refused:
            start(engine, **facts)
        assert refused.value.names == ("selection_criteria",)
        assert "le centre doit adhérer à la fédération" in str(refused.value)
    assert all_cases(engine) == []
    assert start(engine).state == "protocol"
    assert start(engine, FEDERATION).state == "protocol"


def test_start_refuses_outsiders_and_bad_facts(engine: Engine) -> None:
    for outsider in (COMMITTEE, PARTNER):
        with pytest.raises(PermissionDenied) as denied:
            start(engine, outsider)
        assert denied.value.allowed == ("centre", "federation")
    with pytest.raises(InvalidData) as invalid:
        start(engine, agreement_expiry="30/06/2017", federation_member="oui")
    assert invalid.value.fields == ("agreement_expiry", "federation_member")
    assert all_cases(engine) == []


def test_each_arbitration_needs_the_step_submitted_first(
    engine: Engine, clock: ManualClock
) -> None:
    case = start(engine)
    # The committee takes part once it has arbitrated: until then, the case is unknown to it,
    # and a party holding its role (the centre's body claiming it) is told why it is refused.
    before = engine.storage.records(case.id)
    for decision in ("approve", "rework"):
        with pytest.raises(UnknownCase):
            arbitrate(engine, case, decision)
    _unknown_to(engine, case.id, COMMITTEE)
    assert engine.storage.records(case.id) == before
    for step, following in zip(STEPS, (*STEPS[1:], "closed"), strict=True):
        assert case.state == step
        committee = CENTRE_AS_COMMITTEE if step == "protocol" else COMMITTEE
        for decision in ("approve", "rework"):
            with pytest.raises(GuardFailed) as refused:
                arbitrate(engine, case, decision, committee)
            assert refused.value.names[0] == "step_submitted"
        assert engine.available_events(case.id, committee) == ["abandon"]
        case = submit(engine, case, CENTRE if STEPS.index(step) % 2 else FEDERATION)
        assert engine.available_events(case.id, committee) == ["arbitrate", "abandon"]
        case = arbitrate(engine, case, "rework")
        assert case.state == step
        # The step was sent back: its work must be submitted again before the next arbitration.
        with pytest.raises(GuardFailed):
            arbitrate(engine, case, "approve")
        case = submit(engine, case)
        if step == "objectives_convention":
            clock.on(datetime(2016, 7, 1, 9, 0, tzinfo=UTC))
        case = arbitrate(engine, case, "approve")
        assert case.state == following
    assert engine.audit().ok


def test_evaluation_opens_only_one_year_before_the_agreement_expires(
    engine: Engine, clock: ManualClock
) -> None:
    case = advance(engine, start(engine), "objectives_convention")
    case = submit(engine, case)
    clock.on(datetime(2016, 6, 29, 23, 0, tzinfo=UTC))
    with pytest.raises(GuardFailed) as refused:
        arbitrate(engine, case, "approve")
    assert refused.value.names == ("one_year_before_expiry",)
    explanation = engine.explain(case.id, "arbitrate", COMMITTEE, {"decision": "approve"})
    assert [reason.code for reason in explanation.reasons] == ["one_year_before_expiry"]
    assert the_case(engine, case.id).seq == case.seq
    # Rework does not open the evaluation, so the date does not hold it back.
    case = submit(engine, arbitrate(engine, case, "rework"))
    clock.on(datetime(2016, 6, 30, 8, 0, tzinfo=UTC))
    assert arbitrate(engine, case, "approve").state == "evaluation"


def test_roles_refuse_parties_and_outsiders_know_nothing(engine: Engine) -> None:
    case = submit(engine, start(engine))
    # Only the centre has taken part: every other body is told nothing, whatever it tries.
    for event, outsider, payload in (
        ("submit_step", PARTNER, {"document": "p.pdf"}),
        ("submit_step", COMMITTEE, {"document": "p.pdf"}),
        ("arbitrate", FEDERATION, {"decision": "rework"}),
        ("arbitrate", PARTNER, {"decision": "approve"}),
        ("abandon", FEDERATION, {}),
        ("abandon", PARTNER, {}),
    ):
        with pytest.raises(UnknownCase) as unknown:
            engine.fire(case.id, event, actor=outsider, payload=payload)
        assert str(unknown.value) == str(UnknownCase(case.id))
    for outsider in (COMMITTEE, FEDERATION, PARTNER):
        _unknown_to(engine, case.id, outsider)
    assert the_case(engine, case.id).seq == case.seq
    # Once the committee has arbitrated and the federation submitted, both take part: their
    # steps beyond their roles are refused by role, like the centre's. The partner never acted.
    case = submit(engine, arbitrate(engine, case, "rework"), FEDERATION)
    refusals = [
        ("submit_step", PARTNER, {"document": "p.pdf"}, ("centre", "federation")),
        ("submit_step", COMMITTEE, {"document": "p.pdf"}, ("centre", "federation")),
        ("arbitrate", CENTRE, {"decision": "approve"}, ("steering_committee",)),
        ("arbitrate", FEDERATION, {"decision": "rework"}, ("steering_committee",)),
        ("arbitrate", PARTNER, {"decision": "approve"}, ("steering_committee",)),
        ("abandon", CENTRE, {}, ("steering_committee",)),
        ("abandon", FEDERATION, {}, ("steering_committee",)),
        ("abandon", PARTNER, {}, ("steering_committee",)),
    ]
    for event, actor, payload, allowed in refusals:
        if actor is PARTNER:
            with pytest.raises(UnknownCase):
                engine.fire(case.id, event, actor=actor, payload=payload)
            continue
        with pytest.raises(PermissionDenied) as denied:
            engine.fire(case.id, event, actor=actor, payload=payload)
        assert denied.value.allowed == allowed
    _unknown_to(engine, case.id, PARTNER)
    assert the_case(engine, case.id).seq == case.seq


def test_payloads_are_checked(engine: Engine) -> None:
    case = submit(engine, start(engine))
    # Before it takes part, the committee's refused step tells it nothing, not even the payload.
    with pytest.raises(UnknownCase):
        engine.fire(case.id, "arbitrate", actor=COMMITTEE, payload={"decision": "maybe"})
    case = submit(engine, arbitrate(engine, case, "rework"))
    with pytest.raises(InvalidData) as invalid:
        engine.fire(case.id, "arbitrate", actor=COMMITTEE, payload={"decision": "maybe"})
    assert invalid.value.fields == ("decision",)
    with pytest.raises(InvalidData):
        engine.fire(case.id, "submit_step", actor=CENTRE, payload={})
    assert the_case(engine, case.id).seq == case.seq


def test_every_transition_fires_and_abandon_works_from_every_step(
    engine: Engine, clock: ManualClock
) -> None:
    procedure = engine.procedure(NAME, "2013")
    clock.on(datetime(2017, 1, 5, tzinfo=UTC))
    for step in STEPS:
        case = advance(engine, start(engine), step)
        case = arbitrate(engine, submit(engine, case), "rework")
        case = engine.fire(case.id, "abandon", actor=COMMITTEE, payload={"reason": "fin"})
        assert case.state == "abandoned"
        with pytest.raises(InvalidEvent):
            submit(engine, case)
    closed = advance(engine, start(engine), "closed")
    assert engine.available_events(closed.id, COMMITTEE) == []
    records = [record for case in all_cases(engine) for record in whole(engine, case.id)]
    assert_every_step_fired(procedure, records, and_no_other=True)
    assert engine.audit().ok


def _story() -> ModuleType:
    path = Path(__file__).parent.parent / "examples" / "05_convention_hauts_de_seine.py"
    spec = importlib.util.spec_from_file_location("convention_story", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hauts_de_seine_story_has_six_arbitrations_from_2013_to_2017() -> None:
    story, engine, said = _story(), Engine(), []
    (case_id,) = story.tell(engine, say=said.append)
    assert the_case(engine, case_id).state == "closed"
    arbitrations = [r for r in whole(engine, case_id) if r.event == "arbitrate"]
    approvals = [r.at.year for r in arbitrations if r.payload["decision"] == "approve"]
    assert approvals == [2013, 2014, 2014, 2014, 2016, 2017]
    assert [r.target for r in arbitrations if r.payload["decision"] == "rework"] == [
        "territorial_diagnosis"
    ]
    refusal = [line for line in said if line.startswith("Évaluation pas encore possible")]
    # The refusal says why and from when (agreement expiring 2017-06-30), not the rule alone.
    assert refusal == [
        "Évaluation pas encore possible en mars 2015 : Trop tôt : l'évaluation commence au plus "
        "tôt un an avant l'échéance de l'agrément Caf. Possible à partir du 30 juin 2016."
    ]
    records = engine.storage.records(case_id)
    said.clear()
    assert story.tell(engine, say=said.append) == [case_id]
    assert engine.storage.records(case_id) == records
    assert not any("pas encore possible" in line for line in said)
