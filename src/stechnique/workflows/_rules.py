"""Readings of a history shared by the guards and the invariants of the published procedures.

The funders of a case are those named by the latest consultation (``refer`` in 2015-2017,
``draw_up_plan`` in 2019); their decisions are the ``record_funder_decision`` records that
follow it. A ``migrate`` record opens a new chapter: consultations, decisions and
acknowledgements made under the previous version are not carried over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stechnique.records import Record

__all__ = [
    "ACKNOWLEDGE",
    "CONSULTATIONS",
    "DECISION",
    "acknowledged_by",
    "consulted_funders",
    "decisions",
    "entered_at",
    "latest",
    "plan_actions",
    "since_migration",
]

#: Events whose ``funders`` payload names the funders consulted on the case.
CONSULTATIONS = frozenset({"refer", "draw_up_plan"})
#: The event by which a funder records its decision.
DECISION = "record_funder_decision"
#: The event by which the working actor acknowledges the confidentiality rules.
ACKNOWLEDGE = "acknowledge_confidentiality"


def since_migration(history: Sequence[Record]) -> Sequence[Record]:
    """The records written since the latest ``migrate`` record (the whole history if none)."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].event == "migrate":
            return history[index + 1 :]
    return history


def latest(history: Sequence[Record], events: frozenset[str]) -> int | None:
    """Index in ``history`` of the latest record whose event is one of ``events``."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].event in events:
            return index
    return None


def consulted_funders(history: Sequence[Record]) -> tuple[str, ...]:
    """The funder ids named by the latest consultation since the latest migration."""
    chapter = since_migration(history)
    index = latest(chapter, CONSULTATIONS)
    if index is None:
        return ()
    return tuple(str(funder) for funder in chapter[index].payload.get("funders", ()))


def decisions(history: Sequence[Record]) -> list[tuple[str, str]]:
    """``(funder id, decision)`` of every decision recorded since the latest consultation."""
    chapter = since_migration(history)
    index = latest(chapter, CONSULTATIONS)
    if index is None:
        return []
    return [
        (record.actor.id, str(record.payload.get("decision")))
        for record in chapter[index + 1 :]
        if record.event == DECISION
    ]


def acknowledged_by(history: Sequence[Record], actor_id: str) -> bool:
    """Whether ``actor_id`` acknowledged the confidentiality rules since the latest migration."""
    return any(
        record.event == ACKNOWLEDGE and record.actor.id == actor_id
        for record in since_migration(history)
    )


def plan_actions(history: Sequence[Record]) -> list[dict[str, Any]]:
    """The actions of the latest ``draw_up_plan`` since the latest migration (empty if none)."""
    chapter = since_migration(history)
    index = latest(chapter, frozenset({"draw_up_plan"}))
    if index is None:
        return []
    return [dict(action) for action in chapter[index].payload.get("actions", ())]


def entered_at(history: Sequence[Record], state: str) -> int:
    """Index of the record by which the case last entered ``state`` from another state.

    Records that stay in their state (``submit_step``, a ``rework`` arbitration) do not count;
    ``start`` and ``migrate`` records count as entering their target.
    """
    for index in range(len(history) - 1, -1, -1):
        record = history[index]
        if record.target == state and (
            record.source != record.target or record.event in ("start", "migrate")
        ):
            return index
    return -1
