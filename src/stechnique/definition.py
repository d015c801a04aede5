"""Procedure definitions: frozen values that read like the source document.

A ``Procedure`` is one version of an administrative procedure: its roles, the facts recorded at
start, its states, the transitions between them (who may fire them, which guards must hold,
which payload they carry), its guards and its confidentiality rules. Building one validates it
and reports every problem at once in ``DefinitionError``.

Its canonical form (the library converter's plain data, without guard code) is hashed into a
``fingerprint``; every case records the fingerprint of the version it runs under, so a changed
definition is detected when a case is loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from stechnique._values import items, names, pairing, pairs
from stechnique.errors import ConcurrencyConflict, DefinitionError, HistoryCorrupted
from stechnique.guard_details import Explainer
from stechnique.records import Actor, Case, Record, canonical_json, converter
from stechnique.schema import Field

if TYPE_CHECKING:
    from stechnique.bodies import Bodies
    from stechnique.storage.base import Storage

__all__ = [
    "ANY_ACTIVE",
    "RELABELLED",
    "RESERVED_EVENTS",
    "Answered",
    "Binding",
    "Bound",
    "CaseRole",
    "ConfidentialField",
    "Due",
    "Each",
    "Fired",
    "Guard",
    "GuardContext",
    "GuardLabel",
    "Invariant",
    "Labels",
    "Opening",
    "OptionLabel",
    "Party",
    "Procedure",
    "ReadOnlyStore",
    "Reading",
    "Relabel",
    "Role",
    "State",
    "Transition",
    "Wait",
]

#: Source of a transition that may fire from every non-terminal state (``withdraw``, ``abandon``).
ANY_ACTIVE = "*"
#: Events the engine writes itself; a procedure may not declare them.
RESERVED_EVENTS = frozenset({"start", "migrate"})

_NOT_CANONICAL = {"canonical": False}
# Fields added after 0.1.0: left out of the canonical form while they hold their default, so
# every definition written before them keeps its fingerprint byte for byte.
_OMIT_DEFAULT = {"omit_if_default": True}


@attrs.frozen
class Role:
    """A role an actor may hold in the procedure."""

    id: str
    fr: str
    en: str


@attrs.frozen
class CaseRole:
    """A role that depends on the case: which concrete role it means is read from a fact.

    ``CaseRole("manager", "management", {"association": "administrator", ...})`` makes
    ``manager`` mean ``administrator`` on a case whose ``management`` fact is ``association``.
    """

    id: str
    fact: str
    roles: tuple[tuple[str, str], ...] = attrs.field(converter=pairs)
    fr: str = ""
    en: str = ""

    def resolve(self, facts: Mapping[str, Any]) -> str | None:
        """The concrete role this case role means for a case with these facts."""
        return dict(self.roles).get(str(facts.get(self.fact)))


@attrs.frozen
class State:
    """A state of the procedure, with its French and English labels."""

    id: str
    fr: str
    en: str
    initial: bool = False
    terminal: bool = False


@attrs.frozen
class Transition:
    """An event that moves a case from one of ``sources`` to ``target``.

    Only actors holding one of ``roles`` may fire it, every guard in ``guards`` must hold, and its
    payload must match ``payload``. ``sources`` may be ``ANY_ACTIVE`` (every non-terminal state).
    With ``party``, the actor must also act for that party of the case (``Party``): holding the
    role is not enough, it must be *this case's* manager, provider, funder...

    Several transitions may share an event and a source state when the payload decides between
    them: each names ``when=(field, value)``, the same choice field with a different value
    (« arbitrage » ``approve`` moves on, ``rework`` stays). They must then agree on roles and
    payload, since both are checked before the payload picks one.
    """

    event: str
    sources: tuple[str, ...] = attrs.field(converter=names)
    target: str
    roles: tuple[str, ...] = attrs.field(converter=names)
    guards: tuple[str, ...] = attrs.field(default=(), converter=names)
    payload: tuple[Field, ...] = attrs.field(default=(), converter=items)
    fr: str = ""
    en: str = ""
    note: str = ""
    when: tuple[str, str] | None = attrs.field(default=None, converter=pairing)
    #: The party of the case the actor must act for, besides holding a role (« du dossier »).
    party: str | None = attrs.field(default=None, metadata=_OMIT_DEFAULT)


@attrs.frozen
class Guard:
    """A named rule that must hold for an event to fire, stated in French and English.

    ``check`` receives a ``GuardContext`` and returns whether the rule holds. Guards with
    ``uses_payload`` judge the payload of the event and cannot be decided before it is known;
    guards with ``reads_other_cases`` look beyond the case's own history.
    """

    name: str
    fr: str
    en: str
    check: Callable[[GuardContext], bool] = attrs.field(eq=False, metadata=_NOT_CANONICAL)
    uses_payload: bool = False
    # Whether the check looks at other cases: such a guard cannot be re-judged from one history
    # alone (audit skips it). A property of the code, so outside the fingerprint.
    reads_other_cases: bool = attrs.field(default=False, metadata=_NOT_CANONICAL)
    #: What a refusal of this guard found missing (``stechnique.guard_details``): code, like
    #: ``check``, so outside the fingerprint.
    explain: Explainer | None = attrs.field(
        default=None, eq=False, kw_only=True, metadata=_NOT_CANONICAL
    )


@attrs.frozen
class Invariant:
    """A property every history of the procedure keeps, stated in French and English.

    ``check`` receives a case's records in seq order and returns a description of the breach,
    or ``None`` when the history keeps the property. Property tests check every invariant after
    every step. Invariants are claims about the definition, not part of it: they are left out of
    the fingerprint, so one can be added to a published version.
    """

    name: str
    fr: str
    en: str
    check: Callable[[Sequence[Record]], str | None] = attrs.field(eq=False, metadata=_NOT_CANONICAL)


@attrs.frozen
class ConfidentialField:
    """A payload field only ``readers`` may see, and ``opens_to`` too once ``opens_at`` is reached.

    Readers may be parties of the case (``Party`` ids: the bodies bound to them read), the
    procedure's coordinating roles, or, in a procedure that declares no parties, roles and case
    roles (``manager``). A viewer who may not see the field gets a redaction marker in its
    place carrying ``fr`` / ``en`` as the reason. ``opens_at`` opens the field once the case has
    reached a state; ``opens_on`` opens only the record the named event validated.
    """

    event: str
    field: str
    readers: tuple[str, ...] = attrs.field(converter=names)
    opens_to: tuple[str, ...] = attrs.field(default=(), converter=names)
    opens_at: str | None = None
    fr: str = ""
    en: str = ""
    #: The event that opens the field to ``opens_to``: only the last record of ``event`` before
    #: it opens (« le rapport, une fois validé »); earlier ones never do.
    opens_on: str | None = attrs.field(default=None, metadata=_OMIT_DEFAULT)
    #: A payload field of the record that names whose it is (``action``): party readers are
    #: then the bodies bound to that party for that key only.
    per: str | None = attrs.field(default=None, metadata=_OMIT_DEFAULT)


@attrs.frozen
class Binding:
    """How a step binds bodies to a party of the case, or releases them.

    The bodies are those named by the payload field ``field`` (a text or a list of texts), or
    the body the actor acts for when ``field`` is ``None``. ``how`` is ``set`` (they replace
    the party's bodies), ``add`` or ``remove``. With ``per``, the binding holds for the key
    that payload field names (the consultant *of an action*). ``start`` binds from the start
    facts: ``Binding("start")`` is the body that opened the case.
    """

    event: str
    field: str | None = None
    how: str = "set"
    per: str | None = None


@attrs.frozen
class Party:
    """A kind of party of a case (« le gestionnaire », « les financeurs consultés »...).

    A party is a body (an association, a federation, a funder, a firm...); which bodies are
    this case's ``id`` is read from its history only, by the ``bound_by`` bindings in order.
    """

    id: str
    fr: str
    en: str
    bound_by: tuple[Binding, ...] = attrs.field(converter=items)


@attrs.frozen
class Reading:
    """Who reads the cases of a revision written before parties existed (revision 1).

    Reading rules change no history (invariant 9): they are attached to such a revision
    outside its fingerprint, as its invariants are. ``parties`` say how its cases' parties are
    read from their histories, ``coordinators`` the roles that see every case of the version,
    ``confidential`` who reads which field (superseding the revision's own role-based rules).
    Firing is not affected: the revision's own rules stay as they were.
    """

    parties: tuple[Party, ...] = attrs.field(converter=items)
    coordinators: tuple[str, ...] = attrs.field(converter=names)
    confidential: tuple[ConfidentialField, ...] = attrs.field(converter=items)


@attrs.frozen
class Answered:
    """« Each … without a decision »: the bodies of the party waited on are waited on one by
    one until each has fired ``event`` since it was bound to the party (each consulted funder
    until its decision); then ``Wait.then``."""

    event: str


@attrs.frozen
class Bound:
    """« Until a provider is assigned »: the wait moves to ``Wait.then`` once a body is bound
    to ``party``."""

    party: str


@attrs.frozen
class Fired:
    """« The centre (submit_step), then the steering committee »: the wait moves to
    ``Wait.then`` once ``event`` has fired since the case entered its state and since the
    latest of ``reset_by`` (a « rework » arbitration sends the step back)."""

    event: str
    reset_by: tuple[str, ...] = attrs.field(default=(), converter=names)


@attrs.frozen
class Each:
    """« Each action's consultant for its open actions; esia_officer when none is open »:
    ``open(records)`` reads the case's open items from its history (the plan's actions not
    completed nor cancelled), each with the body waited on for it (``None`` while none is
    assigned) and the index of the record since which it waits (``None``: since the state was
    entered). Each body is waited on as the party ``Wait.on``; an item with no body yet, or no
    open item at all, waits on ``Wait.then`` (who assigns, who moves on)."""

    open: Callable[[Sequence[Record]], Sequence[tuple[str | None, int | None]]] = attrs.field(
        eq=False
    )


@attrs.frozen
class Due:
    """A due date read from the history: the date in payload ``field`` of the latest ``event``
    record that carries it, ``years_before`` years earlier (« un an avant la date d'échéance
    de la convention »). No such record, no due date."""

    event: str
    field: str
    years_before: int = 0


@attrs.frozen
class Wait:
    """Whom an open case waits on while it is in one of ``states`` (PROCEDURES.md, « Waiting,
    deadlines and reminders »), one row of that table.

    ``on`` and ``then`` name parties of the case (the bodies bound to them are waited on) or
    coordinating roles. The case waits on ``on`` until ``until`` holds, then on ``then``;
    without ``until``, on ``on`` alone. ``due`` gives the date by which the case should have
    left the state. Declared outside the fingerprint, like the invariants: whom a case waits
    on changes no rule, so it is attached to published revisions too (``Procedure.waits``).
    """

    states: tuple[str, ...] = attrs.field(converter=names)
    on: tuple[str, ...] = attrs.field(converter=names)
    until: Answered | Bound | Fired | Each | None = None
    then: tuple[str, ...] = attrs.field(default=(), converter=names)
    due: Due | None = None


@attrs.frozen
class Opening:
    """A step that opens a case of another procedure and links both (« transfer_to_dla »
    opens a 2019 case), carried out by the engine with the step (``Engine.fire``).

    The new case is of ``name`` at ``version`` (its latest revision), opened by the actor of
    the step; its id is derived from this case's and recorded in the step's payload field
    ``case_field``. Its start facts are ``facts(this case's facts, the step's clean
    payload)``, plus ``link_fact`` (this case's id: the link back) and ``party_fact`` (the body
    bound to this case's ``party``, which the new case binds in its turn: the MSTR manager
    becomes the DLA structure). ``payload_of`` gives back the step's payload from the new
    case's facts, so that a transfer whose second write was lost can be finished
    (``Engine.finish_transfers``). Declared outside the fingerprint, like the waits: the
    history records both ends of the link, which the audit checks.
    """

    event: str
    name: str
    version: str
    case_field: str
    link_fact: str
    party: str
    party_fact: str
    facts: Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]] = attrs.field(eq=False)
    payload_of: Callable[[Mapping[str, Any]], dict[str, Any]] = attrs.field(eq=False)


@attrs.frozen
class OptionLabel:
    """What one option of a choice field is called: ``situation`` ``crisis`` is « situation de
    crise ». ``field`` is the field's name, the same wherever it appears (facts or payloads;
    ``actions.kind`` for a field nested in ``actions``)."""

    field: str
    option: str
    fr: str
    en: str


@attrs.frozen
class GuardLabel:
    """What a guard says when it refuses (``refused_fr``: « Toutes les décisions des
    financeurs consultés ne sont pas encore favorables ») and when it holds (``held_fr``: «
    Chaque financeur consulté a donné son accord »). The guard's own ``fr`` / ``en`` state the
    rule itself; these say where a case stands with it."""

    guard: str
    refused_fr: str
    refused_en: str
    held_fr: str
    held_en: str


#: The things a ``Relabel`` may rename for display.
RELABELLED = ("procedure", "state", "event", "role", "party", "field")


@attrs.frozen
class Relabel:
    """A display label replacing one already in the canonical form (``kind`` among
    ``RELABELLED``, ``id`` the thing's id; ``""`` for the procedure itself).

    The canonical texts of a published revision are fixed by its fingerprint; a relabel shows
    a better one (« Caf » as PROCEDURES.md spells it, a shorter field label for a timeline)
    without touching the rules.
    """

    kind: str
    id: str
    fr: str
    en: str


@attrs.frozen
class Labels:
    """The labels of a procedure version that are presentation, not rules: each option of its
    choice fields, what each guard says when it refuses or holds, and display relabels.

    Attached to every revision of a version outside the fingerprint (``Procedure.labels``,
    docs/decisions.md « Labels are presentation »): correcting a label is not a new rule.
    """

    options: tuple[OptionLabel, ...] = attrs.field(default=(), converter=items)
    guards: tuple[GuardLabel, ...] = attrs.field(default=(), converter=items)
    relabels: tuple[Relabel, ...] = attrs.field(default=(), converter=items)
    _index: Mapping[tuple[str, str, str], Any] = attrs.field(
        init=False, eq=False, repr=False, metadata=_NOT_CANONICAL
    )

    def __attrs_post_init__(self) -> None:
        index: dict[tuple[str, str, str], Any] = {}
        for option in self.options:
            index["option", option.field, option.option] = option
        for guard in self.guards:
            index["guard", guard.guard, ""] = guard
        for relabel in self.relabels:
            index["relabel", relabel.kind, relabel.id] = relabel
        object.__setattr__(self, "_index", index)

    def option(self, field: str, option: str) -> OptionLabel | None:
        """The label of ``option`` of field ``field``, if any."""
        found: OptionLabel | None = self._index.get(("option", field, option))
        return found

    def guard(self, name: str) -> GuardLabel | None:
        """What guard ``name`` says when it refuses and holds, if labelled."""
        found: GuardLabel | None = self._index.get(("guard", name, ""))
        return found

    def relabel(self, kind: str, id: str) -> Relabel | None:
        """The display label replacing the canonical one of ``kind`` ``id``, if any."""
        found: Relabel | None = self._index.get(("relabel", kind, id))
        return found

    def extended(self, other: Labels) -> Labels:
        """These labels with ``other``'s added, ``other`` winning where both label one thing
        (revision 2 keeps revision 1's labels and labels what it adds)."""

        def merge(mine: tuple[Any, ...], theirs: tuple[Any, ...], key: Callable[[Any], Any]) -> Any:
            replaced = {key(item) for item in theirs}
            return (*(item for item in mine if key(item) not in replaced), *theirs)

        return Labels(
            merge(self.options, other.options, lambda o: (o.field, o.option)),
            merge(self.guards, other.guards, lambda g: g.guard),
            merge(self.relabels, other.relabels, lambda r: (r.kind, r.id)),
        )


class ReadOnlyStore:
    """The part of a store a guard may use: reading other cases, never writing."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def get(self, case_id: str) -> Case | None:
        """The stored case, or ``None``."""
        return self._storage.get(case_id)

    def records(self, case_id: str) -> Sequence[Record]:
        """The history of a case."""
        return self._storage.records(case_id)

    def cases(
        self, *, name: str | None = None, version: str | None = None, state: str | None = None
    ) -> Sequence[Case]:
        """Cases matching the filters."""
        return self._storage.cases(name=name, version=version, state=state)


@attrs.define
class GuardContext:
    """What a guard may look at: the case, its history, the actor, the payload, the clock.

    ``case`` is ``None`` for guards of ``start``. The history is loaded on first use only, so
    events whose guards never look at it cost no extra read.
    """

    procedure: Procedure
    case: Case | None
    facts: Mapping[str, Any]
    actor: Actor
    event: str
    payload: Mapping[str, Any]
    now: datetime
    store: ReadOnlyStore
    _history: Sequence[Record] | None = None
    #: What the deployment calls each body: refusals name bodies by it (``Bodies``).
    bodies: Bodies = attrs.field(factory=lambda: _no_directory(), kw_only=True)

    def history(self) -> Sequence[Record]:
        """The case's records so far (empty at start).

        They must end where the case being decided does: a history that has moved on since
        the case was read means another writer won the race (``ConcurrencyConflict``, nothing
        is judged on a mix of the two), one that ends before it a case row ahead of its history
        (``HistoryCorrupted``).
        """
        if self._history is None:
            case = self.case
            self._history = () if case is None else self.store.records(case.id)
            if case is not None:
                last = self._history[-1].seq if self._history else 0
                if last > case.seq:
                    raise ConcurrencyConflict(
                        case.id, case.seq, last, "its history moved on while it was being decided"
                    )
                if last < case.seq:
                    raise HistoryCorrupted(
                        case.id,
                        last + 1,
                        f"the case row is at seq {case.seq}, its history ends at {last}",
                    )
        return self._history

    def role_of(self, role: str) -> str | None:
        """The concrete role a (case) role means on this case."""
        return self.procedure.resolve_role(role, self.facts)


def _no_directory() -> Bodies:
    from stechnique.bodies import Bodies

    return Bodies()


@attrs.frozen
class _Tables:
    """Lookup tables derived once from a valid procedure."""

    by_source: Mapping[tuple[str, str], tuple[Transition, ...]]
    events_from: Mapping[str, tuple[str, ...]]
    states: Mapping[str, State]
    guards: Mapping[str, Guard]
    case_roles: Mapping[str, CaseRole]
    fingerprint: str
    reading: Reading
    #: For each event, the parties it binds and how (what ``parties_after`` looks up).
    binds: Mapping[str, tuple[tuple[str, Binding], ...]]
    #: The roles that see every case: the coordinators, or every role when the procedure
    #: declares no reading rules at all (0.1.0's rule).
    seen_by_roles: frozenset[str]


@attrs.frozen
class Procedure:
    """One version of a procedure, validated when built. See the module docstring."""

    name: str
    version: str
    fr: str
    en: str
    roles: tuple[Role, ...] = attrs.field(converter=items)
    states: tuple[State, ...] = attrs.field(converter=items)
    transitions: tuple[Transition, ...] = attrs.field(converter=items)
    facts: tuple[Field, ...] = attrs.field(converter=items)
    start_roles: tuple[str, ...] = attrs.field(converter=names)
    start_guards: tuple[str, ...] = attrs.field(default=(), converter=names)
    guards: tuple[Guard, ...] = attrs.field(default=(), converter=items)
    case_roles: tuple[CaseRole, ...] = attrs.field(default=(), converter=items)
    confidential: tuple[ConfidentialField, ...] = attrs.field(default=(), converter=items)
    source: str = ""
    invariants: tuple[Invariant, ...] = attrs.field(
        default=(), converter=items, metadata=_NOT_CANONICAL
    )
    #: Corrections of a published version are new revisions of it: 1, 2, 3...
    revision: int = attrs.field(default=1, metadata=_OMIT_DEFAULT)
    #: The kinds of party a case has, and the steps that bind them.
    parties: tuple[Party, ...] = attrs.field(default=(), converter=items, metadata=_OMIT_DEFAULT)
    #: Roles held by the bodies that coordinate the version and see all its cases.
    coordinators: tuple[str, ...] = attrs.field(default=(), converter=names, metadata=_OMIT_DEFAULT)
    #: Reading rules attached to a revision that declares no parties (see ``Reading``).
    reading: Reading | None = attrs.field(default=None, metadata=_NOT_CANONICAL)
    #: Whom an open case waits on, state by state (``Wait``; ``stechnique.waiting``).
    waits: tuple[Wait, ...] = attrs.field(default=(), converter=items, metadata=_NOT_CANONICAL)
    #: Steps that open a case of another procedure (``Opening``; ``Engine.fire``).
    opens: tuple[Opening, ...] = attrs.field(default=(), converter=items, metadata=_NOT_CANONICAL)
    #: Option labels, guard refusal texts and display relabels: presentation, outside the
    #: fingerprint, attached to every revision of the version (``Labels``).
    labels: Labels = attrs.field(factory=Labels, metadata=_NOT_CANONICAL)
    _tables: _Tables = attrs.field(init=False, eq=False, repr=False, metadata=_NOT_CANONICAL)

    def __attrs_post_init__(self) -> None:
        from stechnique._validation import problems_of

        problems = problems_of(self)
        if problems:
            raise DefinitionError(f"{self.name}@{self.version}", problems)
        object.__setattr__(self, "_tables", self._build_tables())

    def _build_tables(self) -> _Tables:
        by_source: dict[tuple[str, str], tuple[Transition, ...]] = {}
        events: dict[str, list[str]] = {state.id: [] for state in self.states}
        for transition in self.transitions:
            for source in self.sources_of(transition):
                key = (source, transition.event)
                if key not in by_source:
                    events[source].append(transition.event)
                by_source[key] = (*by_source.get(key, ()), transition)
        digest = hashlib.sha256(canonical_json(self.canonical()).encode("utf-8")).hexdigest()
        reading = self.reading or Reading(self.parties, self.coordinators, self.confidential)
        binds: dict[str, tuple[tuple[str, Binding], ...]] = {}
        for party in reading.parties:
            for binding in party.bound_by:
                binds[binding.event] = (*binds.get(binding.event, ()), (party.id, binding))
        open_to_roles = not reading.parties and not reading.coordinators
        seen_by_roles = frozenset(
            role.id for role in self.roles if open_to_roles or role.id in reading.coordinators
        )
        return _Tables(
            by_source=by_source,
            events_from={state: tuple(names) for state, names in events.items()},
            states={state.id: state for state in self.states},
            guards={guard.name: guard for guard in self.guards},
            case_roles={role.id: role for role in self.case_roles},
            fingerprint=digest,
            reading=reading,
            binds=binds,
            seen_by_roles=seen_by_roles,
        )

    @property
    def key(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def revision_key(self) -> str:
        """``name@version`` and, from revision 2 on, ``/r<revision>``."""
        return self.key if self.revision == 1 else f"{self.key}/r{self.revision}"

    @property
    def reading_rules(self) -> Reading:
        """Who reads its cases: the attached ``reading``, else its own parties and rules."""
        return self._tables.reading

    @property
    def seen_by_roles(self) -> frozenset[str]:
        """The roles that see every case of the version: its coordinators, or, when it declares
        no reading rules at all, every one of its roles (as in 0.1.0)."""
        return self._tables.seen_by_roles

    def bindings(self, event: str) -> tuple[tuple[str, Binding], ...]:
        """``(party id, binding)`` of every binding ``event`` applies."""
        return self._tables.binds.get(event, ())

    def wait(self, state: str) -> Wait | None:
        """The declared ``Wait`` of ``state``, if any (``stechnique.waiting.waiting_on``)."""
        return next((wait for wait in self.waits if state in wait.states), None)

    def opening(self, event: str) -> Opening | None:
        """The ``Opening`` that ``event`` carries out, if any."""
        return next((opening for opening in self.opens if opening.event == event), None)

    def party(self, party_id: str) -> Party | None:
        """The party kind ``party_id`` of its reading rules, if declared."""
        return next((p for p in self._tables.reading.parties if p.id == party_id), None)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical form: changes whenever the definition changes."""
        return self._tables.fingerprint

    @property
    def initial(self) -> State:
        """The state every case starts in."""
        return next(state for state in self.states if state.initial)

    def canonical(self) -> dict[str, Any]:
        """The plain-data form the fingerprint covers (guard code excluded, texts included)."""
        return converter.unstructure(self)  # type: ignore[no-any-return]

    def state(self, state_id: str) -> State:
        """The state with that id (``KeyError`` if none)."""
        return self._tables.states[state_id]

    def guard(self, name: str) -> Guard:
        """The guard with that name (``KeyError`` if none)."""
        return self._tables.guards[name]

    def transition(
        self, state: str, event: str, payload: Mapping[str, Any] | None = None
    ) -> Transition | None:
        """The transition ``event`` takes from ``state``, if any.

        When the payload decides between several (``Transition.when``), the one it selects is
        returned, or ``None`` if it selects none; without a payload, the first one stands for
        them all (they share roles and payload schema).
        """
        candidates = self.candidates(state, event)
        if payload is None or len(candidates) < 2:
            return candidates[0] if candidates else None
        return next((t for t in candidates if t.when and payload.get(t.when[0]) == t.when[1]), None)

    def candidates(self, state: str, event: str) -> tuple[Transition, ...]:
        """Every transition ``event`` may take from ``state`` (several when the payload decides)."""
        return self._tables.by_source.get((state, event), ())

    def events_from(self, state: str) -> tuple[str, ...]:
        """The events that may fire from ``state``, in declaration order."""
        return self._tables.events_from.get(state, ())

    def sources_of(self, transition: Transition) -> tuple[str, ...]:
        """The concrete source states of a transition (``ANY_ACTIVE`` expanded)."""
        if transition.sources == (ANY_ACTIVE,):
            return tuple(state.id for state in self.states if not state.terminal)
        return transition.sources

    def resolve_role(self, role: str, facts: Mapping[str, Any]) -> str | None:
        """The concrete role ``role`` means on a case with ``facts`` (itself if not a case role)."""
        case_role = self._tables.case_roles.get(role)
        return role if case_role is None else case_role.resolve(facts)

    def allowed_roles(self, roles: Iterable[str], facts: Mapping[str, Any]) -> tuple[str, ...]:
        """The concrete roles that ``roles`` (possibly case roles) mean for these facts."""
        if not self._tables.case_roles:
            return tuple(roles)
        resolved = (self.resolve_role(role, facts) for role in roles)
        return tuple(role for role in resolved if role is not None)


def _register_canonical_hooks() -> None:
    """Teach the library converter to leave guard code and derived tables out."""
    # Procedure last: its hook is built with the hooks of the values it holds.
    for cls in (Transition, ConfidentialField, Guard, Invariant, Procedure):
        omitted = {
            attribute.name: override(omit=True)
            for attribute in attrs.fields(cls)
            if not attribute.metadata.get("canonical", True)
        }
        omitted.update(
            (attribute.name, override(omit_if_default=True))
            for attribute in attrs.fields(cls)
            if attribute.metadata.get("omit_if_default", False)
        )
        hook = make_dict_unstructure_fn(cls, converter, **omitted)  # type: ignore[arg-type]
        converter.register_unstructure_hook(cls, hook)


_register_canonical_hooks()
