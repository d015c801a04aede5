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

from stechnique.definition import Guard, GuardContext, ReadOnlyStore
from stechnique.records import Case
from stechnique.workflows import _rules_dla_r2, _rules_r2
from stechnique.workflows.explainers import (
    funders_not_refused_r2,
    funders_not_validated_r2,
    plan_not_validated_r2,
)

__all__ = ["GUARDS_R2", "PERIOD_2013", "PERIOD_2015_2017", "PERIOD_2019", "period", "period_from"]

#: « 2015-2017 », until the 2019 modalities (interpretation: PROCEDURES.md, « Periods »).
PERIOD_2015_2017 = (date(2015, 1, 1), date(2018, 12, 31))
#: « Durée de l'expérimentation : juin [2013 -] juin 2015 ».
PERIOD_2013 = (date(2013, 6, 1), date(2015, 6, 30))
#: « Les modalités de mise en œuvre de soutien technique renforcé évoluent en 2019 »: from
#: 2019-01-01, with no end yet.
PERIOD_2019 = date(2019, 1, 1)


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


def period_from(name: str, first: date) -> Guard:
    """A guard of ``start``: the engine's clock is on ``first`` or later (a period not ended)."""

    def check(context: GuardContext) -> bool:
        return first <= context.now.date()

    return Guard(
        name,
        f"Dossier ouvert pendant la période de la version : à partir du {_french(first)}",
        f"Case opened within the version's period: from {first.isoformat()} on",
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


# -- DLA 2019 revision 2: the plan and its actions (``_rules_dla_r2``) ----------------------


def _plan_actions_named_once(context: GuardContext) -> bool:
    actions = context.payload.get("actions")
    if not isinstance(actions, list):
        return False
    ids = [str(a.get("id", "")).strip() for a in actions if isinstance(a, Mapping)]
    return len(ids) == len(actions) and len(set(ids)) == len(ids)


def _one_decision_per_plan_funder(context: GuardContext) -> bool:
    body = context.actor.acts_for
    return all(funder != body for funder, _ in _rules_dla_r2.plan_decisions(context.history()))


def _plan_validated_by_funders(context: GuardContext) -> bool:
    history = context.history()
    funders = set(_rules_dla_r2.plan_funders(history))
    decided = _rules_dla_r2.plan_decisions(history)
    approved = {funder for funder, decision in decided if decision == "approve"}
    refused = any(decision == "refuse" for _, decision in decided)
    return bool(funders) and not refused and funders <= approved


def _track(context: GuardContext) -> _rules_dla_r2.Track | None:
    action = context.payload.get("action")
    return _rules_dla_r2.tracks(context.history()).get(str(action))


def _action_open(context: GuardContext) -> bool:
    track = _track(context)
    return track is not None and not track.finished


def _consultant_changes(context: GuardContext) -> bool:
    track = _track(context)
    return track is None or str(context.payload.get("consultant")) != track.consultant


def _action_acknowledged(context: GuardContext) -> bool:
    track = _track(context)
    return track is not None and track.consultant == context.actor.acts_for and track.acknowledged


def _action_not_started(context: GuardContext) -> bool:
    track = _track(context)
    return track is not None and not track.started and not track.finished


def _action_under_way(context: GuardContext) -> bool:
    track = _track(context)
    return track is not None and track.started and not track.finished


def _structures(store: ReadOnlyStore, case: Case) -> frozenset[str]:
    """The structure of a case: its bound party, else (a row whose parties were never read)
    the body that started it."""
    bodies = frozenset() if case.parties is None else case.parties.bodies("structure")
    if bodies:
        return bodies
    records = store.records(case.id)
    return frozenset({records[0].actor.acts_for}) if records else frozenset()


def _collective_has_peers_v2(context: GuardContext) -> bool:
    # « problématiques communes à plusieurs structures »: another body, in a case still open,
    # whose latest plan names the same group. A second case of the same structure is no peer.
    track, case = _track(context), context.case
    if track is None or case is None:
        return False
    if track.action.get("kind") != "collective":
        return True
    group = _rules_dla_r2.group_key(track.action.get("group", ""))
    ended = {state.id for state in context.procedure.states if state.terminal}
    mine = _structures(context.store, case)
    for other in context.store.cases(name=case.name, version=case.version):
        if other.id == case.id or other.state in ended:
            continue
        if not _structures(context.store, other) - mine:
            continue
        if group in _rules_dla_r2.plan_groups(context.store.records(other.id)):
            return True
    return False


def _opened_by_transfer(context: GuardContext) -> bool:
    # « Dépôt d'une demande » by the structure; or a 2015-2017 mission of this structure's
    # manager that the CAF transfers (``transfer_to_dla``), named by the link back.
    facts, roles = context.facts, context.actor.roles
    link, body = facts.get("transferred_from"), facts.get("structure_id")
    if link is None:
        return body is None and "structure" in roles
    if body is None or "caf_coordinator" not in roles:
        return False
    mission = context.store.get(str(link))
    if mission is None or (mission.name, mission.version) != (context.procedure.name, "2015-2017"):
        return False
    return mission.state in _rules_r2.TRANSFERABLE and body in _managers(context.store, mission)


def _managers(store: ReadOnlyStore, case: Case) -> frozenset[str]:
    """The manager of an MSTR case: its bound party, else the body that started it."""
    bodies = frozenset() if case.parties is None else case.parties.bodies("manager")
    if bodies:
        return bodies
    records = store.records(case.id)
    return frozenset({records[0].actor.acts_for}) if records else frozenset()


def _actions_done(context: GuardContext) -> bool:
    tracks = _rules_dla_r2.tracks(context.history()).values()
    return all(t.finished for t in tracks) and any(t.completed for t in tracks)


_DLA = (
    period_from("period_2019", PERIOD_2019),
    Guard(
        "plan_actions_named_once",
        "Chaque action du plan a son identifiant, et aucun n'est repris",
        "Each action of the plan has its own id, none repeated",
        _plan_actions_named_once,
        uses_payload=True,
    ),
    Guard(
        "one_decision_per_plan_funder",
        "Un financeur (l'organisme pour lequel on agit) ne rend qu'une décision par plan",
        "A funder (the body acted for) records only one decision per plan",
        _one_decision_per_plan_funder,
    ),
    Guard(
        "plan_validated_by_funders",
        "Validé par les financeurs : chaque financeur du dernier plan a donné son accord depuis "
        "qu'il a été (ré)élaboré, et aucun n'a refusé",
        "Validated by the funders: every funder of the latest plan has approved since it was "
        "drawn up, and none has refused",
        _plan_validated_by_funders,
        explain=plan_not_validated_r2,
    ),
    Guard(
        "action_open",
        "L'action fait partie du plan et n'est ni achevée ni annulée",
        "The action is in the plan, neither completed nor cancelled",
        _action_open,
        uses_payload=True,
    ),
    Guard(
        "consultant_changes",
        "Le consultant désigné n'est pas déjà celui de l'action",
        "The consultant named is not already the action's",
        _consultant_changes,
        uses_payload=True,
    ),
    Guard(
        "action_acknowledged",
        "Règles de confidentialité reconnues par le consultant de l'action depuis sa dernière "
        "désignation, avant son travail dans la structure",
        "Confidentiality rules acknowledged by the action's consultant since its latest "
        "assignment, before its work inside the structure",
        _action_acknowledged,
        uses_payload=True,
    ),
    Guard(
        "action_not_started",
        "L'action fait partie du plan et n'a pas commencé",
        "The action is in the plan and has not started",
        _action_not_started,
        uses_payload=True,
    ),
    Guard(
        "action_under_way",
        "L'action a commencé et n'est ni achevée ni annulée",
        "The action has started, and is neither completed nor cancelled",
        _action_under_way,
        uses_payload=True,
    ),
    Guard(
        "collective_has_peers_v2",
        "Une action collective réunit plusieurs structures : une autre structure, dans un "
        "dossier en cours, a un dernier plan qui nomme le même groupe (sans tenir compte des "
        "majuscules ni des espaces autour)",
        "A collective action brings several structures together: another structure, in an "
        "open case, has a latest plan naming the same group (ignoring case and surrounding "
        "spaces)",
        _collective_has_peers_v2,
        uses_payload=True,
        reads_other_cases=True,
    ),
    Guard(
        "actions_done",
        "Chaque action du plan est achevée ou annulée, et au moins une est achevée",
        "Every action of the plan is completed or cancelled, and at least one is completed",
        _actions_done,
    ),
)


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
        explain=funders_not_validated_r2,
    ),
    Guard(
        "refused_by_a_funder_v2",
        "Au moins un financeur consulté a refusé la demande",
        "At least one consulted funder has refused the request",
        _refused_by_a_funder,
        explain=funders_not_refused_r2,
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
    *_DLA,
    Guard(
        "opened_by_transfer",
        "Demande déposée par la structure, ou ouverte par la CAF qui transfère au DLA une "
        "mission 2015-2017 en cours dont la structure est le gestionnaire",
        "Filed by the structure, or opened by the CAF transferring to the DLA an open "
        "2015-2017 mission whose manager is the structure",
        _opened_by_transfer,
        reads_other_cases=True,
    ),
)

#: The guards revision 2 adds, by name (read-only).
GUARDS_R2: Mapping[str, Guard] = MappingProxyType({guard.name: guard for guard in _ALL})
