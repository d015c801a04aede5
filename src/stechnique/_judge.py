"""The one judge of a step: may ``actor`` fire ``event`` on a case now, with this payload?

Every place that decides or explains a step asks here, so the rule has one home:
``Engine.start`` and ``Engine.fire`` raise the first refusal, ``Engine.explain`` lists them
all, ``Engine.available_events`` keeps the events that meet none, the audit replays every
stored step through it, and a migration judges its guards with ``unmet``. A new kind of
refusal is one class below and one check in ``judge``.

A refusal is a value: what was wrong, with the structured details code needs (the allowed
events, the roles, the bad fields, the failed guards), its French and English texts, the
error ``fire`` raises and the finding an audit reports.

What a step asks that does not depend on the case (its candidate transitions, its roles when
no case role is involved, its guards) is worked out once per procedure version, state and
event (``rule_for``): the audit replays millions of records through the same few rules.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import attrs

from stechnique._labels import event_both, field_both, french_to, role_both, state_both
from stechnique.bodies import Bodies
from stechnique.definition import Guard, GuardContext, Procedure, Transition
from stechnique.errors import (
    FailedGuard,
    FieldProblem,
    GuardFailed,
    HistoryCorrupted,
    InvalidData,
    InvalidEvent,
    PermissionDenied,
    StechniqueError,
)
from stechnique.guard_details import detail_texts, details_of
from stechnique.i18n import Label, both, both_n, joined
from stechnique.records import Actor, Parties
from stechnique.schema import Field, validate

__all__ = [
    "MIGRATE",
    "START",
    "BrokenGuard",
    "EventNotHere",
    "GuardsFailed",
    "Kind",
    "PartyMissing",
    "PayloadInvalid",
    "Refusal",
    "RoleMissing",
    "Rule",
    "Verdict",
    "judge",
    "judge_migration",
    "rule_for",
    "unmet",
]

#: The pseudo-event that opens a case: its roles, facts and guards are the procedure's own.
START = "start"
#: The step that moves an open case to another version; its roles and guards are declared by
#: the migration, and judged on the version the case leaves.
MIGRATE = "migrate"

ContextFor = Callable[[Mapping[str, Any]], GuardContext]

#: What a refusal is about: the event, the actor's role, the data given, or a guard.
Kind = Literal["event", "role", "data", "guard"]


class Refusal(abc.ABC):
    """One reason a step may not be (or should not have been) taken."""

    #: ``event``, ``role``, ``data`` or ``guard``: what ``Explanation`` reasons are sorted by.
    kind: ClassVar[Kind]

    @abc.abstractmethod
    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """What to tell a person, as ``(code, French, English)`` items (one per field, guard)."""

    @abc.abstractmethod
    def error(self, case_id: str | None) -> StechniqueError:
        """The error ``fire`` (or ``start``) raises for this refusal."""

    @abc.abstractmethod
    def findings(self) -> tuple[tuple[str, str], ...]:
        """What an audit reports of a stored step refused this way: ``(code, message)``."""


@attrs.frozen
class EventNotHere(Refusal):
    """The event does not leave the case's state; ``allowed`` are those that do."""

    kind: ClassVar[Kind] = "event"
    event: str
    state: str
    state_fr: str
    state_en: str
    allowed: tuple[str, ...]
    #: What people call the event and the events allowed (in the order of ``allowed``).
    event_label: Label | None = None
    allowed_labels: tuple[Label, ...] = ()

    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """The event, and the events possible instead."""
        said = both(
            "Event '{event}' is not possible in state '{state}' (possible: {allowed})",
            event=self.event_label or self.event,
            state=Label(self.state_fr, self.state_en),
            allowed=joined(self.allowed_labels or [Label(e, e) for e in self.allowed])
            if self.allowed
            else both("none"),
        )
        return ((self.event, said.fr, said.en),)

    def error(self, case_id: str | None) -> StechniqueError:
        """``InvalidEvent``, listing the events allowed in the state."""
        return InvalidEvent(
            case_id or "",
            self.event,
            self.state,
            self.allowed,
            state_label=Label(self.state_fr, self.state_en),
        )

    def findings(self) -> tuple[tuple[str, str], ...]:
        """The step is not one the procedure declares from that state."""
        return (("step", f"{self.event!r} is not allowed from {self.state!r}"),)


@attrs.frozen
class RoleMissing(Refusal):
    """The actor holds none of the roles allowed to fire the event."""

    kind: ClassVar[Kind] = "role"
    event: str
    actor_id: str
    held: frozenset[str]
    allowed: tuple[str, ...]
    #: What people call the roles allowed (in the order of ``allowed``).
    labels: tuple[Label, ...] = ()

    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """The roles allowed."""
        labels = self.labels or tuple(Label(role, role) for role in self.allowed)
        said = both_n(
            "Role required: {roles}",
            "Role required, one of: {roles}",
            len(labels),
            roles=joined(labels) if labels else both("none"),
        )
        return ((", ".join(self.allowed), said.fr, said.en),)

    def error(self, case_id: str | None) -> StechniqueError:
        """``PermissionDenied``, naming the roles allowed."""
        return PermissionDenied(
            case_id, self.event, self.actor_id, self.held, self.allowed,
            allowed_labels=self.labels,
        )  # fmt: skip

    def findings(self) -> tuple[tuple[str, str], ...]:
        """The actor had no role allowed to fire the event."""
        verb = self.event if self.event in (START, MIGRATE) else f"fire {self.event!r}"
        return (("role", f"actor {self.actor_id!r} had no role allowed to {verb}"),)


@attrs.frozen
class PartyMissing(Refusal):
    """The actor holds an allowed role but does not act for the party of the case the step is
    reserved to (« réservé au gestionnaire du dossier »). Names the party and its bodies: the
    refusal only reaches an actor who sees the case (PROCEDURES.md, invariant 9)."""

    kind: ClassVar[Kind] = "role"
    event: str
    actor_id: str
    held: frozenset[str]
    party: str
    fr: str
    en: str
    #: The bodies bound to the party (ids) and what they are called: only an actor who sees
    #: the case is told (an outsider gets ``UnknownCase``), and it knows them already.
    bodies: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """The party needed, and who it is on this case: « Réservé au gestionnaire du dossier
        (Association Belle de Mai) »."""
        party = Label(french_to(self.fr), self.en)
        if self.names:
            said = both("Reserved to {party} of the case ({names})", party=party,
                        names=", ".join(self.names))  # fmt: skip
        else:
            said = both("Reserved to {party} of the case", party=party)
        return ((self.party, said.fr, said.en),)

    def error(self, case_id: str | None) -> StechniqueError:
        """``PermissionDenied``, naming the party needed."""
        return PermissionDenied(
            case_id, self.event, self.actor_id, self.held, (), party=self.party,
            party_fr=self.fr, party_en=self.en, party_names=self.names,
        )  # fmt: skip

    def findings(self) -> tuple[tuple[str, str], ...]:
        """The actor did not act for the party the step is reserved to."""
        return (
            (
                "party",
                f"actor {self.actor_id!r} did not act for the case's {self.party} when "
                f"{self.event!r} fired",
            ),
        )


@attrs.frozen
class PayloadInvalid(Refusal):
    """The payload (or the start facts) do not match the schema; ``problems`` names each field."""

    kind: ClassVar[Kind] = "data"
    what: Label | str
    problems: tuple[FieldProblem, ...]
    #: What people call each bad field (in the order of ``problems``).
    labels: tuple[Label, ...] = ()

    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """One item per bad field."""
        labels = self.labels or tuple(Label(p.field, p.field) for p in self.problems)
        said = (
            both("Field '{field}': {problem}", field=label, problem=p.label)
            for p, label in zip(self.problems, labels, strict=True)
        )
        return tuple((p.field, s.fr, s.en) for p, s in zip(self.problems, said, strict=True))

    def error(self, case_id: str | None) -> StechniqueError:
        """``InvalidData``, naming each bad field."""
        return InvalidData(self.what, self.problems)

    def findings(self) -> tuple[tuple[str, str], ...]:
        """The stored payload is not one the engine accepts."""
        return (("payload", str(self.error(None))),)


@attrs.frozen
class GuardsFailed(Refusal):
    """Guards that do not hold, each with its name and French and English text."""

    kind: ClassVar[Kind] = "guard"
    event: str
    failed: tuple[FailedGuard, ...]

    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """One item per failed guard."""
        return tuple((guard.name, guard.fr, guard.en) for guard in self.failed)

    def error(self, case_id: str | None) -> StechniqueError:
        """``GuardFailed``, listing every failed guard."""
        return GuardFailed(case_id, self.event, self.failed)

    def findings(self) -> tuple[tuple[str, str], ...]:
        """Each guard that did not hold when the event fired."""
        return tuple(
            ("guard", f"guard {guard.name!r} did not hold when {self.event!r} fired: {guard.en}")
            for guard in self.failed
        )


@attrs.frozen
class BrokenGuard(Refusal):
    """A guard that raised while a stored step was re-judged (tampered data, usually).

    Only a replay tolerates a guard that raises; a live step lets the error through.
    """

    kind: ClassVar[Kind] = "guard"
    name: str
    problem: str

    def reasons(self) -> tuple[tuple[str, str, str], ...]:
        """The guard and what went wrong."""
        said = both(
            "guard {name!r} could not be judged: {problem}", name=self.name, problem=self.problem
        )
        return ((self.name, said.fr, said.en),)

    def error(self, case_id: str | None) -> StechniqueError:
        """A ``HistoryCorrupted``: only a stored step can make a guard raise here."""
        return HistoryCorrupted(case_id or "", None, self.reasons()[0][2])

    def findings(self) -> tuple[tuple[str, str], ...]:
        """The guard could not be judged."""
        return (("guard", self.reasons()[0][2]),)


@attrs.frozen
class Rule:
    """What a step asks that does not depend on the case, worked out once (``rule_for``).

    ``candidates`` are the transitions the event may take from the state (several when the
    payload decides, none when it does not leave it); ``declared`` stands for the event where
    it does not apply (an explanation still says what else it would need). ``roles`` are the
    concrete roles allowed, or ``None`` when case roles resolve them from the facts.
    """

    procedure: Procedure
    state: str | None
    event: str
    candidates: tuple[Transition, ...]
    declared: Transition | None
    roles: tuple[str, ...] | None
    guards: tuple[tuple[Guard, ...], ...]
    #: Whether any transition of the step has a guard (most steps have none: skip the work).
    guarded: bool = False

    def allowed_roles(self, transition: Transition, facts: Mapping[str, Any]) -> tuple[str, ...]:
        """The concrete roles allowed to fire ``transition`` on a case with ``facts``."""
        if self.roles is not None:
            return self.roles
        return self.procedure.allowed_roles(transition.roles, facts)

    def guards_of(self, transition: Transition) -> tuple[Guard, ...]:
        """The guards of one of this rule's transitions."""
        for candidate, guards in zip(self.candidates, self.guards, strict=True):
            if candidate is transition:
                return guards
        return tuple(self.procedure.guard(name) for name in transition.guards)


class Verdict(NamedTuple):
    """The judge's answer: ``refusals`` is empty when the step may be taken.

    ``transition`` is the transition the step takes (the payload's pick among several), ``None``
    when the event does not leave the state; ``payload`` the payload as the engine writes it;
    ``unjudged`` the guards a replay could not re-judge from one history. A named tuple rather
    than an attrs value: one is built on every fire, and a tuple costs a fifth of the time.
    """

    transition: Transition | None
    payload: dict[str, Any]
    refusals: tuple[Refusal, ...]
    unjudged: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """Whether nothing stands in the way."""
        return not self.refusals

    def raise_first(self, case_id: str | None) -> None:
        """Raise the error of the first refusal, if any (what ``fire`` does)."""
        if self.refusals:
            raise self.refusals[0].error(case_id)


_rules: dict[tuple[str, str | None, str], Rule] = {}


def rule_for(procedure: Procedure, state: str | None, event: str) -> Rule:
    """What ``event`` from ``state`` (``None`` with ``START``: opening a case) asks.

    Cached by fingerprint, state and event. Guard code is not part of the fingerprint, so a
    cached rule serves only the very procedure value it was built from.
    """
    key = (procedure.fingerprint, state, event)
    rule = _rules.get(key)
    if rule is None or rule.procedure is not procedure:
        rule = _rules[key] = _build_rule(procedure, state, event)
    return rule


def _build_rule(procedure: Procedure, state: str | None, event: str) -> Rule:
    if state is None and event == START:
        opening = Transition(
            START,
            (),
            procedure.initial.id,
            procedure.start_roles,
            guards=procedure.start_guards,
            payload=procedure.facts,
        )
        candidates: tuple[Transition, ...] = (opening,)
    else:
        candidates = procedure.candidates(state or "", event)
    declared = next((t for t in procedure.transitions if t.event == event), None)
    first = candidates[0] if candidates else declared
    case_roles = {role.id for role in procedure.case_roles}
    roles = None
    if first is not None and not case_roles.intersection(first.roles):
        roles = tuple(first.roles)
    guards = tuple(tuple(procedure.guard(name) for name in t.guards) for t in candidates)
    guarded = any(guards) or (declared is not None and bool(declared.guards))
    return Rule(procedure, state, event, candidates, declared, roles, guards, guarded)


def judge(
    procedure: Procedure,
    *,
    state: str | None,
    event: str,
    actor: Actor,
    facts: Mapping[str, Any],
    payload: Mapping[str, Any] | None,
    context: ContextFor,
    parties: Parties | None = None,
    exhaustive: bool = False,
    replaying: bool = False,
    bodies: Bodies | None = None,
) -> Verdict:
    """Judge ``event`` by ``actor`` on a case in ``state`` with ``facts`` and ``parties``.

    Checks, in this order: the event leaves the state, the actor holds an allowed role and,
    where the step is bound to a party of the case, acts for it, the payload matches its
    schema, the guards hold (``context`` builds what they read, only when there are guards).
    ``payload=None`` means "not given": payload fields and the guards that judge the payload
    are left undecided, as ``explain`` and ``available_events`` need.

    By default the judge stops at the first refusal (what ``fire`` raises); ``exhaustive``
    gathers every one. ``replaying`` judges a stored step: guards that read other cases are
    skipped and named in ``Verdict.unjudged``, a guard that raises is a refusal, and an
    invalid payload is still the one the guards are judged on. ``bodies`` names the bodies a
    party refusal mentions (default: the known funders only).
    """
    rule = rule_for(procedure, state, event)
    refusals: list[Refusal] = []
    transition = rule.candidates[0] if rule.candidates else rule.declared
    if not rule.candidates:
        refusals.append(_not_here(procedure, state or "", event))
        if not exhaustive:
            return Verdict(None, {}, tuple(refusals))
    if transition is None:  # an event the procedure does not declare at all
        return Verdict(None, {}, tuple(refusals))
    allowed = rule.allowed_roles(transition, facts)
    if actor.roles.isdisjoint(allowed):
        refusals.append(_role_missing(procedure, event, actor, allowed))
        if not exhaustive:
            return Verdict(transition, {}, tuple(refusals))
    elif transition.party is not None:
        outsider = _outsider(procedure, event, transition.party, actor, parties, payload, bodies)
        if outsider is not None:
            refusals.append(outsider)
            if not exhaustive:
                return Verdict(transition, {}, tuple(refusals))
    clean, invalid = _clean(procedure, transition, payload, replaying)
    if invalid is not None:
        refusals.append(invalid)
        if not exhaustive:
            return Verdict(transition, {}, tuple(refusals))
    judged = rule.candidates or (transition,)
    if payload is not None and len(judged) > 1:
        picked = procedure.transition(state or "", event, clean)
        if picked is None and invalid is None:
            return Verdict(None, clean, (*refusals, _not_here(procedure, state or "", event)))
        judged = (picked or transition,)
    if rule.guarded:
        failed, unjudged = _guards(rule, judged, context, clean, payload is not None, replaying)
        refusals += failed
    else:
        unjudged = ()
    chosen = judged[0] if rule.candidates else None
    return Verdict(chosen, clean, tuple(refusals), unjudged)


def judge_migration(
    old: Procedure,
    roles: Sequence[str],
    guards: Sequence[Guard],
    *,
    actor: Actor,
    facts: Mapping[str, Any],
    context: Callable[[], GuardContext],
    replaying: bool = False,
) -> Verdict:
    """Judge a migration of a case of ``old`` (with ``facts``) by ``actor``: its ``roles``, then
    its ``guards``, judged on the version the case leaves and without a payload.

    Whether the case's state may move at all, and its new facts, are the migration's own
    business (``migration.py``); who may move it and under which rules is a step rule, here.
    """
    allowed = old.allowed_roles(roles, facts)
    if actor.roles.isdisjoint(allowed):
        return Verdict(None, {}, (_role_missing(old, MIGRATE, actor, allowed),))
    if not guards:
        return Verdict(None, {}, ())
    failed, broken, unjudged = unmet(guards, context(), replaying=replaying)
    refusals: list[Refusal] = [GuardsFailed(MIGRATE, failed)] if failed else []
    return Verdict(None, {}, (*refusals, *broken), unjudged)


def _clean(
    procedure: Procedure,
    transition: Transition,
    payload: Mapping[str, Any] | None,
    replaying: bool,
) -> tuple[dict[str, Any], PayloadInvalid | None]:
    """The payload as the engine writes it, or the refusal naming each bad field."""
    if payload is None:
        return {}, None
    event = transition.event
    what = (
        both("facts of {key}", key=procedure.key)
        if event == START
        else both("payload of {event!r}", event=event)
    )
    try:
        return validate(transition.payload, payload, what), None
    except InvalidData as error:
        kept = dict(payload) if replaying and isinstance(payload, Mapping) else {}
        labels = tuple(_field_label(transition.payload, p.field) for p in error.problems)
        return kept, PayloadInvalid(error.what_label, error.problems, labels)


def _field_label(schema: Sequence[Field], path: str) -> Label:
    """What people call the field at ``path``: its top field's label, the rest of the path
    after it when it is nested (``Actions (actions[0].group)``)."""
    name = path.split(".", 1)[0].split("[", 1)[0]
    label = field_both(next((f for f in schema if f.name == name), None), name)
    if path == name or label == Label(name, name):
        return label if path == name else Label(path, path)
    return Label(f"{label.fr} ({path})", f"{label.en} ({path})")


def _role_missing(
    procedure: Procedure, event: str, actor: Actor, allowed: tuple[str, ...]
) -> RoleMissing:
    labels = tuple(role_both(procedure, role) for role in allowed)
    return RoleMissing(event, actor.id, actor.roles, allowed, labels)


def _guards(
    rule: Rule,
    judged: Sequence[Transition],
    context: ContextFor,
    payload: Mapping[str, Any],
    judge_payload: bool,
    replaying: bool,
) -> tuple[list[Refusal], tuple[str, ...]]:
    """The guard refusals: those of the first transition judged, if none of them passes."""
    if not any(rule.guards_of(t) for t in judged):
        return [], ()
    built = context(payload)
    outcomes = [
        unmet(rule.guards_of(t), built, judge_payload=judge_payload, replaying=replaying)
        for t in judged
    ]
    failed, broken, unjudged = outcomes[0]
    if not all(bool(f) or bool(b) for f, b, _ in outcomes):
        return [], unjudged
    found: list[Refusal] = [GuardsFailed(rule.event, failed)] if failed else []
    return found + list(broken), unjudged


def unmet(
    guards: Sequence[Guard],
    context: GuardContext,
    *,
    judge_payload: bool = True,
    replaying: bool = False,
) -> tuple[tuple[FailedGuard, ...], tuple[BrokenGuard, ...], tuple[str, ...]]:
    """Every guard among ``guards`` that does not hold in ``context`` (all are evaluated).

    Returns the failed guards, the guards that raised (only when ``replaying``; otherwise the
    error goes through) and the guards left unjudged: those that judge the payload when
    ``judge_payload`` is false, and, when replaying, those that read other cases.
    """
    failed: list[FailedGuard] = []
    broken: list[BrokenGuard] = []
    unjudged: list[str] = []
    for guard in guards:
        if (guard.uses_payload and not judge_payload) or (replaying and guard.reads_other_cases):
            if replaying:
                unjudged.append(guard.name)
            continue
        if replaying:
            try:
                held = guard.check(context)
            except Exception as error:  # tampered data must not stop an audit
                broken.append(BrokenGuard(guard.name, str(error)))
                continue
        else:
            held = guard.check(context)
        if not held:
            failed.append(_refused(guard, context, replaying))
    return tuple(failed), tuple(broken), tuple(unjudged)


def _refused(guard: Guard, context: GuardContext, replaying: bool) -> FailedGuard:
    """``guard``'s refusal: what it says when it refuses (its statement of the rule when its
    procedure labels none), then what its explainer found missing, bodies named."""
    label = context.procedure.labels.guard(guard.name)
    fr, en = (label.refused_fr, label.refused_en) if label is not None else (guard.fr, guard.en)
    try:
        details = details_of(guard, context)
    except Exception:
        if not replaying:
            raise
        details = ()  # a tampered history: the refusal itself is what an audit reports
    said = [detail_texts(detail, context.bodies) for detail in details]
    fr = ". ".join((fr, *(text for text, _ in said)))
    en = ". ".join((en, *(text for _, text in said)))
    return FailedGuard(guard.name, fr, en, details)


def _outsider(
    procedure: Procedure,
    event: str,
    party_id: str,
    actor: Actor,
    parties: Parties | None,
    payload: Mapping[str, Any] | None,
    bodies: Bodies | None = None,
) -> PartyMissing | None:
    """The refusal when ``actor`` does not act for the case's ``party_id``, else ``None``.

    A party bound per key (the consultant *of an action*) is judged for the key the payload
    names; without a payload (``available_events``), for any key.
    """
    party = procedure.party(party_id)
    key = None
    if party is not None and payload is not None:
        per = next((binding.per for binding in party.bound_by if binding.per), None)
        if per is not None and per in payload:
            key = str(payload[per])
    bound = parties.bodies(party_id, key) if parties is not None else frozenset()
    if actor.acts_for in bound:
        return None
    fr, en = (party.fr, party.en) if party is not None else (party_id, party_id)
    ids = tuple(sorted(bound))
    names = (bodies or Bodies()).named(ids)
    return PartyMissing(event, actor.id, actor.roles, party_id, fr, en, ids, names)


def _not_here(procedure: Procedure, state: str, event: str) -> EventNotHere:
    fr, en = state_both(procedure, state)
    allowed = procedure.events_from(state)
    return EventNotHere(
        event, state, fr, en, allowed, event_both(procedure, event),
        tuple(event_both(procedure, other, state) for other in allowed),
    )  # fmt: skip
