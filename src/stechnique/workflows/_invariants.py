"""Invariants 1 and 2 of ``PROCEDURES.md``, built for each procedure that needs them.

They are written against the records alone (no guard code), so a broken guard shows up as a
history that breaks the invariant.
"""

from __future__ import annotations

from collections.abc import Sequence

from stechnique.definition import Invariant
from stechnique.records import Record
from stechnique.workflows import _rules

__all__ = ["acknowledged_before_work", "funders_validated_before"]


def funders_validated_before(gated: Sequence[str]) -> Invariant:
    """Invariant 1: entering a state of ``gated`` needs every consulted funder's approval.

    No funder's refusal may be recorded anywhere before, even under an earlier version.
    """
    gated_states = frozenset(gated)

    def check(records: Sequence[Record]) -> str | None:
        for index, record in enumerate(records):
            if record.target not in gated_states or record.source == record.target:
                continue
            before = records[:index]
            if any(_refusal(earlier) for earlier in before):
                return f"seq {record.seq} enters {record.target!r} after a funder's refusal"
            funders = set(_rules.consulted_funders(before))
            approved = {f for f, decision in _rules.decisions(before) if decision == "approve"}
            if not funders or not funders <= approved:
                missing = sorted(funders - approved) or ["(no funder consulted)"]
                return (
                    f"seq {record.seq} enters {record.target!r} without the approval of "
                    f"{', '.join(missing)}"
                )
        return None

    return Invariant(
        "funders_validated_before",
        "Aucun dossier n'entre en " + ", ".join(gated) + " sans la validation de chaque "
        "financeur consulté, ni après un refus",
        "No case enters " + ", ".join(gated) + " without every consulted funder's approval, "
        "nor after a refusal",
        check,
    )


def _refusal(record: Record) -> bool:
    return record.event == _rules.DECISION and record.payload.get("decision") == "refuse"


def acknowledged_before_work(working_role: str, events: Sequence[str]) -> Invariant:
    """Invariant 2: each of ``events`` follows a confidentiality acknowledgement by its actor.

    The acknowledgement is by the same actor, holding ``working_role``, since the latest
    migration.
    """
    work = frozenset(events)

    def check(records: Sequence[Record]) -> str | None:
        for index, record in enumerate(records):
            if record.event not in work:
                continue
            chapter = _rules.since_migration(records[:index])
            if not any(
                earlier.event == _rules.ACKNOWLEDGE
                and earlier.actor.id == record.actor.id
                and working_role in earlier.actor.roles
                for earlier in chapter
            ):
                return (
                    f"seq {record.seq} {record.event!r} by {record.actor.id!r} without an "
                    f"earlier acknowledgement of the confidentiality rules as {working_role}"
                )
        return None

    return Invariant(
        "acknowledged_before_work",
        f"{', '.join(events)} suivent la reconnaissance des règles de confidentialité par "
        f"l'intervenant ({working_role}) lui-même",
        f"{', '.join(events)} follow an acknowledgement of the confidentiality rules by the "
        f"practitioner ({working_role}) themselves",
        check,
    )
