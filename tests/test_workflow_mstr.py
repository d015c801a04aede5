"""Scenario tests of ``soutien-technique-renforce`` 2015-2017 (MSTR), rule by rule.

Every transition is fired, every guard is seen refusing then passing, every role restriction
refuses a party of the case lacking the role (and anyone else does not know of the case), and
the confidentiality of the diagnosis report is read from each party's side: revision 1 cases
are read by the parties their histories bind (the manager started the case, the consulted
funders are those of ``refer``, a provider is one that acknowledged the confidentiality rules)
and the CAF coordinator.
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
from small import AUDITOR, all_cases, assert_every_step_fired, whole

from stechnique import (
    Actor,
    Engine,
    GuardFailed,
    InvalidData,
    PermissionDenied,
    Record,
    Transition,
    UnknownCase,
    is_redacted,
)
from stechnique.records import content_hash, value_digest
from stechnique.workflows.soutien_technique_renforce_2015_2017 import PROCEDURE

VERSION = "2015-2017"

#: The CAF's coordination also claiming the other roles: a coordinator sees every case, so its
#: refused steps say why (an outsider's would only be ``UnknownCase``).
CAF_CLAIMING = {
    role: Actor(CAF.id, {"caf_coordinator", role}) for role in ("funder", "provider", "federation")
}
#: A body that takes no part in the case, whatever roles it claims.
OTHER_ADMIN = Actor("ca-autre-centre", {"administrator"})


def _unknown_to(engine_: Engine, case_id: str, outsider: Actor) -> None:
    """``outsider`` is told nothing of the case: every read is ``UnknownCase``."""
    for read in (
        lambda: engine_.case(case_id, outsider),
        lambda: engine_.history(case_id, outsider),
        lambda: engine_.available_events(case_id, outsider),
        lambda: engine_.explain(case_id, "withdraw", outsider),
    ):
        with pytest.raises(UnknownCase) as error:
            read()
        assert error.value.case_id == case_id
    assert case_id not in {case.id for case in engine_.cases(viewer=outsider)}


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
    # A funder not consulted is no party: the refusal tells it nothing, not even why.
    with pytest.raises(UnknownCase):
        engine_.fire(case.id, "record_funder_decision", actor=OTHER_FUNDER,
                     payload={"decision": "approve"})  # fmt: skip
    _unknown_to(engine_, case.id, OTHER_FUNDER)
    # One who may know of the case, holding the funder role but not consulted, is told why.
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "record_funder_decision", actor=CAF_CLAIMING["funder"],
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
    before = stored(engine_, case.id)
    # A provider becomes a party of a revision-1 case by acknowledging: before, it is told
    # nothing; a provider-claiming coordinator, who sees the case, is told why.
    with pytest.raises(UnknownCase):
        engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "start_diagnosis", actor=CAF_CLAIMING["provider"])
    assert set(error.value.names) == {"confidentiality_acknowledged"}
    # The refusal says what is missing, not the rule's positive statement.
    assert error.value.failed_guards[0].en.startswith("The practitioner has not acknowledged")
    assert stored(engine_, case.id) == before
    # Acknowledging is revision 1's role-only step: it fires, and binds that provider alone.
    engine_.fire(case.id, "acknowledge_confidentiality", actor=OTHER_PROVIDER)
    assert engine_.case(case.id, OTHER_PROVIDER).state == "validated"
    with pytest.raises(UnknownCase):
        engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    assert engine_.fire(case.id, "start_diagnosis", actor=PROVIDER).state == "diagnosis"


def test_start_accompaniment_checks_the_acknowledgement_again() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "restitution")
    newcomer = Actor("nouveau-cabinet", {"provider"})
    with pytest.raises(UnknownCase):
        engine_.fire(case.id, "start_accompaniment", actor=newcomer)
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "start_accompaniment", actor=CAF_CLAIMING["provider"])
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
def test_role_restriction_refuses_a_party_and_an_outsider_knows_nothing(
    transition: Transition,
) -> None:
    engine_ = engine()
    case_ids = _cases_by_state(engine_)
    allowed = set(PROCEDURE.allowed_roles(transition.roles, mstr_facts("association")))
    # The manager's own body, holding every role but the allowed ones: a party of every case.
    party = Actor(ADMIN.id, MSTR_ROLES - allowed)
    # A body that takes no part, holding every role but the allowed ones and the coordinator's.
    outsider = Actor("intrus", MSTR_ROLES - allowed - {"caf_coordinator"})
    assert party.roles
    assert outsider.roles
    for source in PROCEDURE.sources_of(transition):
        before = stored(engine_, case_ids[source])
        with pytest.raises(PermissionDenied) as error:
            engine_.fire(case_ids[source], transition.event, actor=party, payload={})
        assert set(error.value.allowed) == allowed
        assert error.value.party is None  # revision 1 binds no step to a party
        with pytest.raises(UnknownCase) as unknown:
            engine_.fire(case_ids[source], transition.event, actor=outsider, payload={})
        assert str(unknown.value) == str(UnknownCase(case_ids[source]))
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
    # The other management's body is no party of the case: it does not know of it.
    with pytest.raises(UnknownCase):
        engine_.fire(association.id, "validate_report", actor=FEDERATION)
    with pytest.raises(UnknownCase):
        engine_.fire(federation.id, "validate_report", actor=ADMIN)
    # One who sees both cases, holding the other management's role, is refused by role.
    with pytest.raises(PermissionDenied) as error:
        engine_.fire(association.id, "validate_report", actor=CAF_CLAIMING["federation"])
    assert error.value.allowed == ("administrator",)
    with pytest.raises(PermissionDenied) as error:
        engine_.fire(federation.id, "validate_report",
                     actor=Actor(CAF.id, {"caf_coordinator", "administrator"}))  # fmt: skip
    assert error.value.allowed == ("federation",)
    engine_.fire(association.id, "validate_report", actor=ADMIN)
    engine_.fire(federation.id, "validate_report", actor=FEDERATION)


# -- confidentiality of the diagnosis report ------------------------------------------------

DRAFT = "Premier jet : trésorerie négative, conflit bureau/direction."


def _payloads(engine_: Engine, case_id: str, viewer: Actor, event: str) -> list[object]:
    return [r.payload for r in engine_.history(case_id, viewer) if r.event == event]


def _reported(engine_: Engine) -> str:
    """A case whose first report (``DRAFT``) was sent back, then ``REPORT`` submitted."""
    case = mstr_to(engine_, "diagnosis")
    engine_.fire(case.id, "submit_report", actor=PROVIDER, payload={"report": DRAFT})
    engine_.fire(case.id, "request_revision", actor=ADMIN, payload={"reason": REVISION})
    engine_.fire(case.id, "submit_report", actor=PROVIDER, payload={"report": REPORT})
    return case.id


def test_reports_and_revision_requests_are_the_manager_and_the_providers_until_validated() -> None:
    engine_ = engine()
    case_id = _reported(engine_)
    for reader in (ADMIN, PROVIDER):
        assert _payloads(engine_, case_id, reader, "submit_report") == [
            {"report": DRAFT}, {"report": REPORT},
        ]  # fmt: skip
        assert _payloads(engine_, case_id, reader, "request_revision") == [{"reason": REVISION}]
    # The consulted funders and the CAF know of the case, not of what the reports say.
    for party in (FUNDER_A, FUNDER_B, CAF):
        history = engine_.history(case_id, party)
        hidden = [
            r.payload[field]
            for r in history
            for event, field in (("submit_report", "report"), ("request_revision", "reason"))
            if r.event == event
        ]
        assert len(hidden) == 3
        for value in hidden:
            assert is_redacted(value)
            assert value["__redacted__"]["readers"] == ["manager", "provider"]  # type: ignore[index]
        assert "gestionnaire" in hidden[0]["__redacted__"]["fr"]  # type: ignore[index]
        seen = json.dumps([r.payload for r in history], ensure_ascii=False)
        assert DRAFT not in seen
        assert REPORT not in seen
        assert REVISION not in seen
    # The bodies that take no part, whatever their role, do not know of the case.
    for outsider in (OTHER_FUNDER, FEDERATION, OTHER_ADMIN, OTHER_PROVIDER):
        _unknown_to(engine_, case_id, outsider)


def test_the_validated_report_alone_opens_to_the_consulted_funders_and_the_caf() -> None:
    engine_ = engine()
    case_id = _reported(engine_)
    engine_.fire(case_id, "validate_report", actor=ADMIN)
    for party in (FUNDER_A, FUNDER_B, CAF):
        draft, validated = _payloads(engine_, case_id, party, "submit_report")
        assert validated == {"report": REPORT}
        # The draft that was sent back and the revision request never open.
        assert is_redacted(draft["report"])  # type: ignore[index]
        (revision,) = _payloads(engine_, case_id, party, "request_revision")
        assert is_redacted(revision["reason"])  # type: ignore[index]
        seen = json.dumps([r.payload for r in engine_.history(case_id, party)], ensure_ascii=False)
        assert DRAFT not in seen
        assert REVISION not in seen
    for reader in (ADMIN, PROVIDER):
        assert engine_.history(case_id, reader) == whole(engine_, case_id)
    for outsider in (OTHER_FUNDER, FEDERATION, OTHER_ADMIN, OTHER_PROVIDER):
        _unknown_to(engine_, case_id, outsider)


def test_a_redacted_record_keeps_its_hash_and_its_digest_not_its_value() -> None:
    engine_ = engine()
    case_id = _reported(engine_)
    stored_records = whole(engine_, case_id)
    shown = engine_.history(case_id, FUNDER_A)
    assert len(shown) == len(stored_records)
    for seen, kept in zip(shown, stored_records, strict=True):
        redacted = [field for field, value in seen.payload.items() if is_redacted(value)]
        assert bool(redacted) == (kept.event in ("submit_report", "request_revision"))
        # Format 2: the hash covers each confidential value's salted digest, which the marker
        # keeps; value and salt are gone, so the hash confirms no guess (test_salted_records).
        assert (seen.hash, seen.prev_hash) == (kept.hash, kept.prev_hash)
        for field in redacted:
            assert field in kept.salts
            assert field not in seen.salts
            marker = seen.payload[field]["__redacted__"]
            assert marker["digest"] == value_digest(kept.salts[field], field, kept.payload[field])
        assert content_hash(seen) == seen.hash
    assert engine_.history(case_id, ADMIN) == stored_records


def test_an_auditor_reads_the_stored_history_and_the_read_is_logged() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "report_sent")
    assert whole(engine_, case.id) == list(engine_.storage.records(case.id))
    (access,) = engine_.accesses()
    assert (access.actor, access.case_ids) == (AUDITOR, (case.id,))


def test_main_road_is_the_documented_order() -> None:
    assert [step[0] for step in MSTR_PATH][:4] == [
        "refer", "record_funder_decision", "record_funder_decision", "validate",
    ]  # fmt: skip
