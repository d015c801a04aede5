"""The guards revision 2 adds or renames (drafts, see ``stechnique.workflows.drafts``).

Revision 1's guards (``guards.GUARDS``) are never edited: where revision 2 changes a rule, the
rule gets a new name here (``validated_by_funders_v2``: the consulted funders now change with
``consult_funder`` and ``release_funder``, decisions belong to bodies). Guards whose rule is the
same keep their name and are taken from ``GUARDS`` (``eligible_requester``,
``selection_criteria``, ``step_submitted``).

These guards are not in ``stechnique.GUARDS`` while revision 2 is a draft: nothing published
depends on them. The 2013 draft's data file is loaded with ``GUARDS_R2`` given to
``load_procedure``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

from stechnique.definition import Guard, GuardContext
from stechnique.workflows import _rules_r2

__all__ = ["GUARDS_R2", "PERIOD_2013", "PERIOD_2015_2017", "period"]

#: « 2015-2017 », until the 2019 modalities (interpretation: PROCEDURES.md, « Periods »).
PERIOD_2015_2017 = (date(2015, 1, 1), date(2018, 12, 31))
#: « Durée de l'expérimentation : juin [2013 -] juin 2015 ».
PERIOD_2013 = (date(2013, 6, 1), date(2015, 6, 30))


def _french(day: date) -> str:
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")  # fmt: skip
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {months[day.month - 1]} {day.year}"


def period(name: str, first: date, last: date) -> Guard:
    """A guard of ``start``: the engine's clock is within ``first`` .. ``last`` (both included).

    Its texts name the period, so a refusal says when cases may be opened.
    """

    def check(context: GuardContext) -> bool:
        return first <= context.now.date() <= last

    return Guard(
        name,
        f"Dossier ouvert pendant la période de la version : du {_french(first)} au {_french(last)}",
        f"Case opened within the version's period: from {first.isoformat()} to {last.isoformat()}",
        check,
    )


def _funder(context: GuardContext) -> str:
    return str(context.payload.get("funder"))


def _funder_not_yet_consulted(context: GuardContext) -> bool:
    return _funder(context) not in _rules_r2.consulted_funders(context.history())


def _funder_consulted_undecided(context: GuardContext) -> bool:
    history = context.history()
    decided = {body for body, _ in _rules_r2.decisions(history)}
    funder = _funder(context)
    return funder in _rules_r2.consulted_funders(history) and funder not in decided


def _one_decision_per_funder(context: GuardContext) -> bool:
    body = context.actor.acts_for
    return all(funder != body for funder, _ in _rules_r2.decisions(context.history()))


def _validated_by_funders(context: GuardContext) -> bool:
    history = context.history()
    funders = set(_rules_r2.consulted_funders(history))
    decided = _rules_r2.decisions(history)
    approved = {funder for funder, decision in decided if decision == "approve"}
    refused = any(decision == "refuse" for _, decision in decided)
    return bool(funders) and not refused and funders <= approved


def _refused_by_a_funder(context: GuardContext) -> bool:
    history = context.history()
    funders = set(_rules_r2.consulted_funders(history))
    return any(
        decision == "refuse" and funder in funders
        for funder, decision in _rules_r2.decisions(history)
    )


def _provider_changes(context: GuardContext) -> bool:
    return str(context.payload.get("provider")) != _rules_r2.provider(context.history())


def _confidentiality_acknowledged(context: GuardContext) -> bool:
    history = context.history()
    return _rules_r2.acknowledged_since_assignment(history, context.actor.acts_for)


def _for_the_centre_or_its_federation(context: GuardContext) -> bool:
    # The centre acts for the body of ``centre_id``, its federation for that of
    # ``federation_id`` (« les centres sociaux prennent appui sur la FDCS 92 »).
    actor, facts = context.actor, context.facts
    return (actor.has_any(["centre"]) and actor.acts_for == facts.get("centre_id")) or (
        actor.has_any(["federation"]) and actor.acts_for == facts.get("federation_id")
    )


def _protocol_endorsed(context: GuardContext) -> bool:
    return any(r.event == "endorse_protocol" for r in _rules_r2.chapter(context.history()))


def _com_end_within_agreement(context: GuardContext) -> bool:
    end, expiry = context.payload.get("com_end"), context.facts.get("agreement_expiry")
    try:
        return date.fromisoformat(str(end)) <= date.fromisoformat(str(expiry))
    except ValueError:
        return False


_ALL = (
    period("period_2015_2017", *PERIOD_2015_2017),
    period("period_2013", *PERIOD_2013),
    Guard(
        "funder_not_yet_consulted",
        "Le financeur n'est pas déjà consulté sur ce dossier",
        "The funder is not already consulted on this case",
        _funder_not_yet_consulted,
        uses_payload=True,
    ),
    Guard(
        "funder_consulted_undecided",
        "Le financeur est consulté sur ce dossier et ne s'est pas prononcé",
        "The funder is consulted on this case and has not decided",
        _funder_consulted_undecided,
        uses_payload=True,
    ),
    Guard(
        "one_decision_per_funder_v2",
        "Un financeur (l'organisme pour lequel on agit) ne rend qu'une décision par dossier",
        "A funder (the body acted for) records only one decision per case",
        _one_decision_per_funder,
    ),
    Guard(
        "validated_by_funders_v2",
        "Validée par les financeurs : chaque financeur consulté (saisi, ajouté, non libéré) a "
        "donné son accord et aucun n'a refusé",
        "Validated by the funders: every funder consulted (referred, added, not released) has "
        "approved and none has refused",
        _validated_by_funders,
    ),
    Guard(
        "refused_by_a_funder_v2",
        "Au moins un financeur consulté a refusé la demande",
        "At least one consulted funder has refused the request",
        _refused_by_a_funder,
    ),
    Guard(
        "provider_changes",
        "Le prestataire désigné n'est pas déjà celui du dossier",
        "The provider named is not already the case's provider",
        _provider_changes,
        uses_payload=True,
    ),
    Guard(
        "confidentiality_acknowledged_v2",
        "Règles de confidentialité reconnues par le prestataire du dossier depuis sa dernière "
        "désignation, avant son travail dans la structure",
        "Confidentiality rules acknowledged by the case's provider since its latest "
        "assignment, before its work inside the structure",
        _confidentiality_acknowledged,
    ),
    Guard(
        "for_the_centre_or_its_federation",
        "Réservé au centre du dossier (centre_id) ou à sa fédération (federation_id)",
        "For the case's centre (centre_id) or its federation (federation_id) only",
        _for_the_centre_or_its_federation,
    ),
    Guard(
        "protocol_endorsed",
        "Le protocole d'expérimentation a été approuvé par au moins un partenaire invité",
        "The experimentation protocol has been endorsed by at least one invited partner",
        _protocol_endorsed,
    ),
    Guard(
        "com_end_within_agreement",
        "La convention d'objectifs et de moyens finit au plus tard à l'échéance de l'agrément "
        "Caf (« fondée sur la durée de l'agrément Caf »)",
        "The objectives and means convention ends no later than the CAF agreement expires",
        _com_end_within_agreement,
        uses_payload=True,
    ),
)

#: The guards revision 2 adds, by name (read-only).
GUARDS_R2: Mapping[str, Guard] = MappingProxyType({guard.name: guard for guard in _ALL})
