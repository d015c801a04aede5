"""``timeline``: a history as readable French text, redactions shown, never their content."""

from __future__ import annotations

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

from stechnique import Registry
from stechnique.timeline import timeline
from stechnique.workflows import default_registry


def test_each_record_shows_seq_date_actor_roles_event_and_states_in_french() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "validated")
    text = timeline(whole(engine_, case.id), engine_.registry)
    lines = text.splitlines()
    assert lines[0] == (
        f"Dossier {case.id} — Mission de soutien technique renforcé (Convention cadre "
        "2015-2017) (version 2015-2017, heures UTC)"
    )
    assert "  1. 01/03/2016 09:01  ca-belle-de-mai (administrator)" in lines
    assert "     Ouverture du dossier : — → Fiche d'information transmise" in lines
    assert (
        "     Saisir les partenaires : Fiche d'information transmise → Saisine concertée" in lines
    )
    assert "     Décision d'un financeur (étape : Saisine concertée)" in lines
    assert "       funders : caf-13, etat" in lines
    assert "       decision : approve" in lines
    record = engine_.storage.records(case.id)[-1]
    assert f"{record.seq:>3}. {record.at:%d/%m/%Y %H:%M}  {CAF.id} (caf_coordinator)" in lines


def test_a_redacted_field_shows_as_confidential_with_its_reason_and_never_its_content() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "report_sent")
    for_funder = timeline(engine_.history(case.id, viewer=FUNDER_A), engine_.registry)
    assert "report : « [confidentiel] » (Rapport du diagnostic : réservé" in for_funder
    assert REPORT not in for_funder
    for_manager = timeline(engine_.history(case.id, viewer=ADMIN), engine_.registry)
    assert f"report : {REPORT}" in for_manager
    assert "[confidentiel]" not in for_manager


def test_a_migration_shows_both_versions_and_the_state_labels_of_each() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    engine_.migrate(case.id, "2019", actor=CAF, reason="DLA",
                    facts={"contact_email": "a@b.fr", "moment": "new_director"})  # fmt: skip
    text = timeline(whole(engine_, case.id))
    assert "(version 2015-2017 → 2019, heures UTC)" in text
    assert (
        "     Migration vers une nouvelle version : Saisine concertée → Demande déposée "
        "[2015-2017 → 2019]"
    ) in text
    assert "       reason : DLA" in text
    assert "       from_fingerprint : " in text
    assert case.fingerprint not in text  # long hashes are shortened


def test_unknown_versions_fall_back_to_ids_and_no_record_gives_no_text() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    text = timeline(whole(engine_, case.id), Registry())
    assert "Dossier" in text
    assert "refer : requested → referred" in text
    assert timeline([], default_registry()) == ""


def test_long_texts_are_shortened_and_lists_and_objects_are_readable() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    record = engine_.storage.records(case.id)[-1]
    long = attrs.evolve(record, payload={"funders": ["a" * 300], "nested": {"ok": True}})
    text = timeline([long], engine_.registry)
    assert "a" * 159 + "…" in text
    assert "a" * 160 not in text
    assert "nested : {ok : oui}" in text
