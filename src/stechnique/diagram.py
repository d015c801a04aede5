"""Diagrams and documentation pages generated from a procedure definition, never drawn by hand.

``mermaid`` gives a Mermaid ``stateDiagram-v2``, ``dot`` a Graphviz digraph: states with their
labels in the locale's language (French unless told otherwise), an arrow for each transition
and source state (labelled with the event, the payload value that picks it, and its guards;
Mermaid puts those between the same two states on one arrow), the start arrow with the guards
at start, terminal states marked. Given ``path`` (a
case's records), both highlight the states the case went through, its current state, and the
transitions it took with how many times.

Both are written here rather than by the Mermaid engine of ``transitions``, which cannot label
the start arrow nor mark the transitions a case took, and escapes nothing (the evidence is in
the design decisions, « Diagrams »).

``procedure_page`` renders the Markdown page of a procedure version, in French or English: its
tables (roles, facts, states, transitions, guards, confidentiality, invariants, each with both
labels) and its Mermaid diagram.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import attrs

from stechnique._labels import Label
from stechnique.definition import (
    ANY_ACTIVE,
    ConfidentialField,
    Party,
    Procedure,
    State,
    Transition,
)
from stechnique.i18n import Lang, current_lang
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


def mermaid(
    procedure: Procedure, path: Sequence[Record] | None = None, *, lang: Lang | None = None
) -> str:
    """The procedure as a Mermaid ``stateDiagram-v2`` (highlighting a case's ``path``), its
    title and states labelled in ``lang`` (default: the current locale, French unless set)."""
    walked = _walk(procedure, path)
    english = (lang or current_lang()) == "en"
    lines = [
        "---",
        _mermaid_title(f"{procedure.en if english else procedure.fr} ({procedure.key})"),
        "---",
        "stateDiagram-v2",
    ]
    for state in procedure.states:
        label = state.en if english else state.fr
        lines.append(f'    state "{_mermaid_text(label)}" as {_mermaid_id(state.id)}')
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


def dot(
    procedure: Procedure, path: Sequence[Record] | None = None, *, lang: Lang | None = None
) -> str:
    """The procedure as a Graphviz ``digraph`` (highlighting a case's ``path``), its title and
    states labelled in ``lang`` (default: the current locale, French unless set)."""
    walked = _walk(procedure, path)
    english = (lang or current_lang()) == "en"
    title = f"{procedure.en if english else procedure.fr} ({procedure.key})"
    lines = [
        f"digraph {_quote(procedure.key)} {{",
        f'    graph [label={_quote(title)}, labelloc=t, fontname="Helvetica"];',
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
                label=state.en if english else state.fr,
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

# The page's own words, French first; the labels of what the procedure declares come from its
# definition. The tables keep both labels in their fr and en columns, whatever the page's language.
_WORDS: dict[str, Label] = {
    "fingerprint": Label("Empreinte", "Fingerprint"),
    "source": Label("Source", "Source"),
    "diagram": Label("Diagramme", "Diagram"),
    "version": Label("version", "version"),
    "revision": Label("révision", "revision"),
    "roles": Label("Rôles", "Roles"),
    "role": Label("rôle", "role"),
    "case_roles": Label(
        "Rôles qui dépendent du dossier (lus dans un fait) :",
        "Roles that depend on the case (read from a fact):",
    ),
    "case role": Label("rôle du dossier", "case role"),
    "fact": Label("fait", "fact"),
    "value → role": Label("valeur → rôle", "value → role"),
    "start": Label("Ouverture", "Start"),
    "started by": Label("Ouvert par {}.", "Started by {}."),
    "start guards": Label(" Gardes à l'ouverture : {}.", " Guards at start: {}."),
    "facts at start": Label("Faits enregistrés à l'ouverture :", "Facts recorded at start:"),
    "kind": Label("nature", "kind"),
    "states": Label("États", "States"),
    "state": Label("état", "state"),
    "initial / terminal": Label("initial / final", "initial / terminal"),
    "initial": Label("initial", "initial"),
    "terminal": Label("final", "terminal"),
    "transitions": Label("Transitions", "Transitions"),
    "party steps": Label(
        "Une étape liée à une partie est réservée à cette partie du dossier : l'acteur a l'un\n"
        "des rôles **et** agit pour l'organisme que l'historique lui a lié.",
        "A step with a party is reserved to that party of the case: the actor holds one of\n"
        "the roles **and** acts for the body the history bound to it.",
    ),
    "event": Label("événement", "event"),
    "from": Label("depuis", "from"),
    "to": Label("vers", "to"),
    "roles column": Label("rôles", "roles"),
    "party": Label("partie", "party"),
    "guards column": Label("gardes", "guards"),
    "payload": Label("données", "payload"),
    "payload when": Label("donnée `{}` = `{}`", "payload `{}` = `{}`"),
    "any active": Label("tout état non final (`*`)", "any non-terminal state (`*`)"),
    "guards": Label("Gardes", "Guards"),
    "guard": Label("garde", "guard"),
    "parties": Label("Parties", "Parties"),
    "no parties": Label(
        "Aucune partie déclarée : tout acteur qui a l'un de ses rôles voit ses dossiers.",
        "No parties declared: every actor holding one of its roles sees its cases.",
    ),
    "reading": Label(
        "Lues dans l'historique pour savoir qui peut lire un dossier (depuis stechnique 0.2,\n"
        "hors de l'empreinte : les règles de lecture ne changent aucun historique, et les\n"
        "règles de transition de cette révision restent telles qu'elles étaient).",
        "Read from the history for who may read a case (from stechnique 0.2 on, outside\n"
        "the fingerprint: reading rules change no history, and this revision's firing\n"
        "rules stay as they were).",
    ),
    "bound by": Label("liée par", "bound by"),
    "coordinators": Label(
        "Rôles de coordination (ils voient tous les dossiers de la version) : {}. Toute autre\n"
        "personne qu'une partie ou un coordinateur n'apprend rien d'un dossier, pas même\n"
        "qu'il existe.",
        "Coordinating roles (they see every case of the version): {}. Anyone\n"
        "else than a party or a coordinator learns nothing of a case, not even that it exists.",
    ),
    "none": Label("aucun", "none"),
    "starter": Label("l'organisme qui a ouvert le dossier", "the body that started the case"),
    "firer": Label("l'organisme qui déclenche `{}`", "the body firing `{}`"),
    "added": Label(" (ajoutée)", " (added)"),
    "removed": Label(" (retirée)", " (removed)"),
    "per": Label(", par `{}`", ", per `{}`"),
    "confidentiality": Label("Confidentialité", "Confidentiality"),
    "no confidential": Label(
        "Aucun champ confidentiel : tout lecteur d'un historique en voit tous les champs.",
        "No confidential field: every reader of a history sees every field.",
    ),
    "field": Label("champ", "field"),
    "per field": Label(" (par `{}`)", " (per `{}`)"),
    "readers": Label("lecteurs", "readers"),
    "opens to": Label("s'ouvre à", "opens to"),
    "when": Label("quand", "when"),
    "opens at": Label("à partir de l'état `{}`", "from state `{}`"),
    "opens on": Label(
        "une fois l'enregistrement `{}` validé, quand il a lieu",
        "the record `{}` validated, once it fires",
    ),
    "never": Label("jamais", "never"),
    "invariants": Label("Invariants", "Invariants"),
    "no invariant": Label(
        "Aucun invariant propre au-delà de ceux que toute procédure respecte.",
        "No invariant of its own beyond those every procedure keeps.",
    ),
    "invariants intro": Label(
        "Au-delà de ceux que toute procédure respecte, tout historique de cette version\nvérifie :",
        "Beyond those every procedure keeps, every history of this version satisfies:",
    ),
    "invariant": Label("invariant", "invariant"),
    "optional": Label(" (facultatif)", " (optional)"),
    "required when": Label(" (obligatoire si {} = {})", " (required when {} = {})"),
    "generated": Label(
        "<!-- Généré par docs/gen_procedures.py depuis la définition ; ne pas modifier à la "
        "main. -->",
        "<!-- Generated by docs/gen_procedures.py from the definition; do not edit by hand. -->",
    ),
}

#: A field's kind as a French reader names it (the English page shows the kind as declared).
_KINDS_FR = {
    "text": "texte",
    "email": "adresse e-mail",
    "choice": "choix",
    "choices": "choix multiple",
    "list": "liste",
    "integer": "entier",
    "boolean": "booléen",
    "date": "date",
    "object": "objet",
    "objects": "objets",
}


def _w(key: str, lang: Lang) -> str:
    return _WORDS[key].fr if lang == "fr" else _WORDS[key].en


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _describe_kind(field: Field, lang: Lang) -> str:
    if lang == "en":
        return field.describe()
    kind = _KINDS_FR[field.kind]
    if field.kind in ("choice", "choices"):
        return f"{kind} parmi {', '.join(field.options)}"
    if field.kind == "integer" and field.minimum is not None:
        return f"{kind} >= {field.minimum}"
    return kind


def _kind(field: Field, lang: Lang) -> str:
    kind = _describe_kind(field, lang)
    if field.fields:
        kind += f": {{{_describe(field.fields, lang)}}}"
    if field.required_when is not None:
        return kind + _w("required when", lang).format(*field.required_when)
    return kind if field.required else kind + _w("optional", lang)


def _describe(fields: Sequence[Field], lang: Lang) -> str:
    return "; ".join(f"`{field.name}` {_kind(field, lang)}" for field in fields)


def _sources(transition: Transition, lang: Lang) -> str:
    if transition.sources == (ANY_ACTIVE,):
        return _w("any active", lang)
    return _code(transition.sources)


def _guard_cell(transition: Transition, lang: Lang) -> str:
    when = _w("payload when", lang).format(*transition.when) if transition.when else ""
    return "; ".join(part for part in (_code(transition.guards), when) if part)


def _people(procedure: Procedure, lang: Lang) -> list[str]:
    lines = [f"## {_w('roles', lang)}", ""]
    lines += _table(
        [_w("role", lang), "fr", "en"], [(f"`{r.id}`", r.fr, r.en) for r in procedure.roles]
    )
    if procedure.case_roles:
        lines += [_w("case_roles", lang), ""]
        lines += _table(
            [_w("case role", lang), _w("fact", lang), _w("value → role", lang), "fr", "en"],
            [
                (f"`{c.id}`", f"`{c.fact}`", ", ".join(f"{v} → `{r}`" for v, r in c.roles), c.fr,
                 c.en)
                for c in procedure.case_roles
            ],
        )  # fmt: skip
    lines += [f"## {_w('start', lang)}", ""]
    lines += [_w("started by", lang).format(_code(procedure.start_roles))]
    if procedure.start_guards:
        lines[-1] += _w("start guards", lang).format(_code(procedure.start_guards))
    lines += ["", _w("facts at start", lang), ""]
    lines += _table(
        [_w("fact", lang), _w("kind", lang), "fr", "en"],
        [(f"`{f.name}`", _kind(f, lang), f.fr, f.en) for f in procedure.facts],
    )
    return lines


def _state_kind(state: State, lang: Lang) -> str:
    if state.initial:
        return _w("initial", lang)
    return _w("terminal", lang) if state.terminal else ""


def _machine(procedure: Procedure, lang: Lang) -> list[str]:
    lines = [f"## {_w('states', lang)}", ""]
    lines += _table(
        [_w("state", lang), "fr", "en", _w("initial / terminal", lang)],
        [(f"`{s.id}`", s.fr, s.en, _state_kind(s, lang)) for s in procedure.states],
    )
    lines += [f"## {_w('transitions', lang)}", ""]
    with_party = any(t.party for t in procedure.transitions)
    if with_party:
        lines += [*_w("party steps", lang).split("\n"), ""]
    header = [_w(k, lang) for k in ("event", "from", "to", "roles column")]
    header += [_w("party", lang)] if with_party else []
    header += [_w("guards column", lang), _w("payload", lang), "fr", "en"]
    lines += _table(
        header,
        [
            (f"`{t.event}`", _sources(t, lang), f"`{t.target}`", _code(t.roles),
             *([f"`{t.party}`" if t.party else ""] if with_party else []),
             _guard_cell(t, lang), _describe(t.payload, lang), t.fr, t.en)
            for t in procedure.transitions
        ],
    )  # fmt: skip
    lines += [f"## {_w('guards', lang)}", ""]
    lines += _table(
        [_w("guard", lang), "fr", "en"], [(f"`{g.name}`", g.fr, g.en) for g in procedure.guards]
    )
    return lines


def _parties(procedure: Procedure, lang: Lang) -> list[str]:
    rules = procedure.reading_rules
    lines = [f"## {_w('parties', lang)}", ""]
    if not rules.parties and not rules.coordinators:
        return [*lines, _w("no parties", lang), ""]
    if procedure.reading is not None:
        lines += [*_w("reading", lang).split("\n"), ""]
    lines += _table(
        [_w("party", lang), "fr", "en", _w("bound by", lang)],
        [(f"`{p.id}`", p.fr, p.en, _bindings(p, lang)) for p in rules.parties],
    )
    coordinators = _code(rules.coordinators) if rules.coordinators else _w("none", lang)
    lines += [*_w("coordinators", lang).format(coordinators).split("\n"), ""]
    return lines


def _bindings(party: Party, lang: Lang) -> str:
    parts = []
    for binding in party.bound_by:
        if binding.field is not None:
            who = f"`{binding.event}.{binding.field}`"
        elif binding.event == "start":
            who = _w("starter", lang)
        else:
            who = _w("firer", lang).format(binding.event)
        how = {"add": _w("added", lang), "remove": _w("removed", lang)}.get(binding.how, "")
        per = _w("per", lang).format(binding.per) if binding.per else ""
        parts.append(who + how + per)
    return "; ".join(parts)


def _confidentiality(procedure: Procedure, lang: Lang) -> list[str]:
    lines = [f"## {_w('confidentiality', lang)}", ""]
    confidential = procedure.reading_rules.confidential
    if not confidential:
        return [*lines, _w("no confidential", lang), ""]
    return lines + _table(
        [_w(k, lang) for k in ("field", "readers", "opens to", "when")] + ["fr", "en"],
        [
            (f"`{c.event}.{c.field}`" + (_w("per field", lang).format(c.per) if c.per else ""),
             _code(c.readers), _code(c.opens_to), _opening(c, lang), c.fr, c.en)
            for c in confidential
        ],
    )  # fmt: skip


def _opening(rule: ConfidentialField, lang: Lang) -> str:
    if rule.opens_at:
        return _w("opens at", lang).format(rule.opens_at)
    if rule.opens_on:
        return _w("opens on", lang).format(rule.opens_on)
    return _w("never", lang) if not rule.opens_to else ""


def _invariants(procedure: Procedure, lang: Lang) -> list[str]:
    lines = [f"## {_w('invariants', lang)}", ""]
    if not procedure.invariants:
        return [*lines, _w("no invariant", lang), ""]
    lines += [*_w("invariants intro", lang).split("\n"), ""]
    return lines + _table(
        [_w("invariant", lang), "fr", "en"],
        [(f"`{i.name}`", i.fr, i.en) for i in procedure.invariants],
    )


def procedure_page(
    procedure: Procedure, *, source: str | None = None, lang: Lang | None = None
) -> str:
    """The Markdown documentation page of a procedure version, generated from its definition.

    ``lang`` is the language of the page's own words, its title and its diagram's labels
    (default: the current locale, French unless set); its tables give both labels of everything
    the definition declares.
    ``source`` names the document the version follows, for readers; it defaults to the
    definition's own ``source`` field.
    """
    lang = lang or current_lang()
    title, subtitle = (procedure.fr, procedure.en) if lang == "fr" else (procedure.en, procedure.fr)
    revision = procedure.revision
    lines = [
        f"# {title}",
        "",
        f"*{subtitle}* — `{procedure.name}` {_w('version', lang)} `{procedure.version}`"
        + (f", {_w('revision', lang)} {revision}" if revision != 1 else ""),
        "",
        _w("generated", lang),
        "",
    ]
    source = procedure.source if source is None else source
    if source:
        lines += [f"{_w('source', lang)} : {source}" if lang == "fr" else f"Source: {source}", ""]
    lines += [f"{_w('fingerprint', lang)}{' :' if lang == 'fr' else ':'} `{procedure.fingerprint}`"]
    lines += ["", f"## {_w('diagram', lang)}", ""]
    lines += ["```mermaid", mermaid(procedure, lang=lang).rstrip("\n"), "```", ""]
    lines += _people(procedure, lang) + _parties(procedure, lang) + _machine(procedure, lang)
    lines += _confidentiality(procedure, lang)
    lines += _invariants(procedure, lang)
    return "\n".join(lines).rstrip("\n") + "\n"
