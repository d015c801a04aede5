"""Readings of a history shared by the guards and the invariants of the published procedures.

The funders of a case are those named by the latest consultation (``refer`` in 2015-2017,
``draw_up_plan`` in 2019); their decisions are the ``record_funder_decision`` records that
follow it. A ``migrate`` record that changes version opens a new chapter: consultations,
decisions and acknowledgements made under the previous version are not carried over. A
``migrate`` record between two revisions of one version does not: what the history established
under the earlier revision still counts under the later one (PROCEDURES.md, "Revisions").
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
    "changes_version",
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


def changes_version(history: Sequence[Record], index: int) -> bool:
    """Whether ``history[index]`` is a ``migrate`` record that moved the case to another
    version (not merely to another revision of its version).

    The records tell: the migration is written under the new version, the record before it
    under the old one. A history that begins with the migration (a slice) is read from its
    payload, which the audit checks against the records.
    """
    record = history[index]
    if record.event != "migrate":
        return False
    if index > 0:
        return history[index - 1].version != record.version
    return record.payload.get("from_version") != record.payload.get("to_version")


def since_migration(history: Sequence[Record]) -> Sequence[Record]:
    """The records written since the latest ``migrate`` record that changed version (the whole
    history if none): a migration between revisions of one version keeps the chapter open."""
    for index in range(len(history) - 1, -1, -1):
        if changes_version(history, index):
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
    ``start`` records and ``migrate`` records that change version count as entering their
    target (a migration to another revision of the version keeps the time in the state).
    """
    for index in range(len(history) - 1, -1, -1):
        record = history[index]
        if record.target == state and (
            record.source != record.target
            or record.event == "start"
            or changes_version(history, index)
        ):
            return index
    return -1
