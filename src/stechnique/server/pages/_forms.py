"""The form of an event, generated from its payload schema, and the payload a form sends.

Each ``Field`` becomes one control (``control``): text and e-mail inputs, a select for a
choice, a group of check boxes for choices, a text area (one item a line) for a list, a
number, a check box, a date, and a JSON text area for nested objects. ``payload_of`` turns
what the browser sent back into the payload the engine validates: the engine, not the form,
decides what is valid (its refusal is shown).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from stechnique.i18n import current_lang
from stechnique.schema import Field

__all__ = ["Control", "controls", "payload_of"]

_INPUT_TYPES = {"text": "text", "email": "email", "integer": "number", "date": "date"}


@attrs.frozen
class Control:
    """How one payload field is asked for in a form."""

    name: str
    label: str
    widget: str  # input, select, checkboxes, textarea, checkbox
    input_type: str = "text"
    options: tuple[str, ...] = ()
    required: bool = True
    hint: str = ""


def _label(field: Field) -> str:
    text = field.en if current_lang() == "en" and field.en else field.fr
    return text or field.name


def control(field: Field) -> Control:
    """The control asking for ``field``."""
    label, required = _label(field), field.required and field.required_when is None
    if field.kind in _INPUT_TYPES:
        return Control(field.name, label, "input", _INPUT_TYPES[field.kind], required=required)
    if field.kind == "choice":
        return Control(field.name, label, "select", options=field.options, required=required)
    if field.kind == "choices":
        return Control(field.name, label, "checkboxes", options=field.options, required=False)
    if field.kind == "boolean":
        return Control(field.name, label, "checkbox", required=False)
    hint = "une valeur par ligne" if field.kind == "list" else "JSON"
    if current_lang() == "en":
        hint = "one value a line" if field.kind == "list" else "JSON"
    return Control(field.name, label, "textarea", required=required, hint=hint)


def controls(fields: Sequence[Field]) -> list[Control]:
    """The controls of a payload schema, in its order."""
    return [control(field) for field in fields]


def payload_of(fields: Sequence[Field], form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The payload a submitted form stands for (``form``: each name's values). A blank
    optional field is left out; a value that cannot be read is passed as text, so that the
    engine's validation names the field."""
    payload: dict[str, Any] = {}
    for field in fields:
        values = [value for value in form.get(field.name, ()) if value.strip()]
        if field.kind == "boolean":
            payload[field.name] = bool(values)
        elif field.kind == "choices":
            if values:
                payload[field.name] = values
        elif field.kind == "list":
            lines = [line.strip() for value in values for line in value.splitlines()]
            if any(lines):
                payload[field.name] = [line for line in lines if line]
        elif values:
            payload[field.name] = _value(field, values[0])
    return payload


def _value(field: Field, text: str) -> Any:
    if field.kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if field.kind in ("object", "objects"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text.strip()
