"""Checks of a procedure data file's structure, before any ``Procedure`` is built.

The checker walks the parsed TOML document against a small declarative description of every
table (which keys, which types, which are required), then checks what the document refers to:
states, roles, guards, named payloads, field kinds. Each problem is reported with the key path
(``transitions[3].to``) and, when it can be found in the text, its line.

TOML parsers do not report positions, so ``line_of`` finds a key path in the text by its table
headers (``[states.protocol]``, the n-th ``[[transitions]]``) and keys (``to =``), bounded by
the table each step lives in. It is a best effort: a problem without a line still names its key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from stechnique.definition import ANY_ACTIVE
from stechnique.schema import KINDS

__all__ = ["FileProblem", "KeyPath", "check_document", "dotted", "line_of"]

#: A key path in the document: table keys and array indices.
KeyPath = tuple[str | int, ...]


@attrs.frozen
class FileProblem:
    """One problem of a procedure data file: where (file, key path, line) and what is wrong."""

    file: str
    key: str
    line: int | None
    problem: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.problem}" if self.key else f"{where}: {self.problem}"


# -- what each table may hold: key -> (type, required) ---------------------------------------

_TEXT, _IDS, _FLAG, _INT, _TABLE, _TABLES, _NAMES, _PAYLOAD = (
    "text",
    "ids",
    "flag",
    "int",
    "table",
    "tables",
    "names",
    "payload",
)
_EXPECTED = {
    _TEXT: "text",
    _IDS: "an identifier or a list of identifiers",
    _FLAG: "true or false",
    _INT: "an integer",
    _TABLE: "a table",
    _TABLES: "an array of tables ([[...]])",
    _NAMES: "a list of text",
    _PAYLOAD: "the name of a [payloads] entry or a table of fields",
}
Spec = Mapping[str, tuple[str, bool]]

TOP: Spec = {
    "name": (_TEXT, True),
    "version": (_TEXT, True),
    "fr": (_TEXT, True),
    "en": (_TEXT, True),
    "source": (_TEXT, False),
    "guards": (_NAMES, False),
    "roles": (_TABLE, True),
    "case_roles": (_TABLE, False),
    "facts": (_TABLE, False),
    "start": (_TABLE, True),
    "states": (_TABLE, True),
    "payloads": (_TABLE, False),
    "transitions": (_TABLES, True),
    "confidential": (_TABLES, False),
    "revision": (_INT, False),
    "parties": (_TABLE, False),
    "coordinators": (_NAMES, False),
    # Presentation outside the fingerprint, checked by ``loader._label_problems``.
    "labels": (_TABLE, False),
}
LABELS: Spec = {"fr": (_TEXT, True), "en": (_TEXT, True)}
CASE_ROLE: Spec = {
    "fact": (_TEXT, True),
    "roles": (_TABLE, True),
    "fr": (_TEXT, False),
    "en": (_TEXT, False),
}
START: Spec = {"roles": (_IDS, True), "guards": (_IDS, False)}
STATE: Spec = {**LABELS, "initial": (_FLAG, False), "terminal": (_FLAG, False)}
FIELD: Spec = {
    "kind": (_TEXT, False),
    "required": (_FLAG, False),
    "options": (_NAMES, False),
    "fields": (_TABLE, False),
    "minimum": (_INT, False),
    "required_when": (_TABLE, False),
    "fr": (_TEXT, False),
    "en": (_TEXT, False),
}
TRANSITION: Spec = {
    "event": (_TEXT, True),
    "from": (_IDS, True),
    "to": (_TEXT, True),
    "roles": (_IDS, True),
    "guards": (_IDS, False),
    "payload": (_PAYLOAD, False),
    "when": (_TABLE, False),
    "fr": (_TEXT, False),
    "en": (_TEXT, False),
    "note": (_TEXT, False),
    "party": (_TEXT, False),
}
CONFIDENTIAL: Spec = {
    "event": (_TEXT, True),
    "field": (_TEXT, True),
    "readers": (_IDS, True),
    "opens_to": (_IDS, False),
    "opens_at": (_TEXT, False),
    "fr": (_TEXT, False),
    "en": (_TEXT, False),
    "opens_on": (_TEXT, False),
    "per": (_TEXT, False),
}
PARTY: Spec = {**LABELS, "bound_by": (_TABLES, True)}
BINDING: Spec = {
    "event": (_TEXT, True),
    "field": (_TEXT, False),
    "how": (_TEXT, False),
    "per": (_TEXT, False),
}
#: How a binding may change a party's bodies.
HOWS = ("set", "add", "remove")

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def dotted(path: KeyPath) -> str:
    """``transitions[3].payload.document`` for ``("transitions", 3, "payload", "document")``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"text {value!r}" if value.strip() else "empty text"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


def _is(kind: str, value: Any) -> bool:
    if kind == _TEXT:
        return isinstance(value, str) and bool(value.strip())
    if kind == _IDS:
        return _is(_TEXT, value) or (
            isinstance(value, list) and bool(value) and all(_is(_TEXT, v) for v in value)
        )
    if kind == _NAMES:
        return isinstance(value, list) and all(_is(_TEXT, v) for v in value)
    if kind == _FLAG:
        return isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _TABLE:
        return isinstance(value, dict)
    if kind == _PAYLOAD:
        return _is(_TEXT, value) or isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def ids(value: Any) -> list[str]:
    """The identifiers of an ``ids`` value (one text or a list of texts)."""
    return [value] if isinstance(value, str) else list(value)


def hint(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a known name is close to ``name``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Checker:
    """Collects the problems of one document; see ``check_document``."""

    def __init__(self, file: str, text: str, guards: Iterable[str]) -> None:
        self.file = file
        self.text = text
        self.guards = sorted(guards)
        self.problems: list[FileProblem] = []

    def add(self, path: KeyPath, problem: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(
            FileProblem(self.file, dotted(path), line_of(self.text, path), problem)
        )

    def table(self, value: Any, path: KeyPath, spec: Spec) -> dict[str, Any]:
        """Check a table against ``spec``; return the entries whose type is right."""
        if not isinstance(value, dict):
            self.add(path, f"expected a table, got {_type_name(value)}")
            return {}
        good: dict[str, Any] = {}
        for key, item in value.items():
            if key not in spec:
                expected = ", ".join(spec)
                self.add((*path, key), f"unknown key{hint(key, spec)}; expected one of: {expected}")
            elif _is(spec[key][0], item):
                good[key] = item
            else:
                self.add(
                    (*path, key), f"expected {_EXPECTED[spec[key][0]]}, got {_type_name(item)}"
                )
        for key, (kind, required) in spec.items():
            if required and key not in value:
                self.add((*path, key), f"missing (expected {_EXPECTED[kind]})")
        return good

    def entries(self, value: Any, path: KeyPath, spec: Spec) -> dict[str, dict[str, Any]]:
        """A table of tables keyed by identifier (``[states.protocol]``), each checked."""
        result: dict[str, dict[str, Any]] = {}
        for key, item in (value or {}).items():
            self.identifier(key, (*path, key))
            result[key] = self.table(item, (*path, key), spec)
        return result

    def identifier(self, name: str, path: KeyPath) -> None:
        """Refuse names that would not survive diagrams and command lines."""
        if not _IDENTIFIER.match(name):
            self.add(path, f"{name!r} is not an identifier (letters, digits, _ and -)")

    def fields(self, value: Any, path: KeyPath) -> None:
        """Check a table of fields (facts, a payload, nested ``fields``)."""
        if not isinstance(value, dict):
            self.add(path, f"expected a table of fields, got {_type_name(value)}")
            return
        for name, field in value.items():
            self.identifier(name, (*path, name))
            self.field(self.table(field, (*path, name), FIELD), (*path, name))

    def field(self, field: dict[str, Any], path: KeyPath) -> None:
        """Check one field's kind and the keys that kind needs or forbids."""
        kind = field.get("kind", "text")
        if kind not in KINDS:
            self.add((*path, "kind"), f"unknown field kind {kind!r}{hint(kind, KINDS)}; kinds: "
                     + ", ".join(KINDS))  # fmt: skip
            return
        rules = [
            ("options", kind in ("choice", "choices")),
            ("fields", kind in ("object", "objects")),
            ("minimum", kind == "integer"),
        ]
        for key, allowed in rules:
            if key in field and not allowed:
                self.add((*path, key), f"a {kind} field takes no {key}")
            elif allowed and key != "minimum" and not field.get(key):
                self.add((*path, key), f"missing: a {kind} field needs {key}")
        if "fields" in field:
            self.fields(field["fields"], (*path, "fields"))
        if "required_when" in field:
            self.single((*path, "required_when"), field["required_when"])

    def single(self, path: KeyPath, value: dict[str, Any]) -> None:
        """Check a one-entry table of text (``when``, ``required_when``)."""
        if len(value) != 1 or not all(isinstance(v, str) for v in value.values()):
            self.add(path, 'expected one entry, field = "value" (e.g. { decision = "approve" })')

    def known(self, names: Iterable[str], path: KeyPath, known: Sequence[str], what: str) -> None:
        """Check that each name refers to something declared."""
        for name in names:
            if name not in known:
                listed = ", ".join(known) or "none"
                self.add(path, f"unknown {what} {name!r}{hint(name, known)}; known: {listed}")


def check_document(doc: dict[str, Any], checker: Checker) -> None:
    """Check the whole document; problems accumulate in ``checker.problems``."""
    top = checker.table(doc, (), TOP)
    roles = checker.entries(top.get("roles"), ("roles",), LABELS)
    case_roles = checker.entries(top.get("case_roles"), ("case_roles",), CASE_ROLE)
    states = checker.entries(top.get("states"), ("states",), STATE)
    if "facts" in top:
        checker.fields(top["facts"], ("facts",))
    for name, payload in (top.get("payloads") or {}).items():
        checker.fields(payload, ("payloads", name))
    role_ids = [*roles, *case_roles]
    for name, case_role in case_roles.items():
        mapped = case_role.get("roles", {})
        bad = [r for r in mapped.values() if not isinstance(r, str) or r not in roles]
        checker.known([str(r) for r in bad], ("case_roles", name, "roles"), list(roles), "role")
    start = checker.table(top.get("start", {}), ("start",), START) if "start" in top else {}
    checker.known(ids(start.get("roles", [])), ("start", "roles"), role_ids, "role")
    _check_guards(checker, top, start)
    if top.get("revision", 1) < 1:
        checker.add(("revision",), f"expected a revision, 1 or more, got {top['revision']}")
    coordinators = top.get("coordinators", [])
    checker.known(coordinators, ("coordinators",), list(roles), "role")
    parties = checker.entries(top.get("parties"), ("parties",), PARTY)
    events = _check_transitions(checker, top, list(states), role_ids, list(parties))
    _check_bindings(checker, parties, events)
    # With parties, a confidential field is read by parties and coordinating roles.
    readers, what = (
        ([*parties, *coordinators], "party or coordinating role") if parties else (role_ids, "role")
    )
    for index, rule in enumerate(top.get("confidential", [])):
        path: KeyPath = ("confidential", index)
        rule = checker.table(rule, path, CONFIDENTIAL)
        checker.known([rule["event"]] if "event" in rule else [], (*path, "event"), events, "event")
        for key in ("readers", "opens_to"):
            checker.known(ids(rule.get(key, [])), (*path, key), readers, what)
        opens_at = [rule["opens_at"]] if "opens_at" in rule else []
        checker.known(opens_at, (*path, "opens_at"), list(states), "state")
        opens_on = [rule["opens_on"]] if "opens_on" in rule else []
        checker.known(opens_on, (*path, "opens_on"), events, "event")


def _check_bindings(
    checker: Checker, parties: dict[str, dict[str, Any]], events: list[str]
) -> None:
    """Each party's bindings: tables naming a declared event (or ``start``) and a ``how``."""
    known = ["start", *dict.fromkeys(events)]
    for name, party in parties.items():
        for index, item in enumerate(party.get("bound_by", [])):
            path: KeyPath = ("parties", name, "bound_by", index)
            binding = checker.table(item, path, BINDING)
            event = [binding["event"]] if "event" in binding else []
            checker.known(event, (*path, "event"), known, "event")
            how = [binding["how"]] if "how" in binding else []
            checker.known(how, (*path, "how"), list(HOWS), "binding (how)")


def _check_guards(checker: Checker, top: dict[str, Any], start: dict[str, Any]) -> None:
    declared = top.get("guards")
    if declared is not None:
        for index, name in enumerate(declared):
            checker.known([name], ("guards", index), checker.guards, "guard")
    checker.known(ids(start.get("guards", [])), ("start", "guards"), checker.guards, "guard")
    if declared is not None:
        used = ids(start.get("guards", []))
        checker.known(used, ("start", "guards"), declared, "guard (not in the file's guards)")


def _check_transitions(
    checker: Checker, top: dict[str, Any], states: list[str], roles: list[str], parties: list[str]
) -> list[str]:
    payloads = list(top.get("payloads") or {})
    declared = top.get("guards")
    events: list[str] = []
    for index, item in enumerate(top.get("transitions", [])):
        path: KeyPath = ("transitions", index)
        transition = checker.table(item, path, TRANSITION)
        if "event" in transition:
            checker.identifier(transition["event"], (*path, "event"))
            events.append(transition["event"])
        sources = ids(transition.get("from", []))
        if sources != [ANY_ACTIVE]:
            checker.known(sources, (*path, "from"), states, "state")
        checker.known(ids(transition.get("to", [])), (*path, "to"), states, "state")
        checker.known(ids(transition.get("roles", [])), (*path, "roles"), roles, "role")
        guards = ids(transition.get("guards", []))
        checker.known(guards, (*path, "guards"), checker.guards, "guard")
        if declared is not None:
            checker.known(guards, (*path, "guards"), declared, "guard (not in the file's guards)")
        payload = transition.get("payload")
        if isinstance(payload, str):
            checker.known([payload], (*path, "payload"), payloads, "payload")
        elif payload is not None:
            checker.fields(payload, (*path, "payload"))
        if "when" in transition:
            checker.single((*path, "when"), transition["when"])
        party = [transition["party"]] if "party" in transition else []
        checker.known(party, (*path, "party"), parties, "party")
    return events


# -- finding a key path in the text ---------------------------------------------------------

_HEADER = re.compile(r"^[ \t]*(\[\[?)[ \t]*([^\]\n]+?)[ \t]*\]\]?", re.M)


@attrs.frozen
class _Header:
    start: int
    names: tuple[str, ...]
    array: bool


def _split(dotted_name: str) -> tuple[str, ...]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', dotted_name)
    return tuple(part.strip().strip("\"'") for part in parts)


def _headers(text: str) -> list[_Header]:
    return [
        _Header(m.start(), _split(m.group(2)), m.group(1) == "[[") for m in _HEADER.finditer(text)
    ]


def _block_end(headers: list[_Header], index: int, names: tuple[str, ...], size: int) -> int:
    """Where the table opened by ``headers[index]`` ends: the next header outside it."""
    for header in headers[index + 1 :]:
        inside = header.names[: len(names)] == names and header.names != names
        if not inside:
            return header.start
    return size


def line_of(text: str, path: KeyPath) -> int | None:
    """The line where ``path`` is written, or of its nearest written parent (None if neither)."""
    headers = _headers(text)
    names: tuple[str, ...] = ()
    start, end, found = 0, len(text), None
    for part in path:
        if isinstance(part, int):
            elements = [
                (i, h) for i, h in enumerate(headers) if h.names == names and h.array
                and start <= h.start < end
            ]  # fmt: skip
            if part >= len(elements):
                break
            i, header = elements[part]
            start, end, found = header.start, _block_end(headers, i, names, len(text)), header.start
            continue
        names = (*names, part)
        at = next(
            (i for i, h in enumerate(headers) if h.names == names and start <= h.start < end), None
        )
        if at is not None:
            header = headers[at]
            block = end if header.array else _block_end(headers, at, names, len(text))
            start, end, found = header.start, block, header.start
            continue
        own_end = next((h.start for h in headers if start < h.start < end), end)
        key = re.compile(rf"(^|[{{,])[ \t]*[\"']?{re.escape(part)}[\"']?[ \t]*[=.]", re.M)
        match = key.search(text, start, own_end)
        if match is not None:
            start = found = match.start() + len(match.group(1))
            continue
        inner = (h for h in headers if h.names[: len(names)] == names and start <= h.start < end)
        first = next(inner, None)
        if first is None:
            break
        # Written only through its own tables' headers ([states.protocol]): the first one.
        found = first.start
    return None if found is None else text.count("\n", 0, found) + 1
