"""Why an event would be refused now: every reason at once, in French and English."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

from stechnique.definition import GuardContext, Procedure, Transition, failed_guards
from stechnique.errors import InvalidData
from stechnique.records import Actor, Case
from stechnique.schema import validate

__all__ = ["Explanation", "Reason", "reasons"]


@attrs.frozen
class Reason:
    """One reason an event would be refused now, in French and English.

    ``kind`` is ``event`` (not possible in this state), ``role``, ``data`` (a bad payload field)
    or ``guard``; ``code`` is the event, role list, field path or guard name concerned.
    """

    kind: Literal["event", "role", "data", "guard"]
    code: str
    fr: str
    en: str


@attrs.frozen
class Explanation:
    """Why an event would or would not fire now: ``allowed`` is true when ``reasons`` is empty."""

    case_id: str
    event: str
    state: str
    reasons: tuple[Reason, ...]

    @property
    def allowed(self) -> bool:
        """Whether nothing stands in the way."""
        return not self.reasons


def reasons(
    procedure: Procedure,
    case: Case,
    event: str,
    actor: Actor,
    payload: Mapping[str, Any] | None,
    context_for: Callable[[str, Mapping[str, Any]], GuardContext],
) -> list[Reason]:
    """Every reason ``event`` would be refused now (see ``Engine.explain``)."""
    transition = procedure.transition(case.state, event)
    found: list[Reason] = []
    if transition is None:
        found.append(_not_here(procedure, case, event))
        transition = next((t for t in procedure.transitions if t.event == event), None)
        if transition is None:
            return found
    found += _roles(procedure, case, transition, actor)
    clean: Mapping[str, Any] = {}
    if payload is not None:
        try:
            clean = validate(transition.payload, payload, f"payload of {event!r}")
        except InvalidData as error:
            found += [_bad_field(problem.field, problem.problem) for problem in error.problems]
    context = context_for(event, clean)
    judged = procedure.candidates(case.state, event) or (transition,)
    if payload is not None:
        judged = (procedure.transition(case.state, event, clean) or transition,)
    failures = [failed_guards(t.guards, context, judge_payload=payload is not None) for t in judged]
    if all(failures):
        found += [Reason("guard", guard.name, guard.fr, guard.en) for guard in failures[0]]
    return found


def _not_here(procedure: Procedure, case: Case, event: str) -> Reason:
    state = procedure.state(case.state)
    allowed = ", ".join(procedure.events_from(case.state)) or "aucun / none"
    return Reason(
        "event",
        event,
        f"L'événement « {event} » n'est pas possible dans l'état « {state.fr} » "
        f"(possibles : {allowed})",
        f"Event {event!r} is not possible in state {state.en!r} (possible: {allowed})",
    )


def _roles(procedure: Procedure, case: Case, transition: Transition, actor: Actor) -> list[Reason]:
    allowed = procedure.allowed_roles(transition.roles, case.facts)
    if actor.has_any(allowed):
        return []
    names = ", ".join(allowed) or "aucun / none"
    return [Reason("role", names, f"Rôle requis : {names}", f"Role required: {names}")]


def _bad_field(path: str, problem: str) -> Reason:
    return Reason("data", path, f"Champ {path} : {problem}", f"Field {path}: {problem}")
