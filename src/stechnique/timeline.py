"""A case history as plain text for people: who did what, when, from which step to which.

``timeline(records)`` renders records (as ``Engine.history`` returns them, redacted or not) one
block per record: seq, date and time, actor and roles, the French label of the event, the
French labels of the states before and after, and a summary of the payload. A redacted field
shows as « [confidentiel] » with the reason, so a reader sees that something is withheld.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stechnique._labels import CASE, CONFIDENTIAL, NO_ROLE, STEP, UTC_TIMES, event_fr, state_fr
from stechnique.definition import Procedure
from stechnique.records import Record
from stechnique.registry import Registry
from stechnique.visibility import REDACTED, is_redacted

__all__ = ["timeline"]

_MAX_TEXT = 160
_HASH = re.compile(r"[0-9a-f]{64}")


def timeline(records: Sequence[Record], registry: Registry | None = None) -> str:
    """The records of one case as a readable French timeline (empty text for no record).

    ``registry`` resolves each record's procedure version by its fingerprint, for the labels;
    the default registry is used when it is ``None``. Unknown versions fall back to raw ids.
    """
    if not records:
        return ""
    if registry is None:
        from stechnique.workflows import default_registry

        registry = default_registry()
    first = records[0]
    procedure = registry.by_fingerprint(first.fingerprint)
    title = procedure.fr if procedure is not None else first.name
    versions = first.version
    if records[-1].version != first.version:
        versions += f" → {records[-1].version}"
    lines = [
        f"{CASE.fr.capitalize()} {first.case_id} — {title} (version {versions}, {UTC_TIMES.fr})"
    ]
    previous: Procedure | None = None
    for record in records:
        current = registry.by_fingerprint(record.fingerprint)
        lines += _block(record, current, previous if record.event == "migrate" else current)
        previous = current
    return "\n".join(lines)


def _block(record: Record, procedure: Procedure | None, before: Procedure | None) -> list[str]:
    when = record.at.strftime("%d/%m/%Y %H:%M")
    roles = ", ".join(sorted(record.actor.roles)) or NO_ROLE.fr
    source = state_fr(before, record.source) or record.source or "—"
    header = f"{record.seq:>3}. {when}  {record.actor.id} ({roles})"
    target = state_fr(procedure, record.target) or record.target
    event = event_fr(procedure, record) or record.event
    if record.source == record.target and record.event != "migrate":
        step = f"     {event} ({STEP.fr} : {target})"
    else:
        step = f"     {event} : {source} → {target}"
    if record.event == "migrate":
        step += f" [{record.payload.get('from_version')} → {record.version}]"
    return [header, step] + [f"       {line}" for line in _summary(record.payload)]


def _summary(payload: Mapping[str, Any]) -> list[str]:
    return [f"{name} : {_value(value)}" for name, value in payload.items()]


def _value(value: Any) -> str:
    if is_redacted(value):
        return f"« [{CONFIDENTIAL.fr}] » ({value[REDACTED].get('fr', '')})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} : {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return ", ".join(_value(item) for item in value)
    if isinstance(value, bool):
        return "oui" if value else "non"
    text = str(value)
    if _HASH.fullmatch(text):
        return text[:12] + "…"
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
