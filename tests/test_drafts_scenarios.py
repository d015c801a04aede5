"""Scenario tests of the revision-2 drafts, rule by rule, following the stories of the sources.

The rules here are the drafts' own (guards, payloads, periods); the party checks, which the
judge makes, are in ``test_drafts_parties.py``. Engines run on a registry of the drafts alone,
with a clock inside each version's period.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from small import TickingClock

from stechnique import (
    Actor,
    Case,
    Engine,
    GuardFailed,
    InvalidData,
    Procedure,
    Record,
    Registry,
)
from stechnique.workflows.drafts import drafts

MSTR, CONVENTION, DLA = drafts()
NAME = "soutien-technique-renforce"


def engine(start: str = "2016-03-01 09:00") -> Engine:
    """An in-memory engine on the MSTR and 2013 drafts, its clock ticking from ``start`` (the
    DLA draft, the same procedure's later version, has its own: ``test_drafts_dla.py``)."""
    return Engine(registry=Registry((MSTR, CONVENTION)), clock=TickingClock(start))


def holds_invariants(procedure: Procedure, records: Sequence[Record]) -> None:
    for invariant in procedure.invariants:
        assert invariant.check(records) is None, invariant.name


def refused_by(guard: str, error: pytest.ExceptionInfo[GuardFailed]) -> None:
    assert guard in error.value.names


# -- MSTR 2015-2017 revision 2: Belle de Mai -------------------------------------------------

ADMIN = Actor("marie", {"administrator"}, body="ca-belle-de-mai")
CAF = Actor("caf-coordination", {"caf_coordinator"})
CAF_13 = Actor("agent-caf", {"funder"}, body="caf-13")
ETAT = Actor("etat", {"funder"})
MARSEILLE = Actor("ville-marseille", {"funder"})
PROVIDER = Actor("singuliers-co", {"provider"})
OTHER_PROVIDER = Actor("autre-cabinet", {"provider"})
REPORT = "Trésorerie négative, conflit bureau/direction."


def mstr_facts(**changes: Any) -> dict[str, Any]:
    facts = {
        "centre": "Centre social Belle de Mai",
        "management": "association",
        "situation": "crisis",
        "domains": ["governance", "financial_management"],
        "commune": "Marseille",
    }
    return {**facts, **changes}


def belle_de_mai(engine_: Engine) -> Case:
    """Opened by its association and referred to three funders."""
    case = engine_.start(NAME, actor=ADMIN, facts=mstr_facts())
    funders = ["caf-13", "etat", "ville-marseille"]
    return engine_.fire(case.id, "refer", actor=CAF, payload={"funders": funders})


def validated(engine_: Engine) -> Case:
    case = belle_de_mai(engine_)
    for funder in (CAF_13, ETAT, MARSEILLE):
        engine_.fire(
            case.id, "record_funder_decision", actor=funder, payload={"decision": "approve"}
        )
    return engine_.fire(case.id, "validate", actor=CAF)


def test_the_belle_de_mai_story_runs_to_its_end_with_a_silent_funder_released() -> None:
    engine_ = engine()
    case = belle_de_mai(engine_)
    fire = engine_.fire
    fire(case.id, "record_funder_decision", actor=CAF_13, payload={"decision": "approve"})
    fire(case.id, "record_funder_decision", actor=ETAT, payload={"decision": "approve"})
    with pytest.raises(GuardFailed) as silent:
        fire(case.id, "validate", actor=CAF)
    refused_by("validated_by_funders_v2", silent)
    reason = {"funder": "ville-marseille", "reason": "Ne s'est pas prononcée en trois mois."}
    fire(case.id, "release_funder", actor=CAF, payload=reason)
    assert fire(case.id, "validate", actor=CAF).state == "validated"
    fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    with pytest.raises(GuardFailed) as unacknowledged:
        fire(case.id, "start_diagnosis", actor=PROVIDER)
    refused_by("confidentiality_acknowledged_v2", unacknowledged)
    fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    fire(case.id, "start_diagnosis", actor=PROVIDER)
    fire(case.id, "submit_report", actor=PROVIDER, payload={"report": "Premier jet."})
    fire(case.id, "request_revision", actor=ADMIN, payload={"reason": "Préciser la trésorerie."})
    fire(case.id, "submit_report", actor=PROVIDER, payload={"report": REPORT})
    fire(case.id, "validate_report", actor=ADMIN)
    fire(case.id, "hold_restitution", actor=PROVIDER)
    fire(case.id, "hold_partner_meeting", actor=CAF)
    fire(case.id, "start_accompaniment", actor=PROVIDER)
    case = fire(case.id, "close", actor=CAF, payload={"summary": "Mission menée à bien."})
    assert case.state == "closed"
    records = engine_.storage.records(case.id)
    assert {r.fingerprint for r in records} == {MSTR.fingerprint}
    holds_invariants(MSTR, records)
    assert engine_.audit().ok


@pytest.mark.parametrize(
    ("at", "opens"),
    [("2014-12-31 23:00", False), ("2015-01-01 08:00", True), ("2018-12-31 17:00", True),
     ("2019-01-01 08:00", False)],
)  # fmt: skip
def test_a_case_opens_only_within_the_period_of_the_version(at: str, opens: bool) -> None:
    engine_ = engine(at)
    if opens:
        assert engine_.start(NAME, actor=ADMIN, facts=mstr_facts()).state == "requested"
        return
    with pytest.raises(GuardFailed) as error:
        engine_.start(NAME, actor=ADMIN, facts=mstr_facts())
    refused_by("period_2015_2017", error)
    assert "du 1er janvier 2015 au 31 décembre 2018" in str(error.value)
    assert engine_.storage.cases() == []


def test_the_commune_is_a_required_fact() -> None:
    engine_ = engine()
    facts = mstr_facts()
    del facts["commune"]
    with pytest.raises(InvalidData) as error:
        engine_.start(NAME, actor=ADMIN, facts=facts)
    assert [p.field for p in error.value.problems] == ["commune"]
    with pytest.raises(InvalidData):
        engine_.start(NAME, actor=ADMIN, facts=mstr_facts(commune="  "))


@pytest.mark.parametrize(
    "funders",
    [["caf-13", "caf-13"], ["caf-13", "n'importe quoi"], [], "caf-13"],
    ids=["duplicate", "unknown", "empty", "not-a-list"],
)
def test_refer_accepts_only_known_funders_without_duplicates(funders: object) -> None:
    engine_ = engine()
    case = engine_.start(NAME, actor=ADMIN, facts=mstr_facts())
    with pytest.raises(InvalidData) as error:
        engine_.fire(case.id, "refer", actor=CAF, payload={"funders": funders})
    assert [p.field for p in error.value.problems] == ["funders"]
    assert engine_.case(case.id, CAF).seq == 1


def test_a_refusal_and_a_rejection_need_a_reason() -> None:
    engine_ = engine()
    case = belle_de_mai(engine_)
    with pytest.raises(InvalidData) as no_reason:
        engine_.fire(case.id, "record_funder_decision", actor=ETAT, payload={"decision": "refuse"})
    assert [p.field for p in no_reason.value.problems] == ["reason"]
    refusal = {"decision": "refuse", "reason": "Hors de nos priorités."}
    engine_.fire(case.id, "record_funder_decision", actor=ETAT, payload=refusal)
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "reject", actor=CAF)
    case = engine_.fire(case.id, "reject", actor=CAF, payload={"reason": "Refus de l'État."})
    assert case.state == "rejected"


def test_a_funder_decides_once_whoever_acts_for_it() -> None:
    engine_ = engine()
    case = belle_de_mai(engine_)
    engine_.fire(case.id, "record_funder_decision", actor=CAF_13, payload={"decision": "approve"})
    colleague = Actor("autre-agent-caf", {"funder"}, body="caf-13")
    with pytest.raises(GuardFailed) as again:
        engine_.fire(case.id, "record_funder_decision", actor=colleague,
                     payload={"decision": "refuse", "reason": "Changement d'avis."})  # fmt: skip
    refused_by("one_decision_per_funder_v2", again)


def test_the_caf_consults_a_funder_once_and_releases_only_an_undecided_one() -> None:
    engine_ = engine()
    case = belle_de_mai(engine_)
    with pytest.raises(GuardFailed) as twice:
        engine_.fire(case.id, "consult_funder", actor=CAF, payload={"funder": "etat"})
    refused_by("funder_not_yet_consulted", twice)
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "consult_funder", actor=CAF, payload={"funder": "mairie-de-paris"})
    engine_.fire(case.id, "record_funder_decision", actor=ETAT, payload={"decision": "approve"})
    release = {"funder": "etat", "reason": "Ne s'est pas prononcé."}
    with pytest.raises(GuardFailed) as decided:
        engine_.fire(case.id, "release_funder", actor=CAF, payload=release)
    refused_by("funder_consulted_undecided", decided)
    with pytest.raises(GuardFailed) as never_consulted:
        engine_.fire(case.id, "release_funder", actor=CAF, payload={**release, "funder": "region"})
    refused_by("funder_consulted_undecided", never_consulted)
    # A funder added late decides like the others; the decisions already recorded stay.
    engine_.fire(case.id, "consult_funder", actor=CAF, payload={"funder": "region"})
    for funder in (CAF_13, MARSEILLE):
        engine_.fire(
            case.id, "record_funder_decision", actor=funder, payload={"decision": "approve"}
        )
    with pytest.raises(GuardFailed):
        engine_.fire(case.id, "validate", actor=CAF)
    region = Actor("region", {"funder"})
    engine_.fire(case.id, "record_funder_decision", actor=region, payload={"decision": "approve"})
    assert engine_.fire(case.id, "validate", actor=CAF).state == "validated"
    holds_invariants(MSTR, engine_.storage.records(case.id))


def test_a_new_provider_acknowledges_before_it_works() -> None:
    engine_ = engine()
    case = validated(engine_)
    engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    with pytest.raises(GuardFailed) as same:
        engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    refused_by("provider_changes", same)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": OTHER_PROVIDER.id})
    report = {"report": REPORT}
    with pytest.raises(GuardFailed) as unacknowledged:
        engine_.fire(case.id, "submit_report", actor=OTHER_PROVIDER, payload=report)
    refused_by("confidentiality_acknowledged_v2", unacknowledged)
    # An acknowledgement made before the latest assignment does not count either.
    engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    with pytest.raises(GuardFailed):
        engine_.fire(case.id, "submit_report", actor=PROVIDER, payload=report)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    assert engine_.fire(case.id, "submit_report", actor=PROVIDER, payload=report).state == (
        "report_sent"
    )
    holds_invariants(MSTR, engine_.storage.records(case.id))


@pytest.mark.parametrize("steps", [0, 1, 5, 9])
def test_the_caf_may_abandon_a_mission_in_any_open_state_saying_why(steps: int) -> None:
    engine_ = engine()
    case = validated(engine_)
    path = [
        ("assign_provider", CAF, {"provider": PROVIDER.id}),
        ("acknowledge_confidentiality", PROVIDER, {}),
        ("start_diagnosis", PROVIDER, {}),
        ("submit_report", PROVIDER, {"report": REPORT}),
        ("validate_report", ADMIN, {}),
        ("hold_restitution", PROVIDER, {}),
        ("hold_partner_meeting", CAF, {}),
        ("start_accompaniment", PROVIDER, {}),
        ("assign_provider", CAF, {"provider": OTHER_PROVIDER.id}),
    ]
    for event, actor, payload in path[:steps]:
        case = engine_.fire(case.id, event, actor=actor, payload=payload)
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "abandon", actor=CAF)
    case = engine_.fire(case.id, "abandon", actor=CAF, payload={"reason": "Centre fermé."})
    assert case.state == "abandoned"


def test_the_invariants_of_revision_2_catch_work_by_an_unassigned_provider() -> None:
    engine_ = engine()
    case = validated(engine_)
    engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    records = list(engine_.storage.records(case.id))
    holds_invariants(MSTR, records)
    # The same step recorded for another body: the invariant names it.
    forged = attrs.evolve(records[-1], actor=OTHER_PROVIDER)
    (work,) = [i for i in MSTR.invariants if i.name == "acknowledged_before_work_v2"]
    assert "not the assigned provider" in (work.check([*records[:-1], forged]) or "")


# -- convention-pluripartenariale 2013 revision 2: Les Acacias, Nanterre --------------------

CONVENTION_NAME = "convention-pluripartenariale"
CENTRE = Actor("cs-acacias", {"centre"})
FDCS = Actor("agent-fdcs", {"federation"}, body="fdcs-92")
COPIL = Actor("copil-acacias", {"steering_committee"})
CAF_92 = Actor("caf-92", {"partner"})
OTHER_CENTRE = Actor("cs-voisin", {"centre"})
STEPS = ("protocol", "territorial_diagnosis", "priority_objectives", "social_project")


def convention_facts(**changes: Any) -> dict[str, Any]:
    facts = {
        "centre": "Centre social Les Acacias",
        "agreement_expiry": "2017-06-30",
        "federation_member": True,
        "local_authority_interest": True,
        "centre_id": "cs-acacias",
        "steering_committee": "copil-acacias",
        "federation_id": "fdcs-92",
        "commune": "Nanterre",
    }
    return {**facts, **changes}


def test_the_acacias_story_approves_its_convention_long_before_the_evaluation_date() -> None:
    engine_ = engine("2013-09-02 09:00")
    case = engine_.start(CONVENTION_NAME, actor=FDCS, facts=convention_facts())
    fire = engine_.fire

    def submit(actor: Actor = CENTRE) -> None:
        fire(case.id, "submit_step", actor=actor, payload={"document": "Document de l'étape"})

    submit(FDCS)
    fire(case.id, "invite_partner", actor=COPIL, payload={"partner": CAF_92.id})
    with pytest.raises(GuardFailed) as unendorsed:
        fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    refused_by("protocol_endorsed", unendorsed)
    fire(case.id, "endorse_protocol", actor=CAF_92)
    # A rework does not undo the endorsement: the committee approves the protocol reworked.
    fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "rework"})
    submit()
    case = fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    for step in STEPS[1:]:
        assert case.state == step
        submit()
        case = fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    assert case.state == "objectives_convention"
    submit()
    with pytest.raises(InvalidData) as no_end:
        fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    assert [p.field for p in no_end.value.problems] == ["com_end"]
    too_late = {"decision": "approve", "com_end": "2017-07-01"}
    with pytest.raises(GuardFailed) as beyond:
        fire(case.id, "arbitrate", actor=COPIL, payload=too_late)
    refused_by("com_end_within_agreement", beyond)
    # Autumn 2013, years before « un an avant la date d'échéance »: revision 1 refused this.
    approve = {"decision": "approve", "com_end": "2017-06-30"}
    case = fire(case.id, "arbitrate", actor=COPIL, payload=approve)
    assert case.state == "evaluation"
    submit()
    case = fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    assert case.state == "closed"
    assert engine_.audit().ok


def test_revision_1_gated_the_same_approval_by_the_date() -> None:
    from stechnique.workflows.convention_pluripartenariale_2013 import PROCEDURE as R1

    approve = R1.transition("objectives_convention", "arbitrate", {"decision": "approve"})
    assert approve is not None
    assert "one_year_before_expiry" in approve.guards


@pytest.mark.parametrize(
    ("at", "opens"),
    [("2013-05-31 17:00", False), ("2013-06-01 08:00", True), ("2015-06-30 17:00", True),
     ("2015-07-01 08:00", False)],
)  # fmt: skip
def test_the_experimentation_opens_cases_from_june_2013_to_june_2015(at: str, opens: bool) -> None:
    engine_ = engine(at)
    if opens:
        engine_.start(CONVENTION_NAME, actor=CENTRE, facts=convention_facts())
        return
    with pytest.raises(GuardFailed) as error:
        engine_.start(CONVENTION_NAME, actor=CENTRE, facts=convention_facts())
    refused_by("period_2013", error)


def test_only_the_centre_or_its_federation_opens_the_case_and_submits_its_work() -> None:
    engine_ = engine("2014-01-06 09:00")
    with pytest.raises(GuardFailed) as other:
        engine_.start(CONVENTION_NAME, actor=OTHER_CENTRE, facts=convention_facts())
    refused_by("for_the_centre_or_its_federation", other)
    other_federation = Actor("agent", {"federation"}, body="federation-75")
    with pytest.raises(GuardFailed):
        engine_.start(CONVENTION_NAME, actor=other_federation, facts=convention_facts())
    case = engine_.start(CONVENTION_NAME, actor=CENTRE, facts=convention_facts())
    document = {"document": "Protocole"}
    # A body that takes part in the case (an invited partner) claiming the centre's role.
    engine_.fire(case.id, "invite_partner", actor=COPIL, payload={"partner": CAF_92.id})
    claiming = Actor(CAF_92.id, {"partner", "centre"})
    with pytest.raises(GuardFailed) as foreign:
        engine_.fire(case.id, "submit_step", actor=claiming, payload=document)
    refused_by("for_the_centre_or_its_federation", foreign)
    engine_.fire(case.id, "submit_step", actor=FDCS, payload=document)


def test_the_centre_withdraws_saying_why() -> None:
    engine_ = engine("2014-01-06 09:00")
    case = engine_.start(CONVENTION_NAME, actor=CENTRE, facts=convention_facts())
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "withdraw", actor=CENTRE)
    case = engine_.fire(case.id, "withdraw", actor=CENTRE, payload={"reason": "Fusion."})
    assert case.state == "abandoned"
