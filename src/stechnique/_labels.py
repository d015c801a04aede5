"""The library's own words for people, in French and English, written once.

A procedure definition labels its states, transitions and fields; everything else a reader
sees comes from here and is shared by the timeline, the command line and the CSV export: the
events every procedure has without declaring them (``start``, ``migrate``), what stands in for
a redacted value, and the nouns of titles and column headers. ``event_fr`` and ``state_fr``
give a record's labels, from its procedure or from here; each reader decides what to show
when there is none (the id, or nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from stechnique.i18n import Label as Label  # re-exported: callers name labels from here
from stechnique.i18n import both

if TYPE_CHECKING:
    from stechnique.definition import Procedure, Relabel
    from stechnique.i18n import Lang
    from stechnique.records import Record
    from stechnique.schema import Field

#: The events the library writes itself, declared by no procedure.
EVENTS = {
    "start": both("Opening of the case"),
    "migrate": both("Migration to a new version"),
}
#: A case, as titles and column headers name it.
CASE = both("case")
CASES = both("cases")
#: A transition that keeps the case in its state: « (étape : <state>) ».
STEP = both("step")
#: Every time shown is in UTC, as stored.
UTC_TIMES = both("UTC times")
#: Every time shown is in Paris local time, with its offset.
PARIS_TIMES = both("Paris time")
#: An actor holding no role.
NO_ROLE = both("no role")
#: The entry point group where installed packages declare their procedures.
PROCEDURES_ENTRY_POINTS = "stechnique.procedures"
#: How to register a procedure whose cases a store holds but a registry lacks.
REGISTER_PROCEDURE = both(
    "register its definition: an entry point in group '{group}' of an "
    "installed package, the stechnique command's --procedures FILE.toml|module:attr (or "
    "STECHNIQUE_PROCEDURES), or stechnique.load_registry(...) in an application",
    group=PROCEDURES_ENTRY_POINTS,
)
#: What a reader sees in place of a value withheld from them.
CONFIDENTIAL = both("confidential")
#: The reason a redaction marker gives when its rule gives none.
CONFIDENTIAL_FIELD = both("Confidential field")


def role_both(procedure: Procedure | None, role: str) -> Label:
    """What people call role ``role`` of ``procedure``, in both languages (``role_label``)."""
    return Label(role_label(procedure, role, "fr"), role_label(procedure, role, "en"))


def state_both(procedure: Procedure | None, state: str) -> Label:
    """What people call ``state`` of ``procedure``, in both languages (``state_label``)."""
    return Label(state_label(procedure, state, "fr"), state_label(procedure, state, "en"))


def event_both(procedure: Procedure | None, event: str, state: str | None = None) -> Label:
    """What people call ``event``: the library's own, else the label of the transition it takes
    from ``state`` (any transition of that event when ``state`` is not given), else its id; a
    display relabel wins over the transition's label."""
    if event in EVENTS:
        return EVENTS[event]
    if procedure is not None:
        relabel = procedure.labels.relabel("event", event)
        if relabel is not None:
            return Label(relabel.fr or event, relabel.en or event)
        found = procedure.candidates(state, event) if state is not None else ()
        found = found or tuple(t for t in procedure.transitions if t.event == event)
        for transition in found:
            if transition.fr or transition.en:
                return Label(transition.fr or event, transition.en or event)
    return Label(event, event)


def record_event_both(procedure: Procedure | None, record: Record) -> Label:
    """What people call ``record``'s event, in both languages (``event_label``)."""
    return Label(event_label(procedure, record, "fr"), event_label(procedure, record, "en"))


def field_both(field: Field | None, name: str) -> Label:
    """What people call field ``name`` (``field`` its definition, if known): its label, else
    the name (for a procedure's display relabels, ``field_label``)."""
    if field is not None and (field.fr or field.en):
        return Label(field.fr or name, field.en or name)
    return Label(name, name)


#: The title of each source document, by the ``source`` field of the versions that follow it.
#: A published version's ``source`` is part of its fingerprint and stays as written, even where
#: it names a file readers do not have; the pages name the document by its title instead.
_SOURCE_TITLES = {
    "seeds/001_28d3ef919107c964.txt": (
        "« La mission de soutien technique renforcé », dépliant de la Convention cadre des "
        "centres sociaux et de l'Animation de la vie sociale des Bouches-du-Rhône, 2015-2017"
    ),
    "seeds/000_ab94075ec80db73c.txt": (
        "« Soutien technique renforcé : les modalités évoluent en 2019 », la mission poursuivie "
        "par le Dispositif Local d'Accompagnement"
    ),
    (
        "Éléments de cadrage pour le lancement de l'expérimentation dans les Hauts-de-Seine, "
        "juin 2013 (seed 003_6f1cfca592b74c78)"
    ): (
        "« Éléments de cadrage pour le lancement de l'expérimentation dans les Hauts-de-Seine, "
        "juin 2013. Convention-cadre pluripartite autour du projet d'intervention des centres "
        "sociaux », diapositives 10 à 13 (« 6 étapes & 6 phases d'arbitrage »)"
    ),
}


def source_title(source: str) -> str:
    """How people are shown a version's source document: its title where ``source`` is a
    path readers do not have (revision 1's, fixed by its fingerprint), else ``source``."""
    return _SOURCE_TITLES.get(source, source)


def event_fr(procedure: Procedure | None, record: Record) -> str:
    """The French label of ``record``'s event: the library's own, else the transition taken.

    Empty when the procedure is unknown or labels nothing (one event may carry several
    transitions with their own labels; the one the record took is chosen by its payload).
    """
    if record.event in EVENTS:
        return EVENTS[record.event].fr
    if procedure is None or record.source is None:
        return ""
    transition = procedure.transition(record.source, record.event, record.payload)
    return transition.fr if transition is not None else ""


def state_fr(procedure: Procedure | None, state: str | None) -> str:
    """The French label of ``state`` in ``procedure``; empty when unknown or unlabelled."""
    if procedure is None or state is None:
        return ""
    try:
        return procedure.state(state).fr
    except KeyError:
        return ""


def french_to(noun: str) -> str:
    """« à » before a French noun phrase, contracted as French does: à le → au, à les → aux."""
    if noun.startswith("le "):
        return "au " + noun[3:]
    if noun.startswith("les "):
        return "aux " + noun[4:]
    return "à " + noun


# -- a procedure's labels, in either language -------------------------------------------------
#
# Every lookup below takes the language (``None``: the one in force, ``i18n.current_lang``) and
# answers in this order: the display relabel of ``Procedure.labels``, the canonical label of
# the definition, then the id itself: a reader always gets something to read.


def _lang(lang: Lang | None) -> Lang:
    from stechnique.i18n import current_lang

    return lang or current_lang()


def _said(relabel: Relabel | None, fr: str, en: str, fallback: str, lang: Lang | None) -> str:
    if relabel is not None:
        fr, en = relabel.fr, relabel.en
    return (fr if _lang(lang) == "fr" else en) or fr or fallback


def procedure_label(procedure: Procedure, lang: Lang | None = None) -> str:
    """The title of ``procedure`` (« Mission de soutien technique renforcé (...) »)."""
    relabel = procedure.labels.relabel("procedure", "")
    return _said(relabel, procedure.fr, procedure.en, procedure.name, lang)


def state_label(procedure: Procedure | None, state: str | None, lang: Lang | None = None) -> str:
    """The label of ``state``; the id when the procedure or the state is unknown."""
    if state is None:
        return ""
    if procedure is None:
        return state
    relabel = procedure.labels.relabel("state", state)
    try:
        known = procedure.state(state)
    except KeyError:
        return relabel.fr if relabel is not None and _lang(lang) == "fr" else state
    return _said(relabel, known.fr, known.en, state, lang)


def event_label(procedure: Procedure | None, record: Record, lang: Lang | None = None) -> str:
    """The label of ``record``'s event: the library's own, else that of the transition taken,
    else the event id."""
    if record.event in EVENTS:
        return EVENTS[record.event].fr if _lang(lang) == "fr" else EVENTS[record.event].en
    if procedure is None:
        return record.event
    relabel = procedure.labels.relabel("event", record.event)
    transition = (
        procedure.transition(record.source, record.event, record.payload)
        if record.source is not None
        else None
    )
    if transition is None:
        return _said(relabel, "", "", record.event, lang)
    return _said(relabel, transition.fr, transition.en, record.event, lang)


def role_label(procedure: Procedure | None, role: str, lang: Lang | None = None) -> str:
    """The label of ``role`` (a role or a case role); the id when unknown."""
    if procedure is None:
        return role
    relabel = procedure.labels.relabel("role", role)
    declared = next((r for r in procedure.roles if r.id == role), None)
    if declared is None:
        declared = next((r for r in procedure.case_roles if r.id == role), None)  # type: ignore[assignment]
    if declared is None:
        return _said(relabel, "", "", role, lang)
    return _said(relabel, declared.fr, declared.en, role, lang)


def party_label(procedure: Procedure | None, party: str, lang: Lang | None = None) -> str:
    """The label of party kind ``party`` (« le gestionnaire »); the id when unknown."""
    if procedure is None:
        return party
    relabel = procedure.labels.relabel("party", party)
    declared = procedure.party(party)
    if declared is None:
        return _said(relabel, "", "", party, lang)
    return _said(relabel, declared.fr, declared.en, party, lang)


def named_fields(procedure: Procedure) -> dict[str, Field]:
    """Every field of the procedure's facts and payloads by its dotted name (``actions.kind``
    for a field nested in ``actions``); the first declaration of a name stands for all."""
    found: dict[str, Field] = {}
    schemas = [procedure.facts, *(t.payload for t in procedure.transitions)]
    for schema in schemas:
        for name, field in _walk(schema, ""):
            found.setdefault(name, field)
    return found


def _walk(schema: Iterable[Field], prefix: str) -> Iterator[tuple[str, Field]]:
    for field in schema:
        yield prefix + field.name, field
        yield from _walk(field.fields, f"{prefix}{field.name}.")


def field_label(procedure: Procedure | None, field: str, lang: Lang | None = None) -> str:
    """The label of field ``field`` (dotted for nested fields); the id when unknown."""
    if procedure is None:
        return field
    relabel = procedure.labels.relabel("field", field)
    declared = named_fields(procedure).get(field)
    if declared is None:
        return _said(relabel, "", "", field, lang)
    return _said(relabel, declared.fr, declared.en, field, lang)


def option_label(
    procedure: Procedure | None, field: str, option: str, lang: Lang | None = None
) -> str:
    """The label of ``option`` of choice field ``field`` (``situation``, ``crisis`` → « crise
    avérée »); the option itself when unlabelled."""
    if procedure is None:
        return option
    label = procedure.labels.option(field, option)
    if label is None:
        return option
    return label.fr if _lang(lang) == "fr" else (label.en or label.fr)


def guard_refused(procedure: Procedure | None, guard: str, lang: Lang | None = None) -> str:
    """What ``guard`` says when it refuses; its statement of the rule when unlabelled."""
    return _guard_text(procedure, guard, lang, refused=True)


def guard_held(procedure: Procedure | None, guard: str, lang: Lang | None = None) -> str:
    """What ``guard`` says when it holds; its statement of the rule when unlabelled."""
    return _guard_text(procedure, guard, lang, refused=False)


def _guard_text(procedure: Procedure | None, guard: str, lang: Lang | None, refused: bool) -> str:
    if procedure is None:
        return guard
    label = procedure.labels.guard(guard)
    if label is not None:
        if _lang(lang) == "fr":
            return label.refused_fr if refused else label.held_fr
        return label.refused_en if refused else label.held_en
    try:
        declared = procedure.guard(guard)
    except KeyError:
        return guard
    return declared.fr if _lang(lang) == "fr" else declared.en


#: The payload fields of the ``migrate`` records the library writes.
MIGRATION_FIELDS = {
    "from_version": Label("Version d'origine", "From version"),
    "to_version": Label("Nouvelle version", "To version"),
    "from_fingerprint": Label("Empreinte d'origine", "From fingerprint"),
    "reason": Label("Motif", "Reason"),
    "facts": Label("Faits", "Facts"),
}
#: After a migration, the procedure the case runs under from then on.
NOW_UNDER = Label("désormais", "now")
#: The words of a boolean value.
YES_NO = (Label("non", "no"), Label("oui", "yes"))
