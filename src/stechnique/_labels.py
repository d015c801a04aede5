"""The library's own words for people, in French and English, written once.

A procedure definition labels its states, transitions and fields; everything else a reader
sees comes from here and is shared by the timeline, the command line and the CSV export: the
events every procedure has without declaring them (``start``, ``migrate``), what stands in for
a redacted value, and the nouns of titles and column headers. ``event_fr`` and ``state_fr``
give a record's labels, from its procedure or from here; each reader decides what to show
when there is none (the id, or nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stechnique.i18n import Label as Label  # re-exported: callers name labels from here
from stechnique.i18n import both

if TYPE_CHECKING:
    from stechnique.definition import Procedure
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


def role_label(procedure: Procedure | None, role: str) -> Label:
    """What people call role ``role`` of ``procedure``: its label, else its id in both.

    The one lookup of a role's label (a concrete role or a case role): explanations, refusals
    and tables ask here.
    """
    if procedure is not None:
        labels = [(r.id, r.fr, r.en) for r in procedure.roles]
        labels += [(r.id, r.fr, r.en) for r in procedure.case_roles]
        for known, fr, en in labels:
            if known == role and (fr or en):
                return Label(fr or role, en or role)
    return Label(role, role)


def state_label(procedure: Procedure | None, state: str) -> Label:
    """What people call ``state`` of ``procedure``: its label, else its id in both."""
    if procedure is not None:
        try:
            known = procedure.state(state)
        except KeyError:
            return Label(state, state)
        return Label(known.fr or state, known.en or state)
    return Label(state, state)


def event_label(procedure: Procedure | None, event: str, state: str | None = None) -> Label:
    """What people call ``event``: the library's own, else the label of the transition it takes
    from ``state`` (any transition of that event when ``state`` is not given), else its id."""
    if event in EVENTS:
        return EVENTS[event]
    if procedure is not None:
        found = procedure.candidates(state, event) if state is not None else ()
        found = found or tuple(t for t in procedure.transitions if t.event == event)
        for transition in found:
            if transition.fr or transition.en:
                return Label(transition.fr or event, transition.en or event)
    return Label(event, event)


def record_event_label(procedure: Procedure | None, record: Record) -> Label:
    """What people call ``record``'s event: the library's own, else the transition the record
    took (chosen by its payload when the event carries several), else the event's id."""
    if record.event in EVENTS:
        return EVENTS[record.event]
    if procedure is not None and record.source is not None:
        transition = procedure.transition(record.source, record.event, record.payload)
        if transition is not None and (transition.fr or transition.en):
            return Label(transition.fr or record.event, transition.en or record.event)
    return Label(record.event, record.event)


def option_label(field: Field | None, option: str) -> Label:
    """What people call ``option`` of the choice field ``field``: its id until the definitions
    label their options (the one lookup to fill then)."""
    return Label(option, option)


def field_label(field: Field | None, name: str) -> Label:
    """What people call field ``name`` (``field`` its definition, if known): its label, else
    the name."""
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
