"""A case history as plain text for people: who did what, when, from which step to which.

``timeline(records)`` renders records (as ``Engine.history`` returns them, redacted or not) one
block per record: seq, date and time (Paris time with its offset), who acted (the body's name
from the directory, the labels of the roles), the label of the event, the labels of the states
before and after, and the payload with the labels of its fields and options; bodies named by
a party's field (the funders consulted) read by name, numbers and dates as the reader writes
them. A redacted field shows as « [confidentiel] » with the reason, so a reader sees that
something is withheld. French by default; English with ``lang="en"`` or ``use_locale("en")``.
Raw ids are shown only where nothing labels them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from babel.dates import format_date

from stechnique._labels import (
    CASE,
    CONFIDENTIAL,
    MIGRATION_FIELDS,
    NO_ROLE,
    NOW_UNDER,
    STEP,
    YES_NO,
    event_label,
    field_label,
    named_fields,
    option_label,
    procedure_label,
    role_label,
    state_label,
)
from stechnique.bodies import Bodies
from stechnique.definition import Procedure
from stechnique.i18n import Lang, current_lang, format_datetime, format_number
from stechnique.records import Record
from stechnique.registry import Registry
from stechnique.schema import Field
from stechnique.visibility import REDACTED, is_redacted

__all__ = ["payload_lines", "timeline"]

_MAX_TEXT = 160
_HASH = re.compile(r"[0-9a-f]{64}")


def timeline(
    records: Sequence[Record],
    registry: Registry | None = None,
    *,
    bodies: Bodies | None = None,
    lang: Lang | None = None,
) -> str:
    """The records of one case as a readable timeline (empty text for no record).

    ``registry`` resolves each record's procedure version by its fingerprint, for the labels;
    the default registry is used when it is ``None``. Unknown versions fall back to raw ids.
    ``bodies`` names the bodies (default: the known funders only); ``lang`` defaults to the
    language in force.
    """
    if not records:
        return ""
    if registry is None:
        from stechnique.workflows import default_registry

        registry = default_registry()
    page = _Page(registry, bodies or Bodies(), lang or current_lang())
    return "\n".join(page.lines(records))


def payload_lines(
    record: Record,
    registry: Registry,
    *,
    before: Procedure | None = None,
    bodies: Bodies | None = None,
    lang: Lang | None = None,
) -> list[str]:
    """``record``'s data as the timeline writes it: « Label : value » lines, options, bodies and
    dates by name, a withheld value saying so. ``before`` is the procedure a migration left
    (a migrate record's facts are the new version's)."""
    page = _Page(registry, bodies or Bodies(), lang or current_lang())
    procedure = registry.by_fingerprint(record.fingerprint)
    if record.event == "migrate":
        return page.migration_payload(record.payload, procedure)
    return page.payload(record, procedure)


class _Page:
    """One rendering: the registry, the directory and the language it reads with."""

    def __init__(self, registry: Registry, bodies: Bodies, lang: Lang) -> None:
        self.registry = registry
        self.bodies = bodies
        self.lang = lang
        # French sets a colon apart (« Situation : crise »), English does not.
        self.colon = " : " if lang == "fr" else ": "

    def title(self, record: Record) -> str:
        procedure = self.registry.by_fingerprint(record.fingerprint)
        return procedure_label(procedure, self.lang) if procedure is not None else record.name

    def say(self, fr: str, en: str) -> str:
        return fr if self.lang == "fr" else en

    def lines(self, records: Sequence[Record]) -> list[str]:
        first, last = records[0], records[-1]
        title = self.title(first)
        versions = first.version
        if last.version != first.version:
            versions += f" → {last.version}"
            # A migrated case runs under the new version's procedure from then on.
            if self.title(last) != title:
                title += f" → {self.title(last)}"
        case = CASE.fr.capitalize() if self.lang == "fr" else CASE.en.capitalize()
        lines = [f"{case} {first.case_id} — {title} (version {versions})"]
        previous: Procedure | None = None
        for record in records:
            current = self.registry.by_fingerprint(record.fingerprint)
            before = previous if record.event == "migrate" else current
            lines += self.block(record, current, before)
            previous = current
        return lines

    def block(
        self, record: Record, procedure: Procedure | None, before: Procedure | None
    ) -> list[str]:
        when = format_datetime(record.at, self.lang)
        # The actor held the roles of the version the step was judged under.
        header = f"{record.seq:>3}. {when}  {self.actor(record, before or procedure)}"
        target = state_label(procedure, record.target, self.lang)
        # A migration's step is the old version's; its payload and target, the new one's.
        event = event_label(before if record.event != "migrate" else procedure, record, self.lang)
        if record.source == record.target and record.event != "migrate":
            step = f"     {event} ({self.say(STEP.fr, STEP.en)}{self.colon}{target})"
        else:
            source = state_label(before, record.source, self.lang) or "—"
            step = f"     {event}{self.colon}{source} → {target}"
        lines = [header, step]
        if record.event == "migrate":
            lines.append(f"       {self.migrated(record, procedure)}")
            payload = self.migration_payload(record.payload, procedure)
        else:
            payload = self.payload(record, procedure)
        return lines + [f"       {line}" for line in payload]

    def actor(self, record: Record, procedure: Procedure | None) -> str:
        actor = record.actor
        name = self.bodies.name(actor.acts_for)
        who = name if actor.acts_for == actor.id else f"{actor.id}, {name}"
        roles = [role_label(procedure, role, self.lang) for role in sorted(actor.roles)]
        return f"{who} ({', '.join(roles) or self.say(NO_ROLE.fr, NO_ROLE.en)})"

    def migrated(self, record: Record, procedure: Procedure | None) -> str:
        title = procedure_label(procedure, self.lang) if procedure is not None else record.name
        now = self.say(NOW_UNDER.fr, NOW_UNDER.en).capitalize()
        return f"{now}{self.colon}{title} (version {record.version})"

    def payload(self, record: Record, procedure: Procedure | None) -> list[str]:
        body_fields = {
            binding.field
            for _, binding in (procedure.bindings(record.event) if procedure is not None else ())
            if binding.field is not None
        }
        fields = named_fields(procedure) if procedure is not None else {}
        return [
            f"{field_label(procedure, name, self.lang)}{self.colon}"
            f"{self.value(procedure, fields, name, value, name in body_fields)}"
            for name, value in record.payload.items()
        ]

    def migration_payload(
        self, payload: Mapping[str, Any], procedure: Procedure | None
    ) -> list[str]:
        lines = []
        fields = named_fields(procedure) if procedure is not None else {}
        for name, value in payload.items():
            label = MIGRATION_FIELDS.get(name)
            shown = self.say(label.fr, label.en) if label is not None else name
            if name == "facts" and isinstance(value, Mapping):
                facts = [
                    f"{field_label(procedure, key, self.lang)}{self.colon}"
                    f"{self.value(procedure, fields, key, item, False)}"
                    for key, item in value.items()
                ]
                lines.append(f"{shown}{self.colon.rstrip()}")
                lines += [f"  {fact}" for fact in facts]
            else:
                lines.append(f"{shown}{self.colon}{self.value(None, {}, name, value, False)}")
        return lines

    def nested_label(self, procedure: Procedure | None, name: str, key: str) -> str:
        """The label of field ``key`` inside ``name``; ``key`` itself when unlabelled."""
        label = field_label(procedure, f"{name}.{key}", self.lang)
        return key if label == f"{name}.{key}" else label

    def value(
        self,
        procedure: Procedure | None,
        fields: Mapping[str, Field],
        name: str,
        value: Any,
        names_bodies: bool,
    ) -> str:
        if is_redacted(value):
            reason = value[REDACTED].get(self.lang) or value[REDACTED].get("fr", "")
            return f"« [{self.say(CONFIDENTIAL.fr, CONFIDENTIAL.en)}] » ({reason})"
        field = fields.get(name)
        if isinstance(value, Mapping):
            parts = [
                f"{self.nested_label(procedure, name, key)}{self.colon}"
                f"{self.value(procedure, fields, f'{name}.{key}', item, False)}"
                for key, item in value.items()
            ]
            return "(" + " ; ".join(parts) + ")"
        if isinstance(value, list):
            return ", ".join(
                self.value(procedure, fields, name, item, names_bodies) for item in value
            )
        if isinstance(value, bool):
            said = YES_NO[value]
            return self.say(said.fr, said.en)
        if isinstance(value, int):
            return format_number(value, self.lang)
        text = str(value)
        if names_bodies:
            return self.bodies.name(text)
        if field is not None and field.options:
            return option_label(procedure, name, text, self.lang)
        if field is not None and field.kind == "date":
            return _date(text, self.lang)
        if _HASH.fullmatch(text):
            return text[:12] + "…"
        return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _date(text: str, lang: Lang) -> str:
    try:
        return format_date(date.fromisoformat(text), "long", locale=lang)
    except ValueError:
        return text
