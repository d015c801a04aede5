"""Revisions of a version (issue 13, item 1; PROCEDURES.md "Revisions"): the registry keeps
them all, only the latest starts cases, an open case moves to a later revision by one recorded
``migrate`` that carries its history across, one case or all of them at once, and the audit
re-checks it. ``grant@1`` (``small.grant``) has two revisions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from small import GRANT_MIGRATION, TickingClock, grant, grant_registry, the_case

from stechnique import (
    Actor,
    Case,
    DefinitionError,
    Engine,
    InvalidArgument,
    Migration,
    MigrationRefused,
    Origin,
    PermissionDenied,
    Record,
    Registry,
    RevisionSuperseded,
    UnknownProcedure,
    default_registry,
)
from stechnique.audit import audit
from stechnique.records import GENESIS_HASH, canonical_json, seal
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows import _rules

CLERK = Actor("centre-social", {"clerk"})
COORDINATOR = Actor("coordination", {"coordinator"})
FUNDER = Actor("caf-13", {"funder"})
PROVIDER = Actor("cabinet", {"provider"})
WHY = "Passage à la révision 2 / moving to revision 2"


def _engine(storage: Storage | None = None, registry: Registry | None = None) -> Engine:
    return Engine(storage or MemoryStorage(), registry or grant_registry(), TickingClock())


def _opened_under_revision_1(engine: Engine, state: str, case_id: str | None = None) -> Case:
    """A ``grant@1`` revision-1 case brought to ``state``, as if written before revision 2
    (a registry of revision 1 alone starts it, over the same store)."""
    old = Engine(engine.storage, Registry((grant(1),)), engine.clock)
    case = old.start("grant", actor=CLERK, facts={"title": "Projet"}, case_id=case_id)
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("refer", COORDINATOR, {"funders": [FUNDER.id]}),
        ("record_funder_decision", FUNDER, {"decision": "approve"}),
        ("validate", COORDINATOR, {}),
        ("acknowledge_confidentiality", PROVIDER, {}),
    ]
    stops = {"requested": 0, "referred": 2, "validated": 4, "on_hold": 4, "working": 4}
    for event, actor, payload in steps[: stops[state]]:
        case = old.fire(case.id, event, actor=actor, payload=payload)
    if state == "on_hold":
        case = old.fire(case.id, "hold", actor=COORDINATOR)
    if state == "working":
        case = old.fire(case.id, "start_work", actor=PROVIDER)
    assert case.state == state
    return case


def _store(engine: Engine) -> tuple[tuple[Case, ...], tuple[Record, ...]]:
    """Everything the store holds: every case row and every record."""
    cases = tuple(engine.storage.cases())
    records = tuple(r for case in cases for r in engine.storage.records(case.id))
    return cases, records


# -- the registry -------------------------------------------------------------------------


def test_revision_1_is_the_definition_as_it_was_byte_for_byte() -> None:
    first = grant(1)
    assert first.revision == 1
    assert first.revision_key == first.key == "grant@1"
    assert first.fingerprint == attrs.evolve(first, revision=1).fingerprint
    assert "revision" not in canonical_json(first.canonical())
    assert "coordinators" not in canonical_json(first.canonical())
    second = grant(2)
    assert second.revision_key == "grant@1/r2"
    assert second.fingerprint != first.fingerprint
    assert '"revision":2' in canonical_json(second.canonical())
    # Every published version is revision 1, under the fingerprint it had in 0.1.0.
    assert {p.revision for p in default_registry()} == {1}


def test_the_registry_keeps_every_revision_and_gives_the_latest_unless_asked() -> None:
    registry = grant_registry()  # revision 2 registered first
    first, second = grant(1), grant(2)
    assert registry.keys() == ["grant@1", "grant@1/r2"]
    assert [p.revision for p in registry] == [1, 2]
    assert len(registry) == 2
    assert registry.get("grant").fingerprint == second.fingerprint
    assert registry.get("grant", "1").fingerprint == second.fingerprint
    assert registry.latest("grant").fingerprint == second.fingerprint
    assert registry.get("grant", "1", 1).fingerprint == first.fingerprint
    assert registry.get("grant", revision=1).fingerprint == first.fingerprint
    assert [p.revision for p in registry.revisions("grant", "1")] == [1, 2]
    assert registry.is_latest(second)
    assert not registry.is_latest(first)
    assert registry.pinned("c", 1, "grant", "1", first.fingerprint) == first
    assert registry.pinned("c", 1, "grant", "1", second.fingerprint) == second
    assert ("grant", "1") in registry
    assert ("grant", "1", 2) in registry
    assert ("grant", "1", 3) not in registry
    with pytest.raises(UnknownProcedure, match="grant@1/r3 ; enregistrées : grant@1, grant@1/r2"):
        registry.get("grant", "1", 3)
    assert registry.migration("grant", "1", "1", from_revision=1, to_revision=2) == (
        GRANT_MIGRATION
    )
    assert registry.migration_between(first, second) == GRANT_MIGRATION


def test_a_revision_number_is_unique_and_its_definition_never_changes() -> None:
    registry = grant_registry()
    registry.register(grant(2))  # the very same definition again: harmless
    changed = attrs.evolve(grant(2), fr="Subvention (corrigée)")
    with pytest.raises(DefinitionError, match=r"grant@1/r2 is already published .* new version"):
        registry.register(changed)
    assert registry.get("grant").fingerprint == grant(2).fingerprint
    for wrong in (0, -1, True, "2"):
        with pytest.raises(DefinitionError, match="an integer from 1 on"):
            attrs.evolve(grant(2), revision=wrong)
    assert registry.keys() == ["grant@1", "grant@1/r2"]


def test_another_owner_may_not_add_a_revision_to_a_name_it_does_not_own() -> None:
    registry = Registry()
    mine, theirs = Origin("partner", "partner's package"), Origin("other", "other package")
    registry.register(grant(1), mine)
    with pytest.raises(DefinitionError, match="may not add version 1"):
        registry.register(grant(2), theirs)
    registry.register(grant(2), mine)
    assert registry.origin("grant", "1") == mine
    assert registry.origin("grant", "1", 1) == mine
    with pytest.raises(UnknownProcedure):
        registry.origin("grant", "1", 3)


def test_a_stored_row_pinned_to_an_unknown_fingerprint_names_every_revision() -> None:
    from stechnique import HistoryCorrupted

    with pytest.raises(HistoryCorrupted, match=r"grant@1 .*, grant@1/r2 "):
        grant_registry().pinned("c", 1, "grant", "1", "0" * 64)


# -- start --------------------------------------------------------------------------------


def test_only_the_latest_revision_accepts_start() -> None:
    engine = _engine()
    case = engine.start("grant", actor=CLERK, facts={"title": "Projet"})
    assert case.fingerprint == grant(2).fingerprint
    assert engine.start("grant", version="1", revision=2, actor=CLERK, facts={"title": "P"})
    before = _store(engine)
    with pytest.raises(RevisionSuperseded) as refused:
        engine.start("grant", version="1", revision=1, actor=CLERK, facts={"title": "Projet"})
    error = refused.value
    assert (error.name, error.version, error.revision, error.latest) == ("grant", "1", 1, 2)
    assert "remplacée par la révision 2" in str(error)
    assert "superseded by revision 2" in error.en
    assert _store(engine) == before
    with pytest.raises(UnknownProcedure):
        engine.start("grant", revision=3, actor=CLERK, facts={"title": "Projet"})
    with pytest.raises(InvalidArgument):
        engine.start("grant", revision=0, actor=CLERK, facts={"title": "Projet"})


# -- one case -----------------------------------------------------------------------------


def test_a_dry_run_says_what_would_be_done_and_writes_nothing() -> None:
    engine = _engine()
    case = _opened_under_revision_1(engine, "referred")
    before = _store(engine)
    trial = engine.migrate(case.id, "1", actor=COORDINATOR, reason=WHY, dry_run=True)
    assert not trial.applied
    assert (trial.from_revision, trial.to_revision, trial.source, trial.target) == (
        1, 2, "referred", "referred",
    )  # fmt: skip
    assert _store(engine) == before
    done = engine.migrate(case.id, "1", actor=COORDINATOR, reason=WHY)
    assert done.applied
    assert done.record.payload == {
        "from_version": "1",
        "to_version": "1",
        "from_fingerprint": grant(1).fingerprint,
        "reason": WHY,
        "facts": {"title": "Projet"},
        "from_revision": 1,
        "to_revision": 2,
    }
    assert (done.record.event, done.record.seq, done.record.prev_hash) == (
        "migrate", case.seq + 1, case.head,
    )  # fmt: skip
    stored = the_case(engine, case.id)
    assert stored.fingerprint == done.record.fingerprint == grant(2).fingerprint
    assert (stored.version, stored.state, stored.seq) == ("1", "referred", case.seq + 1)
    assert tuple(engine.storage.records(case.id))[:-1] == before[1]
    assert engine.audit().ok


def test_what_the_history_established_under_revision_1_counts_under_revision_2() -> None:
    # A consultation and a funder's decision made under revision 1: the coordinator validates
    # under revision 2 without consulting again.
    engine = _engine()
    referred = _opened_under_revision_1(engine, "referred")
    engine.migrate(referred.id, "1", actor=COORDINATOR, reason=WHY)
    assert engine.explain(referred.id, "validate", COORDINATOR).reasons == ()
    engine.fire(referred.id, "validate", actor=COORDINATOR)
    # An acknowledgement made under revision 1: the provider works under revision 2.
    validated = _opened_under_revision_1(engine, "validated")
    engine.migrate(validated.id, "1", actor=COORDINATOR, reason=WHY)
    assert "start_work" in engine.available_events(validated.id, PROVIDER)
    engine.fire(validated.id, "start_work", actor=PROVIDER)
    engine.fire(validated.id, "finish", actor=PROVIDER, payload={"reason": "fait"})
    assert engine.audit().ok


def test_a_migration_to_another_version_still_opens_a_new_chapter() -> None:
    engine = _engine()
    case = _opened_under_revision_1(engine, "validated")
    records = list(engine.storage.records(case.id))
    within = attrs.evolve(records[-1], seq=len(records) + 1, event="migrate")
    across = attrs.evolve(within, version="2")
    assert _rules.acknowledged_by([*records, within], PROVIDER.id)
    assert not _rules.acknowledged_by([*records, across], PROVIDER.id)
    assert _rules.consulted_funders([*records, within]) == (FUNDER.id,)
    assert _rules.consulted_funders([*records, across]) == ()
    # A history that begins with the migration (a slice) is read from its payload.
    payload = {"from_version": "1", "to_version": "1"}
    alone = attrs.evolve(within, payload=payload)
    assert _rules.since_migration([alone, records[1]]) == [alone, records[1]]
    moved = attrs.evolve(within, payload={**payload, "to_version": "2"})
    assert _rules.since_migration([moved, records[1]]) == [records[1]]


def test_the_time_in_a_state_survives_a_migration_within_the_version() -> None:
    engine = _engine()
    case = _opened_under_revision_1(engine, "validated")
    engine.migrate(case.id, "1", actor=COORDINATOR, reason=WHY)
    records = engine.storage.records(case.id)
    assert records[-1].event == "migrate"
    assert _rules.entered_at(records, "validated") == 3  # the validation, not the migration
    across = [*records[:-1], attrs.evolve(records[-1], version="2")]
    assert _rules.entered_at(across, "validated") == len(records) - 1


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_state_without_a_mapping_is_refused_and_nothing_is_written(dry_run: bool) -> None:
    engine = _engine()
    case = _opened_under_revision_1(engine, "on_hold")
    before = _store(engine)
    with pytest.raises(MigrationRefused) as refused:
        engine.migrate(case.id, "1", actor=COORDINATOR, reason=WHY, dry_run=dry_run)
    error = refused.value
    assert (error.from_version, error.from_revision, error.to_revision) == ("1", 1, 2)
    # The state by its label, in both languages.
    assert "l'état « Suspendue » est au-delà des états" in error.reason_label.fr
    assert "a case in 'On hold' is past the states that may move" in error.reason
    assert "de 1 à 1/r2" in str(error)
    assert "from 1 to 1/r2" in error.en
    assert _store(engine) == before


def test_the_coordinating_role_of_the_later_revision_orders_the_migration() -> None:
    engine = _engine()
    case = _opened_under_revision_1(engine, "requested")
    before = _store(engine)
    # GRANT_MIGRATION declares roles=("clerk",): revision 2 names its coordinators, who order.
    with pytest.raises(PermissionDenied) as refused:
        engine.migrate(case.id, "1", actor=CLERK, reason=WHY)
    assert (refused.value.event, refused.value.allowed) == ("migrate", ("coordinator",))
    assert _store(engine) == before
    # A later revision naming no coordinators: the migration's own roles order it.
    plain = attrs.evolve(grant(2), coordinators=())
    registry = Registry((grant(1), plain), (GRANT_MIGRATION,))
    other = _engine(registry=registry)
    case = _opened_under_revision_1(other, "requested")
    with pytest.raises(PermissionDenied):
        other.migrate(case.id, "1", actor=COORDINATOR, reason=WHY)
    assert other.migrate(case.id, "1", actor=CLERK, reason=WHY).applied
    assert other.audit().ok


def test_no_way_back_no_older_landing_no_undeclared_migration() -> None:
    engine = _engine()
    case = engine.start("grant", actor=CLERK, facts={"title": "Projet"})  # revision 2
    with pytest.raises(MigrationRefused, match="le dossier y est déjà"):
        engine.migrate(case.id, "1", actor=COORDINATOR, reason=WHY)
    with pytest.raises(MigrationRefused, match="ne revient jamais à une révision antérieure"):
        engine.migrate(case.id, "1", to_revision=1, actor=COORDINATOR, reason=WHY)
    third = attrs.evolve(grant(2), revision=3)
    registry = Registry((grant(1), grant(2), third), (GRANT_MIGRATION,))
    later = _engine(registry=registry)
    old = _opened_under_revision_1(later, "requested")
    with pytest.raises(
        MigrationRefused, match=r"seule la dernière révision de grant@1 \(grant@1/r3"
    ):
        later.migrate(old.id, "1", to_revision=2, actor=COORDINATOR, reason=WHY)
    with pytest.raises(MigrationRefused, match="aucune migration de grant@1 vers grant@1/r3"):
        later.migrate(old.id, "1", actor=COORDINATOR, reason=WHY)


def test_a_migration_within_a_version_must_go_up() -> None:
    registry = grant_registry()
    backwards = attrs.evolve(GRANT_MIGRATION, from_revision=2, to_revision=1)
    with pytest.raises(DefinitionError, match="goes to a later revision"):
        registry.register_migration(backwards)
    with pytest.raises(UnknownProcedure):  # no revision 3 to migrate to
        registry.register_migration(attrs.evolve(GRANT_MIGRATION, to_revision=3))
    assert GRANT_MIGRATION.key == "grant@1->1/r2"


# -- every case at once -------------------------------------------------------------------


def test_bulk_migration_dry_run_then_for_real_lists_every_case(any_storage: Storage) -> None:
    engine = _engine(any_storage)
    requested = _opened_under_revision_1(engine, "requested", "g-requested")
    validated = _opened_under_revision_1(engine, "validated", "g-validated")
    on_hold = _opened_under_revision_1(engine, "on_hold", "g-on-hold")
    closed = _opened_under_revision_1(engine, "requested", "g-closed")
    engine.fire(closed.id, "withdraw", actor=COORDINATOR, payload={"reason": "plus besoin"})
    engine.start("grant", actor=CLERK, facts={"title": "Nouveau"}, case_id="g-new")
    before = _store(engine)
    held = tuple(engine.storage.records(on_hold.id))

    trial = engine.migrate_all("grant", "1", 2, actor=COORDINATOR, reason=WHY)
    assert not trial.applied
    assert not trial.ok
    assert [p.case_id for p in trial.plans] == [requested.id, validated.id]
    assert [(r.case_id, r.state, r.from_revision) for r in trial.refused] == [
        (on_hold.id, "on_hold", 1)
    ]
    assert isinstance(trial.refused[0].error, MigrationRefused)
    assert "past the states that may move" in trial.refused[0].reason
    assert "g-on-hold (1 on_hold)" in trial.summary()
    assert _store(engine) == before

    done = engine.migrate_all("grant", "1", 2, actor=COORDINATOR, reason=WHY, dry_run=False)
    assert done.applied
    assert [p.record for p in done.plans] != [p.record for p in trial.plans]  # later clock
    assert [(p.case_id, p.applied) for p in done.plans] == [
        (requested.id, True), (validated.id, True),
    ]  # fmt: skip
    assert [r.case_id for r in done.refused] == [on_hold.id]
    for case_id in (requested.id, validated.id):
        assert the_case(engine, case_id).fingerprint == grant(2).fingerprint
    assert tuple(engine.storage.records(on_hold.id)) == held
    assert the_case(engine, on_hold.id).fingerprint == grant(1).fingerprint
    assert the_case(engine, closed.id).fingerprint == grant(1).fingerprint
    # Nothing left to move but the case on hold; once resumed, it moves too.
    again = engine.migrate_all("grant", "1", 2, actor=COORDINATOR, reason=WHY)
    assert (again.plans, [r.case_id for r in again.refused]) == ((), [on_hold.id])
    old = Engine(engine.storage, Registry((grant(1),)), engine.clock)
    old.fire(on_hold.id, "resume", actor=COORDINATOR)
    last = engine.migrate_all(
        "grant", "1", 2, actor=COORDINATOR, reason=WHY, dry_run=False, from_revision=1
    )
    assert ([p.case_id for p in last.plans], last.refused) == ([on_hold.id], ())
    engine.fire(validated.id, "start_work", actor=PROVIDER)  # acknowledged under revision 1
    report = engine.audit()
    assert report.ok, report.summary()


def test_bulk_migration_refusals_are_per_case_and_its_arguments_checked() -> None:
    engine = _engine()
    _opened_under_revision_1(engine, "requested", "g-1")
    before = _store(engine)
    report = engine.migrate_all("grant", "1", 2, actor=CLERK, reason=WHY, dry_run=False)
    assert [r.case_id for r in report.refused] == ["g-1"]
    assert isinstance(report.refused[0].error, PermissionDenied)
    assert _store(engine) == before
    report = engine.migrate_all("grant", "1", 2, actor=COORDINATOR, reason=" ", dry_run=False)
    assert "reason" in report.refused[0].reason
    assert _store(engine) == before
    none = engine.migrate_all("grant", "1", 2, actor=COORDINATOR, reason=WHY, from_revision=2)
    assert (none.plans, none.refused) == ((), ())
    with pytest.raises(UnknownProcedure):
        engine.migrate_all("grant", "1", 3, actor=COORDINATOR, reason=WHY)
    with pytest.raises(InvalidArgument):
        engine.migrate_all("grant", "1", None, actor=COORDINATOR, reason=WHY)  # type: ignore[arg-type]


# -- the audit ----------------------------------------------------------------------------


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
            last, seq=record.seq, head=record.hash, state=record.target,
            version=record.version, fingerprint=record.fingerprint,
        )  # fmt: skip
        if record.seq == 1:
            storage.create(row, record)
        else:
            storage.append(row, record)
    return storage


Change = dict[str, Any] | Callable[[Record], dict[str, Any]]


def _forged(change: Change, registry: Registry | None = None) -> list[str]:
    engine = _engine()
    case = _opened_under_revision_1(engine, "referred")
    engine.migrate(case.id, "1", actor=COORDINATOR, reason=WHY)
    records = list(engine.storage.records(case.id))
    last = records[-1]
    records[-1] = attrs.evolve(last, **change(last) if callable(change) else change)
    report = audit(_restored(records, the_case(engine, case.id)), registry or grant_registry())
    return [violation.message for violation in report.violations]


def test_audit_accepts_an_honest_migration_within_a_version_rechained() -> None:
    assert _forged({}) == []


def test_audit_catches_a_migration_by_a_role_the_coordinators_do_not_hold() -> None:
    assert _forged({"actor": CLERK}) == ["actor 'centre-social' had no role allowed to migrate"]


def test_audit_catches_a_migration_payload_naming_other_revisions() -> None:
    def lie(record: Record) -> dict[str, Any]:
        return {"payload": {**record.payload, "from_revision": 2}}

    assert _forged(lie) == [
        "migration payload names other revisions than the records' fingerprints "
        "(grant@1 -> grant@1/r2)"
    ]

    def silent(record: Record) -> dict[str, Any]:
        payload = {k: v for k, v in record.payload.items() if not k.endswith("_revision")}
        return {"payload": payload}

    assert _forged(silent) == [
        "migration payload names other revisions than the records' fingerprints "
        "(grant@1 -> grant@1/r2)"
    ]


def test_audit_catches_a_migration_within_a_version_that_no_one_declared() -> None:
    undeclared = Registry((grant(1), grant(2)))
    assert _forged({}, undeclared) == ["migration grant@1 -> grant@1/r2 is not declared"]


def test_audit_catches_a_state_mapped_elsewhere() -> None:
    assert _forged({"target": "validated"}) == [
        "migration maps 'referred' to 'referred', not 'validated'"
    ]


def test_a_declared_migration_names_its_revisions_in_its_key() -> None:
    across = Migration("grant", "1", "2", {}, {}, roles=("clerk",))
    assert across.key == "grant@1->2"
    assert not across.within_version
    assert GRANT_MIGRATION.within_version
    assert GRANT_MIGRATION.ordered_by(grant(2)) == ("coordinator",)
    assert across.ordered_by(grant(2)) == ("clerk",)


# -- the command --------------------------------------------------------------------------


def _command(*args: str) -> tuple[int, str]:
    """``stechnique --procedures small:GRANT ...`` run in-process: exit code, all output."""
    from typer.testing import CliRunner

    from stechnique.cli import app

    unset = dict.fromkeys(("STECHNIQUE_DB", "STECHNIQUE_TABLE_PREFIX", "STECHNIQUE_PROCEDURES"))
    env: dict[str, str | None] = {**unset, "COLUMNS": "250", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["--procedures", "small:GRANT", *args], env=env)
    return result.exit_code, result.stdout + result.stderr


def test_the_command_migrates_every_case_dry_run_first_then_one_case(tmp_path: Any) -> None:
    from stechnique.storage import SQLStorage

    url = f"sqlite:///{tmp_path / 'grant.db'}"
    storage = SQLStorage(url)
    engine = _engine(storage)
    _opened_under_revision_1(engine, "requested", "g-requested")
    _opened_under_revision_1(engine, "on_hold", "g-on-hold")
    _opened_under_revision_1(engine, "validated", "g-validated")
    before = _store(engine)
    who = ("--actor", "coordination", "--role", "coordinator", "--reason", WHY, "--db", url)
    every = ("migrate", "--all", "grant@1", "--revision", "2", *who)

    code, out = _command(*every, "--dry-run")
    assert code == 1, out  # one case refused: listed, and said by the exit status
    assert "grant@1/r2 : 2 dossiers à migrer, 1 refusé(s)" in out
    assert "g-requested: 1 requested -> 1/r2 requested" in out
    assert "g-on-hold (1 on_hold): " in out
    assert "est au-delà des états qui passent à 1/r2" in out
    assert _store(engine) == before

    code, out = _command("migrate", "g-validated", *who, "--dry-run")
    assert code == 0, out
    assert "à migrer (essai) 1 validated → 1/r2 validated" in out
    assert _store(engine) == before
    code, out = _command("migrate", "g-validated", *who)
    assert code == 0, out
    assert "g-validated: migré 1 validated → 1/r2 validated" in out

    code, out = _command(*every, "--from-revision", "1")
    assert code == 1, out
    assert "1 dossier migré(s), 1 refusé(s)" in out
    assert the_case(engine, "g-requested").fingerprint == grant(2).fingerprint
    assert the_case(engine, "g-on-hold").fingerprint == grant(1).fingerprint
    assert engine.audit().ok

    code, out = _command("migrate", "--all", "grant@1", *who)
    assert code == 2
    assert "demande --revision N" in out
    code, out = _command("migrate", "g-requested", "--all", "grant@1", *who)
    assert code == 2
    assert "pas les deux" in out
    storage.close()


def test_a_source_declares_migrations_between_its_own_procedures_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    from stechnique.plugins import load_registry

    module = types.ModuleType("grant_partner")
    module.GRANT = (grant(1), grant(2), GRANT_MIGRATION)  # type: ignore[attr-defined]
    module.STRAY = (grant(1), attrs.evolve(GRANT_MIGRATION, name="other"))  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "grant_partner", module)
    registry = load_registry(["grant_partner:GRANT"], installed=False)
    assert registry.migration_between(grant(1), grant(2)) == GRANT_MIGRATION
    with pytest.raises(DefinitionError, match="does not link procedures of this source"):
        load_registry(["grant_partner:STRAY"], installed=False)
