"""Diagrams and documentation pages generated from a procedure definition, never drawn by hand.

``mermaid`` gives a Mermaid ``stateDiagram-v2``, ``dot`` a Graphviz digraph: states with their
French labels, an arrow for each transition and source state (labelled with the event, the
payload value that picks it, and its guards; Mermaid puts those between the same two states on
one arrow), the start arrow with the guards at start, terminal states marked. Given ``path`` (a
case's records), both highlight the states the case went through, its current state, and the
transitions it took with how many times.

Both are written here rather than by the Mermaid engine of ``transitions``, which cannot label
the start arrow nor mark the transitions a case took, and escapes nothing (the evidence is in
the design decisions, « Diagrams »).

``procedure_page`` renders the Markdown page of a procedure version: its tables (roles, facts,
states, transitions, guards, confidentiality, invariants) and its Mermaid diagram.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

from stechnique.definition import ANY_ACTIVE, ConfidentialField, Party, Procedure, Transition
from stechnique.records import Record
from stechnique.schema import Field

__all__ = ["dot", "mermaid", "procedure_page"]


@attrs.frozen
class _Edge:
    source: str
    target: str
    label: str
    taken: int


@attrs.frozen
class _Path:
    """What a case's records say about the diagram: states reached, edges taken, where it is."""

    visited: frozenset[str]
    current: str | None
    taken: Counter[tuple[int, str]]


def _label(transition: Transition) -> str:
    text = transition.event
    if transition.when is not None:
        text += f" = {transition.when[1]}"
    if transition.guards:
        text += f" [{', '.join(transition.guards)}]"
    return text


def _walk(procedure: Procedure, records: Sequence[Record] | None) -> _Path:
    index = {id(t): i for i, t in enumerate(procedure.transitions)}
    mine = [
        r
        for r in records or ()
        if (r.name, r.version) == (procedure.name, procedure.version)
        and r.target in {s.id for s in procedure.states}
    ]
    taken: Counter[tuple[int, str]] = Counter()
    for record in mine:
        if record.source is None:
            continue
        transition = procedure.transition(record.source, record.event, record.payload)
        if transition is not None and transition.target == record.target:
            taken[(index[id(transition)], record.source)] += 1
    return _Path(frozenset(r.target for r in mine), mine[-1].target if mine else None, taken)


def _edges(procedure: Procedure, path: _Path) -> list[_Edge]:
    return [
        _Edge(source, t.target, _label(t), path.taken[(i, source)])
        for i, t in enumerate(procedure.transitions)
        for source in procedure.sources_of(t)
    ]


def _taken(count: int) -> str:
    return "" if not count else (" ✔" if count == 1 else f" ✔×{count}")


# -- Mermaid --------------------------------------------------------------------------------


def _mermaid_id(state: str) -> str:
    return re.sub(r"\W", "_", state)


# Mermaid has no escape character in a label, only entity codes, which it turns back into the
# character when it draws: '"' would end a state description, ';' a statement, ':' a label in
# some versions, '<' '>' '&' would read as HTML, and '#' would start an entity code.
_MERMAID_ENTITIES = str.maketrans(
    {"#": "#35;", '"': "#quot;", ":": "#58;", ";": "#59;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}
)


def _mermaid_text(text: str) -> str:
    return text.translate(_MERMAID_ENTITIES)


def _mermaid_title(text: str) -> str:
    # The front matter is YAML, read before entity codes apply: a JSON string is a YAML scalar
    # that holds any text.
    return "title: " + json.dumps(text, ensure_ascii=False)


def mermaid(procedure: Procedure, path: Sequence[Record] | None = None) -> str:
    """The procedure as a Mermaid ``stateDiagram-v2`` (highlighting a case's ``path``)."""
    walked = _walk(procedure, path)
    lines = [
        "---",
        _mermaid_title(f"{procedure.fr} ({procedure.key})"),
        "---",
        "stateDiagram-v2",
    ]
    for state in procedure.states:
        lines.append(f'    state "{_mermaid_text(state.fr)}" as {_mermaid_id(state.id)}')
    start = f"start [{', '.join(procedure.start_guards)}]" if procedure.start_guards else "start"
    lines.append(f"    [*] --> {_mermaid_id(procedure.initial.id)} : {_mermaid_text(start)}")
    # Mermaid draws one loop on a state and drops the others (submit_step under « arbitrage »
    # rework): one arrow for each pair of states, one line of its label for each transition.
    arrows: dict[tuple[str, str], list[str]] = {}
    for edge in _edges(procedure, walked):
        label = _mermaid_text(edge.label + _taken(edge.taken))
        arrows.setdefault((edge.source, edge.target), []).append(label)
    for (source, target), labels in arrows.items():
        lines.append(f"    {_mermaid_id(source)} --> {_mermaid_id(target)} : {'<br>'.join(labels)}")
    terminal = [_mermaid_id(s.id) for s in procedure.states if s.terminal]
    lines += [f"    {state} --> [*]" for state in terminal]
    lines += [
        "    classDef terminal stroke-width:3px,font-weight:bold",
        f"    class {', '.join(terminal)} terminal",
    ]
    visited = [_mermaid_id(s.id) for s in procedure.states if s.id in walked.visited]
    if visited:
        lines += [
            "    classDef visited fill:#dbeafe,stroke:#1d4ed8",
            "    classDef current fill:#1d4ed8,color:#ffffff,stroke:#1e3a8a",
            f"    class {', '.join(visited)} visited",
        ]
    if walked.current is not None:
        lines.append(f"    class {_mermaid_id(walked.current)} current")
    return "\n".join(lines) + "\n"


# -- Graphviz -------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_attributes(**attributes: str | None) -> str:
    shown = [f"{key}={_quote(value)}" for key, value in attributes.items() if value is not None]
    return f" [{', '.join(shown)}]" if shown else ""


def dot(procedure: Procedure, path: Sequence[Record] | None = None) -> str:
    """The procedure as a Graphviz ``digraph`` (highlighting a case's ``path``)."""
    walked = _walk(procedure, path)
    lines = [
        f"digraph {_quote(procedure.key)} {{",
        f"    graph [label={_quote(f'{procedure.fr} ({procedure.key})')}, labelloc=t, "
        'fontname="Helvetica"];',
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    "__start__" [shape=point, width=0.2, label=""];',
    ]
    for state in procedure.states:
        visited = state.id in walked.visited
        current = state.id == walked.current
        lines.append(
            f"    {_quote(state.id)}"
            + _dot_attributes(
                label=state.fr,
                peripheries="2" if state.terminal else None,
                style="rounded,filled" if visited else None,
                fillcolor=("#1d4ed8" if current else "#dbeafe") if visited else None,
                fontcolor="#ffffff" if current else None,
            )
            + ";"
        )
    start = f"start [{', '.join(procedure.start_guards)}]" if procedure.start_guards else "start"
    lines.append(f'    "__start__" -> {_quote(procedure.initial.id)} [label={_quote(start)}];')
    for edge in _edges(procedure, walked):
        lines.append(
            f"    {_quote(edge.source)} -> {_quote(edge.target)}"
            + _dot_attributes(
                label=edge.label + _taken(edge.taken),
                color="#1d4ed8" if edge.taken else None,
                penwidth="2" if edge.taken else None,
            )
            + ";"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- documentation page ---------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _kind(field: Field) -> str:
    kind = field.describe()
    if field.fields:
        kind += f": {{{_describe(field.fields)}}}"
    if field.required_when is not None:
        return kind + f" (required when {field.required_when[0]} = {field.required_when[1]})"
    return kind if field.required else kind + " (optional)"


def _describe(fields: Sequence[Field]) -> str:
    return "; ".join(f"`{field.name}` {_kind(field)}" for field in fields)


def _sources(procedure: Procedure, transition: Transition) -> str:
    if transition.sources == (ANY_ACTIVE,):
        return "any non-terminal state (`*`)"
    return _code(transition.sources)


def _guard_cell(transition: Transition) -> str:
    when = f"payload `{transition.when[0]}` = `{transition.when[1]}`" if transition.when else ""
    return "; ".join(part for part in (_code(transition.guards), when) if part)


def _people(procedure: Procedure) -> list[str]:
    lines = ["## Roles", ""]
    lines += _table(["role", "fr", "en"], [(f"`{r.id}`", r.fr, r.en) for r in procedure.roles])
    if procedure.case_roles:
        lines += ["Roles that depend on the case (read from a fact):", ""]
        lines += _table(
            ["case role", "fact", "value → role", "fr", "en"],
            [
                (f"`{c.id}`", f"`{c.fact}`", ", ".join(f"{v} → `{r}`" for v, r in c.roles), c.fr,
                 c.en)
                for c in procedure.case_roles
            ],
        )  # fmt: skip
    lines += ["## Start", ""]
    lines += [f"Started by {_code(procedure.start_roles)}."]
    if procedure.start_guards:
        lines[-1] += f" Guards at start: {_code(procedure.start_guards)}."
    lines += ["", "Facts recorded at start:", ""]
    lines += _table(
        ["fact", "kind", "fr", "en"],
        [(f"`{f.name}`", _kind(f), f.fr, f.en) for f in procedure.facts],
    )
    return lines


def _machine(procedure: Procedure) -> list[str]:
    lines = ["## States", ""]
    lines += _table(
        ["state", "fr", "en", "initial / terminal"],
        [
            (f"`{s.id}`", s.fr, s.en, "initial" if s.initial else "terminal" if s.terminal else "")
            for s in procedure.states
        ],
    )
    lines += ["## Transitions", ""]
    if any(t.party for t in procedure.transitions):
        lines += [
            "A step with a party is reserved to that party of the case: the actor holds one of",
            "the roles **and** acts for the body the history bound to it.",
            "",
        ]
        lines += _table(
            ["event", "from", "to", "roles", "party", "guards", "payload", "fr", "en"],
            [
                (f"`{t.event}`", _sources(procedure, t), f"`{t.target}`", _code(t.roles),
                 f"`{t.party}`" if t.party else "", _guard_cell(t), _describe(t.payload), t.fr,
                 t.en)
                for t in procedure.transitions
            ],
        )  # fmt: skip
    else:
        lines += _table(
            ["event", "from", "to", "roles", "guards", "payload", "fr", "en"],
            [
                (f"`{t.event}`", _sources(procedure, t), f"`{t.target}`", _code(t.roles),
                 _guard_cell(t), _describe(t.payload), t.fr, t.en)
                for t in procedure.transitions
            ],
        )  # fmt: skip
    lines += ["## Guards", ""]
    lines += _table(["guard", "fr", "en"], [(f"`{g.name}`", g.fr, g.en) for g in procedure.guards])
    return lines


def _parties(procedure: Procedure) -> list[str]:
    rules = procedure.reading_rules
    lines = ["## Parties", ""]
    if not rules.parties and not rules.coordinators:
        return [
            *lines,
            "No parties declared: every actor holding one of its roles sees its cases.",
            "",
        ]
    if procedure.reading is not None:
        lines += [
            "Read from the history for who may read a case (from stechnique 0.2 on, outside",
            "the fingerprint: reading rules change no history, and this revision's firing",
            "rules stay as they were).",
            "",
        ]
    lines += _table(
        ["party", "fr", "en", "bound by"],
        [(f"`{p.id}`", p.fr, p.en, _bindings(p)) for p in rules.parties],
    )
    coordinators = _code(rules.coordinators) if rules.coordinators else "none"
    lines += [
        f"Coordinating roles (they see every case of the version): {coordinators}. Anyone",
        "else than a party or a coordinator learns nothing of a case, not even that it exists.",
        "",
    ]
    return lines


def _bindings(party: Party) -> str:
    parts = []
    for binding in party.bound_by:
        who = "the body that started the case" if binding.event == "start" else ""
        if binding.field is not None:
            who = f"`{binding.event}.{binding.field}`"
        elif binding.event != "start":
            who = f"the body firing `{binding.event}`"
        how = {"set": "", "add": " (added)", "remove": " (removed)"}.get(binding.how, "")
        per = f", per `{binding.per}`" if binding.per else ""
        parts.append(who + how + per)
    return "; ".join(parts)


def _confidentiality(procedure: Procedure) -> list[str]:
    lines = ["## Confidentiality", ""]
    confidential = procedure.reading_rules.confidential
    if not confidential:
        return [*lines, "No confidential field: every reader of a history sees every field.", ""]
    return lines + _table(
        ["field", "readers", "opens to", "when", "fr", "en"],
        [
            (f"`{c.event}.{c.field}`" + (f" (per `{c.per}`)" if c.per else ""), _code(c.readers),
             _code(c.opens_to), _opening(c), c.fr, c.en)
            for c in confidential
        ],
    )  # fmt: skip


def _opening(rule: ConfidentialField) -> str:
    if rule.opens_at:
        return f"from state `{rule.opens_at}`"
    if rule.opens_on:
        return f"the record `{rule.opens_on}` validated, once it fires"
    return "never" if not rule.opens_to else ""


def _invariants(procedure: Procedure) -> list[str]:
    lines = ["## Invariants", ""]
    if not procedure.invariants:
        return [*lines, "No invariant of its own beyond those every procedure keeps.", ""]
    lines += ["Beyond those every procedure keeps, every history of this version satisfies:", ""]
    return lines + _table(
        ["invariant", "fr", "en"], [(f"`{i.name}`", i.fr, i.en) for i in procedure.invariants]
    )


def procedure_page(procedure: Procedure, *, source: str | None = None) -> str:
    """The Markdown documentation page of a procedure version, generated from its definition.

    ``source`` names the document the version follows, for readers; it defaults to the
    definition's own ``source`` field.
    """
    lines = [
        f"# {procedure.fr}",
        "",
        f"*{procedure.en}* — `{procedure.name}` version `{procedure.version}`"
        + (f", revision {procedure.revision}" if procedure.revision != 1 else ""),
        "",
        "<!-- Generated by docs/gen_procedures.py from the definition; do not edit by hand. -->",
        "",
    ]
    source = procedure.source if source is None else source
    if source:
        lines += [f"Source: {source}", ""]
    lines += [f"Fingerprint: `{procedure.fingerprint}`", "", "## Diagram", ""]
    lines += ["```mermaid", mermaid(procedure).rstrip("\n"), "```", ""]
    lines += _people(procedure) + _parties(procedure) + _machine(procedure)
    lines += _confidentiality(procedure)
    lines += _invariants(procedure)
    return "\n".join(lines).rstrip("\n") + "\n"
