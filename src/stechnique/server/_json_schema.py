"""JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses) of facts and payloads, from their fields.

``stechnique.schema.validate`` stays the rule: these schemas describe it for partners' tools
(form generators, client validation), and what they cannot say (an integer's safe range is
said; a valid-Unicode check is not) is still checked by the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stechnique.schema import MAX_INTEGER, Field

__all__ = ["object_schema"]


def object_schema(fields: Sequence[Field], *, title: str = "") -> dict[str, Any]:
    """The schema of an object with ``fields``: no other property allowed, as ``validate``."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {field.name: _field(field) for field in fields},
        "required": [field.name for field in fields if field.required],
        "additionalProperties": False,
    }
    if title:
        schema["title"] = title
    # ``required_when=(sibling, value)``: required when the sibling has that value.
    conditions = [
        {
            "if": {"properties": {other: {"const": value}}, "required": [other]},
            "then": {"required": [field.name]},
        }
        for field in fields
        if field.required_when is not None
        for other, value in [field.required_when]
    ]
    if conditions:
        schema["allOf"] = conditions
    return schema


def _field(field: Field) -> dict[str, Any]:
    schema = _kind(field)
    if field.fr or field.en:
        schema["title"] = field.fr or field.en
        schema["description"] = f"{field.fr} / {field.en}" if field.fr and field.en else ""
    return schema


def _kind(field: Field) -> dict[str, Any]:
    kind = field.kind
    if kind == "text":
        return {"type": "string", "minLength": 1}
    if kind == "email":
        return {"type": "string", "format": "email"}
    if kind == "choice":
        return {"type": "string", "enum": list(field.options)}
    if kind == "choices":
        items: dict[str, Any] = {"type": "string", "enum": list(field.options)}
        return {"type": "array", "items": items, "minItems": 1, "uniqueItems": True}
    if kind == "list":
        items = {"type": "string", "minLength": 1}  # a list of non-empty strings
        return {"type": "array", "items": items, "minItems": 1}
    if kind == "integer":
        low = -MAX_INTEGER if field.minimum is None else field.minimum
        return {"type": "integer", "minimum": low, "maximum": MAX_INTEGER}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "date":
        return {"type": "string", "format": "date"}
    nested = object_schema(field.fields)
    if kind == "object":
        return nested
    return {"type": "array", "items": nested, "minItems": 1}  # objects
