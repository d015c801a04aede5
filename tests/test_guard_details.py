"""Refusals that say what is missing, computed from what the guard saw, with names.

« Il manque l'accord de : Région Provence-Alpes-Côte d'Azur, Ville de Marseille »; « Refusé
par : État (motif : ...) ». Revision 1's guards are never edited: their explainers are
registered beside them; revision 2's guards declare theirs. The structured details stay on the
error (``GuardFailed.details``) and on ``explain``'s reasons; the store is left as it was.
"""

from __future__ import annotations

import pytest
from _stories import ADMIN, CAF, FUNDER_A, FUNDER_B, OTHER_FUNDER, engine, mstr_facts
from test_drafts_scenarios import ADMIN as ADMIN_R2
from test_drafts_scenarios import CAF as CAF_R2
from test_drafts_scenarios import CAF_13, ETAT, MARSEILLE
from test_drafts_scenarios import engine as draft_engine
from test_drafts_scenarios import mstr_facts as mstr_facts_r2

from stechnique import Actor, Bodies, Engine, GuardFailed, PermissionDenied
from stechnique.guard_details import GuardDetail
from stechnique.workflows.guards import GUARDS

NAME = "soutien-technique-renforce"


def _referred(engine_: Engine) -> str:
    case = engine_.start(NAME, version="2015-2017", actor=ADMIN, facts=mstr_facts())
    funders = [FUNDER_A.id, FUNDER_B.id, OTHER_FUNDER.id]
    engine_.fire(case.id, "refer", actor=CAF, payload={"funders": funders})
    return case.id


def test_a_refused_validation_names_who_refused_and_whose_approval_is_missing() -> None:
    engine_ = engine()
    engine_.bodies = Bodies({"etat": "État (DDCS 13)"})
    case_id = _referred(engine_)
    engine_.fire(case_id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "approve"})
    engine_.fire(case_id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "refuse"})
    before = engine_.storage.records(case_id)
    with pytest.raises(GuardFailed) as caught:
        engine_.fire(case_id, "validate", actor=CAF)
    assert caught.value.details == (
        GuardDetail("refused_by", ("etat",)),
        GuardDetail("missing_approval", ("region",)),
    )
    (failed,) = caught.value.failed_guards
    # Named by the directory first, else as a known funder; never the rule's positive statement.
    assert "Refusé par : État (DDCS 13)" in failed.fr
    assert "Il manque l'accord de : Région Provence-Alpes-Côte d'Azur" in failed.fr
    assert "Approval missing from: Région Provence-Alpes-Côte d'Azur" in failed.en
    assert GUARDS["validated_by_funders"].fr not in failed.fr
    assert engine_.storage.records(case_id) == before
    # explain() reads the same.
    (reason,) = engine_.explain(case_id, "validate", CAF).reasons
    assert "Il manque l'accord de : Région Provence-Alpes-Côte d'Azur" in reason.fr


def test_a_rejection_before_any_refusal_names_the_funders_still_to_decide() -> None:
    engine_ = engine()
    case_id = _referred(engine_)
    engine_.fire(case_id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "approve"})
    with pytest.raises(GuardFailed) as caught:
        engine_.fire(case_id, "reject", actor=CAF)
    assert caught.value.details == (GuardDetail("no_decision", ("etat", "region")),)
    assert "Sans décision : État, Région Provence-Alpes-Côte d'Azur" in str(caught.value)


def test_a_revision_2_refusal_carries_its_reason() -> None:
    engine_ = draft_engine()
    case = engine_.start(NAME, actor=ADMIN_R2, facts=mstr_facts_r2())
    funders = ["caf-13", "etat", "ville-marseille"]
    engine_.fire(case.id, "refer", actor=CAF_R2, payload={"funders": funders})
    engine_.fire(case.id, "record_funder_decision", actor=CAF_13, payload={"decision": "approve"})
    refusal = {"decision": "refuse", "reason": "Hors du champ de la convention."}
    engine_.fire(case.id, "record_funder_decision", actor=ETAT, payload=refusal)
    with pytest.raises(GuardFailed) as caught:
        engine_.fire(case.id, "validate", actor=CAF_R2)
    assert caught.value.details == (
        GuardDetail("refused_by", ("etat",), "Hors du champ de la convention."),
        GuardDetail("missing_approval", (MARSEILLE.id,)),
    )
    text = str(caught.value)
    assert "Refusé par : État (motif : Hors du champ de la convention.)" in text
    assert "Il manque l'accord de : Ville de Marseille" in text


def test_a_step_reserved_to_a_party_names_its_bodies_to_those_who_see_the_case() -> None:
    engine_ = draft_engine()
    engine_.bodies = Bodies({"ca-belle-de-mai": "Association Belle de Mai"})
    case = engine_.start(NAME, actor=ADMIN_R2, facts=mstr_facts_r2())
    engine_.fire(case.id, "refer", actor=CAF_R2, payload={"funders": ["caf-13", "etat"]})
    # The manager claiming a funder's role sees the case: it is told who the funders are.
    as_funder = Actor(ADMIN_R2.id, {"administrator", "funder"}, body=ADMIN_R2.body)
    explained = engine_.explain(case.id, "record_funder_decision", as_funder)
    (reason,) = explained.reasons
    assert (
        reason.fr == "Réservé aux financeurs consultés du dossier (Caf des Bouches-du-Rhône, État)"
    )
    # A consulted funder claiming the manager's role is told who the manager is.
    etat_as_board = Actor(ETAT.id, {"funder", "administrator"})
    (reason,) = engine_.explain(case.id, "withdraw", etat_as_board, {"reason": "Non."}).reasons
    assert reason.fr == "Réservé au gestionnaire du dossier (Association Belle de Mai)"
    # The refusal raised by the fire says the same, in both languages, and writes nothing.
    before = engine_.storage.records(case.id)
    with pytest.raises(PermissionDenied) as refused:
        engine_.fire(case.id, "withdraw", actor=etat_as_board, payload={"reason": "Non."})
    assert "réservé au gestionnaire du dossier (Association Belle de Mai)" in str(refused.value)
    assert "(Association Belle de Mai)" in refused.value.en
    assert refused.value.party_names == ("Association Belle de Mai",)
    assert engine_.storage.records(case.id) == before
