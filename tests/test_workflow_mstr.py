"""Scenario tests of ``soutien-technique-renforce`` 2015-2017 (MSTR), rule by rule.

Every transition is fired, every guard is seen refusing then passing, every role restriction
refuses an outsider, and the confidentiality of the diagnosis report is read from a funder's
and from the manager's side.
"""

from __future__ import annotations

import json

import pytest
from _stories import (
    ADMIN,
    CAF,
    FEDERATION,
    FUNDER_A,
    FUNDER_B,
    MSTR_PATH,
    MSTR_ROLES,
    NAME,
    OTHER_FUNDER,
    OTHER_PROVIDER,
    PROVIDER,
    REPORT,
    REVISION,
    engine,
    mstr_facts,
    mstr_to,
    stored,
)
from small import all_cases, assert_every_step_fired, whole

from stechnique import (
    Actor,
    Engine,
    GuardFailed,
    InvalidData,
    PermissionDenied,
    Record,
    Transition,
    is_redacted,
)
from stechnique.workflows.soutien_technique_renforce_2015_2017 import PROCEDURE

VERSION = "2015-2017"


# -- the definition -------------------------------------------------------------------------


def test_procedure_is_registered_under_its_public_identifiers() -> None:
    procedure = Engine().procedure(NAME, VERSION)
    assert procedure is PROCEDURE
    assert [s.id for s in procedure.states] == [
        "requested", "referred", "validated", "diagnosis", "report_sent", "report_validated",
        "restitution", "partner_meeting", "accompaniment", "closed", "rejected", "withdrawn",
    ]  # fmt: skip
    assert {t.event for t in procedure.transitions} == {
        "refer", "record_funder_decision", "validate", "reject", "acknowledge_confidentiality",
        "start_diagnosis", "submit_report", "request_revision", "validate_report",
        "hold_restitution", "hold_partner_meeting", "start_accompaniment", "close", "withdraw",
    }  # fmt: skip
    assert {r.id for r in procedure.roles} == MSTR_ROLES
    assert [s.id for s in procedure.states if s.terminal] == ["closed", "rejected", "withdrawn"]


def test_start_facts_are_the_information_sheet() -> None:
    engine_ = engine()
    with pytest.raises(InvalidData) as error:
        engine_.start(NAME, version=VERSION, actor=ADMIN, facts={
            "centre": "", "management": "cooperative", "situation": "crisis", "domains": [],
        })  # fmt: skip
    assert {p.field for p in error.value.problems} == {"centre", "management", "domains"}
    assert all_cases(engine_) == []


# -- every transition fired -----------------------------------------------------------------


def test_every_transition_is_fired_from_every_source_state() -> None:
    engine_ = engine()
    records: list[Record] = []

    def collect(case_id: str) -> None:
        records.extend(engine_.storage.records(case_id))

    collect(mstr_to(engine_, "closed").id)
    # The optional partner meeting skipped: accompaniment and close straight from restitution.
    case = mstr_to(engine_, "restitution")
    engine_.fire(case.id, "start_accompaniment", actor=PROVIDER)
    collect(case.id)
    for state in ("restitution", "partner_meeting"):
        case = mstr_to(engine_, state)
        engine_.fire(case.id, "close", actor=CAF, payload={"summary": "Clôture sans suite."})
        collect(case.id)
    case = mstr_to(engine_, "report_sent")
    engine_.fire(case.id, "request_revision", actor=ADMIN, payload={"reason": REVISION})
    collect(case.id)
    case = mstr_to(engine_, "referred")
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "refuse"})
    engine_.fire(case.id, "reject", actor=CAF)
    collect(case.id)
    for state in [s.id for s in PROCEDURE.states if not s.terminal]:
        case = mstr_to(engine_, state)
        engine_.fire(case.id, "withdraw", actor=ADMIN, payload={"reason": "Le conseil renonce."})
        collect(case.id)
    assert_every_step_fired(PROCEDURE, records)
    assert engine_.audit().ok


def test_a_federation_managed_centre_goes_the_whole_way_with_its_federation() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "closed", management="federation")
    assert case.state == "closed"
    managers = {
        r.actor.id for r in engine_.storage.records(case.id) if r.event == "validate_report"
    }
    assert managers == {FEDERATION.id}


# -- every guard refusing, then passing -----------------------------------------------------


def test_eligible_requester() -> None:
    engine_ = engine()
    for management, wrong, right in (
        ("association", FEDERATION, ADMIN),
        ("federation", ADMIN, FEDERATION),
    ):
        before = all_cases(engine_)
        with pytest.raises(GuardFailed) as error:
            engine_.start(NAME, version=VERSION, actor=wrong, facts=mstr_facts(management))
        assert set(error.value.names) == {"eligible_requester"}
        assert "gestionnaire" in error.value.failed_guards[0].fr
        assert all_cases(engine_) == before
        engine_.start(NAME, version=VERSION, actor=right, facts=mstr_facts(management))
    assert len(all_cases(engine_)) == 2


def test_consulted_funder_and_one_decision_per_funder() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    before = stored(engine_, case.id)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "record_funder_decision", actor=OTHER_FUNDER,
                     payload={"decision": "approve"})  # fmt: skip
    assert set(error.value.names) == {"consulted_funder"}
    assert stored(engine_, case.id) == before
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "approve"})
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A,
                     payload={"decision": "refuse"})  # fmt: skip
    assert set(error.value.names) == {"one_decision_per_funder"}
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"})


def test_validated_by_funders_needs_every_consulted_funder() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "validate", actor=CAF)
    assert set(error.value.names) == {"validated_by_funders"}
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "approve"})
    with pytest.raises(GuardFailed):
        engine_.fire(case.id, "validate", actor=CAF)
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"})
    assert engine_.fire(case.id, "validate", actor=CAF).state == "validated"


def test_validated_by_funders_fails_for_good_after_a_refusal_and_reject_then_passes() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "reject", actor=CAF)
    assert set(error.value.names) == {"refused_by_a_funder"}
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "refuse"})
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"})
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "validate", actor=CAF)
    assert set(error.value.names) == {"validated_by_funders"}
    assert engine_.fire(case.id, "reject", actor=CAF).state == "rejected"


def test_confidentiality_acknowledged_by_the_provider_who_works() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "validated")
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    assert set(error.value.names) == {"confidentiality_acknowledged"}
    assert error.value.failed_guards[0].en.startswith("Confidentiality rules acknowledged")
    engine_.fire(case.id, "acknowledge_confidentiality", actor=OTHER_PROVIDER)
    with pytest.raises(GuardFailed):
        engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    assert engine_.fire(case.id, "start_diagnosis", actor=PROVIDER).state == "diagnosis"


def test_start_accompaniment_checks_the_acknowledgement_again() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "restitution")
    newcomer = Actor("nouveau-cabinet", {"provider"})
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "start_accompaniment", actor=newcomer)
    assert set(error.value.names) == {"confidentiality_acknowledged"}
    assert engine_.fire(case.id, "start_accompaniment", actor=PROVIDER).state == "accompaniment"


def test_start_accompaniment_checks_the_funders_validation_again() -> None:
    transition = PROCEDURE.transition("partner_meeting", "start_accompaniment")
    assert transition is not None
    assert transition.guards == ("validated_by_funders", "confidentiality_acknowledged")


# -- every role restriction refusing an outsider --------------------------------------------


def _cases_by_state(engine_: Engine) -> dict[str, str]:
    case_ids = {}
    for state in [s.id for s in PROCEDURE.states if not s.terminal]:
        case_ids[state] = mstr_to(engine_, state).id
    return case_ids


@pytest.mark.parametrize(
    "transition", PROCEDURE.transitions, ids=lambda t: f"{t.event}<-{','.join(t.sources)}"
)
def test_role_restriction_refuses_an_outsider(transition: Transition) -> None:
    engine_ = engine()
    case_ids = _cases_by_state(engine_)
    allowed = set(PROCEDURE.allowed_roles(transition.roles, mstr_facts("association")))
    outsider = Actor("intrus", MSTR_ROLES - allowed)
    assert outsider.roles
    for source in PROCEDURE.sources_of(transition):
        before = stored(engine_, case_ids[source])
        with pytest.raises(PermissionDenied) as error:
            engine_.fire(case_ids[source], transition.event, actor=outsider, payload={})
        assert set(error.value.allowed) == allowed
        assert stored(engine_, case_ids[source]) == before


@pytest.mark.parametrize("management", ["association", "federation"])
def test_start_refuses_every_role_but_the_managers(management: str) -> None:
    engine_ = engine()
    outsider = Actor("intrus", MSTR_ROLES - {"administrator", "federation"})
    with pytest.raises(PermissionDenied) as error:
        engine_.start(NAME, version=VERSION, actor=outsider, facts=mstr_facts(management))
    assert set(error.value.allowed) == {"administrator", "federation"}
    assert all_cases(engine_) == []


def test_the_manager_role_follows_the_management_of_each_case() -> None:
    engine_ = engine()
    association = mstr_to(engine_, "report_sent", management="association")
    federation = mstr_to(engine_, "report_sent", management="federation")
    with pytest.raises(PermissionDenied):
        engine_.fire(association.id, "validate_report", actor=FEDERATION)
    with pytest.raises(PermissionDenied):
        engine_.fire(federation.id, "validate_report", actor=ADMIN)
    engine_.fire(association.id, "validate_report", actor=ADMIN)
    engine_.fire(federation.id, "validate_report", actor=FEDERATION)


# -- confidentiality of the diagnosis report ------------------------------------------------


def _payload_of(engine_: Engine, case_id: str, viewer: Actor, event: str) -> dict[str, object]:
    return next(r.payload for r in engine_.history(case_id, viewer=viewer) if r.event == event)


@pytest.mark.parametrize(("event", "field", "secret"), [
    ("submit_report", "report", REPORT), ("request_revision", "reason", REVISION),
])  # fmt: skip
def test_report_is_for_manager_provider_caf_until_validated_then_funders(
    event: str, field: str, secret: str
) -> None:
    engine_ = engine()
    case = mstr_to(engine_, "report_sent")
    engine_.fire(case.id, "request_revision", actor=ADMIN, payload={"reason": REVISION})
    engine_.fire(case.id, "submit_report", actor=PROVIDER, payload={"report": REPORT})
    for reader in (ADMIN, PROVIDER, CAF):
        assert _payload_of(engine_, case.id, reader, event)[field] == secret
    for outsider in (FUNDER_A, FEDERATION):  # a federation is no manager of this case
        hidden = _payload_of(engine_, case.id, outsider, event)[field]
        assert is_redacted(hidden)
        assert "validation" in hidden["__redacted__"]["fr"]  # type: ignore[index]
        seen = json.dumps([r.payload for r in engine_.history(case.id, viewer=outsider)])
        assert secret not in seen
    engine_.fire(case.id, "validate_report", actor=ADMIN)
    assert _payload_of(engine_, case.id, FUNDER_A, event)[field] == secret
    assert is_redacted(_payload_of(engine_, case.id, FEDERATION, event)[field])


def test_history_without_viewer_is_the_stored_history() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "report_sent")
    assert whole(engine_, case.id) == list(engine_.storage.records(case.id))


def test_main_road_is_the_documented_order() -> None:
    assert [step[0] for step in MSTR_PATH][:4] == [
        "refer", "record_funder_decision", "record_funder_decision", "validate",
    ]  # fmt: skip
