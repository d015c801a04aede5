"""Consistency checks of a procedure definition, run when a ``Procedure`` is built.

Each check returns ``DefinitionProblem`` values (kind, subject, message, location);
``problems_of`` gathers them all so a ``DefinitionError`` reports every problem at once instead
of one per attempt. Callers decide on ``kind`` and ``location``, never on the message, which is
free to read better.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from stechnique.errors import DefinitionProblem

if TYPE_CHECKING:
    from stechnique.definition import Binding, Procedure, State, Transition

__all__ = ["problems_of"]

Location = tuple[str | int, ...]


def problems_of(procedure: Procedure) -> list[DefinitionProblem]:
    """Every problem of the definition, in a stable order (empty when it is valid)."""
    problems = _states(procedure) + _transitions(procedure) + _start(procedure)
    problems += _declared(procedure) + _case_roles(procedure) + _confidential(procedure)
    problems += _parties(procedure) + _waits(procedure) + _openings(procedure)
    problems += _labels(procedure)
    # The graph walk needs every transition to join declared states; an unknown one is
    # already reported, and reachability around it would only be noise.
    if not any(p.kind == "unknown_state" and p.location[0] == "transitions" for p in problems):
        problems += _graph(procedure)
    return problems


def _problem(kind: str, subject: str, location: Location, message: str) -> DefinitionProblem:
    """A problem, its long message last so the checks read in one line each."""
    return DefinitionProblem(kind, subject, message, location)


def _duplicates(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _states(procedure: Procedure) -> list[DefinitionProblem]:
    problems = [
        _problem("duplicate_state", name, ("states", name), f"state {name!r} is declared twice")
        for name in _duplicates(s.id for s in procedure.states)
    ]
    initial = [state.id for state in procedure.states if state.initial]
    if len(initial) != 1:
        # Several: point at the second, the first one too many; none: at the states.
        extra = initial[1] if initial else ""
        where: Location = ("states", extra, "initial") if extra else ("states",)
        message = f"exactly one initial state is needed, found {initial or 'none'}"
        problems.append(_problem("initial_state", extra, where, message))
    problems += [
        _problem(
            "initial_terminal",
            s.id,
            ("states", s.id, "terminal"),
            f"initial state {s.id!r} is terminal",
        )
        for s in procedure.states
        if s.initial and s.terminal
    ]
    if not any(state.terminal for state in procedure.states):
        message = "no terminal state: a case could never end"
        problems.append(_problem("no_terminal", "", ("states",), message))
    return problems


def _transitions(procedure: Procedure) -> list[DefinitionProblem]:
    states = {state.id: state for state in procedure.states}
    problems: list[DefinitionProblem] = []
    seen: dict[tuple[str, str], list[int]] = {}
    for index, t in enumerate(procedure.transitions):
        problems += _transition(index, t, states)
        for source in _concrete_sources(procedure, t):
            seen.setdefault((source, t.event), []).append(index)
    for (source, event), indices in sorted(seen.items()):
        group = [procedure.transitions[index] for index in indices]
        if len(group) > 1 and not _decided_by_payload(group):
            # The second declaration is the one that makes the event ambiguous.
            message = f"event {event!r} is ambiguous from state {source!r}"
            where = ("transitions", indices[1])
            problems.append(_problem("ambiguous_event", event, where, message))
    return problems


def _transition(index: int, t: Transition, states: dict[str, State]) -> list[DefinitionProblem]:
    from stechnique.definition import ANY_ACTIVE, RESERVED_EVENTS

    at: Location = ("transitions", index)
    problems: list[DefinitionProblem] = []
    if t.event in RESERVED_EVENTS:
        message = f"event {t.event!r} is reserved by the engine"
        problems.append(_problem("reserved_event", t.event, at, message))
    if t.target not in states:
        message = f"transition {t.event!r} goes to unknown state {t.target!r}"
        problems.append(_problem("unknown_state", t.target, (*at, "target"), message))
    for source in t.sources:
        if source == ANY_ACTIVE:
            if len(t.sources) > 1:
                message = f"transition {t.event!r} mixes {ANY_ACTIVE!r} with states"
                problems.append(_problem("mixed_any_active", t.event, (*at, "sources"), message))
        elif source not in states:
            message = f"transition {t.event!r} leaves from unknown state {source!r}"
            problems.append(_problem("unknown_state", source, (*at, "sources"), message))
        elif states[source].terminal:
            message = f"terminal state {source!r} has an exit: {t.event!r}"
            problems.append(_problem("terminal_exit", source, ("states", source), message))
    if not t.roles:
        message = f"transition {t.event!r} names no role: nobody could fire it"
        problems.append(_problem("no_role", t.event, (*at, "roles"), message))
    return problems + _when(t, (*at, "when"))


def _when(transition: Transition, where: Location) -> list[DefinitionProblem]:
    if transition.when is None:
        return []
    field, value = transition.when
    fields = {f.name: f for f in transition.payload}
    event = transition.event
    if field not in fields or fields[field].kind != "choice" or not fields[field].required:
        message = f"transition {event!r} is decided by {field!r}, not a required choice field"
        return [_problem("not_a_choice", field, where, message)]
    if value not in fields[field].options:
        message = f"transition {event!r} is decided by {field!r} = {value!r}, not an option"
        return [_problem("not_an_option", value, where, message)]
    return []


def _decided_by_payload(group: list[Transition]) -> bool:
    """Whether transitions sharing an event and source are told apart by their payload."""
    whens = [t.when for t in group]
    if any(when is None for when in whens) or len({when[0] for when in whens if when}) != 1:
        return False
    field = next(f for f in group[0].payload if f.name == whens[0][0])  # type: ignore[index]
    covered = {when[1] for when in whens if when} == set(field.options)
    distinct = len(set(whens)) == len(whens)
    return covered and distinct and len({(t.roles, t.payload, t.party) for t in group}) == 1


def _concrete_sources(procedure: Procedure, transition: Transition) -> list[str]:
    from stechnique.definition import ANY_ACTIVE

    if transition.sources == (ANY_ACTIVE,):
        return [state.id for state in procedure.states if not state.terminal]
    return [source for source in transition.sources if source != ANY_ACTIVE]


def _start(procedure: Procedure) -> list[DefinitionProblem]:
    problems = []
    if not procedure.start_roles:
        message = "start names no role: nobody could start a case"
        problems.append(_problem("no_role", "start", ("start_roles",), message))
    problems += [
        _problem("duplicate_fact", name, ("facts", name), f"fact {name!r} is declared twice")
        for name in _duplicates(field.name for field in procedure.facts)
    ]
    for index, t in enumerate(procedure.transitions):
        problems += [
            _problem(
                "duplicate_field",
                f"{t.event}.{name}",
                ("transitions", index, "payload", name),
                f"payload field {t.event}.{name} is declared twice",
            )
            for name in _duplicates(field.name for field in t.payload)
        ]
    return problems


def _declared(procedure: Procedure) -> list[DefinitionProblem]:
    roles = {role.id for role in procedure.roles} | {role.id for role in procedure.case_roles}
    guards = {guard.name for guard in procedure.guards}
    problems = [
        _problem("duplicate_guard", name, ("guards", name), f"guard {name!r} is declared twice")
        for name in _duplicates(g.name for g in procedure.guards)
    ]
    uses: list[tuple[str, Location, Location, tuple[str, ...], tuple[str, ...]]] = [
        (
            "start",
            ("start_roles",),
            ("start_guards",),
            procedure.start_roles,
            procedure.start_guards,
        )
    ]
    uses += [
        (t.event, ("transitions", i, "roles"), ("transitions", i, "guards"), t.roles, t.guards)
        for i, t in enumerate(procedure.transitions)
    ]
    for event, roles_at, guards_at, used_roles, used_guards in uses:
        problems += [
            _problem("undeclared_role", r, roles_at, f"{event!r} uses undeclared role {r!r}")
            for r in used_roles
            if r not in roles
        ]
        problems += [
            _problem("undeclared_guard", g, guards_at, f"{event!r} uses undeclared guard {g!r}")
            for g in used_guards
            if g not in guards
        ]
    return problems


def _case_roles(procedure: Procedure) -> list[DefinitionProblem]:
    roles = {role.id for role in procedure.roles}
    facts = {field.name: field for field in procedure.facts}
    problems: list[DefinitionProblem] = []
    for case_role in procedure.case_roles:
        name, at = case_role.id, ("case_roles", case_role.id)
        if name in roles:
            message = f"case role {name!r} clashes with a declared role"
            problems.append(_problem("role_clash", name, at, message))
        fact = facts.get(case_role.fact)
        if fact is None or fact.kind != "choice":
            message = f"case role {name!r} reads {case_role.fact!r}, not a choice fact"
            problems.append(_problem("not_a_choice", case_role.fact, (*at, "fact"), message))
        for value, role in case_role.roles:
            if role not in roles:
                message = f"case role {name!r} maps {value!r} to undeclared role {role!r}"
                problems.append(_problem("undeclared_role", role, (*at, "roles", value), message))
            if fact is not None and value not in fact.options:
                message = f"case role {name!r} maps {value!r}, not an option of {fact.name!r}"
                problems.append(_problem("not_an_option", value, (*at, "roles", value), message))
    return problems


def _payload_fields(procedure: Procedure) -> dict[str, set[str]]:
    """The payload fields of each event (of every transition it names), ``start``'s facts."""
    fields: dict[str, set[str]] = {"start": {fact.name for fact in procedure.facts}}
    for t in procedure.transitions:
        fields.setdefault(t.event, set()).update(f.name for f in t.payload)
    return fields


def _confidential(procedure: Procedure) -> list[DefinitionProblem]:
    roles = {role.id for role in procedure.roles} | {role.id for role in procedure.case_roles}
    states = {state.id for state in procedure.states}
    payloads = {t.event: {f.name for f in t.payload} for t in procedure.transitions}
    # A procedure with parties is read by party: its readers are parties and coordinators.
    by_party = bool(procedure.parties)
    readers = {p.id for p in procedure.parties} | set(procedure.coordinators)
    problems: list[DefinitionProblem] = []
    for index, rule in enumerate(procedure.confidential):
        at: Location = ("confidential", index)
        subject = f"{rule.event}.{rule.field}"
        where = f"confidential field {subject}"
        if rule.field not in payloads.get(rule.event, set()):
            message = f"{where} is not a payload field of a declared event"
            problems.append(_problem("unknown_field", subject, (*at, "field"), message))
        for key, named in (("readers", rule.readers), ("opens_to", rule.opens_to)):
            if by_party:
                problems += [
                    _problem(
                        "undeclared_reader",
                        r,
                        (*at, key),
                        f"{where} names {r!r}, neither a party nor a coordinating role",
                    )
                    for r in named
                    if r not in readers
                ]
                continue
            problems += [
                _problem("undeclared_role", r, (*at, key), f"{where} names undeclared role {r!r}")
                for r in named
                if r not in roles
            ]
        if rule.opens_at is not None and rule.opens_at not in states:
            message = f"{where} opens at unknown state {rule.opens_at!r}"
            problems.append(_problem("unknown_state", rule.opens_at, (*at, "opens_at"), message))
        if rule.opens_on is not None and rule.opens_on not in payloads:
            message = f"{where} opens on unknown event {rule.opens_on!r}"
            problems.append(_problem("unknown_event", rule.opens_on, (*at, "opens_on"), message))
        if rule.per is not None and rule.per not in payloads.get(rule.event, set()):
            message = f"{where} is per {rule.per!r}, not a payload field of {rule.event!r}"
            problems.append(
                _problem("unknown_field", f"{rule.event}.{rule.per}", (*at, "per"), message)
            )
    return problems


#: How a binding changes a party's bodies.
_HOWS = ("set", "add", "remove")


def _parties(procedure: Procedure) -> list[DefinitionProblem]:
    """Parties, their bindings, the steps bound to them, coordinators and the revision."""
    problems: list[DefinitionProblem] = []
    revision: object = procedure.revision
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        message = f"revision {revision!r} is not a revision: an integer from 1 on (1, 2, 3...)"
        problems.append(_problem("bad_revision", str(revision), ("revision",), message))
    problems += [
        _problem("duplicate_party", name, ("parties", name), f"party {name!r} is declared twice")
        for name in _duplicates(p.id for p in procedure.parties)
    ]
    fields = _payload_fields(procedure)
    for party in procedure.parties:
        for index, binding in enumerate(party.bound_by):
            problems += _binding(party.id, index, binding, fields)
    declared = {p.id for p in procedure.parties}
    for index, t in enumerate(procedure.transitions):
        if t.party is not None and t.party not in declared:
            message = f"{t.event!r} is bound to undeclared party {t.party!r}"
            where: Location = ("transitions", index, "party")
            problems.append(_problem("undeclared_party", t.party, where, message))
    roles = {role.id for role in procedure.roles}
    problems += [
        _problem(
            "undeclared_role",
            r,
            ("coordinators",),
            f"coordinating role {r!r} is not a declared role",
        )
        for r in procedure.coordinators
        if r not in roles
    ]
    return problems


def _openings(procedure: Procedure) -> list[DefinitionProblem]:
    """A step that opens another case: a declared event, once, whose payload has the field the
    new case's id is written to, and a party of the case to hand over."""
    problems: list[DefinitionProblem] = []
    fields = _payload_fields(procedure)
    parties = {p.id for p in (procedure.reading or procedure).parties}
    events = [opening.event for opening in procedure.opens]
    for index, opening in enumerate(procedure.opens):
        at: Location = ("opens", index)
        if opening.event not in fields or opening.event == "start":
            message = f"an opening is carried out by unknown event {opening.event!r}"
            problems.append(_problem("unknown_event", opening.event, (*at, "event"), message))
        elif opening.case_field not in fields[opening.event]:
            message = f"{opening.event!r} has no payload field {opening.case_field!r}"
            subject = f"{opening.event}.{opening.case_field}"
            problems.append(_problem("unknown_field", subject, (*at, "case_field"), message))
        if opening.party not in parties:
            message = f"an opening hands over undeclared party {opening.party!r}"
            problems.append(_problem("undeclared_party", opening.party, (*at, "party"), message))
    problems += [
        _problem("ambiguous_event", event, ("opens",), f"{event!r} opens two cases")
        for event in _duplicates(events)
    ]
    return problems


def _waits(procedure: Procedure) -> list[DefinitionProblem]:
    """Whom a case waits on: open states, each declared once, parties or roles waited on,
    events and fields that exist."""
    from stechnique.definition import Answered, Bound, Fired

    problems: list[DefinitionProblem] = []
    states = {state.id: state for state in procedure.states}
    parties = {p.id for p in (procedure.reading or procedure).parties}
    known = parties | {role.id for role in procedure.roles}
    fields = _payload_fields(procedure)
    seen: set[str] = set()
    for index, wait in enumerate(procedure.waits):
        at: Location = ("waits", index)
        for state in wait.states:
            if state not in states or states[state].terminal:
                message = f"a case waits only in an open state, not in {state!r}"
                problems.append(_problem("unknown_state", state, (*at, "states"), message))
            elif state in seen:
                message = f"whom a case waits on in {state!r} is declared twice"
                problems.append(_problem("duplicate_wait", state, (*at, "states"), message))
            seen.add(state)
        for key, names in (("on", wait.on), ("then", wait.then)):
            for name in names:
                if name not in known:
                    message = f"a case waits on {name!r}: neither a party nor a role"
                    problems.append(_problem("undeclared_party", name, (*at, key), message))
        until = wait.until
        events = [(until.event, "until")] if isinstance(until, Answered | Fired) else []
        if isinstance(until, Fired):
            events += [(event, "until") for event in until.reset_by]
        if wait.due is not None:
            events.append((wait.due.event, "due"))
        for event, key in events:
            if event not in fields:
                message = f"the wait in {wait.states!r} reads unknown event {event!r}"
                problems.append(_problem("unknown_event", event, (*at, key), message))
        if isinstance(until, Answered) and (len(wait.on) != 1 or wait.on[0] not in parties):
            message = "« each … without a decision » waits on exactly one party"
            problems.append(_problem("bad_wait", ",".join(wait.on), (*at, "on"), message))
        if isinstance(until, Bound) and until.party not in parties:
            message = f"the wait in {wait.states!r} waits for undeclared party {until.party!r}"
            problems.append(_problem("undeclared_party", until.party, (*at, "until"), message))
        if until is not None and not wait.then:
            message = f"the wait in {wait.states!r} says until when, not on whom then"
            problems.append(_problem("bad_wait", ",".join(wait.states), (*at, "then"), message))
        due = wait.due
        if due is not None and due.event in fields and due.field not in fields[due.event]:
            message = f"the due date reads {due.field!r}, not a payload field of {due.event!r}"
            subject = f"{due.event}.{due.field}"
            problems.append(_problem("unknown_field", subject, (*at, "due"), message))
    return problems


def _binding(
    party: str, index: int, binding: Binding, fields: dict[str, set[str]]
) -> list[DefinitionProblem]:
    at: Location = ("parties", party, "bound_by", index)
    where = f"party {party!r} bound by {binding.event!r}"
    if binding.event not in fields:
        message = f"party {party!r} is bound by unknown event {binding.event!r}"
        return [_problem("unknown_event", binding.event, (*at, "event"), message)]
    problems: list[DefinitionProblem] = []
    what = "a start fact" if binding.event == "start" else f"a payload field of {binding.event!r}"
    for key, name in (("field", binding.field), ("per", binding.per)):
        if name is not None and name not in fields[binding.event]:
            message = f"{where} reads {name!r}, not {what}"
            subject = f"{binding.event}.{name}"
            problems.append(_problem("unknown_field", subject, (*at, key), message))
    if binding.how not in _HOWS:
        message = f"{where} {binding.how!r}: a binding sets, adds or removes"
        problems.append(_problem("bad_binding", binding.how, (*at, "how"), message))
    return problems


def _graph(procedure: Procedure) -> list[DefinitionProblem]:
    edges: dict[str, set[str]] = {state.id: set() for state in procedure.states}
    for t in procedure.transitions:
        for source in _concrete_sources(procedure, t):
            edges[source].add(t.target)
    initial = [state.id for state in procedure.states if state.initial]
    reachable = _reach(initial, edges)
    problems = [
        _problem(
            "unreachable_state",
            s.id,
            ("states", s.id),
            f"state {s.id!r} is unreachable from the initial state",
        )
        for s in procedure.states
        if s.id not in reachable
    ]
    reverse: dict[str, set[str]] = {state: set() for state in edges}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].add(source)
    ending = _reach([s.id for s in procedure.states if s.terminal], reverse)
    problems += [
        _problem(
            "dead_end", s.id, ("states", s.id), f"state {s.id!r} has no path to a terminal state"
        )
        for s in procedure.states
        if not s.terminal and s.id not in ending
    ]
    return problems


def _reach(starts: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(starts)
    queue = deque(seen)
    while queue:
        for following in edges[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def _labels(procedure: Procedure) -> list[DefinitionProblem]:
    """Labels name what the procedure declares: options of its choice fields, its guards, and
    the things a relabel renames (a label of nothing is a typo that would never show)."""
    from stechnique._labels import named_fields
    from stechnique.definition import RELABELLED

    problems: list[DefinitionProblem] = []
    fields = named_fields(procedure)
    for index, option in enumerate(procedure.labels.options):
        field = fields.get(option.field)
        if field is None or option.option not in field.options:
            message = f"label of option {option.option!r} of {option.field!r}: no such option"
            at: Location = ("labels", "options", index)
            problems.append(_problem("unknown_option", option.option, at, message))
    guards = {guard.name for guard in procedure.guards}
    for index, label in enumerate(procedure.labels.guards):
        if label.guard not in guards:
            message = f"label of guard {label.guard!r}: the procedure has no such guard"
            at = ("labels", "guards", index)
            problems.append(_problem("unknown_guard", label.guard, at, message))
    known = {
        "procedure": {""},
        "state": {state.id for state in procedure.states},
        "event": {transition.event for transition in procedure.transitions},
        "role": {role.id for role in procedure.roles} | {r.id for r in procedure.case_roles},
        "party": {party.id for party in (procedure.reading or procedure).parties},
        "field": set(fields),
    }
    for index, relabel in enumerate(procedure.labels.relabels):
        if relabel.kind not in RELABELLED or relabel.id not in known[relabel.kind]:
            message = f"relabel of {relabel.kind} {relabel.id!r}: the procedure has none"
            at = ("labels", "relabels", index)
            problems.append(_problem("unknown_label", relabel.id, at, message))
    return problems
