"""Consistency checks of a procedure definition, run when a ``Procedure`` is built.

Each check returns a list of human-readable problems; ``problems_of`` gathers them all so a
``DefinitionError`` reports every problem at once instead of one per attempt.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stechnique.definition import Procedure, Transition

__all__ = ["problems_of"]


def problems_of(procedure: Procedure) -> list[str]:
    """Every problem of the definition, in a stable order (empty when it is valid)."""
    problems = _states(procedure) + _transitions(procedure) + _start(procedure)
    problems += _declared(procedure) + _case_roles(procedure) + _confidential(procedure)
    if not any("unknown state" in problem for problem in problems):
        problems += _graph(procedure)
    return problems


def _duplicates(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _states(procedure: Procedure) -> list[str]:
    problems = [
        f"state {name!r} is declared twice" for name in _duplicates(s.id for s in procedure.states)
    ]
    initial = [state.id for state in procedure.states if state.initial]
    if len(initial) != 1:
        problems.append(f"exactly one initial state is needed, found {initial or 'none'}")
    problems += [
        f"initial state {s.id!r} is terminal" for s in procedure.states if s.initial and s.terminal
    ]
    if not any(state.terminal for state in procedure.states):
        problems.append("no terminal state: a case could never end")
    return problems


def _transitions(procedure: Procedure) -> list[str]:
    from stechnique.definition import ANY_ACTIVE, RESERVED_EVENTS

    states = {state.id: state for state in procedure.states}
    problems: list[str] = []
    seen: dict[tuple[str, str], list[Transition]] = {}
    for t in procedure.transitions:
        if t.event in RESERVED_EVENTS:
            problems.append(f"event {t.event!r} is reserved by the engine")
        if t.target not in states:
            problems.append(f"transition {t.event!r} goes to unknown state {t.target!r}")
        for source in t.sources:
            if source == ANY_ACTIVE:
                if len(t.sources) > 1:
                    problems.append(f"transition {t.event!r} mixes {ANY_ACTIVE!r} with states")
            elif source not in states:
                problems.append(f"transition {t.event!r} leaves from unknown state {source!r}")
            elif states[source].terminal:
                problems.append(f"terminal state {source!r} has an exit: {t.event!r}")
        if not t.roles:
            problems.append(f"transition {t.event!r} names no role: nobody could fire it")
        problems += _when(t)
        for source in _concrete_sources(procedure, t):
            seen.setdefault((source, t.event), []).append(t)
    problems += [
        f"event {event!r} is ambiguous from state {source!r}"
        for (source, event), group in sorted(seen.items())
        if len(group) > 1 and not _decided_by_payload(group)
    ]
    return problems


def _when(transition: Transition) -> list[str]:
    if transition.when is None:
        return []
    field, value = transition.when
    fields = {f.name: f for f in transition.payload}
    if field not in fields or fields[field].kind != "choice" or not fields[field].required:
        return [
            f"transition {transition.event!r} is decided by {field!r}, not a required choice field"
        ]
    if value not in fields[field].options:
        return [
            f"transition {transition.event!r} is decided by {field!r} = {value!r}, not an option"
        ]
    return []


def _decided_by_payload(group: list[Transition]) -> bool:
    """Whether transitions sharing an event and source are told apart by their payload."""
    whens = [t.when for t in group]
    if any(when is None for when in whens) or len({when[0] for when in whens if when}) != 1:
        return False
    field = next(f for f in group[0].payload if f.name == whens[0][0])  # type: ignore[index]
    covered = {when[1] for when in whens if when} == set(field.options)
    distinct = len(set(whens)) == len(whens)
    return covered and distinct and len({(t.roles, t.payload) for t in group}) == 1


def _concrete_sources(procedure: Procedure, transition: Transition) -> list[str]:
    from stechnique.definition import ANY_ACTIVE

    if transition.sources == (ANY_ACTIVE,):
        return [state.id for state in procedure.states if not state.terminal]
    return [source for source in transition.sources if source != ANY_ACTIVE]


def _start(procedure: Procedure) -> list[str]:
    problems = [] if procedure.start_roles else ["start names no role: nobody could start a case"]
    fact_names = [field.name for field in procedure.facts]
    problems += [f"fact {name!r} is declared twice" for name in _duplicates(fact_names)]
    for t in procedure.transitions:
        names = [field.name for field in t.payload]
        problems += [f"payload field {t.event}.{n} is declared twice" for n in _duplicates(names)]
    return problems


def _declared(procedure: Procedure) -> list[str]:
    roles = {role.id for role in procedure.roles} | {role.id for role in procedure.case_roles}
    guards = {guard.name for guard in procedure.guards}
    problems = [
        f"guard {name!r} is declared twice"
        for name in _duplicates(g.name for g in procedure.guards)
    ]
    uses = [("start", procedure.start_roles, procedure.start_guards)]
    uses += [(t.event, t.roles, t.guards) for t in procedure.transitions]
    for event, used_roles, used_guards in uses:
        problems += [f"{event!r} uses undeclared role {r!r}" for r in used_roles if r not in roles]
        problems += [
            f"{event!r} uses undeclared guard {g!r}" for g in used_guards if g not in guards
        ]
    return problems


def _case_roles(procedure: Procedure) -> list[str]:
    roles = {role.id for role in procedure.roles}
    facts = {field.name: field for field in procedure.facts}
    problems: list[str] = []
    for case_role in procedure.case_roles:
        if case_role.id in roles:
            problems.append(f"case role {case_role.id!r} clashes with a declared role")
        fact = facts.get(case_role.fact)
        if fact is None or fact.kind != "choice":
            problems.append(
                f"case role {case_role.id!r} reads {case_role.fact!r}, not a choice fact"
            )
        for value, role in case_role.roles:
            if role not in roles:
                problems.append(
                    f"case role {case_role.id!r} maps {value!r} to undeclared role {role!r}"
                )
            if fact is not None and value not in fact.options:
                problems.append(
                    f"case role {case_role.id!r} maps {value!r}, not an option of {fact.name!r}"
                )
    return problems


def _confidential(procedure: Procedure) -> list[str]:
    roles = {role.id for role in procedure.roles} | {role.id for role in procedure.case_roles}
    states = {state.id for state in procedure.states}
    payloads = {t.event: {f.name for f in t.payload} for t in procedure.transitions}
    problems: list[str] = []
    for rule in procedure.confidential:
        where = f"confidential field {rule.event}.{rule.field}"
        if rule.field not in payloads.get(rule.event, set()):
            problems.append(f"{where} is not a payload field of a declared event")
        problems += [
            f"{where} names undeclared role {r!r}"
            for r in rule.readers + rule.opens_to
            if r not in roles
        ]
        if rule.opens_at is not None and rule.opens_at not in states:
            problems.append(f"{where} opens at unknown state {rule.opens_at!r}")
    return problems


def _graph(procedure: Procedure) -> list[str]:
    edges: dict[str, set[str]] = {state.id: set() for state in procedure.states}
    for t in procedure.transitions:
        for source in _concrete_sources(procedure, t):
            edges[source].add(t.target)
    initial = [state.id for state in procedure.states if state.initial]
    reachable = _reach(initial, edges)
    problems = [
        f"state {s.id!r} is unreachable from the initial state"
        for s in procedure.states
        if s.id not in reachable
    ]
    reverse: dict[str, set[str]] = {state: set() for state in edges}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].add(source)
    ending = _reach([s.id for s in procedure.states if s.terminal], reverse)
    problems += [
        f"state {s.id!r} has no path to a terminal state"
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
