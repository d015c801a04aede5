"""Migrations to the revision-2 drafts: what a revision-1 DLA case carries, and 2015-2017
missions moved to the DLA's latest revision.

PROCEDURES.md, « Migrating revision-1 DLA cases »: « they map to ``accompaniment`` with one
action ``a1``, the plan's first action of the kind that was started, marked started, its
consultant the one that acknowledged; the dry run lists the plan's other actions as not
carried ». And « Migration from 2015-2017 »: the same mapping applies to the DLA's latest
revision.
"""

from __future__ import annotations

from typing import Any

import pytest
from small import TickingClock
from test_drafts_dla import ESIA, FINANCES, _revision_1_case, engine

from stechnique import Actor, Engine, MigrationRefused
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows.drafts import draft_registry

NAME = "soutien-technique-renforce"
WHY = {"actor": ESIA, "reason": "Passage à la révision 2 du DLA", "facts": {"commune": "Marseille"}}
GROUP = "Gouvernance partagée"


def _migrated(kind: str | None, dry_run: bool) -> Any:
    storage = MemoryStorage()
    case = _revision_1_case(storage, kind)
    engine_ = engine("2019-06-01 09:00", storage)
    return engine_, engine_.migrate(case.id, "2019", dry_run=dry_run, **WHY)  # type: ignore[arg-type]


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_dry_run_lists_the_plan_actions_a_started_accompaniment_does_not_carry(
    dry_run: bool,
) -> None:
    engine_, plan = _migrated("individual", dry_run)
    assert plan.carried == {
        "actions": [
            {"id": "a1", "kind": "individual", "domain": "human_resources",
             "consultant": FINANCES.id, "started": True},
        ],
        "not_carried": [
            {"plan_position": 2, "kind": "individual", "domain": "financial_management"},
            {"plan_position": 3, "kind": "collective", "domain": "steering_governance",
             "group": GROUP},
        ],
    }  # fmt: skip
    assert [item["plan_position"] for item in plan.not_carried] == [2, 3]
    # The migrate record writes what it carried, so the history says it too.
    assert plan.record.payload["carried"] == plan.carried
    written = engine_.storage.records(plan.case_id)
    assert (written[-1].event == "migrate") is not dry_run
    assert engine_.audit().ok


def test_a_collective_accompaniment_carries_the_plan_first_collective_action() -> None:
    _, plan = _migrated("collective", True)
    (action,) = plan.carried["actions"]
    assert (action["id"], action["kind"], action["group"]) == ("a1", "collective", GROUP)
    assert [item["plan_position"] for item in plan.not_carried] == [1, 2]


def test_a_validated_plan_carries_every_action_none_started() -> None:
    _, plan = _migrated(None, True)
    assert [(a["id"], a["started"]) for a in plan.carried["actions"]] == [
        ("a1", False), ("a2", False), ("a3", False)]  # fmt: skip
    assert plan.not_carried == ()


def test_the_bulk_dry_run_names_what_is_not_carried() -> None:
    storage = MemoryStorage()
    case = _revision_1_case(storage, "individual")
    report = engine("2019-06-01 09:00", storage).migrate_all(
        NAME, "2019", 2, actor=ESIA, reason="Révision 2", facts={"commune": "Marseille"}
    )
    assert report.ok
    assert not report.applied
    assert f"{case.id}: 2019 individual_accompaniment -> 2019/r2 accompaniment" in report.summary()
    assert "non repris : 2 individual financial_management; 3 collective" in report.summary()


# -- 2015-2017 missions move to the DLA's latest revision ------------------------------------

ADMIN = Actor("marie", {"administrator"}, body="ca-belle-de-mai")
CAF = Actor("caf-coordination", {"caf_coordinator"})
MSTR_FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "preventive",
    "domains": ["governance", "project_engineering"],
}
DLA_FACTS = {"contact_email": "direction@belledemai.fr", "moment": "new_dynamic"}


@pytest.mark.parametrize("revision", [1, 2])
def test_an_early_mission_of_either_revision_migrates_to_the_latest_dla_revision(
    revision: int,
) -> None:
    storage = MemoryStorage()
    registry = draft_registry()
    if revision == 1:  # opened under revision 1, before revision 2 existed
        from stechnique.workflows import default_registry

        old = Engine(storage, default_registry(), TickingClock("2018-03-01 09:00"))
        case = old.start(NAME, version="2015-2017", actor=ADMIN, facts=MSTR_FACTS)
        supplied = {**DLA_FACTS, "commune": "Marseille"}
    else:
        old = Engine(storage, registry, TickingClock("2018-03-01 09:00"))
        facts = {**MSTR_FACTS, "commune": "Marseille"}
        case = old.start(NAME, version="2015-2017", actor=ADMIN, facts=facts)
        supplied = DLA_FACTS
    old.fire(case.id, "refer", actor=CAF, payload={"funders": ["caf-13"]})
    engine_ = Engine(storage, registry, TickingClock("2019-02-01 09:00"))
    plan = engine_.migrate(case.id, "2019", actor=CAF, facts=supplied, reason="Suite au DLA")
    assert (plan.to_version, plan.to_revision, plan.target) == ("2019", 2, "requested")
    assert plan.facts == {
        "structure": "Centre social Belle de Mai",
        "domains": ["steering_governance"],
        "commune": "Marseille",
        **DLA_FACTS,
    }
    moved = engine_.storage.get(case.id)
    assert moved is not None
    assert moved.parties is not None
    assert moved.parties.bodies("structure") == frozenset({"ca-belle-de-mai"})
    assert engine_.audit().ok


def test_a_mission_past_its_validation_is_not_migrated_but_transferred() -> None:
    storage = MemoryStorage()
    registry = draft_registry()
    old = Engine(storage, registry, TickingClock("2018-03-01 09:00"))
    facts = {**MSTR_FACTS, "commune": "Marseille"}
    case = old.start(NAME, version="2015-2017", actor=ADMIN, facts=facts)
    old.fire(case.id, "refer", actor=CAF, payload={"funders": ["caf-13"]})
    old.fire(case.id, "record_funder_decision", actor=Actor("caf-13", {"funder"}),
             payload={"decision": "approve"})  # fmt: skip
    old.fire(case.id, "validate", actor=CAF)
    old.fire(case.id, "assign_provider", actor=CAF, payload={"provider": "singuliers-co"})
    provider = Actor("singuliers-co", {"provider"})
    old.fire(case.id, "acknowledge_confidentiality", actor=provider)
    old.fire(case.id, "start_diagnosis", actor=provider)
    engine_ = Engine(storage, registry, TickingClock("2019-02-01 09:00"))
    with pytest.raises(MigrationRefused):
        engine_.migrate(case.id, "2019", actor=CAF, facts=DLA_FACTS, reason="Suite au DLA")


def test_the_audit_checks_what_a_migration_says_it_carried() -> None:
    import attrs

    from stechnique._chain import content_hash

    engine_, plan = _migrated("individual", False)
    storage = engine_.storage
    assert isinstance(storage, MemoryStorage)
    records = storage.records(plan.case_id)
    forged_payload = {**records[-1].payload, "carried": {"actions": [], "not_carried": []}}
    forged = attrs.evolve(records[-1], payload=forged_payload)
    forged = attrs.evolve(forged, hash=content_hash(forged))
    storage._records[plan.case_id][-1] = forged  # type: ignore[attr-defined]
    report = engine_.audit()
    assert [(v.seq, v.code) for v in report.violations if v.code == "payload"] == [
        (forged.seq, "payload")
    ]
