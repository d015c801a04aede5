"""Every named guard of the published procedures, with its French and English text.

``GUARDS`` maps each guard name of the published procedures (and the few extra rules the procedures
need, such as ``consulted_funder``) to its ``Guard``. Procedure modules pick their guards from
it, and the data-file loader resolves the guard names a data file mentions through it: a data
file names rules, it never carries code.

Guards read the case's history through ``GuardContext.history()`` and other cases through the
read-only store; they never write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any

from stechnique.definition import Guard, GuardContext
from stechnique.records import Record
from stechnique.workflows import _rules

__all__ = ["GUARDS"]


def _eligible_requester(context: GuardContext) -> bool:
    # « à l'initiative du gestionnaire » : the administrator of an association-managed centre,
    # the federation of a federation-managed one.
    role = context.role_of("manager")
    return role is not None and context.actor.has_any([role])


def _validated_by_funders(context: GuardContext) -> bool:
    funders = _rules.consulted_funders(context.history())
    decided = _rules.decisions(context.history())
    approved = {funder for funder, decision in decided if decision == "approve"}
    refused = any(decision == "refuse" for _, decision in decided)
    return bool(funders) and not refused and set(funders) <= approved


def _consulted_funder(context: GuardContext) -> bool:
    return context.actor.id in _rules.consulted_funders(context.history())


def _one_decision_per_funder(context: GuardContext) -> bool:
    return all(funder != context.actor.id for funder, _ in _rules.decisions(context.history()))


def _refused_by_a_funder(context: GuardContext) -> bool:
    funders = set(_rules.consulted_funders(context.history()))
    return any(
        decision == "refuse" and funder in funders
        for funder, decision in _rules.decisions(context.history())
    )


def _no_funder_refused(context: GuardContext) -> bool:
    return not any(
        record.event == _rules.DECISION and record.payload.get("decision") == "refuse"
        for record in context.history()
    )


def _confidentiality_acknowledged(context: GuardContext) -> bool:
    return _rules.acknowledged_by(context.history(), context.actor.id)


def _plan_has_individual_action(context: GuardContext) -> bool:
    return any(a.get("kind") == "individual" for a in _rules.plan_actions(context.history()))


def _groups(actions: list[dict[str, Any]]) -> set[str]:
    return {str(a["group"]) for a in actions if a.get("kind") == "collective" and a.get("group")}


def _collective_has_peers(context: GuardContext) -> bool:
    # « problématiques communes à plusieurs structures »: another case of this procedure names
    # the same group. A structure that left the procedure (withdrawn, declined) is no peer.
    groups = _groups(_rules.plan_actions(context.history()))
    if not groups or context.case is None:
        return False
    for other in context.store.cases(name=context.procedure.name):
        if other.id == context.case.id or other.state in _LEFT:
            continue
        if groups & _groups(_rules.plan_actions(context.store.records(other.id))):
            return True
    return False


_LEFT = frozenset({"withdrawn", "declined", "rejected", "abandoned"})


def _impact_measured(context: GuardContext) -> bool:
    impact = context.payload.get("impact")
    if not isinstance(impact, Mapping):
        return False
    jobs = impact.get("jobs")
    activities = impact.get("activities")
    return (
        isinstance(activities, str)
        and bool(activities.strip())
        and isinstance(jobs, int)
        and not isinstance(jobs, bool)
        and jobs >= 0
    )


def _step_submitted(context: GuardContext) -> bool:
    if context.case is None:
        return False
    history = context.history()
    # A « rework » arbitration sends the step back: the work must be submitted again after it.
    since = max(_rules.entered_at(history, context.case.state), _last_arbitration(history))
    return any(record.event == "submit_step" for record in history[since + 1 :])


def _last_arbitration(history: Sequence[Record]) -> int:
    return max((i for i, record in enumerate(history) if record.event == "arbitrate"), default=-1)


def _year_before(day: date) -> date:
    # 29 February has no twin a year earlier: the 28th is the same « un an avant ».
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _one_year_before_expiry(context: GuardContext) -> bool:
    expiry = context.facts.get("agreement_expiry")
    if isinstance(expiry, str):
        expiry = date.fromisoformat(expiry)
    if not isinstance(expiry, date):
        return False
    return context.now.date() >= _year_before(expiry)


def _selection_criteria(context: GuardContext) -> bool:
    facts = context.facts
    return facts.get("federation_member") is True and facts.get("local_authority_interest") is True


_ALL = (
    Guard(
        "eligible_requester",
        "Demande présentée par le gestionnaire du centre : son administrateur pour un centre "
        "associatif, sa fédération pour un centre en gestion fédérale",
        "Request made by the centre's manager: its administrator for an association-managed "
        "centre, its federation for a federation-managed centre",
        _eligible_requester,
    ),
    Guard(
        "validated_by_funders",
        "Validée par les financeurs : chaque financeur consulté a donné son accord et aucun "
        "n'a refusé",
        "Validated by the funders: every funder consulted has approved and none has refused",
        _validated_by_funders,
    ),
    Guard(
        "consulted_funder",
        "Seul un financeur consulté sur ce dossier peut rendre une décision",
        "Only a funder consulted on this case may record a decision",
        _consulted_funder,
    ),
    Guard(
        "one_decision_per_funder",
        "Un financeur ne rend qu'une décision par consultation",
        "A funder records only one decision per consultation",
        _one_decision_per_funder,
    ),
    Guard(
        "refused_by_a_funder",
        "Au moins un financeur consulté a refusé la demande",
        "At least one consulted funder has refused the request",
        _refused_by_a_funder,
    ),
    Guard(
        "no_funder_refused",
        "Aucun financeur n'a refusé la demande au cours du dossier",
        "No funder has refused the request at any point of the case",
        _no_funder_refused,
    ),
    Guard(
        "confidentiality_acknowledged",
        "Règles de confidentialité reconnues par l'intervenant avant le début de son travail "
        "dans la structure",
        "Confidentiality rules acknowledged by the practitioner before their work inside the "
        "structure starts",
        _confidentiality_acknowledged,
    ),
    Guard(
        "plan_has_individual_action",
        "Le plan d'accompagnement prévoit une action individuelle",
        "The accompaniment plan includes an individual action",
        _plan_has_individual_action,
    ),
    Guard(
        "collective_has_peers",
        "L'action collective du plan réunit plusieurs structures : une autre structure encore "
        "engagée dans la démarche nomme le même groupe",
        "The plan's collective action brings several structures together: another structure "
        "still taking part names the same group",
        _collective_has_peers,
        reads_other_cases=True,
    ),
    Guard(
        "impact_measured",
        "Impact mesuré : développement des activités (texte) et emplois (nombre, au moins 0)",
        "Impact measured: development of activities (text) and jobs (number, at least 0)",
        _impact_measured,
        uses_payload=True,
    ),
    Guard(
        "step_submitted",
        "Le travail de l'étape a été transmis (submit_step) depuis l'entrée dans l'étape ou "
        "depuis la dernière demande de reprise",
        "The step's work has been submitted (submit_step) since the step was entered or last "
        "sent back for rework",
        _step_submitted,
    ),
    Guard(
        "one_year_before_expiry",
        "L'évaluation commence au plus tôt un an avant la date d'échéance de l'agrément CAF",
        "Evaluation starts no earlier than one year before the CAF agreement expires",
        _one_year_before_expiry,
    ),
    Guard(
        "selection_criteria",
        "Critères de sélection de l'expérimentation : centre adhérent à la fédération et "
        "intérêt de la collectivité locale",
        "Selection criteria of the experimentation: the centre is a federation member and the "
        "local authority is interested",
        _selection_criteria,
    ),
)

#: Every named guard of the published procedures, by name (read-only).
GUARDS: Mapping[str, Guard] = MappingProxyType({guard.name: guard for guard in _ALL})
