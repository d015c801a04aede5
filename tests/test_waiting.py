"""Whom an open case waits on, since when, and which cases are overdue (PROCEDURES.md,
« Waiting, deadlines and reminders »): the revision-1 stories on every store, the drafts of
revision 2, and the viewers' limits (invariant 9: an outsider's answer never includes a case
it may not see)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from _stories import (
    ADMIN,
    CAF,
    CONSULTANT,
    ESIA,
    FUNDER_A,
    FUNDER_B,
    INDIVIDUAL,
    NAME,
    OTHER_FUNDER,
    OTHER_PROVIDER,
    OTHER_STRUCTURE,
    PROVIDER,
    REPORT,
    STRUCTURE,
    dla_to,
    mstr_facts,
    mstr_to,
)
from small import TickingClock
from typer.testing import CliRunner

from stechnique import (
    Actor,
    Engine,
    InvalidArgument,
    Limit,
    ManualClock,
    Overdue,
    Policy,
    Procedure,
    Registry,
    Waited,
    Waiting,
    default_registry,
    waiting_on,
)
from stechnique.cli import app
from stechnique.storage.base import Storage
from stechnique.storage.sql import SQLStorage
from stechnique.workflows import soutien_technique_renforce_2015_2017 as mstr
from stechnique.workflows.drafts import drafts

FIXTURES = Path(__file__).parent / "fixtures" / "0.1.0"


def at(text: str) -> datetime:
    """A moment of the story, UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def on(waiting: Waiting) -> set[tuple[str, str]]:
    """Whom a case waits on, as (who, since) pairs a test reads at a glance."""
    return {(w.who, w.since.strftime("%Y-%m-%d")) for w in waiting.on}


def only(engine: Engine, viewer: Actor, **filters: Any) -> Waiting:
    found = engine.waiting(viewer, **filters)
    assert len(found) == 1, found
    return found[0]


# -- MSTR 2015-2017, revision 1: the Belle de Mai story, on every store ----------------------


def test_the_belle_de_mai_story_waits_on_whom_the_table_says(any_storage: Storage) -> None:
    clock = ManualClock("2016-01-04 09:00")
    engine = Engine(any_storage, clock=clock)
    case = engine.start(NAME, version="2015-2017", actor=ADMIN, facts=mstr_facts())

    def fire(day: str, event: str, actor: Actor, payload: dict[str, Any] | None = None) -> None:
        clock.on(f"{day} 09:00")
        engine.fire(case.id, event, actor=actor, payload=payload)

    assert on(only(engine, CAF)) == {("caf_coordinator", "2016-01-04")}
    fire("2016-01-05", "refer", CAF, {"funders": [FUNDER_A.id, FUNDER_B.id]})
    # « each consulted funder without a decision », each since its consultation
    assert on(only(engine, CAF)) == {("caf-13", "2016-01-05"), ("etat", "2016-01-05")}
    fire("2016-01-10", "record_funder_decision", FUNDER_A, {"decision": "approve"})
    assert on(only(engine, CAF)) == {("etat", "2016-01-05")}
    fire("2016-01-20", "record_funder_decision", FUNDER_B, {"decision": "approve"})
    # « then caf_coordinator », since the last decision
    assert on(only(engine, CAF)) == {("caf_coordinator", "2016-01-20")}
    fire("2016-01-21", "validate", CAF)
    assert on(only(engine, CAF)) == {("caf_coordinator", "2016-01-21")}
    # Revision 1's provider is the party read from the history: the one that acknowledged.
    fire("2016-01-25", "acknowledge_confidentiality", PROVIDER)
    waiting = only(engine, CAF)
    assert on(waiting) == {("cabinet", "2016-01-25")}
    assert waiting.on == (Waited("provider", "cabinet", None, at("2016-01-25 09:00")),)
    fire("2016-02-01", "start_diagnosis", PROVIDER)
    assert on(only(engine, CAF)) == {("cabinet", "2016-02-01")}
    fire("2016-03-01", "submit_report", PROVIDER, {"report": REPORT})
    assert on(only(engine, CAF)) == {("ca-belle-de-mai", "2016-03-01")}
    fire("2016-03-05", "validate_report", ADMIN)
    # « provider; caf_coordinator to close »
    waiting = only(engine, CAF)
    assert on(waiting) == {("cabinet", "2016-03-05"), ("caf_coordinator", "2016-03-05")}
    assert waiting.bodies() == {"cabinet"}
    assert waiting.roles() == {"caf_coordinator"}
    assert waiting.since == at("2016-03-05 09:00")
    assert waiting.due is None
    fire("2016-03-10", "hold_restitution", PROVIDER)
    fire("2016-04-01", "close", CAF, {"summary": "Mission menée à bien."})
    assert engine.waiting(CAF) == []  # a closed case waits on nobody


def test_waiting_on_a_body_or_a_role_and_overdue_under_a_policy(any_storage: Storage) -> None:
    clock = ManualClock("2016-01-04 09:00")
    engine = Engine(any_storage, clock=clock)
    referred = mstr_to(engine, "referred", steps=2)  # refer, then caf-13 approved
    clock.on("2016-02-01 09:00")
    requested = mstr_to(engine, "requested")
    assert [w.case_id for w in engine.waiting(CAF, on="etat")] == [referred.id]
    assert [w.case_id for w in engine.waiting(CAF, on="caf_coordinator")] == [requested.id]
    assert engine.waiting(CAF, on="caf-13") == []  # it has decided
    assert [w.case_id for w in engine.waiting(CAF, version="2015-2017")] == [
        referred.id,
        requested.id,
    ]

    policy = Policy((Limit("referred", timedelta(days=30)), Limit("requested", timedelta(days=7))))
    assert engine.overdue(CAF, at("2016-02-03 08:59"), policy) == []
    late = engine.overdue(CAF, at("2016-02-08 09:00"), policy)
    assert [(o.waiting.case_id, o.since, {w.who for w in o.on}) for o in late] == [
        (referred.id, at("2016-02-03 09:00"), {"etat"}),
        (requested.id, at("2016-02-08 09:00"), {"caf_coordinator"}),
    ]
    # The most specific limit wins: this version's referrals may wait longer.
    lenient = Policy(
        (
            *policy.limits,
            Limit("referred", timedelta(days=60), name=NAME, version="2015-2017"),
        )
    )
    assert [o.waiting.case_id for o in engine.overdue(CAF, at("2016-02-08 09:00"), lenient)] == [
        requested.id
    ]
    # Firing never depends on the policy: the overdue funder still decides.
    engine.fire(
        referred.id, "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"}
    )
    found = engine.waiting(CAF, on="caf_coordinator", name=NAME, version="2015-2017")
    assert [w.case_id for w in found] == [referred.id, requested.id]


def test_an_outsider_learns_nothing_from_waiting_and_overdue(any_storage: Storage) -> None:
    clock = ManualClock("2016-01-04 09:00")
    engine = Engine(any_storage, clock=clock)
    referred = mstr_to(engine, "referred", steps=1)  # waits on caf-13 and etat
    diagnosis = mstr_to(engine, "diagnosis")  # consulted caf-13 and etat; provider cabinet
    dla = dla_to(engine, "plan_drawn_up")  # its funders: caf-13 and etat
    everyone = Policy(tuple(Limit(s.id, timedelta(0)) for s in mstr.PROCEDURE.states))
    later = at("2016-06-01 00:00")
    # The region was never consulted; another firm never acknowledged: they see no case, even
    # when they ask about themselves or about a body the cases do wait on.
    for outsider in (OTHER_FUNDER, OTHER_PROVIDER, OTHER_STRUCTURE, Actor("x", {"esia"})):
        for asked in (None, outsider.id, "etat", "caf_coordinator", "esia_officer"):
            assert engine.waiting(outsider, on=asked) == []
            assert engine.overdue(outsider, later, everyone, on=asked) == []
    # A party sees its own cases only; the provider, the one it works on.
    assert {w.case_id for w in engine.waiting(PROVIDER)} == {diagnosis.id}
    assert {w.case_id for w in engine.waiting(FUNDER_B)} == {referred.id, diagnosis.id, dla.id}
    assert {w.case_id for w in engine.waiting(ESIA)} == {dla.id}
    assert {o.waiting.case_id for o in engine.overdue(PROVIDER, later, everyone)} == {diagnosis.id}


# -- DLA 2019, revision 1 --------------------------------------------------------------------


def test_the_dla_story_waits_on_the_listed_funders_then_the_officer(any_storage: Storage) -> None:
    engine = Engine(any_storage, clock=TickingClock("2019-03-01 09:00", timedelta(days=1)))
    first = dla_to(engine, "requested")
    assert {w.who for w in only(engine, ESIA).on} == {"cs-saint-gabriel"}
    dla_to(engine, "plan_drawn_up", actions=(INDIVIDUAL,), case_id="plan", steps=6)
    waiting = only(engine, ESIA, on="etat")
    assert (waiting.case_id, {w.who for w in waiting.on}) == ("plan", {"etat"})
    drawn_up = engine.history("plan", ESIA)[5]
    assert drawn_up.event == "draw_up_plan"
    assert waiting.on[0].since == drawn_up.at
    engine.fire("plan", "record_funder_decision", actor=FUNDER_B, payload={"decision": "approve"})
    assert {w.who for w in only(engine, ESIA, on="esia_officer").on} == {"esia_officer"}
    engine.fire("plan", "validate_plan", actor=ESIA)
    # Revision 1 has no `assign_consultant`: the officer until a consultant acknowledged.
    assert {w.who for w in only(engine, ESIA, on="esia_officer").on} == {"esia_officer"}
    engine.fire("plan", "acknowledge_confidentiality", actor=CONSULTANT)
    assert {w.who for w in only(engine, ESIA, on="consultante").on} == {"consultante"}
    engine.fire("plan", "start_individual_accompaniment", actor=CONSULTANT)
    waiting = only(engine, STRUCTURE, on="consultante", version="2019")
    assert {w.who for w in waiting.on} == {"consultante", "esia_officer"}
    # The structure is waited on for its first case only (the plan waits on others).
    assert [w.case_id for w in engine.waiting(ESIA, on=STRUCTURE.id)] == [first.id]


# -- convention-pluripartenariale 2013, revision 1 and the draft of revision 2 --------------

CENTRE = Actor("cs-acacias", {"centre"})
COPIL = Actor("copil-acacias", {"steering_committee"})
CONVENTION = "convention-pluripartenariale"


def test_a_2013_step_waits_on_the_centre_then_the_committee(any_storage: Storage) -> None:
    clock = ManualClock("2013-09-02 09:00")
    engine = Engine(any_storage, clock=clock)
    facts = {
        "centre": "Centre social Les Acacias",
        "agreement_expiry": "2017-06-30",
        "federation_member": True,
        "local_authority_interest": True,
    }
    case = engine.start(CONVENTION, version="2013", actor=CENTRE, facts=facts)
    step = {"document": "Protocole"}
    assert on(only(engine, CENTRE)) == {("cs-acacias", "2013-09-02")}
    clock.on("2013-09-10 09:00")
    engine.fire(case.id, "submit_step", actor=CENTRE, payload=step)
    # Revision 1 knows its committee once it has arbitrated: until then, the party unbound.
    waiting = only(engine, CENTRE)
    assert waiting.on == (Waited("steering_committee", None, None, at("2013-09-10 09:00")),)
    clock.on("2013-09-20 09:00")
    engine.fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "rework"})
    # A rework sends the step back to the centre, from the rework on.
    assert on(only(engine, COPIL)) == {("cs-acacias", "2013-09-20")}
    clock.on("2013-10-01 09:00")
    engine.fire(case.id, "submit_step", actor=CENTRE, payload=step)
    assert on(only(engine, CENTRE, on="copil-acacias")) == {("copil-acacias", "2013-10-01")}
    clock.on("2013-10-15 09:00")
    engine.fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
    assert on(only(engine, COPIL)) == {("cs-acacias", "2013-10-15")}
    assert only(engine, COPIL).due is None  # revision 1 records no com_end


def test_the_2013_evaluation_is_due_a_year_before_the_convention_ends() -> None:
    clock = ManualClock("2013-09-02 09:00")
    engine = Engine(registry=Registry(drafts()), clock=clock)
    facts = {
        "centre": "Centre social Les Acacias",
        "agreement_expiry": "2016-02-29",
        "federation_member": True,
        "local_authority_interest": True,
        "centre_id": "cs-acacias",
        "steering_committee": "copil-acacias",
        "federation_id": "fdcs-92",
        "commune": "Nanterre",
    }
    case = engine.start(CONVENTION, actor=CENTRE, facts=facts)
    fire, step = engine.fire, {"document": "Document de l'étape"}
    fire(case.id, "invite_partner", actor=COPIL, payload={"partner": "caf-92"})
    fire(case.id, "endorse_protocol", actor=Actor("caf-92", {"partner"}))
    # Revision 2 binds the committee from the start facts: it is named before it arbitrates.
    fire(case.id, "submit_step", actor=CENTRE, payload=step)
    assert {w.who for w in only(engine, CENTRE).on} == {"copil-acacias"}
    for _ in range(4):
        fire(case.id, "arbitrate", actor=COPIL, payload={"decision": "approve"})
        fire(case.id, "submit_step", actor=CENTRE, payload=step)
    assert only(engine, CENTRE).due is None  # no convention approved yet
    approve = {"decision": "approve", "com_end": "2016-02-29"}
    case = fire(case.id, "arbitrate", actor=COPIL, payload=approve)
    assert case.state == "evaluation"
    waiting = only(engine, COPIL)
    # « un an avant la date d'échéance »: 29 February has no twin, the 28th is the same.
    assert waiting.due == date(2015, 2, 28)
    assert {w.who for w in waiting.on} == {"cs-acacias"}
    # Due whatever the policy: an empty one still finds the case late from the next day on.
    assert engine.overdue(COPIL, at("2015-02-28 23:59"), Policy()) == []
    late = engine.overdue(COPIL, at("2015-03-01 00:00"), Policy())
    assert late == [Overdue(waiting, at("2015-03-01 00:00"), waiting.on)]
    assert engine.overdue(Actor("cs-voisin", {"centre"}), at("2016-01-01 00:00"), Policy()) == []


# -- MSTR revision 2 (draft): released funders, consulted funders, assigned providers --------


def test_the_draft_waits_on_funders_still_consulted_and_on_the_assigned_provider() -> None:
    clock = ManualClock("2016-03-01 09:00")
    engine = Engine(registry=Registry(drafts()), clock=clock)
    admin = Actor("marie", {"administrator"}, body="ca-belle-de-mai")
    facts = {**mstr_facts(), "commune": "Marseille"}
    case = engine.start(NAME, version="2015-2017", actor=admin, facts=facts)
    engine.fire(case.id, "refer", actor=CAF, payload={"funders": ["caf-13", "etat"]})
    clock.on("2016-03-10 09:00")
    engine.fire(case.id, "consult_funder", actor=CAF, payload={"funder": "ville-marseille"})
    assert on(only(engine, CAF)) == {
        ("caf-13", "2016-03-01"),
        ("etat", "2016-03-01"),
        ("ville-marseille", "2016-03-10"),
    }
    clock.on("2016-04-10 09:00")
    release = {"funder": "etat", "reason": "ne s'est pas prononcé"}
    engine.fire(case.id, "release_funder", actor=CAF, payload=release)
    for funder in (Actor("agent", {"funder"}, body="caf-13"), Actor("ville-marseille", {"funder"})):
        engine.fire(
            case.id, "record_funder_decision", actor=funder, payload={"decision": "approve"}
        )
    assert {w.who for w in only(engine, CAF).on} == {"caf_coordinator"}
    assert engine.waiting(Actor("etat", {"funder"})) == []  # released: no longer a party
    engine.fire(case.id, "validate", actor=CAF)
    assert {w.who for w in only(engine, CAF).on} == {"caf_coordinator"}
    clock.on("2016-04-20 09:00")
    engine.fire(case.id, "assign_provider", actor=CAF, payload={"provider": "singuliers-co"})
    assert on(only(engine, CAF)) == {("singuliers-co", "2016-04-20")}


# -- the value itself, and what the engine refuses --------------------------------------------


def test_waiting_on_reads_a_case_without_parties_from_its_history() -> None:
    engine = Engine(clock=ManualClock("2016-01-04 09:00"))
    case = mstr_to(engine, "diagnosis")
    records = engine.storage.records(case.id)
    bare = attrs.evolve(engine.storage.get(case.id), parties=None)
    assert waiting_on(mstr.PROCEDURE, bare, records).bodies() == {"cabinet"}
    # A version that declares no wait: nobody is waited on.
    plain = attrs.evolve(mstr.PROCEDURE, waits=())
    assert waiting_on(plain, bare, records).on == ()
    assert plain.fingerprint == mstr.PROCEDURE.fingerprint  # waits are outside it


@pytest.mark.parametrize(
    "data",
    [
        {"limit": [{"state": "referred"}]},
        {"limit": [{"state": "referred", "days": "30"}]},
        {"limit": [{"state": "referred", "days": -1}]},
        {"limit": [{"state": "referred", "days": 1e300}]},
        {"limit": [{"state": "referred", "days": float("nan")}]},
        {"limits": []},
        {"limit": [{"state": "referred", "days": 3, "colour": "red"}]},
    ],
)
def test_a_bad_policy_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        Policy.from_data(data)


def test_a_policy_loads_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[[limit]]\nstate = "referred"\ndays = 30\n\n'
        '[[limit]]\nstate = "referred"\ndays = 45\nname = "soutien-technique-renforce"\n',
        "utf-8",
    )
    policy = Policy.load(path)
    assert policy.limit(NAME, "2015-2017", "referred") == timedelta(days=45)
    assert policy.limit("autre", "1", "referred") == timedelta(days=30)
    assert policy.limit(NAME, "2015-2017", "requested") is None
    path.write_text("[[limit]\n", "utf-8")
    with pytest.raises(InvalidArgument):
        Policy.load(path)


def test_the_engine_refuses_a_naive_time_or_a_policy_of_another_kind() -> None:
    engine = Engine()
    with pytest.raises(InvalidArgument):
        engine.overdue(CAF, datetime(2016, 1, 1), Policy())  # naive: refused
    with pytest.raises(InvalidArgument):
        engine.overdue(CAF, at("2016-01-01 00:00"), {"referred": 30})  # type: ignore[arg-type]


def test_an_upgraded_010_store_answers_whom_its_open_case_waits_on(tmp_path: Path) -> None:
    copy = tmp_path / "store.db"
    copy.write_bytes((FIXTURES / "demo-0.1.0.sqlite").read_bytes())
    storage = SQLStorage(f"sqlite:///{copy}")
    try:
        engine = Engine(storage)
        # The MSTR case moved to the DLA: its structure is the MSTR case's manager, and both
        # versions' coordinators see it.
        for viewer in (CAF, ESIA, Actor("ca-air-bel", {"structure"})):
            (waiting,) = engine.waiting(viewer)
            assert (waiting.case_id, waiting.state) == ("mstr-air-bel", "problem_identified")
            assert waiting.bodies() == {"ca-air-bel"}
        assert engine.waiting(Actor("ca-belle-de-mai", {"administrator"})) == []
        assert engine.waiting(OTHER_STRUCTURE) == []
    finally:
        storage.close()


# -- the command line ------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    """Run the app in-process, wide and without colours: exit code, stdout, stderr."""
    env = {"COLUMNS": "250", "NO_COLOR": "1", "STECHNIQUE_DB": "", "STECHNIQUE_TABLE_PREFIX": ""}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_the_waiting_command_prints_whom_each_case_waits_on_in_french(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    storage = SQLStorage(db)
    try:
        engine = Engine(storage, clock=ManualClock("2016-01-04 09:00"))
        referred = mstr_to(engine, "referred", case_id="bdm", steps=2)
        mstr_to(engine, "diagnosis", case_id="abeille")
    finally:
        storage.close()
    code, out, _ = cli("waiting", "--as", "caf:caf_coordinator", "--db", db)
    assert code == 0
    assert "Saisine concertée (referred)" in out
    assert "etat (les financeurs consultés)" in out
    assert "cabinet (le prestataire)" in out
    assert "4 janv. 2016" in out  # French dates (Babel), the day in Paris
    assert "en retard depuis" not in out  # no policy given, no due date
    code, out, _ = cli("waiting", "--as", "caf:caf_coordinator", "--on", "etat", "--db", db)
    assert referred.id in out
    assert "abeille" not in out
    code, out, _ = cli(
        "waiting", "--as", "caf:caf_coordinator", "--overdue-after", "referred=30",
        "--at", "2016-02-04", "--overdue", "--db", db,
    )  # fmt: skip
    assert code == 0
    assert "en retard depuis" in out
    assert "3 févr. 2016" in out
    assert "abeille" not in out  # diagnosis: no limit given
    # An outsider sees an empty table, whatever it asks about.
    code, out, _ = cli("waiting", "--as", "region:funder", "--on", "etat", "--db", db)
    assert code == 0
    assert "bdm" not in out
    assert "abeille" not in out
    for bad in ("referred", "referred=-1", "referred=inf", "=3"):
        code, _, err = cli("waiting", "--as", "caf:caf_coordinator", "--overdue-after", bad)
        assert code == 2
        assert "ÉTAT=JOURS" in err


@pytest.mark.parametrize(
    "procedure",
    [*default_registry(), *drafts()],
    ids=lambda p: p.revision_key,
)
def test_every_open_state_of_the_published_versions_and_drafts_says_whom_it_waits_on(
    procedure: Procedure,
) -> None:
    open_states = [s.id for s in procedure.states if not s.terminal]
    assert [s for s in open_states if procedure.wait(s) is None] == []
