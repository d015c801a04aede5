"""Readings of a history for the revision-2 drafts (``guards_r2``, ``_invariants_r2``).

Revision 1's readings (``_rules``) stay as they are: its guards use them. Revision 2 reads
more events and reads bodies, not actor ids:

- the consulted funders are those of ``refer.funders``, plus each ``consult_funder``, minus
  each ``release_funder``, in order;
- a decision belongs to the body the deciding actor acts for (``Actor.acts_for``);
- the provider is the body named by the latest ``assign_provider``; an acknowledgement counts
  for the provider only after its latest assignment.

A history's chapter starts after the latest migration to *another version*: a migration within
one version (revision 1 to 2) carries across what the history established (PROCEDURES.md,
« Revisions »).
"""

from __future__ import annotations

from collections.abc import Sequence

from stechnique.records import Record
from stechnique.workflows._rules import ACKNOWLEDGE, DECISION

__all__ = [
    "ASSIGN_PROVIDER",
    "TRANSFERABLE",
    "acknowledged_since_assignment",
    "chapter",
    "consulted_funders",
    "decisions",
    "provider",
]

#: The event by which the CAF coordinator names the case's provider.
ASSIGN_PROVIDER = "assign_provider"

#: The MSTR states a mission may be transferred to the DLA from (``transfer_to_dla``):
#: « diagnosis and every later non-terminal state ». Earlier, a case migrates instead.
TRANSFERABLE = (
    "diagnosis", "report_sent", "report_validated", "restitution", "partner_meeting",
    "accompaniment",
)  # fmt: skip


def chapter(history: Sequence[Record]) -> Sequence[Record]:
    """The records since the latest migration from another version (all if none)."""
    for index in range(len(history) - 1, -1, -1):
        record = history[index]
        if record.event == "migrate" and (
            record.payload.get("from_version") != record.payload.get("to_version")
        ):
            return history[index + 1 :]
    return history


def consulted_funders(history: Sequence[Record]) -> tuple[str, ...]:
    """The funder bodies consulted now, in the order they were consulted."""
    funders: dict[str, None] = {}
    for record in chapter(history):
        if record.event == "refer":
            funders = dict.fromkeys(str(f) for f in record.payload.get("funders", ()))
        elif record.event == "consult_funder":
            funders[str(record.payload.get("funder"))] = None
        elif record.event == "release_funder":
            funders.pop(str(record.payload.get("funder")), None)
    return tuple(funders)


def decisions(history: Sequence[Record]) -> list[tuple[str, str]]:
    """``(funder body, decision)`` of every funder's decision of the chapter, in order."""
    return [
        (record.actor.acts_for, str(record.payload.get("decision")))
        for record in chapter(history)
        if record.event == DECISION
    ]


def _latest_assignment(records: Sequence[Record]) -> int | None:
    for index in range(len(records) - 1, -1, -1):
        if records[index].event == ASSIGN_PROVIDER:
            return index
    return None


def provider(history: Sequence[Record]) -> str | None:
    """The body named by the latest ``assign_provider`` of the chapter, if any."""
    records = chapter(history)
    index = _latest_assignment(records)
    return None if index is None else str(records[index].payload.get("provider"))


def acknowledged_since_assignment(history: Sequence[Record], body: str) -> bool:
    """Whether ``body`` acknowledged the confidentiality rules since the latest assignment.

    Without any assignment in the chapter (a case carried from revision 1, where providers
    were never assigned) an acknowledgement anywhere in the chapter counts.
    """
    records = chapter(history)
    index = _latest_assignment(records)
    since = records if index is None else records[index + 1 :]
    return any(r.event == ACKNOWLEDGE and r.actor.acts_for == body for r in since)
