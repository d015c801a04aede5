"""Case parties: who takes part in a case decides who may act on it and who may read it.

The story of the issue, told on revision 1 (whose firing rules stay those of 0.1.0, while its
reading rules follow the parties its history binds), then the party check of a step on a
procedure that binds its steps to parties (revision 2's model).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from small import AUDITOR, parties_procedure, whole

from stechnique import (
    Actor,
    Engine,
    ManualClock,
    PermissionDenied,
    Registry,
    StechniqueError,
    UnknownCase,
    default_registry,
    export_jsonl,
)
from stechnique._chain import content_hash
from stechnique.audit import audit
from stechnique.parties import parties_of
from stechnique.storage.base import Storage
from stechnique.testing import snapshot
from stechnique.visibility import WITHHELD_HASH, is_redacted

MSTR = "soutien-technique-renforce"
BELLE_DE_MAI = Actor("ca-belle-de-mai", {"administrator"})
OTHER_CENTRE = Actor("ca-autre-centre", {"administrator"})
CAF = Actor("caf-coordination", {"caf_coordinator"})
ETAT = Actor("etat", {"funder"})
CAF_13 = Actor("caf-13", {"funder"})
VITROLLES = Actor("ville-vitrolles", {"funder"})
CABINET = Actor("cabinet-conseil", {"provider"})
UNASSIGNED = Actor("cabinet-inconnu", {"provider"})
DRAFT = "trésorerie négative, conflit bureau/direction"
REVISION = "préciser le plan de trésorerie"
VALIDATED = "trésorerie négative ; plan de retour à l'équilibre sur deux exercices"
FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["financial_management", "governance"],
}


def belle_de_mai(engine: Engine, until: str = "", before: str = "") -> str:
    """The MSTR story of Belle de Mai on revision 1, up to state ``until`` or up to event
    ``before``: a first report sent back, a second one validated."""
    case = engine.start(MSTR, version="2015-2017", actor=BELLE_DE_MAI, facts=FACTS).id
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("refer", CAF, {"funders": ["etat", "caf-13"]}),
        ("record_funder_decision", ETAT, {"decision": "approve"}),
        ("record_funder_decision", CAF_13, {"decision": "approve"}),
        ("validate", CAF, {}),
        ("acknowledge_confidentiality", CABINET, {}),
        ("start_diagnosis", CABINET, {}),
        ("submit_report", CABINET, {"report": DRAFT}),
        ("request_revision", BELLE_DE_MAI, {"reason": REVISION}),
        ("submit_report", CABINET, {"report": VALIDATED}),
        ("validate_report", BELLE_DE_MAI, {}),
    ]
    for event, actor, payload in steps:
        if engine.case(case, BELLE_DE_MAI).state == until or event == before:
            break
        engine.fire(case, event, actor=actor, payload=payload)
    return case


def reports(engine: Engine, case: str, viewer: Actor) -> list[Any]:
    """What ``viewer`` reads of each report and revision request, in order."""
    return [
        record.payload.get("report", record.payload.get("reason"))
        for record in engine.history(case, viewer)
        if record.event in ("submit_report", "request_revision")
    ]


def hidden(value: Any) -> bool:
    return is_redacted(value)


def test_an_outsider_learns_nothing_of_the_case_not_even_that_it_exists() -> None:
    engine = Engine()
    case = belle_de_mai(engine, until="report_sent")
    before = snapshot(engine.storage)
    for outsider in (OTHER_CENTRE, VITROLLES, UNASSIGNED, Actor("personne")):
        reads: list[Callable[[], object]] = [
            lambda o=outsider: engine.case(case, o),
            lambda o=outsider: engine.history(case, o),
            lambda o=outsider: engine.available_events(case, o),
            lambda o=outsider: engine.explain(case, "validate_report", o),
        ]
        for read in reads:
            with pytest.raises(UnknownCase) as seen:
                read()
            # The same answer as for a case that does not exist, word for word.
            with pytest.raises(UnknownCase) as absent:
                engine.case("no-such-case", outsider)
            assert str(seen.value) == str(absent.value).replace("no-such-case", case)
        assert engine.cases(viewer=outsider) == []
    # The other centre's board validating the report is refused by revision 1's own rule?
    # No: revision 1 lets any administrator fire it (firing rules unchanged). A refused step,
    # though, says nothing of the case to an outsider.
    with pytest.raises(UnknownCase):
        engine.fire(case, "refer", actor=OTHER_CENTRE, payload={"funders": ["etat"]})
    with pytest.raises(UnknownCase):
        engine.fire(case, "record_funder_decision", actor=VITROLLES, payload={"decision": "x"})
    assert snapshot(engine.storage) == before


def test_drafts_stay_between_manager_and_provider_and_the_validated_report_opens() -> None:
    engine = Engine()
    case = belle_de_mai(engine, before="validate_report")
    # Before validation: manager and provider read everything.
    assert reports(engine, case, BELLE_DE_MAI) == [DRAFT, REVISION, VALIDATED]
    assert reports(engine, case, CABINET) == [DRAFT, REVISION, VALIDATED]
    # The CAF coordinates (it sees the case) but is one of the « partenaires »: not yet.
    assert all(hidden(value) for value in reports(engine, case, CAF))
    assert all(hidden(value) for value in reports(engine, case, ETAT))
    engine.fire(case, "validate_report", actor=BELLE_DE_MAI)
    # « puis, une fois validé, aux partenaires »: the validated report only.
    for partner in (CAF, ETAT, CAF_13):
        draft, revision, validated = reports(engine, case, partner)
        assert hidden(draft)
        assert hidden(revision)
        assert validated == VALIDATED
    assert reports(engine, case, BELLE_DE_MAI) == [DRAFT, REVISION, VALIDATED]


def test_a_redacted_record_proves_its_chain_without_its_value_or_salt() -> None:
    """Format 2: a record with a redacted field keeps its real hash, which its withheld value's
    salted digest lets the viewer check, and shows neither the value nor its salt (the guessing
    attack itself: ``tests/test_salted_records.py``)."""
    engine = Engine()
    case = belle_de_mai(engine)
    shown = engine.history(case, ETAT)
    stored = whole(engine, case)
    assert any(is_redacted(value) for seen in shown for value in seen.payload.values())
    for seen, raw in zip(shown, stored, strict=True):
        assert (seen.hash, seen.prev_hash) == (raw.hash, raw.prev_hash)
        assert content_hash(seen) == seen.hash
        assert DRAFT not in repr(seen)
        assert REVISION not in repr(seen)
        for field, value in seen.payload.items():
            assert is_redacted(value) == (field not in seen.salts and field in raw.salts)
        assert WITHHELD_HASH not in (seen.hash, seen.prev_hash)


def test_revision_1_steps_fire_as_in_0_1_0_and_the_one_who_acts_becomes_a_party() -> None:
    engine = Engine()
    case = belle_de_mai(engine, until="validated")
    # A provider becomes a party of a revision-1 case by acknowledging (0.1.0 let any
    # provider do it: its firing rules are unchanged); before that it sees nothing.
    with pytest.raises(UnknownCase):
        engine.history(case, UNASSIGNED)
    engine.fire(case, "acknowledge_confidentiality", actor=UNASSIGNED)
    assert [r.event for r in engine.history(case, UNASSIGNED)][-1] == "acknowledge_confidentiality"
    # The funders consulted are parties; a funder never consulted is not, even afterwards.
    assert engine.case(case, ETAT).state == "validated"
    with pytest.raises(UnknownCase):
        engine.case(case, VITROLLES)


def test_listing_shows_each_viewer_its_own_cases_only() -> None:
    engine = Engine()
    first = belle_de_mai(engine, until="referred")
    other = engine.start(MSTR, version="2015-2017", actor=OTHER_CENTRE, facts=FACTS).id
    assert [c.id for c in engine.cases(viewer=BELLE_DE_MAI)] == [first]
    assert [c.id for c in engine.cases(viewer=OTHER_CENTRE)] == [other]
    assert [c.id for c in engine.cases(viewer=ETAT)] == [first]
    assert [c.id for c in engine.cases(viewer=CAF)] == [first, other]
    assert engine.cases(viewer=VITROLLES) == []


def test_a_person_acting_for_a_body_reads_as_that_body() -> None:
    engine = Engine()
    case = belle_de_mai(engine)
    marie = Actor("marie.dupont", {"administrator"}, body="ca-belle-de-mai")
    assert reports(engine, case, marie) == [DRAFT, REVISION, VALIDATED]
    paul = Actor("paul.martin", {"administrator"}, body="ca-autre-centre")
    with pytest.raises(UnknownCase):
        engine.history(case, paul)


def test_an_auditor_reads_everything_and_the_store_logs_who_when_why_which() -> None:
    clock = ManualClock()
    engine = Engine(clock=clock)
    case = belle_de_mai(engine)
    assert engine.accesses() == []
    records = engine.unredacted_history(case, auditor=AUDITOR, reason="contrôle annuel")
    assert [r.payload.get("report") for r in records if r.event == "submit_report"] == [
        DRAFT,
        VALIDATED,
    ]
    cases = engine.unredacted_cases(auditor=AUDITOR, reason="inventaire")
    (one, two) = engine.accesses()
    assert (one.actor, one.at, one.reason, one.case_ids) == (
        AUDITOR,
        clock(),
        "contrôle annuel",
        (case,),
    )
    assert (two.reason, two.case_ids) == ("inventaire", tuple(c.id for c in cases))
    with pytest.raises(StechniqueError, match="reason"):
        engine.unredacted_history(case, auditor=AUDITOR, reason="  ")


def test_an_export_names_who_reads_it() -> None:
    engine = Engine()
    case = belle_de_mai(engine)
    engine.start(MSTR, version="2015-2017", actor=OTHER_CENTRE, facts=FACTS)
    out = _Lines()
    export_jsonl(engine.storage, out, viewer=ETAT)
    assert {line["case_id"] for line in out.lines} == {case}
    assert DRAFT not in out.getvalue()
    with pytest.raises(StechniqueError, match="viewer"):
        export_jsonl(engine.storage, _Lines())
    whole_export = _Lines()
    export_jsonl(engine.storage, whole_export, auditor=AUDITOR, reason="sauvegarde")
    assert DRAFT in whole_export.getvalue()
    assert engine.accesses()[-1].reason == "sauvegarde"
    assert len(engine.accesses()[-1].case_ids) == 2


class _Lines:
    """A text stream that keeps what was written, and its JSON lines."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)

    @property
    def lines(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in self.getvalue().splitlines() if line]


# -- steps bound to parties ----------------------------------------------------------------

APPLICANT = Actor("asso-a", {"applicant"})
OTHER_APPLICANT = Actor("asso-b", {"applicant"})
COORDINATION = Actor("coordination", {"coordinator"})
REVIEWER_A = Actor("relecteur-a", {"reviewer"})
REVIEWER_B = Actor("relecteur-b", {"reviewer"})
EVERY_ROLE = frozenset({"applicant", "reviewer", "funder"})


def dossier() -> tuple[Engine, str]:
    engine = Engine(registry=Registry([parties_procedure()]))
    case = engine.start("dossier", actor=APPLICANT, facts={"text": "demande"}).id
    engine.fire(case, "consult", actor=COORDINATION, payload={"funders": ["etat", "region"]})
    engine.fire(
        case, "assign", actor=COORDINATION, payload={"part": "a", "reviewer": "relecteur-a"}
    )
    engine.fire(
        case, "assign", actor=COORDINATION, payload={"part": "b", "reviewer": "relecteur-b"}
    )
    return engine, case


def test_a_party_bound_step_needs_the_party_whatever_roles_are_claimed() -> None:
    engine, case = dossier()
    before = snapshot(engine.storage)
    # Another applicant's board, claiming every role: not a party, so not even the case.
    claimer = Actor("asso-b", EVERY_ROLE)
    with pytest.raises(UnknownCase):
        engine.fire(case, "review", actor=claimer, payload={"part": "a", "report": "x"})
    # A party of the case holding the role, but not the party the step is bound to.
    with pytest.raises(PermissionDenied) as refused:
        engine.fire(case, "review", actor=REVIEWER_B, payload={"part": "a", "report": "x"})
    error = refused.value
    assert error.party == "reviewer"
    assert "réservé au relecteur de la partie du dossier" in str(error)
    assert "reserved to the part's reviewer of the case" in error.en
    # It names who the party is (issue #15, « Réservé au gestionnaire du dossier (Association
    # Belle de Mai) »): only a party of the case gets this refusal, and the history it reads
    # already says whom ``assign`` bound.
    assert "(relecteur-a)" in error.fr
    assert "(relecteur-a)" in error.en
    assert any(r.payload.get("reviewer") == "relecteur-a" for r in engine.history(case, REVIEWER_B))
    assert snapshot(engine.storage) == before
    engine.fire(case, "review", actor=REVIEWER_A, payload={"part": "a", "report": "lu"})
    engine.fire(case, "review", actor=REVIEWER_B, payload={"part": "b", "report": "relu"})


def test_explain_and_available_events_answer_for_this_actor_on_this_case() -> None:
    engine, case = dossier()
    assert engine.available_events(case, REVIEWER_A) == ["review"]
    assert engine.available_events(case, APPLICANT) == ["withdraw"]
    # The reviewer of part b may review some part: listed; explained for part a, refused.
    assert "review" in engine.available_events(case, REVIEWER_B)
    reasons = engine.explain(case, "review", REVIEWER_B, {"part": "a", "report": "x"}).reasons
    assert [(r.kind, r.code) for r in reasons] == [("role", "reviewer")]
    # A party of the case is told which body the step is reserved to (issue 15).
    assert reasons[0].fr == "Réservé au relecteur de la partie du dossier (relecteur-a)"
    assert engine.explain(case, "review", REVIEWER_B, {"part": "b", "report": "x"}).allowed


def test_releasing_a_funder_takes_it_out_of_the_case() -> None:
    engine, case = dossier()
    etat = Actor("etat", {"funder"})
    assert engine.case(case, etat).id == case
    engine.fire(case, "release", actor=COORDINATION, payload={"funder": "etat"})
    with pytest.raises(UnknownCase):
        engine.case(case, etat)
    assert engine.case(case, Actor("region", {"funder"})).id == case


def test_the_case_row_keeps_the_parties_its_history_binds() -> None:
    engine, case = dossier()
    engine.fire(case, "review", actor=REVIEWER_A, payload={"part": "a", "report": "lu"})
    stored = engine.storage.get(case)
    assert stored is not None
    assert stored.parties is not None
    procedure = parties_procedure()
    assert stored.parties == parties_of(whole(engine, case), lambda _: procedure)
    assert stored.parties.bodies("reviewer", "a") == {"relecteur-a"}
    assert stored.parties.bodies("funder") == {"etat", "region"}


def test_the_audit_finds_a_party_bound_step_forged_by_an_outsider(any_storage: Storage) -> None:
    engine = Engine(any_storage, Registry([parties_procedure()]))
    case = engine.start("dossier", actor=APPLICANT, facts={"text": "demande"}).id
    engine.fire(
        case, "assign", actor=COORDINATION, payload={"part": "a", "reviewer": "relecteur-a"}
    )
    assert audit(any_storage, engine.registry).ok
    from audit_stories import forge

    forged = forge(any_storage, case, "review", REVIEWER_B, {"part": "a", "report": "faux"},
                   target="reviewing", procedure=parties_procedure())  # fmt: skip
    report = audit(any_storage, engine.registry)
    assert {(v.case_id, v.seq, v.code) for v in report.violations} >= {(case, forged.seq, "party")}


def test_default_registry_is_unchanged_by_the_reading_rules() -> None:
    # Reading rules are attached outside the fingerprints: every published one stays.
    assert all(procedure.reading is not None for procedure in default_registry())
    assert OTHER_APPLICANT.acts_for == "asso-b"


def test_a_body_that_does_not_see_a_case_cannot_act_on_it_even_where_its_role_may() -> None:
    """Revision 1 lets any administrator of an association withdraw by role alone; another
    centre's administrator still gets « unknown case », as for a read, and nothing is written.
    """
    from audit_stories import ADMIN, CENTRE_FACTS, MSTR

    engine = Engine(clock=ManualClock())
    case = engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS)
    stranger = Actor("ca-autre-centre", roles=ADMIN.roles)
    before = engine.storage.records(case.id)
    reason = {"reason": "plus besoin"}
    with pytest.raises(UnknownCase):
        engine.fire(case.id, "withdraw", actor=stranger, payload=reason)
    assert engine.storage.records(case.id) == before
    # The case's own manager still may.
    assert engine.fire(case.id, "withdraw", actor=ADMIN, payload=reason).state == "withdrawn"
