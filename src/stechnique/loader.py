"""Procedures declared as data files: the loader a partner uses instead of writing Python.

A procedure version can be written as a TOML file (the format is documented in
``docs/data-files.md``) and loaded with ``load_procedure``. The file names its rules: guards are
referenced by name from a library of guard functions (``stechnique.GUARDS`` plus the partner's
own), never written as code. The file is checked before anything is built, and every problem is
reported at once in a ``ProcedureFileError`` naming the file, the key path, the line when it can
be found, and what is wrong. A procedure loaded from a file is an ordinary ``Procedure``: same
validation, same fingerprint, same behaviour as the same procedure declared in Python.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stechnique._datafile import (
    Checker,
    KeyPath,
    check_document,
    dotted,
    ids,
    line_of,
)
from stechnique._datafile import FileProblem as FileProblem  # re-exported, see ProcedureFileError
from stechnique.definition import (
    Binding,
    CaseRole,
    ConfidentialField,
    Guard,
    GuardLabel,
    Labels,
    OptionLabel,
    Party,
    Procedure,
    Relabel,
    Role,
    State,
    Transition,
)
from stechnique.errors import DefinitionError, DefinitionProblem
from stechnique.schema import Field

__all__ = ["FileProblem", "ProcedureFileError", "load_labels", "load_procedure"]


class ProcedureFileError(DefinitionError):
    """A procedure data file is not valid; ``file_problems`` locates each problem.

    ``problems`` (inherited) holds the same problems as text, so code that handles any
    ``DefinitionError`` reads them the same way. When the file is well formed but the procedure
    it declares is not, ``definition_problems`` holds what the checks of the definition found,
    one for each of ``file_problems``, in the same order; it is empty otherwise.
    """

    def __init__(
        self,
        file: str,
        problems: Sequence[FileProblem],
        definition_problems: Sequence[DefinitionProblem] = (),
    ) -> None:
        self.file = file
        self.file_problems = tuple(problems)
        super().__init__(file, [str(problem) for problem in self.file_problems])
        self.definition_problems = tuple(definition_problems)


def load_procedure(
    path_or_text: str | os.PathLike[str], *, guards: Mapping[str, Guard] | None = None
) -> Procedure:
    """Load a procedure version from a TOML data file (a path) or from TOML text.

    A ``Path`` (or any path-like), or a ``str`` of one line, is read as a file path; a ``str``
    of several lines is the TOML text itself. Guard names in the file are resolved in
    ``stechnique.GUARDS`` merged with ``guards`` (a partner's own rules, by name; they may not
    reuse a built-in name). Raises ``ProcedureFileError`` listing every problem of the file.
    """
    file, text = _read(path_or_text)
    library = _library(guards)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProcedureFileError(file, [_syntax_problem(file, error)]) from None
    checker = Checker(file, text, library)
    check_document(document, checker)
    checker.problems.extend(_label_problems(file, text, document.get("labels", {}), ("labels",)))
    if checker.problems:
        in_file_order = sorted(checker.problems, key=lambda p: (p.line is None, p.line or 0))
        raise ProcedureFileError(file, in_file_order)
    try:
        return _procedure(document, library)
    except DefinitionError as error:
        found = error.definition_problems
        located = [_located(file, text, document, problem) for problem in found]
        raise ProcedureFileError(file, located, found) from error


def _read(source: str | os.PathLike[str]) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return "<text>", source
    path = Path(source)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        problem = FileProblem(str(path), "", None, f"not UTF-8 text ({error.reason})")
        raise ProcedureFileError(str(path), [problem]) from None


def _syntax_problem(file: str, error: tomllib.TOMLDecodeError) -> FileProblem:
    found = re.search(r"at line (\d+)", str(error))
    line = int(found.group(1)) if found else None
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
    return FileProblem(file, "", line, f"not valid TOML: {message}")


def _located(
    file: str, text: str, document: dict[str, Any], problem: DefinitionProblem
) -> FileProblem:
    """Place a problem found by ``Procedure`` validation where its location is written."""
    path = _file_path(problem.location, document)
    return FileProblem(file, dotted(path), line_of(text, path) if path else None, problem.message)


#: Attributes of a ``Transition`` that the data file spells differently.
_TRANSITION_KEYS = {"target": "to", "sources": "from"}
_START_KEYS: dict[str | int, KeyPath] = {
    "start_roles": ("start", "roles"),
    "start_guards": ("start", "guards"),
}


def _file_path(location: KeyPath, document: dict[str, Any]) -> KeyPath:
    """The key path in the file of a location in the ``Procedure`` built from it.

    The file declares what the ``Procedure`` holds under the same names, item for item (states
    and roles by id, transitions and confidential rules in file order), but for the renamed
    keys above and guards, which the file lists by name.
    """
    if not location:
        return ()
    head, *rest = location
    if head in _START_KEYS:
        return _START_KEYS[head]
    if head == "transitions" and len(rest) > 1:
        index, key, *more = rest
        return (head, index, _TRANSITION_KEYS.get(str(key), key), *more)
    if head == "guards" and rest and rest[0] in document.get("guards", []):
        # Only a repeated name is located here: its last listing is the one too many.
        names = document["guards"]
        return (head, len(names) - 1 - names[::-1].index(rest[0]))
    return location


def _library(extra: Mapping[str, Guard] | None) -> dict[str, Guard]:
    from stechnique.workflows.guards import GUARDS

    library = dict(GUARDS)
    problems = []
    for name, guard in (extra or {}).items():
        if guard.name != name:
            problems.append(f"guard given as {name!r} is named {guard.name!r}")
        elif name in GUARDS and guard is not GUARDS[name]:
            problems.append(f"guard {name!r} is built in; give your own rule another name")
        else:
            library[name] = guard
    if problems:
        raise DefinitionError("(guards given to load_procedure)", problems)
    return library


def _procedure(document: dict[str, Any], library: Mapping[str, Guard]) -> Procedure:
    start = document["start"]
    payloads = {name: _fields(fields) for name, fields in document.get("payloads", {}).items()}
    transitions = [_transition(item, payloads) for item in document["transitions"]]
    used = ids(start.get("guards", [])) + [g for t in transitions for g in t.guards]
    names = document.get("guards", list(dict.fromkeys(used)))
    return Procedure(
        name=document["name"],
        version=document["version"],
        fr=document["fr"],
        en=document["en"],
        roles=[Role(id, role["fr"], role["en"]) for id, role in document["roles"].items()],
        states=[_state(id, state) for id, state in document["states"].items()],
        transitions=transitions,
        facts=_fields(document.get("facts", {})),
        start_roles=ids(start["roles"]),
        start_guards=ids(start.get("guards", [])),
        guards=[library[name] for name in names],
        case_roles=[_case_role(id, role) for id, role in document.get("case_roles", {}).items()],
        confidential=[_confidential(rule) for rule in document.get("confidential", [])],
        source=document.get("source", ""),
        revision=document.get("revision", 1),
        parties=[_party(id, party) for id, party in document.get("parties", {}).items()],
        coordinators=document.get("coordinators", ()),
        labels=_labels(document.get("labels", {})),
    )


def _party(id: str, party: Mapping[str, Any]) -> Party:
    bindings = [
        Binding(b["event"], b.get("field"), b.get("how", "set"), b.get("per"))
        for b in party["bound_by"]
    ]
    return Party(id, party["fr"], party["en"], bound_by=bindings)


def _state(id: str, state: Mapping[str, Any]) -> State:
    return State(
        id,
        state["fr"],
        state["en"],
        initial=state.get("initial", False),
        terminal=state.get("terminal", False),
    )


def _case_role(id: str, role: Mapping[str, Any]) -> CaseRole:
    return CaseRole(id, role["fact"], role["roles"], role.get("fr", ""), role.get("en", ""))


def _fields(table: Mapping[str, Any]) -> tuple[Field, ...]:
    return tuple(_field(name, spec) for name, spec in table.items())


def _field(name: str, spec: Mapping[str, Any]) -> Field:
    when = spec.get("required_when")
    return Field(
        name,
        spec.get("kind", "text"),
        required=spec.get("required", True),
        options=spec.get("options", ()),
        fields=_fields(spec.get("fields", {})),
        minimum=spec.get("minimum"),
        required_when=next(iter(when.items())) if when else None,
        fr=spec.get("fr", ""),
        en=spec.get("en", ""),
    )


def _transition(item: Mapping[str, Any], payloads: Mapping[str, tuple[Field, ...]]) -> Transition:
    payload = item.get("payload", {})
    when = item.get("when")
    return Transition(
        item["event"],
        ids(item["from"]),
        item["to"],
        ids(item["roles"]),
        guards=ids(item.get("guards", [])),
        payload=payloads[payload] if isinstance(payload, str) else _fields(payload),
        fr=item.get("fr", ""),
        en=item.get("en", ""),
        note=item.get("note", ""),
        when=next(iter(when.items())) if when else None,
        party=item.get("party"),
    )


def _confidential(rule: Mapping[str, Any]) -> ConfidentialField:
    return ConfidentialField(
        rule["event"],
        rule["field"],
        ids(rule["readers"]),
        opens_to=ids(rule.get("opens_to", [])),
        opens_at=rule.get("opens_at"),
        fr=rule.get("fr", ""),
        en=rule.get("en", ""),
        opens_on=rule.get("opens_on"),
        per=rule.get("per"),
    )


# -- labels: presentation outside the fingerprint (``Labels``) -----------------------------

_GUARD_LABEL_KEYS = ("refused_fr", "refused_en", "held_fr", "held_en")


def load_labels(path_or_text: str | os.PathLike[str]) -> Labels:
    """Load a procedure version's ``Labels`` from a TOML file (a path) or TOML text.

    The file holds what a data file's ``[labels]`` table holds, at its top level:
    ``[options.<field>]`` with ``<option> = { fr = ..., en = ... }``, ``[guards.<name>]`` with
    ``refused_fr``, ``refused_en``, ``held_fr``, ``held_en``, and ``[relabels.<kind>]`` with
    ``<id> = { fr = ..., en = ... }`` (``[relabels.procedure]`` holds ``fr`` and ``en``
    itself). Whether the labels name what a procedure declares is checked when they are
    attached to it (``attrs.evolve(procedure, labels=...)``). Raises ``ProcedureFileError``.
    """
    file, text = _read(path_or_text)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProcedureFileError(file, [_syntax_problem(file, error)]) from None
    problems = _label_problems(file, text, document, ())
    if problems:
        raise ProcedureFileError(file, problems)
    return _labels(document)


def _label_problems(file: str, text: str, table: Any, at: KeyPath) -> list[FileProblem]:
    """What is malformed in a labels table: every leaf a table of the expected text keys."""
    found: list[FileProblem] = []

    def problem(path: KeyPath, message: str) -> None:
        found.append(FileProblem(file, dotted(path), line_of(text, path), message))

    def texts(value: Any, path: KeyPath, keys: Sequence[str]) -> None:
        if not isinstance(value, dict):
            problem(path, f"expected a table with {', '.join(keys)}")
            return
        for key in keys:
            if not isinstance(value.get(key), str) or not value[key].strip():
                problem((*path, key), "expected non-empty text")
        for key in sorted(set(value) - set(keys)):
            problem((*path, key), f"unexpected key (expected: {', '.join(keys)})")

    def tables(value: Any, path: KeyPath) -> dict[str, Any]:
        if not isinstance(value, dict):
            problem(path, "expected a table")
            return {}
        return value

    sections = tables(table, at) if at else table
    for key in sorted(set(sections) - {"options", "guards", "relabels"}):
        problem((*at, key), "unexpected key (expected: options, guards, relabels)")
    for field, options in tables(sections.get("options", {}), (*at, "options")).items():
        for option, label in tables(options, (*at, "options", field)).items():
            texts(label, (*at, "options", field, option), ("fr", "en"))
    for name, label in tables(sections.get("guards", {}), (*at, "guards")).items():
        texts(label, (*at, "guards", name), _GUARD_LABEL_KEYS)
    for kind, entries in tables(sections.get("relabels", {}), (*at, "relabels")).items():
        if kind == "procedure":
            texts(entries, (*at, "relabels", kind), ("fr", "en"))
            continue
        for id, label in tables(entries, (*at, "relabels", kind)).items():
            texts(label, (*at, "relabels", kind, id), ("fr", "en"))
    return found


def _labels(table: Mapping[str, Any]) -> Labels:
    options = [
        OptionLabel(field, option, label["fr"], label["en"])
        for field, labelled in table.get("options", {}).items()
        for option, label in labelled.items()
    ]
    guards = [
        GuardLabel(name, *(label[key] for key in _GUARD_LABEL_KEYS))
        for name, label in table.get("guards", {}).items()
    ]
    relabels = []
    for kind, entries in table.get("relabels", {}).items():
        if kind == "procedure":
            relabels.append(Relabel(kind, "", entries["fr"], entries["en"]))
        else:
            relabels += [Relabel(kind, id, e["fr"], e["en"]) for id, e in entries.items()]
    return Labels(options, guards, relabels)
