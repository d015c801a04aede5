"""The drafts' parties, judged by the engine: the stories of issue 13, replayed on revision 2.

« Réservé au gestionnaire du dossier »: a step bound to a party of the case is fired only by an
actor acting for a body bound to that party (invariant 8), whatever roles it claims. A body
that takes part in the case under another party is refused by ``PermissionDenied`` naming the
party it needed; a body that takes no part does not even learn the case exists
(``UnknownCase``, invariant 9). Either way the store is unchanged. The report is read by the
manager and the provider, and only the validated one by the consulted funders and the CAF
(« transmis au gestionnaire, puis, une fois validé, aux partenaires »).
"""

from __future__ import annotations

import pytest
from test_drafts_scenarios import (
    ADMIN,
    CAF,
    CAF_13,
    CENTRE,
    CONVENTION_NAME,
    COPIL,
    ETAT,
    MARSEILLE,
    NAME,
    PROVIDER,
    REPORT,
    convention_facts,
    engine,
    mstr_facts,
    validated,
)

from stechnique import Actor, Engine, PermissionDenied, UnknownCase, is_redacted

OTHER_BOARD = Actor("ca-autre-centre", {"administrator"})
STRANGER_FIRM = Actor("cabinet-inconnu", {"provider"})
VITROLLES = Actor("ville-vitrolles", {"funder"})


def _stored(engine_: Engine, case_id: str) -> tuple[object, ...]:
    return tuple(engine_.storage.records(case_id))


def refused(
    engine_: Engine, case_id: str, event: str, actor: Actor, party: str, **kw: object
) -> None:
    """``event`` by ``actor`` is refused naming ``party``, and the store is unchanged."""
    before = _stored(engine_, case_id)
    with pytest.raises(PermissionDenied) as error:
        engine_.fire(case_id, event, actor=actor, **kw)  # type: ignore[arg-type]
    assert error.value.party == party
    assert _stored(engine_, case_id) == before


def unknown_to(engine_: Engine, case_id: str, event: str, actor: Actor, **kw: object) -> None:
    """``event`` by ``actor``, who takes no part in the case, finds no case; nothing written."""
    before = _stored(engine_, case_id)
    with pytest.raises(UnknownCase):
        engine_.fire(case_id, event, actor=actor, **kw)  # type: ignore[arg-type]
    assert _stored(engine_, case_id) == before


def test_belle_de_mai_outsiders_claiming_the_roles_are_refused() -> None:
    engine_ = engine()
    case = engine_.start(NAME, actor=ADMIN, facts=mstr_facts())
    engine_.fire(case.id, "refer", actor=CAF, payload={"funders": ["caf-13", "etat"]})
    # A funder never consulted on this Marseille case cannot decide on it.
    approve = {"decision": "approve"}
    unknown_to(engine_, case.id, "record_funder_decision", VITROLLES, payload=approve)
    # The manager claiming the funder's role is not a consulted funder.
    as_funder = Actor(ADMIN.id, {"administrator", "funder"}, body=ADMIN.body)
    refused(engine_, case.id, "record_funder_decision", as_funder, "consulted_funder",
            payload=approve)  # fmt: skip
    for funder in (CAF_13, ETAT):
        engine_.fire(case.id, "record_funder_decision", actor=funder, payload=approve)
    engine_.fire(case.id, "validate", actor=CAF)
    engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    # A provider never assigned acknowledges nothing and does no work here.
    unknown_to(engine_, case.id, "acknowledge_confidentiality", STRANGER_FIRM)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    report = {"report": "Faux rapport."}
    unknown_to(engine_, case.id, "submit_report", STRANGER_FIRM, payload=report)
    # A consulted funder claiming the provider's role is not the case's provider.
    etat_as_provider = Actor(ETAT.id, {"funder", "provider"})
    refused(engine_, case.id, "submit_report", etat_as_provider, "provider", payload=report)
    engine_.fire(case.id, "submit_report", actor=PROVIDER, payload={"report": REPORT})
    # The board of another centre cannot validate Belle de Mai's report, nor withdraw it; nor
    # can a party of the case that claims the administrator's role.
    unknown_to(engine_, case.id, "validate_report", OTHER_BOARD)
    unknown_to(engine_, case.id, "withdraw", OTHER_BOARD, payload={"reason": "Non."})
    provider_as_board = Actor(PROVIDER.id, {"provider", "administrator"})
    refused(engine_, case.id, "validate_report", provider_as_board, "manager")
    with pytest.raises(PermissionDenied) as error:
        engine_.fire(case.id, "validate_report", actor=provider_as_board)
    assert "réservé au gestionnaire du dossier" in str(error.value)
    assert engine_.fire(case.id, "validate_report", actor=ADMIN).state == "report_validated"


def test_belle_de_mai_report_is_read_by_party() -> None:
    engine_ = engine()
    case = validated(engine_)
    engine_.fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    engine_.fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    engine_.fire(case.id, "start_diagnosis", actor=PROVIDER)
    engine_.fire(case.id, "submit_report", actor=PROVIDER, payload={"report": "Premier jet."})
    engine_.fire(case.id, "request_revision", actor=ADMIN, payload={"reason": "Préciser."})
    engine_.fire(case.id, "submit_report", actor=PROVIDER, payload={"report": REPORT})

    def reports(viewer: Actor) -> list[object]:
        return [r.payload.get("report", r.payload.get("reason"))
                for r in engine_.history(case.id, viewer)
                if r.event in ("submit_report", "request_revision")]  # fmt: skip

    assert reports(ADMIN) == ["Premier jet.", "Préciser.", REPORT]
    assert reports(PROVIDER) == ["Premier jet.", "Préciser.", REPORT]
    assert all(is_redacted(value) for value in reports(CAF) + reports(MARSEILLE))
    engine_.fire(case.id, "validate_report", actor=ADMIN)
    # Only the validated report opens, to the consulted funders and the CAF.
    for partner in (CAF, MARSEILLE):
        draft, revision, final = reports(partner)
        assert is_redacted(draft)
        assert is_redacted(revision)
        assert final == REPORT
    with pytest.raises(UnknownCase):
        engine_.history(case.id, VITROLLES)


def test_the_acacias_steps_are_their_parties() -> None:
    engine_ = engine("2013-09-02 09:00")
    case = engine_.start(CONVENTION_NAME, actor=CENTRE, facts=convention_facts())
    engine_.fire(case.id, "submit_step", actor=CENTRE, payload={"document": "Protocole"})
    other_committee = Actor("copil-voisin", {"steering_committee"})
    invite = {"partner": "caf-92"}
    unknown_to(engine_, case.id, "invite_partner", other_committee, payload=invite)
    # The centre claiming the committee's role is not its committee.
    centre_as_committee = Actor(CENTRE.id, {"centre", "steering_committee"})
    refused(engine_, case.id, "invite_partner", centre_as_committee, "steering_committee",
            payload=invite)  # fmt: skip
    refused(engine_, case.id, "endorse_protocol", Actor(CENTRE.id, {"partner"}), "partner")
    engine_.fire(case.id, "invite_partner", actor=COPIL, payload=invite)
    unknown_to(engine_, case.id, "endorse_protocol", Actor("ville-x", {"partner"}))
    engine_.fire(case.id, "endorse_protocol", actor=Actor("caf-92", {"partner"}))
    refused(engine_, case.id, "arbitrate", centre_as_committee, "steering_committee",
            payload={"decision": "approve"})  # fmt: skip
    refused(engine_, case.id, "withdraw", Actor(COPIL.id, {"centre"}), "centre",
            payload={"reason": "Non."})  # fmt: skip
    case = engine_.fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    assert case.state == "territorial_diagnosis"
