"""What the guards of the procedures found missing when they refuse (``guard_details``).

Revision 1's guards (``guards.GUARDS``) are never edited: their explainers are registered here,
beside them, and read the history with the same rules (``_rules``). Revision 2's guards declare
theirs (``Guard.explain``, in ``guards_r2``), from the functions below.

Every explainer answers from the same context the guard judged: the consulted funders that
have not approved (« Il manque l'accord de : ... »), those who refused, with their reason when
revision 2 records one (« Refusé par : État (motif : ...) »), the date from which a step is
possible. Bodies are ids here; the judge names them through the deployment's directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from stechnique.definition import GuardContext
from stechnique.guard_details import GuardDetail, register_explainer
from stechnique.records import Record
from stechnique.workflows import _rules, _rules_dla_r2, _rules_r2
from stechnique.workflows.guards import GUARDS

__all__ = [
    "funder_details",
    "funders_not_refused_r2",
    "funders_not_validated",
    "funders_not_validated_r2",
    "plan_not_validated_r2",
]

_DECISION = "record_funder_decision"


def funder_details(
    funders: Sequence[str],
    decided: Iterable[tuple[str, str]],
    reasons: dict[str, str] | None = None,
) -> tuple[GuardDetail, ...]:
    """Why ``funders`` (consulted) have not validated, given their ``decided`` decisions:
    who refused (with their reason), whose approval is missing; none consulted at all."""
    if not funders:
        return (GuardDetail("no_funder"),)
    decisions = dict(decided)
    refused = [funder for funder, decision in decisions.items() if decision == "refuse"]
    missing = [funder for funder in funders if decisions.get(funder) != "approve"]
    missing = [funder for funder in missing if funder not in refused]
    reasons = reasons or {}
    found = [GuardDetail("refused_by", (funder,), reasons.get(funder)) for funder in refused]
    if missing:
        found.append(GuardDetail("missing_approval", missing))
    return tuple(found)


def _reasons(records: Iterable[Record]) -> dict[str, str]:
    """The reason of each body's latest decision that gives one (revision 2 records them)."""
    found: dict[str, str] = {}
    for record in records:
        reason = record.payload.get("reason") if record.event == _DECISION else None
        if isinstance(reason, str) and reason.strip():
            found[record.actor.acts_for] = reason
    return found


# -- revision 1 ---------------------------------------------------------------------------


def funders_not_validated(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``validated_by_funders``: the consulted funders that refused or have not approved."""
    history = context.history()
    return funder_details(_rules.consulted_funders(history), _rules.decisions(history))


def _undecided(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``refused_by_a_funder``: no refusal yet; the consulted funders still to decide."""
    history = context.history()
    decided = {funder for funder, _ in _rules.decisions(history)}
    waiting = [f for f in _rules.consulted_funders(history) if f not in decided]
    return (GuardDetail("no_decision", waiting),) if waiting else ()


def _refusers(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``no_funder_refused``: the funders that refused during the case."""
    refused = [
        record.actor.id
        for record in context.history()
        if record.event == _DECISION and record.payload.get("decision") == "refuse"
    ]
    return (GuardDetail("refused_by", tuple(dict.fromkeys(refused))),) if refused else ()


def _evaluation_from(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``one_year_before_expiry``: the day the evaluation may start."""
    expiry = context.facts.get("agreement_expiry")
    try:
        day = date.fromisoformat(str(expiry))
    except ValueError:
        return ()
    try:
        first = day.replace(year=day.year - 1)
    except ValueError:  # 29 February: the 28th is the same « un an avant »
        first = day.replace(year=day.year - 1, day=28)
    return (GuardDetail("not_before", on=first.isoformat()),)


# -- revision 2 (declared by ``guards_r2``) -------------------------------------------------


def funders_not_validated_r2(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``validated_by_funders_v2``: the consulted bodies that refused (with their reason) or
    have not approved."""
    history = context.history()
    return funder_details(
        _rules_r2.consulted_funders(history),
        _rules_r2.decisions(history),
        _reasons(_rules_r2.chapter(history)),
    )


def funders_not_refused_r2(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``refused_by_a_funder_v2``: no refusal yet; the consulted bodies still to decide."""
    history = context.history()
    decided = {funder for funder, _ in _rules_r2.decisions(history)}
    waiting = [f for f in _rules_r2.consulted_funders(history) if f not in decided]
    return (GuardDetail("no_decision", waiting),) if waiting else ()


def plan_not_validated_r2(context: GuardContext) -> tuple[GuardDetail, ...]:
    """``plan_validated_by_funders``: the funders of the latest plan that refused it (with
    their reason) or have not approved it."""
    history = context.history()
    plan = _rules_dla_r2.latest_plan(history)
    records = _rules_r2.chapter(history)
    since = records if plan is None else records[plan[0] + 1 :]
    return funder_details(
        _rules_dla_r2.plan_funders(history),
        _rules_dla_r2.plan_decisions(history),
        _reasons(since),
    )


register_explainer(GUARDS["validated_by_funders"], funders_not_validated)
register_explainer(GUARDS["refused_by_a_funder"], _undecided)
register_explainer(GUARDS["no_funder_refused"], _refusers)
register_explainer(GUARDS["one_year_before_expiry"], _evaluation_from)
