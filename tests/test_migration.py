"""Migration of open 2015-2017 (MSTR) cases to 2019 (DLA): the record, the refusals, the audit."""

from __future__ import annotations

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
    PROVIDER,
    engine,
    mstr_facts,
    mstr_to,
    stored,
)
from small import TickingClock, the_case

from stechnique import (
    Actor,
    Case,
    ConcurrencyConflict,
    DefinitionError,
    Engine,
    InvalidData,
    InvalidEvent,
    ManualClock,
    MigrationRefused,
    PermissionDenied,
    Record,
    Registry,
    UnknownCase,
    UnknownProcedure,
    default_registry,
)
from stechnique.audit import audit
from stechnique.records import GENESIS_HASH, seal
from stechnique.storage import SQLStorage
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows import soutien_technique_renforce_2015_2017 as mstr
from stechnique.workflows import soutien_technique_renforce_2019 as dla

#: The DLA structure of a migrated MSTR case is the body that started it (its manager):
#: PROCEDURES.md, « Parties of a case ».
STRUCTURE = Actor("ca-belle-de-mai", {"structure"})
SUPPLIED = {"contact_email": "direction@cs.example.org", "moment": "new_dynamic"}
WHY = "Poursuite de la mission par le DLA."


def _migrate(engine_: Engine, case_id: str, **changes: Any) -> Any:
    arguments: dict[str, Any] = {"actor": CAF, "facts": SUPPLIED, "reason": WHY, **changes}
    return engine_.migrate(case_id, "2019", **arguments)


@pytest.mark.parametrize("state", ["requested", "referred", "validated"])
def test_an_open_case_moves_to_2019_with_one_migration_record(state: str) -> None:
    engine_ = engine()
    case = mstr_to(engine_, state)
    old_records = tuple(engine_.storage.records(case.id))
    plan = _migrate(engine_, case.id)
    assert plan.applied
    record = plan.record
    assert (record.event, record.source, record.target) == ("migrate", state, "requested")
    assert (record.seq, record.prev_hash, record.actor) == (case.seq + 1, case.head, CAF)
    new = engine_.procedure(NAME, "2019")
    assert (record.name, record.version, record.fingerprint) == (NAME, "2019", new.fingerprint)
    assert record.payload == {
        "from_version": "2015-2017",
        "to_version": "2019",
        "from_fingerprint": case.fingerprint,
        "reason": WHY,
        "facts": {
            "structure": "Centre social Belle de Mai",
            "domains": ["steering_governance", "financial_management"],
            **SUPPLIED,
        },
    }
    stored = the_case(engine_, case.id)
    assert (stored.version, stored.fingerprint, stored.state) == (
        "2019", new.fingerprint, "requested",
    )  # fmt: skip
    assert stored.facts == record.payload["facts"]
    assert (stored.seq, stored.head, stored.created_at) == (
        record.seq,
        record.hash,
        case.created_at,
    )
    assert tuple(engine_.storage.records(case.id))[:-1] == old_records
    assert engine_.audit().ok


def test_the_migrated_case_goes_on_under_2019_and_keeps_its_old_records_readable() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "validated")
    _migrate(engine_, case.id)
    assert engine_.available_events(case.id, STRUCTURE) == ["send_pre_diagnostic", "withdraw"]
    with pytest.raises(PermissionDenied):  # the 2015-2017 roles no longer act on it
        engine_.fire(case.id, "withdraw", actor=ADMIN, payload={"reason": "x"})
    engine_.fire(case.id, "send_pre_diagnostic", actor=STRUCTURE, payload={"pre_diagnostic": "p"})
    history = engine_.history(case.id, viewer=FUNDER_A)
    assert [r.version for r in history] == ["2015-2017"] * 5 + ["2019"] * 2
    assert history[1].payload == {"funders": [FUNDER_A.id, FUNDER_B.id]}
    assert engine_.audit().ok


def test_old_acknowledgements_and_decisions_do_not_carry_over() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "validated", steps=5)  # provider acknowledged under 2015-2017
    assert any(r.event == "acknowledge_confidentiality" for r in engine_.storage.records(case.id))
    _migrate(engine_, case.id)
    for event, actor, payload in [
        ("send_pre_diagnostic", STRUCTURE, {"pre_diagnostic": "p"}),
        ("hold_qualification_meeting", ESIA, {"needs": "n"}),
        ("identify_problem", Actor("fa", {"france_active_officer"}),
         {"diagnosis": "d", "recommendations": ["r"]}),
        ("accept_recommendations", STRUCTURE, {}),
        ("draw_up_plan", ESIA, {"actions": [INDIVIDUAL], "funders": ["caf-13"]}),
    ]:  # fmt: skip
        engine_.fire(case.id, event, actor=actor, payload=payload)
    explanation = engine_.explain(case.id, "validate_plan", ESIA)
    assert [r.code for r in explanation.reasons] == ["validated_by_funders"]
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "approve"})
    engine_.fire(case.id, "validate_plan", actor=ESIA)
    dla_consultant = Actor(PROVIDER.id, {"consultant"})
    reasons = engine_.explain(case.id, "start_individual_accompaniment", dla_consultant).reasons
    assert [r.code for r in reasons] == ["confidentiality_acknowledged"]
    engine_.fire(case.id, "acknowledge_confidentiality", actor=CONSULTANT)
    engine_.fire(case.id, "start_individual_accompaniment", actor=CONSULTANT)
    records = engine_.storage.records(case.id)
    for invariant in dla.PROCEDURE.invariants:
        assert invariant.check(records) is None


def test_a_dry_run_says_what_would_happen_and_writes_nothing() -> None:
    engine_ = Engine(clock=ManualClock("2016-03-01 09:00"))  # a clock that stands still
    case = mstr_to(engine_, "referred")
    before = stored(engine_, case.id)
    trial = _migrate(engine_, case.id, dry_run=True)
    assert not trial.applied
    assert (trial.source, trial.target, trial.from_version, trial.to_version) == (
        "referred", "requested", "2015-2017", "2019",
    )  # fmt: skip
    assert trial.facts["structure"] == "Centre social Belle de Mai"
    assert stored(engine_, case.id) == before
    done = _migrate(engine_, case.id)
    assert done.record == trial.record
    assert done.case == trial.case == the_case(engine_, case.id)


@pytest.mark.parametrize("state", ["diagnosis", "report_sent", "restitution", "accompaniment"])
def test_a_case_past_validated_finishes_under_2015_2017(state: str) -> None:
    engine_ = engine()
    case = mstr_to(engine_, state)
    before = stored(engine_, case.id)
    for dry_run in (True, False):
        with pytest.raises(MigrationRefused) as error:
            _migrate(engine_, case.id, dry_run=dry_run)
        assert (error.value.from_version, error.value.to_version) == ("2015-2017", "2019")
        # The state by its label, in the language in force; the reason kept in both.
        label = engine_.procedure("soutien-technique-renforce", "2015-2017").state(state)
        assert f"un dossier à l'état « {label.fr} » est au-delà des états" in str(error.value)
        assert f"a case in '{label.en}' is past the states that may move" in error.value.en
        assert "finishes under 2015-2017" in error.value.reason
    assert stored(engine_, case.id) == before


def test_closed_cases_same_version_and_undeclared_migrations_are_refused() -> None:
    engine_ = engine()
    withdrawn = mstr_to(engine_, "referred")
    engine_.fire(withdrawn.id, "withdraw", actor=ADMIN, payload={"reason": "Plus besoin."})
    with pytest.raises(MigrationRefused, match="terminé : il a fini à l'état « Demande retirée »"):
        _migrate(engine_, withdrawn.id)
    case = mstr_to(engine_, "requested")
    with pytest.raises(MigrationRefused) as there:
        engine_.migrate(case.id, "2015-2017", actor=CAF, facts={}, reason=WHY)
    assert there.value.reason == "the case is already there"
    with pytest.raises(UnknownProcedure):
        engine_.migrate(case.id, "2031", actor=CAF, facts={}, reason=WHY)
    _migrate(engine_, case.id)
    with pytest.raises(MigrationRefused, match="aucune migration entre ces versions"):
        engine_.migrate(case.id, "2015-2017", actor=CAF, facts=mstr_facts(), reason=WHY)
    assert engine_.audit().ok


def test_a_request_a_funder_refused_is_not_migrated() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A, payload={"decision": "refuse"})
    before = stored(engine_, case.id)
    with pytest.raises(MigrationRefused) as error:
        _migrate(engine_, case.id, dry_run=True)
    assert "no_funder_refused" in error.value.reason
    assert stored(engine_, case.id) == before


@pytest.mark.parametrize("actor", [ADMIN, PROVIDER, FUNDER_A, ESIA])
def test_only_the_caf_coordinator_may_migrate(actor: Actor) -> None:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    before = stored(engine_, case.id)
    # A party of the case is told which role may; anyone else learns nothing of the case.
    party = actor in (ADMIN, FUNDER_A)
    with pytest.raises(PermissionDenied if party else UnknownCase) as error:
        _migrate(engine_, case.id, actor=actor)
    if isinstance(error.value, PermissionDenied):
        assert (error.value.event, error.value.allowed) == ("migrate", ("caf_coordinator",))
    assert stored(engine_, case.id) == before


def test_bad_supplied_facts_and_missing_reason_are_named() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "requested")
    before = stored(engine_, case.id)
    with pytest.raises(InvalidData) as error:
        _migrate(engine_, case.id, facts={"contact_email": "nope", "color": "blue"}, reason=" ")
    assert {p.field for p in error.value.problems} == {"contact_email", "moment", "color", "reason"}
    assert stored(engine_, case.id) == before


def test_domains_without_a_2019_counterpart_must_be_supplied() -> None:
    engine_ = engine()
    facts = {**mstr_facts(), "domains": ["project_engineering", "other"]}
    case = engine_.start(NAME, version="2015-2017", actor=ADMIN, facts=facts)
    with pytest.raises(InvalidData) as error:
        _migrate(engine_, case.id)
    assert [p.field for p in error.value.problems] == ["domains"]
    plan = _migrate(engine_, case.id, facts={**SUPPLIED, "domains": ["human_resources"]})
    assert plan.facts["domains"] == ["human_resources"]


def test_the_migration_is_declared_as_data_with_the_newer_version() -> None:
    migration = dla.MIGRATION
    assert default_registry().migration(NAME, "2015-2017", "2019") == migration
    assert dict(migration.states) == {
        "requested": "requested", "referred": "requested", "validated": "requested",
    }  # fmt: skip
    assert migration.translate({"centre": "CS", "management": "association",
                                "domains": ["governance", "other"]}) == {
        "structure": "CS", "domains": ["steering_governance"],
    }  # fmt: skip
    assert migration.supplied == ("contact_email", "moment")


def test_a_migration_inconsistent_with_its_versions_is_refused_with_every_problem() -> None:
    registry = Registry([mstr.PROCEDURE, dla.PROCEDURE])
    broken = attrs.evolve(
        dla.MIGRATION,
        states={"closed": "requested", "referred": "nowhere"},
        facts={"structure": "centre_name"},
        supplied=("phone",),
        roles=("structure",),
    )
    with pytest.raises(DefinitionError) as error:
        registry.register_migration(broken)
    assert error.value.problems == (
        "state 'closed' is not an open state of soutien-technique-renforce@2015-2017",
        "state 'nowhere' is not a state of soutien-technique-renforce@2019",
        "fact 'centre_name' is not a fact of soutien-technique-renforce@2015-2017",
        "supplied fact 'phone' is not a fact of soutien-technique-renforce@2019",
        "role 'structure' is not a role of soutien-technique-renforce@2015-2017",
    )
    assert registry.migration(NAME, "2015-2017", "2019") is None


# -- the audit replays migrate records ------------------------------------------------------


def _restored(records: list[Record], last: Case) -> MemoryStorage:
    """A store holding ``records`` re-chained (hashes recomputed), as a forger would write."""
    storage = MemoryStorage()
    previous = GENESIS_HASH
    sealed = []
    for record in records:
        sealed.append(seal(attrs.evolve(record, prev_hash=previous)))
        previous = sealed[-1].hash
    for record in sealed:
        row = attrs.evolve(
            last,
            seq=record.seq,
            head=record.hash,
            state=record.target,
            version=record.version,
            fingerprint=record.fingerprint,
        )
        if record.seq == 1:
            storage.create(row, record)
        else:
            storage.append(row, record)
    return storage


def _forged(change: dict[str, Any]) -> list[str]:
    engine_ = engine()
    case = mstr_to(engine_, "referred")
    _migrate(engine_, case.id)
    records = list(engine_.storage.records(case.id))
    records[-1] = attrs.evolve(records[-1], **change)
    report = audit(_restored(records, the_case(engine_, case.id)), default_registry())
    return [violation.message for violation in report.violations]


def test_audit_accepts_an_honest_migration_rechained() -> None:
    assert _forged({}) == []


def test_audit_catches_a_migration_to_another_state() -> None:
    assert _forged({"target": "pre_diagnostic"}) == [
        "migration maps 'referred' to 'requested', not 'pre_diagnostic'"
    ]


def test_audit_catches_a_migration_by_a_role_not_allowed() -> None:
    assert _forged({"actor": ADMIN}) == ["actor 'ca-belle-de-mai' had no role allowed to migrate"]


def test_audit_catches_a_migration_that_no_version_declares() -> None:
    registry = Registry([mstr.PROCEDURE, dla.PROCEDURE])  # no migration registered
    engine_ = Engine(registry=registry)
    case = mstr_to(engine_, "referred")
    default = Engine(engine_.storage)
    default.migrate(case.id, "2019", actor=CAF, facts=SUPPLIED, reason=WHY)
    report = audit(engine_.storage, registry)
    assert [v.message for v in report.violations] == [
        "migration soutien-technique-renforce@2015-2017 -> soutien-technique-renforce@2019 "
        "is not declared"
    ]


def test_a_migration_is_stored_and_reread_by_the_sql_adapter(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    writer = Engine(SQLStorage(url), clock=TickingClock())
    case = mstr_to(writer, "referred")
    done = _migrate(writer, case.id)
    writer.storage.close()
    reader = Engine(SQLStorage(url))
    assert the_case(reader, case.id) == done.case
    assert reader.storage.records(case.id)[-1] == done.record
    assert reader.audit().ok
    reader.storage.close()


class _MigratesOnFirstRead(MemoryStorage):
    """A store where another writer migrates the case just after the fire read it, before the
    guards read its history: the race of issue 16, item 10, made deterministic."""

    def __init__(self) -> None:
        super().__init__()
        self.racer: Engine | None = None

    def records(self, case_id: str, after_seq: int = 0) -> list[Record]:  # type: ignore[override]
        racer, self.racer = self.racer, None
        if racer is not None:
            _migrate(racer, case_id)
        return list(super().records(case_id, after_seq))


def test_a_guard_never_judges_a_history_newer_than_the_case_decided_on() -> None:
    # A funder's decision racing a migration: the fire read the case in « referred »; the
    # history its guard then reads already ends with the migration. Judging the guard on that
    # history refused with « only a consulted funder may decide »; the honest answer is a lost
    # race, and nothing is written.
    storage = _MigratesOnFirstRead()
    engine_ = Engine(storage, clock=TickingClock(), known_cases=0)
    case = mstr_to(engine_, "referred")
    before = list(storage.records(case.id))
    storage.racer = Engine(storage, clock=TickingClock("2018-01-01 09:00"))
    with pytest.raises(ConcurrencyConflict):
        engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A,
                     payload={"decision": "approve"})  # fmt: skip
    after = list(storage.records(case.id))
    assert after[:-1] == before
    assert after[-1].event == "migrate"
    with pytest.raises(InvalidEvent):  # decided again on what is stored now
        engine_.fire(case.id, "record_funder_decision", actor=FUNDER_A,
                     payload={"decision": "approve"})  # fmt: skip
