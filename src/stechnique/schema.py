"""Schemas for the facts of a case and the payload of an event.

A schema is a tuple of ``Field`` values. ``validate`` checks data against it, reports *every*
bad field by its path in one ``InvalidData``, and returns the data normalised to plain JSON
(dates become ISO 8601 strings), which is what records store and hashes cover. Fields that the
schema does not declare are refused: a history keeps only what the procedure defines.

What every JSON reader and SQL server can hold is checked here too, so the whole engine gets
it: integers within ±(2^53 - 1) (beyond, JavaScript and many JSON readers round them), text
that is valid Unicode; nesting is bounded by the schema itself. A problem says what was
expected and what kind of value came, never the value: it may be confidential, unprintable,
or (an integer of 5,000 digits, a list nested 5,000 deep) impossible to print at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

import attrs

from stechnique._arguments import described
from stechnique._values import items
from stechnique.errors import FieldProblem, InvalidData
from stechnique.i18n import Label, both

__all__ = ["KINDS", "MAX_INTEGER", "Field", "Kind", "validate"]

Kind = Literal[
    "text", "email", "choice", "choices", "list", "integer", "boolean", "date", "object", "objects"
]
#: Every field kind, for loaders that read kinds from data files.
KINDS: tuple[str, ...] = (
    "text",
    "email",
    "choice",
    "choices",
    "list",
    "integer",
    "boolean",
    "date",
    "object",
    "objects",
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: The largest integer a field holds: every JSON reader keeps it exactly (2^53 - 1).
MAX_INTEGER = 2**53 - 1
#: The longest name an unexpected field is reported under; longer ones are described.
_SHOWN_KEY = 100


@attrs.frozen
class Field:
    """One named field of facts or payload.

    ``kind`` says what the value is: ``text`` (non-empty string), ``email``, ``choice`` (one of
    ``options``), ``choices`` (non-empty list of distinct ``options``), ``list`` (non-empty list
    of non-empty strings), ``integer`` (at least ``minimum`` when given), ``boolean``, ``date``
    (ISO 8601 string or ``date``), ``object`` (nested ``fields``), ``objects`` (non-empty list of
    objects). ``required_when=("kind", "collective")`` makes an optional field required when a
    sibling field has that value.
    """

    name: str
    kind: Kind = "text"
    required: bool = True
    options: tuple[str, ...] = attrs.field(default=(), converter=items)
    fields: tuple[Field, ...] = attrs.field(default=(), converter=items)
    minimum: int | None = None
    required_when: tuple[str, str] | None = None
    fr: str = ""
    en: str = ""

    def describe(self) -> str:
        """A short English description of what the field accepts."""
        return self.description().en

    def description(self) -> Label:
        """A short description of what the field accepts, in French and English."""
        options = ", ".join(self.options)
        if self.kind == "choice":
            return both("choice of {options}", options=options)
        if self.kind == "choices":
            return both("choices of {options}", options=options)
        if self.kind == "integer" and self.minimum is not None:
            return both("integer >= {minimum}", minimum=self.minimum)
        return _KIND_NAMES[self.kind]


def validate(
    schema: Sequence[Field], data: Mapping[str, Any] | None, what: Label | str
) -> dict[str, Any]:
    """Check ``data`` against ``schema``; return it normalised or raise ``InvalidData``."""
    if not schema and not data:
        return {}
    problems: list[FieldProblem] = []
    result = _check_object(schema, data if data is not None else {}, "", problems)
    if problems:
        raise InvalidData(what, problems)
    return result


def _check_object(
    schema: Sequence[Field], data: Any, prefix: str, problems: list[FieldProblem]
) -> dict[str, Any]:
    if data.__class__ is not dict and not isinstance(data, Mapping):  # dict: skip the ABC check
        problems.append(
            FieldProblem.said(
                prefix or "(root)", both("expected an object, got {kind}", kind=_kind(data))
            )
        )
        return {}
    first = len(problems)
    result: dict[str, Any] = {}
    declared = 0  # how many keys of data the schema declares: all of them, unless extras
    for field in schema:
        name = field.name
        given = data.get(name)
        if given is None:
            if name in data:
                declared += 1
            if _is_required(field, data):
                problems.append(
                    FieldProblem.said(
                        prefix + name,
                        both("missing (expected {expected})", expected=field.description()),
                    )
                )
            continue
        declared += 1
        value = _check_value(field, given, prefix + name, problems)
        if value is not None:
            result[name] = value
    if declared != len(data):
        problems[first:first] = _unexpected(schema, data, prefix)
    return result


def _unexpected(
    schema: Sequence[Field], data: Mapping[str, Any], prefix: str
) -> list[FieldProblem]:
    known = {field.name for field in schema}
    expected = ", ".join(sorted(known)) or both("no field")
    extras = sorted(_key_name(key) for key in data if key not in known)
    said = both("unexpected field (expected: {expected})", expected=expected)
    return [FieldProblem.said(f"{prefix}{extra}", said) for extra in extras]


def _key_name(key: Any) -> str:
    """How an unexpected key is named: itself when it is printable text of sane length.

    The name is a path, the same in every language (it is the problem's ``field``).
    """
    if not isinstance(key, str):
        return f"({described(key)[1]} as a key)"
    if len(key) > _SHOWN_KEY or not key.isprintable() or not _is_unicode(key):
        return "(a key that is not a field name)"
    return key


def _is_required(field: Field, data: Mapping[str, Any]) -> bool:
    if field.required_when is not None:
        sibling, value = field.required_when
        return bool(data.get(sibling) == value)
    return field.required


def _check_value(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    before = len(problems)
    result = _CHECKS[field.kind](field, value, path, problems)
    return result if len(problems) == before else None


def _text(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if not isinstance(value, str) or not value.strip():
        problems.append(_field_problem(path, "expected non-empty text, got {kind}", value))
    elif not _is_unicode(value):
        problems.append(FieldProblem.said(path, _not_unicode()))
    return value


# A lone surrogate (from a badly decoded file, say) cannot be written as UTF-8: refuse it here,
# by name, rather than let the hash of the record fail on it.
def _not_unicode() -> Label:
    return both("text holds characters that are not valid Unicode (a lone surrogate)")


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _email(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if not isinstance(value, str) or not _EMAIL.match(value) or not _is_unicode(value):
        problems.append(_field_problem(path, "expected an e-mail address, got {kind}", value))
    return value


def _choice(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if not isinstance(value, str) or value not in field.options:
        said = both(
            "expected one of {options}, got {kind}",
            options=", ".join(field.options),
            kind=_kind(value),
        )
        problems.append(FieldProblem.said(path, said))
    return value


def _choices(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        said = both("expected a non-empty list of {options}", options=", ".join(field.options))
        problems.append(FieldProblem.said(path, said))
        return value
    bad = [str(i) for i, item in enumerate(value)
           if not isinstance(item, str) or item not in field.options]  # fmt: skip
    if bad:
        said = both(
            "entries {entries} not among {options}",
            entries=", ".join(bad),
            options=", ".join(field.options),
        )
        problems.append(FieldProblem.said(path, said))
    elif len(set(value)) != len(value):
        problems.append(FieldProblem.said(path, both("duplicate entries")))
    return list(value)


def _list(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        problems.append(
            _field_problem(path, "expected a non-empty list of text, got {kind}", value)
        )
        return value
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            problems.append(FieldProblem.said(f"{path}[{index}]", both("expected non-empty text")))
        elif not _is_unicode(item):
            problems.append(FieldProblem.said(f"{path}[{index}]", _not_unicode()))
    return list(value)


def _integer(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(_field_problem(path, "expected an integer, got {kind}", value))
        return value
    if not -MAX_INTEGER <= value <= MAX_INTEGER:
        said = both("beyond ±(2^53 - 1), more than JSON readers hold")
        problems.append(FieldProblem.said(path, said))
    elif field.minimum is not None and value < field.minimum:
        said = both("below the minimum {minimum}", minimum=field.minimum)
        problems.append(FieldProblem.said(path, said))
    return int(value)


def _boolean(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if not isinstance(value, bool):
        problems.append(_field_problem(path, "expected true or false, got {kind}", value))
    return value


def _date(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    problems.append(
        _field_problem(path, "expected an ISO 8601 date (2017-06-30), got {kind}", value)
    )
    return value


def _object(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    return _check_object(field.fields, value, f"{path}.", problems)


def _objects(field: Field, value: Any, path: str, problems: list[FieldProblem]) -> Any:
    if isinstance(value, str | Mapping) or not isinstance(value, Sequence) or not value:
        problems.append(
            _field_problem(path, "expected a non-empty list of objects, got {kind}", value)
        )
        return value
    return [
        _check_object(field.fields, item, f"{path}[{i}].", problems) for i, item in enumerate(value)
    ]


_CHECKS = {
    "text": _text,
    "email": _email,
    "choice": _choice,
    "choices": _choices,
    "list": _list,
    "integer": _integer,
    "boolean": _boolean,
    "date": _date,
    "object": _object,
    "objects": _objects,
}


def _field_problem(path: str, sentence: str, value: Any) -> FieldProblem:
    """The problem ``sentence`` of ``value``, its ``{kind}`` said, in French and English.

    The catalogs' extractor knows ``_field_problem``'s second argument (``scripts/catalogs.py``).
    """
    return FieldProblem.said(path, both(sentence, kind=_kind(value)))


def _kind(value: Any) -> Label:
    if value is None:
        return both("nothing")
    if isinstance(value, str):
        return Label(*described(value)) if value.strip() else both("empty text")
    if isinstance(value, list | tuple) and not value:
        return both("an empty list")
    return Label(*described(value))


#: What each field kind accepts, as ``Field.description`` says it.
_KIND_NAMES = {
    "text": both("text"),
    "email": both("email"),
    "list": both("list"),
    "integer": both("integer"),
    "boolean": both("boolean"),
    "date": both("date"),
    "object": both("object"),
    "objects": both("objects"),
}
