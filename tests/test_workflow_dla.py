"""Scenario tests of ``soutien-technique-renforce`` 2019 (DLA), rule by rule.

Every transition is fired, every guard is seen refusing then passing, every role restriction
refuses an outsider, and the confidentiality of the pre-diagnostic and diagnosis is read from
a funder's and from the structure's side.
"""

from __future__ import annotations

import json

import pytest
from _stories import (
    COLLECTIVE,
    CONSULTANT,
    DIAGNOSIS,
    DLA_ROLES,
    ESIA,
    FRANCE_ACTIVE,
    FUNDER_A,
    FUNDER_B,
    IMPACT,
    INDIVIDUAL,
    NAME,
    OTHER_CONSULTANT,
    OTHER_FUNDER,
    OTHER_STRUCTURE,
    PRE_DIAGNOSTIC,
    RECOMMENDATIONS,
    STRUCTURE,
    dla_facts,
    dla_to,
    engine,
    stored,
)
from small import all_cases, assert_every_step_fired

from stechnique import (
    Actor,
    Case,
    Engine,
    GuardFailed,
    InvalidData,
    PermissionDenied,
    Record,
    Transition,
    is_redacted,
)
from stechnique.workflows.soutien_technique_renforce_2019 import PROCEDURE

VERSION = "2019"


def _collective_pair(engine_: Engine) -> tuple[Case, Case]:
    """Two structures whose plans name the same collective group, the first one validated."""
    first = dla_to(engine_, "plan_validated", actions=[COLLECTIVE])
    second = dla_to(engine_, "plan_drawn_up", actions=[COLLECTIVE], structure=OTHER_STRUCTURE)
    engine_.fire(first.id, "acknowledge_confidentiality", actor=CONSULTANT)
    return first, second


# -- the definition -------------------------------------------------------------------------


def test_2019_is_the_latest_version_and_new_cases_start_on_it() -> None:
    engine_ = engine()
    assert engine_.procedure(NAME) is PROCEDURE
    case = engine_.start(NAME, actor=STRUCTURE, facts=dla_facts())
    assert (case.version, case.state) == (VERSION, "requested")


def test_procedure_declares_the_public_identifiers() -> None:
    assert [s.id for s in PROCEDURE.states] == [
        "requested", "pre_diagnostic", "qualification", "problem_identified",
        "recommendations_accepted", "plan_drawn_up", "plan_validated",
        "individual_accompaniment", "collective_accompaniment", "follow_up", "closed",
        "declined", "withdrawn",
    ]  # fmt: skip
    assert {r.id for r in PROCEDURE.roles} == DLA_ROLES
    assert PROCEDURE.start_roles == ("structure",)


def test_start_facts_need_a_valid_email_and_a_key_moment() -> None:
    engine_ = engine()
    facts = {**dla_facts(), "contact_email": "pas-une-adresse", "moment": "whenever"}
    with pytest.raises(InvalidData) as error:
        engine_.start(NAME, actor=STRUCTURE, facts=facts)
    assert {p.field for p in error.value.problems} == {"contact_email", "moment"}
    with pytest.raises(PermissionDenied):
        engine_.start(NAME, actor=ESIA, facts=dla_facts())
    assert all_cases(engine_) == []


def test_a_collective_action_must_name_its_group() -> None:
    engine_ = engine()
    case = dla_to(engine_, "recommendations_accepted")
    with pytest.raises(InvalidData) as error:
        engine_.fire(case.id, "draw_up_plan", actor=ESIA, payload={
            "actions": [{"kind": "collective", "domain": "steering_governance"}],
            "funders": [FUNDER_A.id],
        })  # fmt: skip
    assert [p.field for p in error.value.problems] == ["actions[0].group"]


# -- every transition fired -----------------------------------------------------------------


def test_every_transition_is_fired_from_every_source_state() -> None:
    engine_ = engine()
    records: list[Record] = []

    def collect(case_id: str) -> None:
        records.extend(engine_.storage.records(case_id))

    collect(dla_to(engine_, "closed").id)
    first, second = _collective_pair(engine_)
    engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)
    engine_.fire(first.id, "start_follow_up", actor=ESIA)
    collect(first.id)
    case = dla_to(engine_, "problem_identified")
    engine_.fire(case.id, "decline_recommendations", actor=STRUCTURE, payload={"reason": "Non."})
    collect(case.id)
    for state in [s.id for s in PROCEDURE.states if not s.terminal]:
        case = dla_to(engine_, state) if state != "collective_accompaniment" else second
        if state == "collective_accompaniment":
            engine_.fire(second.id, "record_funder_decision", actor=FUNDER_A,
                         payload={"decision": "approve"})  # fmt: skip
            engine_.fire(second.id, "record_funder_decision", actor=FUNDER_B,
                         payload={"decision": "approve"})  # fmt: skip
            engine_.fire(second.id, "validate_plan", actor=ESIA)
            engine_.fire(second.id, "acknowledge_confidentiality", actor=CONSULTANT)
            engine_.fire(second.id, "start_collective_accompaniment", actor=CONSULTANT)
        who = OTHER_STRUCTURE if case.id == second.id else STRUCTURE
        engine_.fire(case.id, "withdraw", actor=who, payload={"reason": "La structure renonce."})
        collect(case.id)
    assert_every_step_fired(PROCEDURE, records)
    assert engine_.audit().ok


# -- every guard refusing, then passing -----------------------------------------------------


def test_funders_of_the_plan_decide_once_each_and_validate_it() -> None:
    engine_ = engine()
    case = dla_to(engine_, "plan_drawn_up")
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "validate_plan", actor=ESIA)
    assert set(error.value.names) == {"validated_by_funders"}
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "record_funder_decision", actor=OTHER_FUNDER,
                     payload={"decision": "approve"})  # fmt: skip
    assert set(error.value.names) == {"consulted_funder"}
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "approve"})
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A,
                     payload={"decision": "approve"})  # fmt: skip
    assert set(error.value.names) == {"one_decision_per_funder"}
    with pytest.raises(GuardFailed):
        engine_.fire(case.id, "validate_plan", actor=ESIA)
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"})
    assert engine_.fire(case.id, "validate_plan", actor=ESIA).state == "plan_validated"


def test_a_refused_plan_is_never_validated_and_can_be_withdrawn() -> None:
    engine_ = engine()
    case = dla_to(engine_, "plan_drawn_up")
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "refuse"})
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"})
    with pytest.raises(GuardFailed):
        engine_.fire(case.id, "validate_plan", actor=ESIA)
    assert engine_.available_events(case.id, STRUCTURE) == ["withdraw"]


def test_a_refusal_lists_every_failed_guard() -> None:
    engine_ = engine()
    case = dla_to(engine_, "plan_validated", actions=[COLLECTIVE])
    before = stored(engine_, case.id)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "start_individual_accompaniment", actor=CONSULTANT)
    assert set(error.value.names) == {"confidentiality_acknowledged", "plan_has_individual_action"}
    assert all(guard.fr and guard.en for guard in error.value.failed_guards)
    assert stored(engine_, case.id) == before


def test_confidentiality_acknowledged_and_plan_has_individual_action() -> None:
    engine_ = engine()
    collective_only = dla_to(engine_, "plan_validated", actions=[COLLECTIVE])
    engine_.fire(collective_only.id, "acknowledge_confidentiality", actor=CONSULTANT)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(collective_only.id, "start_individual_accompaniment", actor=CONSULTANT)
    assert set(error.value.names) == {"plan_has_individual_action"}
    case = dla_to(engine_, "plan_validated", actions=[INDIVIDUAL])
    engine_.fire(case.id, "acknowledge_confidentiality", actor=OTHER_CONSULTANT)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "start_individual_accompaniment", actor=CONSULTANT)
    assert set(error.value.names) == {"confidentiality_acknowledged"}
    engine_.fire(case.id, "acknowledge_confidentiality", actor=CONSULTANT)
    started = engine_.fire(case.id, "start_individual_accompaniment", actor=CONSULTANT)
    assert started.state == "individual_accompaniment"


def test_collective_has_peers_needs_another_structure_naming_the_group() -> None:
    engine_ = engine()
    first = dla_to(engine_, "plan_validated", actions=[COLLECTIVE])
    engine_.fire(first.id, "acknowledge_confidentiality", actor=CONSULTANT)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)
    assert set(error.value.names) == {"collective_has_peers"}
    other_group = {**COLLECTIVE, "group": "un-autre-groupe"}
    dla_to(engine_, "plan_drawn_up", actions=[other_group], structure=OTHER_STRUCTURE)
    dla_to(engine_, "recommendations_accepted", structure=OTHER_STRUCTURE)  # no plan yet
    with pytest.raises(GuardFailed):
        engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)
    dla_to(engine_, "plan_drawn_up", actions=[INDIVIDUAL, COLLECTIVE], structure=OTHER_STRUCTURE)
    started = engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)
    assert started.state == "collective_accompaniment"


def test_collective_has_peers_ignores_a_structure_that_withdrew_but_counts_a_closed_one() -> None:
    engine_ = engine()
    first = dla_to(engine_, "plan_validated", actions=[COLLECTIVE])
    engine_.fire(first.id, "acknowledge_confidentiality", actor=CONSULTANT)
    peer = dla_to(engine_, "plan_drawn_up", actions=[COLLECTIVE], structure=OTHER_STRUCTURE)
    engine_.fire(peer.id, "withdraw", actor=OTHER_STRUCTURE, payload={"reason": "Fusion."})
    with pytest.raises(GuardFailed) as error:
        engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)
    assert set(error.value.names) == {"collective_has_peers"}
    closed_peer = dla_to(engine_, "closed", actions=[INDIVIDUAL, COLLECTIVE],
                         structure=OTHER_STRUCTURE)  # fmt: skip
    assert closed_peer.state == "closed"
    engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)


def test_impact_measured_before_closing() -> None:
    engine_ = engine()
    case = dla_to(engine_, "follow_up")
    before = stored(engine_, case.id)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "close", actor=ESIA)
    assert set(error.value.names) == {"impact_measured"}
    with pytest.raises(InvalidData) as bad:
        engine_.fire(case.id, "close", actor=ESIA, payload={"impact": {"activities": "x",
                                                                        "jobs": -1}})  # fmt: skip
    assert [p.field for p in bad.value.problems] == ["impact.jobs"]
    assert stored(engine_, case.id) == before
    closed = engine_.fire(case.id, "close", actor=ESIA, payload={"impact": IMPACT})
    assert closed.state == "closed"
    assert engine_.storage.records(case.id)[-1].payload == {"impact": IMPACT}


# -- every role restriction refusing an outsider --------------------------------------------


def _cases_by_state(engine_: Engine) -> dict[str, str]:
    case_ids = {}
    for state in [s.id for s in PROCEDURE.states if not s.terminal]:
        if state == "collective_accompaniment":
            first, _ = _collective_pair(engine_)
            engine_.fire(first.id, "start_collective_accompaniment", actor=CONSULTANT)
            case_ids[state] = first.id
        else:
            case_ids[state] = dla_to(engine_, state).id
    return case_ids


@pytest.mark.parametrize(
    "transition", PROCEDURE.transitions, ids=lambda t: f"{t.event}<-{','.join(t.sources)}"
)
def test_role_restriction_refuses_an_outsider(transition: Transition) -> None:
    engine_ = engine()
    case_ids = _cases_by_state(engine_)
    allowed = set(transition.roles)
    outsider = Actor("intrus", DLA_ROLES - allowed)
    for source in PROCEDURE.sources_of(transition):
        before = stored(engine_, case_ids[source])
        with pytest.raises(PermissionDenied) as error:
            engine_.fire(case_ids[source], transition.event, actor=outsider, payload={})
        assert set(error.value.allowed) == allowed
        assert stored(engine_, case_ids[source]) == before


# -- confidentiality of the pre-diagnostic and the diagnosis --------------------------------

SECRETS = [
    ("send_pre_diagnostic", "pre_diagnostic", PRE_DIAGNOSTIC),
    ("identify_problem", "diagnosis", DIAGNOSIS),
    ("identify_problem", "recommendations", RECOMMENDATIONS),
]


def _payload_of(engine_: Engine, case_id: str, viewer: Actor, event: str) -> dict[str, object]:
    return next(r.payload for r in engine_.history(case_id, viewer=viewer) if r.event == event)


@pytest.mark.parametrize(("event", "field", "secret"), SECRETS)
def test_diagnosis_is_for_structure_officers_consultant_then_funders_from_the_plan(
    event: str, field: str, secret: object
) -> None:
    engine_ = engine()
    case = dla_to(engine_, "recommendations_accepted")
    for reader in (STRUCTURE, ESIA, FRANCE_ACTIVE, CONSULTANT):
        assert _payload_of(engine_, case.id, reader, event)[field] == secret
    hidden = _payload_of(engine_, case.id, FUNDER_A, event)[field]
    assert is_redacted(hidden)
    assert "plan" in hidden["__redacted__"]["fr"]  # type: ignore[index]
    seen = json.dumps([r.payload for r in engine_.history(case.id, viewer=FUNDER_A)])
    assert json.dumps(secret)[1:-1] not in seen
    engine_.fire(case.id, "draw_up_plan", actor=ESIA,
                 payload={"actions": [INDIVIDUAL], "funders": [FUNDER_A.id]})  # fmt: skip
    assert _payload_of(engine_, case.id, FUNDER_A, event)[field] == secret
    assert _payload_of(engine_, case.id, OTHER_FUNDER, event)[field] == secret


def test_an_actor_without_any_reader_role_never_sees_the_diagnosis() -> None:
    engine_ = engine()
    case = dla_to(engine_, "closed")
    nobody = Actor("visiteur", frozenset())
    payload = _payload_of(engine_, case.id, nobody, "identify_problem")
    assert is_redacted(payload["diagnosis"])
    plan = _payload_of(engine_, case.id, nobody, "draw_up_plan")  # the plan is not confidential
    assert plan["actions"] == [INDIVIDUAL, COLLECTIVE]
