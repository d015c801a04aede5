"""Invariants 1 and 2 of ``PROCEDURES.md`` in their revision-2 reading, for the drafts.

Written against the records alone, with revision 2's readings (``_rules_r2``): the consulted
funders change with ``consult_funder`` / ``release_funder``, and each step of the provider's
work follows an acknowledgement by that same body since its latest assignment. The DLA's
(``_rules_dla_r2``): only the funders of the latest plan, and their decisions since it, count;
each step of an action's work follows an acknowledgement by that action's consultant since its
latest assignment.
"""

from __future__ import annotations

from collections.abc import Sequence

from stechnique.definition import Invariant
from stechnique.records import Record
from stechnique.workflows import _rules, _rules_dla_r2, _rules_r2

__all__ = [
    "acknowledged_before_action_work_v2",
    "acknowledged_before_work_v2",
    "funders_validated_before_v2",
    "plan_validated_before_v2",
]


def funders_validated_before_v2(gated: Sequence[str]) -> Invariant:
    """Invariant 1: entering a state of ``gated`` needs every consulted funder's approval.

    No funder's refusal may be recorded anywhere before.
    """
    gated_states = frozenset(gated)

    def check(records: Sequence[Record]) -> str | None:
        for index, record in enumerate(records):
            if record.target not in gated_states or record.source == record.target:
                continue
            before = records[:index]
            if any(
                r.event == _rules.DECISION and r.payload.get("decision") == "refuse" for r in before
            ):
                return f"seq {record.seq} enters {record.target!r} after a funder's refusal"
            funders = set(_rules_r2.consulted_funders(before))
            approved = {f for f, d in _rules_r2.decisions(before) if d == "approve"}
            if not funders or not funders <= approved:
                missing = sorted(funders - approved) or ["(no funder consulted)"]
                return (
                    f"seq {record.seq} enters {record.target!r} without the approval of "
                    f"{', '.join(missing)}"
                )
        return None

    return Invariant(
        "funders_validated_before_v2",
        "Aucun dossier n'entre en " + ", ".join(gated) + " sans la validation de chaque "
        "financeur consulté (saisi, ajouté, non libéré), ni après un refus",
        "No case enters " + ", ".join(gated) + " without every consulted funder's approval "
        "(referred, added, not released), nor after a refusal",
        check,
    )


def acknowledged_before_work_v2(events: Sequence[str]) -> Invariant:
    """Invariant 2 (revision 2): each of ``events`` is fired for the assigned provider, after
    an acknowledgement by that same body since its latest assignment."""
    work = frozenset(events)

    def check(records: Sequence[Record]) -> str | None:
        for index, record in enumerate(records):
            if record.event not in work:
                continue
            before, body = records[:index], record.actor.acts_for
            if _rules_r2.provider(before) != body:
                return f"seq {record.seq} {record.event!r} by {body!r}, not the assigned provider"
            if not _rules_r2.acknowledged_since_assignment(before, body):
                return (
                    f"seq {record.seq} {record.event!r} by {body!r} without an acknowledgement "
                    "of the confidentiality rules since its latest assignment"
                )
        return None

    return Invariant(
        "acknowledged_before_work_v2",
        f"{', '.join(events)} sont faits par le prestataire désigné, après sa reconnaissance "
        "des règles de confidentialité depuis sa dernière désignation",
        f"{', '.join(events)} are done by the assigned provider, after its acknowledgement "
        "of the confidentiality rules since its latest assignment",
        check,
    )


def plan_validated_before_v2(gated: Sequence[str], events: Sequence[str]) -> Invariant:
    """Invariant 1 (DLA, revision 2): entering a state of ``gated``, or firing one of
    ``events`` (starting an action), needs the approval of every funder of the latest plan
    since it was drawn up, and no refusal since then."""
    gated_states, gated_events = frozenset(gated), frozenset(events)

    def check(records: Sequence[Record]) -> str | None:
        for index, record in enumerate(records):
            enters = record.target in gated_states and record.source != record.target
            if not enters and record.event not in gated_events:
                continue
            before = records[:index]
            decided = _rules_dla_r2.plan_decisions(before)
            if any(decision == "refuse" for _, decision in decided):
                return f"seq {record.seq} {record.event!r} after a refusal of the latest plan"
            funders = set(_rules_dla_r2.plan_funders(before))
            approved = {funder for funder, decision in decided if decision == "approve"}
            if not funders or not funders <= approved:
                missing = sorted(funders - approved) or ["(no funder in the plan)"]
                return (
                    f"seq {record.seq} {record.event!r} without the approval of "
                    f"{', '.join(missing)}"
                )
        return None

    what_fr = ", ".join((*gated, *events))
    return Invariant(
        "plan_validated_before_v2",
        f"Aucun dossier n'entre en {what_fr} sans l'accord de chaque financeur du dernier plan "
        "depuis son élaboration, ni après un refus de ce plan",
        f"No case reaches {what_fr} without the approval of every funder of the latest plan "
        "since it was drawn up, nor after a refusal of that plan",
        check,
    )


def acknowledged_before_action_work_v2(events: Sequence[str]) -> Invariant:
    """Invariant 2 (DLA, revision 2): each of ``events`` names an action and is fired by that
    action's consultant, after its acknowledgement since its latest assignment."""
    work = frozenset(events)

    def check(records: Sequence[Record]) -> str | None:
        for index, record in enumerate(records):
            if record.event not in work:
                continue
            body, action = record.actor.acts_for, str(record.payload.get("action"))
            track = _rules_dla_r2.tracks(records[:index]).get(action)
            if track is None or track.consultant != body:
                return (
                    f"seq {record.seq} {record.event!r} on {action!r} by {body!r}, not the "
                    "action's consultant"
                )
            if not track.acknowledged:
                return (
                    f"seq {record.seq} {record.event!r} on {action!r} by {body!r} without an "
                    "acknowledgement of the confidentiality rules since its latest assignment"
                )
        return None

    return Invariant(
        "acknowledged_before_action_work_v2",
        f"{', '.join(events)} sont faits par le consultant de l'action, après sa "
        "reconnaissance des règles de confidentialité depuis sa dernière désignation",
        f"{', '.join(events)} are done by the action's consultant, after its acknowledgement "
        "of the confidentiality rules since its latest assignment",
        check,
    )
