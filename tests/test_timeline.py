"""``timeline``: a history as readable text, French first, labels instead of raw ids,
redactions shown, never their content."""

from __future__ import annotations

from datetime import datetime

import attrs
from _stories import (
    ADMIN,
    CAF,
    FUNDER_A,
    REPORT,
    engine,
    mstr_to,
)
from small import whole

from stechnique import Bodies, Registry
from stechnique.i18n import format_datetime, use_locale
from stechnique.timeline import timeline
from stechnique.workflows import default_registry


def test_each_record_shows_seq_date_actor_roles_event_and_states_in_french() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "validated")
    text = timeline(whole(engine_, case.id), engine_.registry)
    lines = text.splitlines()
    assert lines[0] == (
        f"Dossier {case.id} — Mission de soutien technique renforcé (Convention cadre "
        "2015-2017) (version 2015-2017)"
    )
    # Paris time with its offset, the roles by their labels.
    assert (
        "  1. 1 mars 2016, 10:01:00 UTC+01:00  ca-belle-de-mai (Administrateur du centre "
        "associatif)"
    ) in lines
    assert "     Ouverture du dossier : — → Fiche d'information transmise" in lines
    assert (
        "     Saisir les partenaires : Fiche d'information transmise → Saisine concertée" in lines
    )
    assert "     Décision d'un financeur (étape : Saisine concertée)" in lines
    # Fields, options and bodies by their labels and names; no raw id where a label exists.
    assert "       Situation : situation de crise avérée" in lines
    assert "       Champs d'intervention : gouvernance, gestion financière" in lines
    assert "       Financeurs consultés : Caf des Bouches-du-Rhône, État" in lines
    assert "       Décision : accord" in lines
    for raw in ("crisis", "approve", "financial_management", "caf_coordinator", "UTC times"):
        assert raw not in text
    record = engine_.storage.records(case.id)[-1]
    assert f"{format_datetime(record.at)}  {CAF.id} (Coordination Caf du dispositif)" in text


def test_the_same_timeline_in_english() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    with use_locale("en"):
        text = timeline(whole(engine_, case.id), engine_.registry)
    assert text == timeline(whole(engine_, case.id), engine_.registry, lang="en")
    assert text.startswith(f"Case {case.id} — Reinforced technical support mission")
    assert "Mar 1, 2016" in text
    assert "       Situation: actual crisis" in text  # English punctuation
    assert "     Refer to the partners: Information sheet sent → Joint referral" in text
    assert "(Administrator (association))" in text
    assert "       Funders consulted: Caf des Bouches-du-Rhône, État" in text


def test_bodies_are_named_by_the_directory() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    bodies = Bodies({"ca-belle-de-mai": "Association Belle de Mai", "etat": "État (DDCS 13)"})
    text = timeline(whole(engine_, case.id), engine_.registry, bodies=bodies)
    assert "  1. " in text
    assert "Association Belle de Mai (Administrateur du centre associatif)" in text
    assert "Financeurs consultés : Caf des Bouches-du-Rhône, État (DDCS 13)" in text


def test_a_redacted_field_shows_as_confidential_with_its_reason_and_never_its_content() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "report_sent")
    for_funder = timeline(engine_.history(case.id, viewer=FUNDER_A), engine_.registry)
    assert "Rapport du diagnostic : « [confidentiel] » (Rapport du diagnostic : réservé" in (
        for_funder
    )
    assert REPORT not in for_funder
    for_manager = timeline(engine_.history(case.id, viewer=ADMIN), engine_.registry)
    assert f"Rapport du diagnostic : {REPORT}" in for_manager
    assert "[confidentiel]" not in for_manager
    english = timeline(engine_.history(case.id, viewer=FUNDER_A), engine_.registry, lang="en")
    assert "Diagnosis report: « [confidential] » (Diagnosis report: for the manager" in english


def test_a_migration_shows_both_versions_their_titles_and_the_labels_of_each() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    engine_.migrate(case.id, "2019", actor=CAF, reason="DLA",
                    facts={"contact_email": "a@b.fr", "moment": "new_director"})  # fmt: skip
    text = timeline(whole(engine_, case.id))
    first = text.splitlines()[0]
    assert first.endswith(
        "— Mission de soutien technique renforcé (Convention cadre 2015-2017) → Soutien "
        "technique renforcé par le Dispositif Local d'Accompagnement (2019) (version "
        "2015-2017 → 2019)"
    )
    assert (
        "     Migration vers une nouvelle version : Saisine concertée → Demande déposée"
    ) in text
    assert "       Désormais : Soutien technique renforcé par le Dispositif Local" in text
    assert "       Motif : DLA" in text
    assert "       Empreinte d'origine : " in text
    assert "         Moment clé : nouveau directeur" in text  # the new version's labels
    assert case.fingerprint not in text  # long hashes are shortened
    assert "{'" not in text  # never a Python dict


def test_unknown_versions_fall_back_to_ids_and_no_record_gives_no_text() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    text = timeline(whole(engine_, case.id), Registry())
    assert "Dossier" in text
    assert "refer : requested → referred" in text
    assert "funders : caf-13, etat" in text
    assert timeline([], default_registry()) == ""


def test_long_texts_are_shortened_numbers_and_objects_are_readable() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    record = engine_.storage.records(case.id)[-1]
    long = attrs.evolve(
        record, payload={"reason": "a" * 300, "nested": {"ok": True, "jobs": 12000}}
    )
    text = timeline([long], engine_.registry)
    assert "a" * 159 + "…" in text
    assert "a" * 160 not in text
    assert "nested : (ok : oui ; jobs : 12\u202f000)" in text
    at = datetime.fromisoformat("2016-07-01T12:00:00+00:00")
    assert format_datetime(at) in timeline([attrs.evolve(long, at=at)], engine_.registry)
