"""The case a step opens in another procedure (``Opening``: « transfer_to_dla »), as values.

A step that opens a case writes twice: the new case (its ``start`` record) and the step on the
case it leaves. Stores write one case atomically, not two, so the two writes are ordered to
leave a history that says what happened whatever stops between them:

1. the new case is created first, under an id derived from the case it continues
   (``opened_id``), its start facts naming that case (``Opening.link_fact``, the link back);
2. then the step is appended to the case it leaves, its payload naming the new case's id
   (``Opening.case_field``).

A new case whose link back names a case that never took the step is a **half-done**
opening: the retry of the same command finds the new case under the same id and only appends
the step; ``Engine.finish_transfers`` appends it for every half-done opening; the audit reports
each one it finds (code ``link``). Nothing is ever opened twice: the id is the same on every
retry, and a store refuses a second case of the same id.

This module computes (ids, facts, links); the engine reads and writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from stechnique.definition import Opening, Procedure
from stechnique.errors import FieldProblem, InvalidData
from stechnique.records import Case, Parties, Record

__all__ = [
    "link_back_problems",
    "links_back",
    "opened_facts",
    "opened_id",
    "step_taken",
    "with_opened_id",
]

# The namespace of the ids of opened cases (uuid5: the same case and step, the same id).
_OPENED = uuid.UUID("5c1b3c8e-6f0e-5a44-9d59-3c1d2a7b0e14")


def opened_id(case_id: str, event: str) -> str:
    """The id of the case ``event`` opens from case ``case_id``: the same on every retry."""
    return str(uuid.uuid5(_OPENED, f"{case_id}\n{event}"))


def with_opened_id(
    opening: Opening, case_id: str, payload: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``payload`` with the id of the case the step opens, which the engine writes; a caller
    naming another id is refused (``InvalidData``)."""
    given = dict(payload or {})
    wanted = opened_id(case_id, opening.event)
    if given.get(opening.case_field, wanted) != wanted:
        raise InvalidData(
            f"payload of {opening.event}",
            [
                FieldProblem(
                    opening.case_field,
                    "written by the engine (the id of the case the step opens): leave it out",
                )
            ],
        )
    given[opening.case_field] = wanted
    return given


def opened_facts(
    opening: Opening, case: Case, parties: Parties, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """The start facts of the case the step opens: the opening's facts from the case and the
    step's payload, the link back, and the body bound to ``Opening.party`` (the MSTR manager,
    who becomes the DLA structure)."""
    facts = opening.facts(case.facts, payload)
    facts[opening.link_fact] = case.id
    bodies = sorted(parties.bodies(opening.party))
    if bodies:
        facts[opening.party_fact] = bodies[0]
    return facts


def links_back(opening: Opening, opened: Case, case_id: str) -> bool:
    """Whether ``opened`` is the case the opening of ``case_id`` opened (its link back)."""
    return opened.facts.get(opening.link_fact) == case_id and opened.id == opened_id(
        case_id, opening.event
    )


def step_taken(opening: Opening, records: Sequence[Record], opened_case: str) -> bool:
    """Whether ``records`` hold the step that names ``opened_case``: the opening is whole."""
    return any(
        record.event == opening.event and record.payload.get(opening.case_field) == opened_case
        for record in records
    )


def link_back_problems(
    opening: Opening,
    origin_procedure: Procedure,
    opened: Case,
    origin: Case | None,
    records: Sequence[Record],
) -> list[str]:
    """What is wrong with the link between ``opened`` and the case it names (empty: whole)."""
    link = opened.facts.get(opening.link_fact)
    if origin is None:
        return [f"its link back names {link!r}, a case that does not exist"]
    if origin.name != origin_procedure.name or opened.id != opened_id(origin.id, opening.event):
        return [f"its link back names {origin.id!r}, which did not open it"]
    if not step_taken(opening, records, opened.id):
        return [
            f"half-done {opening.event}: {origin.id!r} never took the step that names it "
            f"(Engine.finish_transfers finishes it)"
        ]
    return []
