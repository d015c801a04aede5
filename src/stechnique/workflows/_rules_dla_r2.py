"""Readings of a DLA history for revision 2 of ``soutien-technique-renforce`` ``2019`` (a draft).

« Un plan d'accompagnement, qui comprend une ou plusieurs actions d'appui sous forme
d'ingénieries individuelles ou collectives »: revision 2 follows each action of the plan on its
own track. Everything here is read from the records of the chapter (``_rules_r2.chapter``: a
migration from revision 1 keeps it open), never from what a caller claims:

- the plan is the latest ``draw_up_plan`` or ``redraw_plan``; its ``funders`` are the funders
  of the case, and only the decisions recorded since it count (« earlier funders' decisions no
  longer count »);
- an action's consultant is the body named by the latest ``assign_consultant`` for it; its
  acknowledgement counts only after that assignment;
- an action is started, completed or cancelled by ``start_action``, ``complete_action``,
  ``cancel_action`` naming it.

Revision 1's records, carried across by a migration to revision 2, are read as PROCEDURES.md
(« Migrating revision-1 DLA cases ») says: a revision-1 plan's actions, which had no ids, are
``a1``, ``a2``... in plan order; a revision-1 ``start_individual_accompaniment`` or
``start_collective_accompaniment`` leaves one action ``a1``, the plan's first action of that
kind, started, its consultant the body that started it (revision 1 let only a consultant that
had acknowledged start). The plan's other actions are not carried (``not_carried``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from stechnique.records import Record
from stechnique.workflows._rules import ACKNOWLEDGE, DECISION
from stechnique.workflows._rules_r2 import chapter

__all__ = [
    "PLANS",
    "REVISION_1_STARTS",
    "Track",
    "group_key",
    "latest_plan",
    "not_carried",
    "numbered",
    "plan_decisions",
    "plan_funders",
    "plan_groups",
    "tracks",
    "waited_actions",
]

#: The events that (re)draw the accompaniment plan.
PLANS = frozenset({"draw_up_plan", "redraw_plan"})
#: Revision 1's start events, by the kind of action each started.
REVISION_1_STARTS: Mapping[str, str] = {
    "start_individual_accompaniment": "individual",
    "start_collective_accompaniment": "collective",
}


@attrs.frozen
class Track:
    """Where one action of the plan stands.

    :ivar action: the action as the plan describes it (``id``, ``kind``, ``domain``, ``group``).
    :ivar consultant: the body of its latest assignment, if any.
    :ivar acknowledged: whether that consultant acknowledged since its latest assignment.
    """

    action: Mapping[str, Any]
    consultant: str | None = None
    acknowledged: bool = False
    started: bool = False
    completed: bool = False
    cancelled: bool = False

    @property
    def id(self) -> str:
        """The action's id in the plan."""
        return str(self.action.get("id"))

    @property
    def finished(self) -> bool:
        """Completed or cancelled: nothing more happens to it."""
        return self.completed or self.cancelled


def group_key(group: object) -> str:
    """A collective group as it is compared: trimmed and case-folded (« Fin » is « fin  »)."""
    return str(group).strip().casefold()


def latest_plan(history: Sequence[Record]) -> tuple[int, Record] | None:
    """The index in the chapter and the record of the latest plan, if any."""
    records = chapter(history)
    for index in range(len(records) - 1, -1, -1):
        if records[index].event in PLANS:
            return index, records[index]
    return None


def numbered(actions: object) -> list[dict[str, Any]]:
    """A plan's actions, a revision-1 plan's numbered ``a1``, ``a2``... in plan order."""
    if not isinstance(actions, list):
        return []
    numbered = []
    for position, action in enumerate(actions, start=1):
        if isinstance(action, Mapping):
            numbered.append({"id": f"a{position}", **action})
    return numbered


def plan_funders(history: Sequence[Record]) -> tuple[str, ...]:
    """The funders of the latest plan, as recorded."""
    plan = latest_plan(history)
    funders = [] if plan is None else plan[1].payload.get("funders", [])
    return tuple(str(funder) for funder in funders) if isinstance(funders, list) else ()


def plan_decisions(history: Sequence[Record]) -> list[tuple[str, str]]:
    """``(funder body, decision)`` of every decision recorded since the latest plan."""
    plan = latest_plan(history)
    records = chapter(history)
    since = records if plan is None else records[plan[0] + 1 :]
    return [
        (record.actor.acts_for, str(record.payload.get("decision")))
        for record in since
        if record.event == DECISION
    ]


def plan_groups(history: Sequence[Record]) -> frozenset[str]:
    """The collective groups the latest plan names, as compared (``group_key``)."""
    plan = latest_plan(history)
    if plan is None:
        return frozenset()
    actions = numbered(plan[1].payload.get("actions"))
    return frozenset(
        group_key(a["group"]) for a in actions if a.get("kind") == "collective" and a.get("group")
    )


def tracks(history: Sequence[Record]) -> dict[str, Track]:
    """Every action of the plan by id, with where it stands (see the module docstring)."""
    found: dict[str, Track] = {}
    plan: list[dict[str, Any]] = []
    for record in chapter(history):
        event, payload = record.event, record.payload
        if event in PLANS:
            plan = numbered(payload.get("actions"))
            found = {str(a["id"]): Track(a) for a in plan}
        elif event in REVISION_1_STARTS:
            found = _revision_1_start(plan, REVISION_1_STARTS[event], record.actor.acts_for)
        elif "action" in payload and str(payload["action"]) in found:
            track = found[str(payload["action"])]
            found[track.id] = _after(track, record)
    return found


def _after(track: Track, record: Record) -> Track:
    """The track once ``record``, which names its action, applies."""
    event, body = record.event, record.actor.acts_for
    if event == "assign_consultant":
        return attrs.evolve(
            track, consultant=str(record.payload.get("consultant")), acknowledged=False
        )
    if event == ACKNOWLEDGE and body == track.consultant:
        return attrs.evolve(track, acknowledged=True)
    if event == "start_action":
        return attrs.evolve(track, started=True)
    if event == "complete_action":
        return attrs.evolve(track, completed=True)
    if event == "cancel_action":
        return attrs.evolve(track, cancelled=True)
    return track


def _revision_1_start(plan: list[dict[str, Any]], kind: str, body: str) -> dict[str, Track]:
    """The one action a revision-1 start leaves: ``a1``, the plan's first of that kind."""
    first = next((a for a in plan if a.get("kind") == kind), None)
    if first is None:
        return {}
    action = {**first, "id": "a1"}
    return {"a1": Track(action, consultant=body, acknowledged=True, started=True)}


def not_carried(history: Sequence[Record]) -> list[dict[str, Any]]:
    """The actions of a revision-1 plan a revision-1 start left behind (see ``tracks``), as
    the plan describes them (numbered in plan order); empty when none was left."""
    plan: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    for record in chapter(history):
        if record.event in PLANS:
            plan, left = numbered(record.payload.get("actions")), []
        elif record.event in REVISION_1_STARTS:
            kind = REVISION_1_STARTS[record.event]
            first = next((a for a in plan if a.get("kind") == kind), None)
            left = [a for a in plan if a is not first]
    return left


def waited_actions(history: Sequence[Record]) -> list[tuple[str | None, int | None]]:
    """Each open action of the plan (neither completed nor cancelled): its consultant
    (``None``: not assigned yet) and the index in ``history`` of the latest record about it
    (its assignment, acknowledgement or start: the consultant is waited on since), ``None``
    when there is none. For ``waiting``'s « each action's consultant for its open actions »."""
    records = chapter(history)
    offset = len(history) - len(records)
    latest: dict[str, int] = {}
    for index, record in enumerate(records):
        if record.event in REVISION_1_STARTS:
            latest["a1"] = offset + index
        elif "action" in record.payload:
            latest[str(record.payload["action"])] = offset + index
    return [
        (track.consultant, latest.get(track.id))
        for track in tracks(history).values()
        if not track.finished
    ]
