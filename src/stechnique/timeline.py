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

from stechnique.definition import Procedure
from stechnique.records import Record
from stechnique.registry import Registry
from stechnique.visibility import REDACTED, is_redacted

__all__ = ["timeline"]

_EVENT_LABELS = {"start": "Ouverture du dossier", "migrate": "Migration vers une nouvelle version"}
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
    lines = [f"Dossier {first.case_id} — {title} (version {versions}, heures UTC)"]
    previous: Procedure | None = None
    for record in records:
        current = registry.by_fingerprint(record.fingerprint)
        lines += _block(record, current, previous if record.event == "migrate" else current)
        previous = current
    return "\n".join(lines)


def _block(record: Record, procedure: Procedure | None, before: Procedure | None) -> list[str]:
    when = record.at.strftime("%d/%m/%Y %H:%M")
    roles = ", ".join(sorted(record.actor.roles)) or "aucun rôle"
    source = _state(before, record.source) if record.source is not None else "—"
    header = f"{record.seq:>3}. {when}  {record.actor.id} ({roles})"
    target = _state(procedure, record.target)
    if record.source == record.target and record.event != "migrate":
        step = f"     {_event(procedure, record)} (étape : {target})"
    else:
        step = f"     {_event(procedure, record)} : {source} → {target}"
    if record.event == "migrate":
        step += f" [{record.payload.get('from_version')} → {record.version}]"
    return [header, step] + [f"       {line}" for line in _summary(record.payload)]


def _event(procedure: Procedure | None, record: Record) -> str:
    if record.event in _EVENT_LABELS:
        return _EVENT_LABELS[record.event]
    if procedure is not None:
        transition = procedure.transition(record.source or "", record.event, record.payload)
        if transition is not None and transition.fr:
            return transition.fr
    return record.event


def _state(procedure: Procedure | None, state: str) -> str:
    if procedure is None:
        return state
    try:
        return procedure.state(state).fr
    except KeyError:
        return state


def _summary(payload: Mapping[str, Any]) -> list[str]:
    return [f"{name} : {_value(value)}" for name, value in payload.items()]


def _value(value: Any) -> str:
    if is_redacted(value):
        return f"« [confidentiel] » ({value[REDACTED].get('fr', '')})"
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
