"""Whom a DLA accompaniment (revision 2, a draft) waits on: one wait per action.

PROCEDURES.md, « Waiting, deadlines and reminders »: « accompaniment: each action's consultant
for its open actions; esia_officer when none is open ». An open action with no consultant yet
waits on the officer, who assigns one.
"""

from __future__ import annotations

from small import ManualClock
from test_drafts_dla import (
    CAF_13,
    ESIA,
    FINANCES,
    MIGRATION,
    PLAN,
    REGION,
    REVISION_1,
    RH,
    _revision_1_case,
    planned,
)

from stechnique import Actor, Engine, Registry, Waiting
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows.soutien_technique_renforce_2019_r2 import PROCEDURE as DLA

INDIVIDUAL_PLAN = [action for action in PLAN if action["kind"] == "individual"]


def _engine(clock: ManualClock, storage: MemoryStorage | None = None) -> Engine:
    return Engine(storage or MemoryStorage(), Registry((REVISION_1, DLA), (MIGRATION,)), clock)


def _on(engine: Engine, case_id: str) -> set[tuple[str, str]]:
    (waiting,) = [w for w in engine.waiting(ESIA) if w.case_id == case_id]
    return {(w.who, w.since.strftime("%m-%d %H:%M")) for w in waiting.on}


def test_each_open_action_waits_on_its_consultant_and_the_officer_assigns_the_others() -> None:
    clock = ManualClock("2019-03-04 09:00")
    engine = _engine(clock)
    case = planned(engine, actions=INDIVIDUAL_PLAN)
    for funder in (CAF_13, REGION):
        engine.fire(case.id, "record_funder_decision", actor=funder,
                    payload={"decision": "approve"})  # fmt: skip
    engine.fire(case.id, "validate_plan", actor=ESIA)
    clock.on("2019-04-01 09:00")
    engine.fire(case.id, "start_accompaniment", actor=ESIA)
    # Nobody assigned yet: the officer, who assigns.
    assert _on(engine, case.id) == {("esia_officer", "04-01 09:00")}
    clock.on("2019-04-03 09:00")
    engine.fire(case.id, "assign_consultant", actor=ESIA,
                payload={"action": "a1", "consultant": RH.id})  # fmt: skip
    # a1 waits on its consultant since its assignment; a2 still on the officer.
    assert _on(engine, case.id) == {("cabinet-rh", "04-03 09:00"), ("esia_officer", "04-01 09:00")}
    clock.on("2019-04-05 09:00")
    engine.fire(case.id, "assign_consultant", actor=ESIA,
                payload={"action": "a2", "consultant": FINANCES.id})  # fmt: skip
    clock.on("2019-04-08 09:00")
    engine.fire(case.id, "acknowledge_confidentiality", actor=RH, payload={"action": "a1"})
    # Each consultant since the latest step of its action; the officer no longer.
    assert _on(engine, case.id) == {
        ("cabinet-rh", "04-08 09:00"),
        ("cabinet-finances", "04-05 09:00"),
    }
    assert [w.case_id for w in engine.waiting(RH, on=RH.id)] == [case.id]
    clock.on("2019-05-02 09:00")
    engine.fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    engine.fire(case.id, "complete_action", actor=RH,
                payload={"action": "a1", "report": "Fait.",
                         "impact": {"activities": "x", "jobs": 0}})  # fmt: skip
    # a1 done: its consultant is no longer waited on.
    assert _on(engine, case.id) == {("cabinet-finances", "04-05 09:00")}
    assert engine.waiting(RH, on=RH.id) == []
    clock.on("2019-05-20 09:00")
    engine.fire(case.id, "cancel_action", actor=ESIA, payload={"action": "a2", "reason": "x"})
    # None open: the officer, since the last one ended (to start the follow-up).
    assert _on(engine, case.id) == {("esia_officer", "05-20 09:00")}


def test_a_revision_1_accompaniment_moved_to_revision_2_waits_on_its_one_consultant() -> None:
    storage = MemoryStorage()
    case = _revision_1_case(storage, "individual")
    clock = ManualClock("2019-06-01 09:00")
    engine = _engine(clock, storage)
    engine.migrate(case.id, "2019", actor=ESIA, reason="Révision 2", facts={"commune": "Marseille"})
    # a1, started by the consultant that acknowledged; waited on since the migration (the
    # state it entered).
    assert _on(engine, case.id) == {(FINANCES.id, "06-01 09:00")}
    assert isinstance(engine.waiting(Actor(FINANCES.id, {"consultant"}))[0], Waiting)
