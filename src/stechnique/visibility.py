"""Who may read which payload field, at which point of a history (« règles de confidentialité »).

A procedure declares its confidential fields (``ConfidentialField``). Reading a history as a
viewer replaces every field that viewer may not see *now* by a redaction marker saying why; the
field is never dropped, so the reader knows something is withheld. A rule's ``opens_to`` roles
may read the field once the case has reached the rule's ``opens_at`` state.

Each record is judged by the rules of the procedure version it was written under, so a migrated
case keeps the confidentiality its older records were written with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from stechnique._labels import CONFIDENTIAL_FIELD
from stechnique.definition import ConfidentialField, Procedure
from stechnique.records import Actor, Record

__all__ = ["REDACTED", "can_read", "is_redacted", "redact", "redaction"]

#: The key of a redaction marker: ``{"__redacted__": {"fr": ..., "en": ..., "readers": [...]}}``.
REDACTED = "__redacted__"


def redaction(rule: ConfidentialField, readers: Sequence[str]) -> dict[str, Any]:
    """The marker that replaces a field the viewer may not see."""
    fr = rule.fr or CONFIDENTIAL_FIELD.fr
    en = rule.en or CONFIDENTIAL_FIELD.en
    return {REDACTED: {"fr": fr, "en": en, "readers": sorted(readers)}}


def is_redacted(value: Any) -> bool:
    """Whether a payload value is a redaction marker."""
    return isinstance(value, Mapping) and set(value) == {REDACTED}


def can_read(
    rule: ConfidentialField,
    procedure: Procedure,
    viewer: Actor,
    facts: Mapping[str, Any],
    reached: frozenset[str],
) -> tuple[bool, tuple[str, ...]]:
    """Whether ``viewer`` may read the field now, and which concrete roles may."""
    readers = procedure.allowed_roles(rule.readers, facts)
    if rule.opens_at is not None and rule.opens_at in reached:
        readers += procedure.allowed_roles(rule.opens_to, facts)
    return viewer.has_any(readers), readers


def redact(
    records: Sequence[Record],
    viewer: Actor | None,
    facts: Mapping[str, Any],
    procedure_of: Callable[[Record], Procedure],
) -> list[Record]:
    """The records as ``viewer`` may see them (all of them, fields redacted where needed).

    Case roles are resolved with the facts in force when each record was written (those of
    ``start``, then of each ``migrate``), falling back on ``facts`` for a partial history.
    """
    if viewer is None:
        return list(records)
    reached = frozenset(record.target for record in records)
    seen = []
    for record in records:
        if record.event == "start":
            facts = record.payload
        elif record.event == "migrate":
            facts = record.payload.get("facts", facts)
        seen.append(_redact_one(record, viewer, facts, procedure_of(record), reached))
    return seen


def _redact_one(
    record: Record,
    viewer: Actor,
    facts: Mapping[str, Any],
    procedure: Procedure,
    reached: frozenset[str],
) -> Record:
    payload = record.payload
    for rule in procedure.confidential:
        if rule.event != record.event or rule.field not in payload:
            continue
        allowed, readers = can_read(rule, procedure, viewer, facts, reached)
        if not allowed:
            payload = {**payload, rule.field: redaction(rule, readers)}
    return record if payload is record.payload else attrs.evolve(record, payload=payload)
