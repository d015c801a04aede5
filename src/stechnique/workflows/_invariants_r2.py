"""Invariants 1 and 2 of ``PROCEDURES.md`` in their revision-2 reading, for the MSTR draft.

Written against the records alone, with revision 2's readings (``_rules_r2``): the consulted
funders change with ``consult_funder`` / ``release_funder``, and each step of the provider's
work follows an acknowledgement by that same body since its latest assignment.
"""

from __future__ import annotations

from collections.abc import Sequence

from stechnique.definition import Invariant
from stechnique.records import Record
from stechnique.workflows import _rules, _rules_r2

__all__ = ["acknowledged_before_work_v2", "funders_validated_before_v2"]


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
