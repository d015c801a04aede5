"""« Soutien technique renforcé » through the DLA, 2019, revision 2 — a DRAFT.

Source: seed ``000_ab94075ec80db73c.txt``, read again as PROCEDURES.md « Revision 2 of every
published version » says:

« Le DLA permet à une structure de bénéficier d'un diagnostic partagé de sa situation [...].
Si la structure accepte les préconisations qui découlent de ce diagnostic, le chargé de mission
d'ESIA élabore avec elle et met en place un plan d'accompagnement, qui comprend une ou
plusieurs actions d'appui sous forme d'ingénieries individuelles ou collectives. Il assure un
suivi du plan d'accompagnement et mesure son impact sur le développement des activités et des
emplois. »

What revision 2 changes: the plan's actions each run on their own track, in one state
``accompaniment`` (revision 1 ran one accompaniment, individual *or* collective, and the other
actions disappeared); each action has its consultant, who acknowledges the confidentiality rules
for it and alone starts and completes it; the ESIA officer assigns consultants, cancels an
action, redraws a refused plan and may abandon an accompaniment nobody carries on; a collective
action needs another structure whose open case names the same group; every step revision 1 let
the structure, a funder or a consultant fire is bound to *this case's* structure, funder or
action consultant; funder lists name the known funders only; cases open from 2019 on; an
action's report is read by the structure, the officers and that action's consultant.

``MIGRATION`` moves open revision-1 cases here (see its comment for what it cannot say).

A DRAFT: not in the default registry, fingerprint not pinned (``stechnique.workflows.drafts``).
Nothing may depend on it until revision 2 is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from stechnique.definition import (
    ANY_ACTIVE,
    Answered,
    Binding,
    ConfidentialField,
    Each,
    Labels,
    Party,
    Procedure,
    Role,
    State,
    Transition,
    Wait,
)
from stechnique.migration import Migration
from stechnique.records import Record
from stechnique.schema import Field
from stechnique.workflows import _rules_dla_r2
from stechnique.workflows._invariants_r2 import (
    acknowledged_before_action_work_v2,
    plan_validated_before_v2,
)
from stechnique.workflows.guards_r2 import GUARDS_R2
from stechnique.workflows.labels import DLA_2019, known_funder_options, with_guards
from stechnique.workflows.soutien_technique_renforce_2015_2017_r2 import (
    FUNDERS,
    REFUSAL_REASON,
)
from stechnique.workflows.soutien_technique_renforce_2019 import (
    DOMAINS,
    ROLES,
)
from stechnique.workflows.soutien_technique_renforce_2019 import (
    FACTS as FACTS_R1,
)
from stechnique.workflows.soutien_technique_renforce_2019 import (
    MIGRATION as FROM_2015_2017_R1,
)
from stechnique.workflows.soutien_technique_renforce_2019 import (
    PROCEDURE as REVISION_1,
)

__all__ = ["FROM_2015_2017", "MIGRATION", "PROCEDURE", "ROLES_R2"]

# Roles are revision 1's: revision 2 renames nothing.

# « Dépôt d'une demande », and the commune of the structure (compared trimmed and case-folded
# where it is compared).
FACTS = (
    *FACTS_R1,
    Field("commune", fr="Commune de la structure", en="The structure's commune"),
    # A case the CAF opened by transferring a 2015-2017 mission (``transfer_to_dla``): the link
    # back to the mission, and the structure's body, the mission's manager. Only such a case
    # has them (guard ``opened_by_transfer``).
    Field("transferred_from", required=False, fr="Mission 2015-2017 transférée",
          en="2015-2017 mission transferred"),
    Field("structure_id", required=False, fr="Structure (gestionnaire de la mission)",
          en="Structure (the mission's manager)"),
)  # fmt: skip

# « la Caf a été désignée pour coordonner le dispositif » 2015-2017: it opens the DLA case that
# continues a mission it transfers, and nothing else here.
ROLES_R2 = (
    *ROLES,
    Role("caf_coordinator", "Coordination CAF (transfert d'une mission 2015-2017)",
         "CAF coordination (transfer of a 2015-2017 mission)"),
)  # fmt: skip

# Revision 1's states but its two accompaniments: « la mise en œuvre d'un accompagnement »
# is one state in which every action of the plan runs on its own track.
_DROPPED = ("individual_accompaniment", "collective_accompaniment")
_KEPT = {state.id: state for state in REVISION_1.states if state.id not in _DROPPED}
STATES = (
    *(_KEPT[id_] for id_ in ("requested", "pre_diagnostic", "qualification",
                             "problem_identified", "recommendations_accepted",
                             "plan_drawn_up", "plan_validated")),
    State("accompaniment", "Accompagnement en cours", "Accompaniment under way"),
    *(_KEPT[id_] for id_ in ("follow_up", "closed", "declined", "withdrawn")),
    State("abandoned", "Accompagnement abandonné", "Accompaniment abandoned", terminal=True),
)  # fmt: skip

# « une ou plusieurs actions d'appui sous forme d'ingénieries individuelles ou collectives
# (problématiques communes à plusieurs structures) »: each named in the plan by its id.
ACTION_FIELDS = (
    Field("id", fr="Identifiant de l'action", en="Action id"),
    Field("kind", "choice", options=("individual", "collective"), fr="Type", en="Kind"),
    Field("domain", "choice", options=DOMAINS, fr="Domaine", en="Domain"),
    Field("group", required=False, required_when=("kind", "collective"),
          fr="Groupe (action collective)", en="Group (collective action)"),
)  # fmt: skip
PLAN = (
    Field("actions", "objects", fields=ACTION_FIELDS, fr="Actions d'appui", en="Support actions"),
    FUNDERS,
)
ACTION = Field("action", fr="Action du plan", en="Action of the plan")
REASON = Field("reason", fr="Motif", en="Reason")


def _impact(required: bool, fr: str, en: str) -> Field:
    # « mesure son impact sur le développement des activités et des emplois »: jobs may be
    # lost as well as created, so the number may be negative.
    return Field(
        "impact",
        "object",
        required=required,
        fields=(
            Field("activities", fr="Développement des activités", en="Development of activities"),
            Field("jobs", "integer", fr="Emplois (créés ou perdus)", en="Jobs (created or lost)"),
        ),
        fr=fr,
        en=en,
    )


IMPACT = _impact(True, "Impact mesuré", "Measured impact")

# fmt: off
TRANSITIONS = (
    # « Envoi d'un pré-diagnostic et 1ier RDV de qualification des besoins »
    Transition("send_pre_diagnostic", "requested", "pre_diagnostic", "structure",
               payload=(Field("pre_diagnostic", fr="Pré-diagnostic", en="Pre-diagnostic"),),
               party="structure",
               fr="Envoyer le pré-diagnostic", en="Send the pre-diagnostic"),
    Transition("hold_qualification_meeting", "pre_diagnostic", "qualification", "esia_officer",
               payload=(Field("needs", fr="Besoins qualifiés", en="Qualified needs"),),
               fr="Tenir le rendez-vous de qualification", en="Hold the qualification meeting"),
    # « Identification de la problématique »: « un diagnostic partagé de sa situation »
    Transition("identify_problem", "qualification", "problem_identified",
               "france_active_officer",
               payload=(Field("diagnosis", fr="Diagnostic partagé", en="Shared diagnosis"),
                        Field("recommendations", "list", fr="Préconisations",
                              en="Recommendations")),
               fr="Identifier la problématique", en="Identify the problem"),
    # « Si la structure accepte les préconisations qui découlent de ce diagnostic »
    Transition("accept_recommendations", "problem_identified", "recommendations_accepted",
               "structure", party="structure",
               fr="Accepter les préconisations", en="Accept the recommendations"),
    Transition("decline_recommendations", "problem_identified", "declined", "structure",
               payload=(REASON,), party="structure",
               fr="Refuser les préconisations", en="Decline the recommendations"),
    # « le chargé de mission d'ESIA élabore avec elle [...] un plan d'accompagnement »
    Transition("draw_up_plan", "recommendations_accepted", "plan_drawn_up", "esia_officer",
               guards=("plan_actions_named_once",), payload=PLAN,
               fr="Élaborer le plan d'accompagnement", en="Draw up the accompaniment plan"),
    # Interpretation (PROCEDURES.md): the partners fund the engineering, so the funders of the
    # plan validate it; each decides once per plan, a refusal says why.
    Transition("record_funder_decision", "plan_drawn_up", "plan_drawn_up", "funder",
               guards=("one_decision_per_plan_funder",),
               payload=(Field("decision", "choice", options=("approve", "refuse"),
                              fr="Décision", en="Decision"), REFUSAL_REASON),
               party="funder",
               fr="Décision d'un financeur", en="Funder's decision"),
    # A refused plan is not the end: the officer draws it up again, and the decisions on the
    # earlier plan no longer count.
    Transition("redraw_plan", "plan_drawn_up", "plan_drawn_up", "esia_officer",
               guards=("plan_actions_named_once",), payload=PLAN,
               fr="Élaborer de nouveau le plan", en="Redraw the plan"),
    Transition("validate_plan", "plan_drawn_up", "plan_validated", "esia_officer",
               guards=("plan_validated_by_funders",),
               fr="Valider le plan", en="Validate the plan"),
    # « et met en place un plan d'accompagnement »
    Transition("start_accompaniment", "plan_validated", "accompaniment", "esia_officer",
               fr="Mettre en place l'accompagnement", en="Start the accompaniment"),
    # « par un(e) consultant(e) spécialisé(e) »: one per action, named by the officer (a new
    # one replaces the last).
    Transition("assign_consultant", "accompaniment", "accompaniment", "esia_officer",
               guards=("action_open", "consultant_changes"),
               payload=(ACTION, Field("consultant", fr="Consultant désigné",
                                      en="Consultant assigned")),
               fr="Désigner le consultant d'une action", en="Assign an action's consultant"),
    Transition("acknowledge_confidentiality", "accompaniment", "accompaniment", "consultant",
               guards=("action_open",), payload=(ACTION,), party="consultant",
               fr="Reconnaître les règles de confidentialité",
               en="Acknowledge the confidentiality rules"),
    # « un accompagnement qui peut être individuel ou collectif (problématiques communes à
    # plusieurs structures) »
    Transition("start_action", "accompaniment", "accompaniment", "consultant",
               guards=("action_not_started", "action_acknowledged", "collective_has_peers_v2"),
               payload=(ACTION,), party="consultant",
               fr="Commencer une action d'appui", en="Start a support action"),
    Transition("complete_action", "accompaniment", "accompaniment", "consultant",
               guards=("action_under_way", "action_acknowledged"),
               payload=(ACTION, Field("report", fr="Rapport de l'action", en="Action report"),
                        _impact(True, "Impact de l'action", "Impact of the action")),
               party="consultant",
               fr="Achever une action d'appui", en="Complete a support action"),
    Transition("cancel_action", "accompaniment", "accompaniment", "esia_officer",
               guards=("action_open",), payload=(ACTION, REASON),
               fr="Annuler une action d'appui", en="Cancel a support action"),
    # « Mise en place d'un suivi de l'association bénéficiaire »
    Transition("start_follow_up", "accompaniment", "follow_up", "esia_officer",
               guards=("actions_done",),
               fr="Mettre en place le suivi", en="Start the follow-up"),
    # « Il assure un suivi du plan d'accompagnement et mesure son impact »
    Transition("record_follow_up", "follow_up", "follow_up", "esia_officer",
               payload=(Field("note", fr="Note de suivi", en="Follow-up note"),
                        _impact(False, "Impact intermédiaire", "Intermediate impact")),
               fr="Consigner le suivi", en="Record the follow-up"),
    Transition("close", "follow_up", "closed", "esia_officer", payload=(IMPACT,),
               fr="Clôturer l'accompagnement", en="Close the accompaniment"),
    Transition("withdraw", ANY_ACTIVE, "withdrawn", "structure", payload=(REASON,),
               party="structure",
               fr="Retirer la demande", en="Withdraw the request"),
    # The DLA operator is never stuck: an accompaniment nobody carries on ends, with why.
    Transition("abandon", ANY_ACTIVE, "abandoned", "esia_officer", payload=(REASON,),
               fr="Abandonner l'accompagnement", en="Abandon the accompaniment"),
)
# fmt: on

# Parties are named as a refusal says « réservé à la structure du dossier »: with their article.
PARTIES = (
    # « Dépôt d'une demande »: the body that filed it.
    # For a transferred mission, the body the link names: the mission's manager.
    Party(
        "structure",
        "la structure",
        "the structure",
        bound_by=(Binding("start"), Binding("start", "structure_id")),
    ),
    # The funders of the latest plan.
    Party(
        "funder",
        "les financeurs du plan",
        "the plan's funders",
        bound_by=(
            Binding("draw_up_plan", "funders", "set"),
            Binding("redraw_plan", "funders", "set"),
        ),
    ),
    # « par un(e) consultant(e) spécialisé(e) »: per action, the one the officer assigned last.
    Party(
        "consultant",
        "le consultant de l'action",
        "the action's consultant",
        bound_by=(Binding("assign_consultant", "consultant", "set", per="action"),),
    ),
)

_READERS = ("structure", "esia_officer", "france_active_officer", "consultant")
_SECRET_FR = "Diagnostic de la structure : réservé à la structure, aux chargés de mission et aux "
_SECRET_FR += "consultants du dossier ; les financeurs du plan le voient une fois le plan élaboré"
_SECRET_EN = "Diagnosis of the structure: for the structure, the officers and the case's "
_SECRET_EN += "consultants; the plan's funders see it once the plan is drawn up"

CONFIDENTIAL = (
    *(
        ConfidentialField(
            event,
            field,
            readers=_READERS,
            opens_to=("funder",),
            opens_at="plan_drawn_up",
            fr=_SECRET_FR,
            en=_SECRET_EN,
        )
        for event, field in (
            ("send_pre_diagnostic", "pre_diagnostic"),
            ("hold_qualification_meeting", "needs"),
            ("identify_problem", "diagnosis"),
            ("identify_problem", "recommendations"),
        )
    ),
    # An action's report: the structure, the officers and that action's consultant only.
    ConfidentialField(
        "complete_action",
        "report",
        readers=_READERS,
        per="action",
        fr="Rapport d'une action : réservé à la structure, aux chargés de mission et au "
        "consultant de cette action",
        en="Report of an action: for the structure, the officers and that action's consultant",
    ),
)

GUARD_NAMES = (
    "period_2019",
    "opened_by_transfer",
    "plan_actions_named_once",
    "one_decision_per_plan_funder",
    "plan_validated_by_funders",
    "action_open",
    "consultant_changes",
    "action_acknowledged",
    "action_not_started",
    "action_under_way",
    "collective_has_peers_v2",
    "actions_done",
)

#: Revision 2 of ``soutien-technique-renforce`` version ``2019`` (DLA): a draft.
# Whom an open case waits on (PROCEDURES.md, « Waiting, deadlines and reminders »; outside the
# fingerprint). « accompaniment: each action's consultant for its open actions; esia_officer
# when none is open »: an open action with no consultant yet waits on the officer, who
# assigns one.
WAITS = (
    Wait("requested", on="structure"),  # pre-diagnostic
    Wait("pre_diagnostic", on="esia_officer"),
    Wait("qualification", on="france_active_officer"),
    Wait("problem_identified", on="structure"),
    Wait("recommendations_accepted", on="esia_officer"),
    # « each listed funder without a decision; then esia_officer »
    Wait("plan_drawn_up", on="funder", until=Answered("record_funder_decision"),
         then="esia_officer"),
    Wait("plan_validated", on="esia_officer"),
    Wait("accompaniment", on="consultant", until=Each(_rules_dla_r2.waited_actions),
         then="esia_officer"),
    Wait("follow_up", on="esia_officer"),
)  # fmt: skip

PROCEDURE = Procedure(
    name="soutien-technique-renforce",
    version="2019",
    fr=REVISION_1.fr,
    en=REVISION_1.en,
    roles=ROLES_R2,
    states=STATES,
    transitions=TRANSITIONS,
    facts=FACTS,
    start_roles=("structure", "caf_coordinator"),
    start_guards=("period_2019", "opened_by_transfer"),
    guards=tuple(GUARDS_R2[name] for name in GUARD_NAMES),
    confidential=CONFIDENTIAL,
    source="seeds/000_ab94075ec80db73c.txt",
    invariants=(
        plan_validated_before_v2(("plan_validated", "accompaniment"), ("start_action",)),
        acknowledged_before_action_work_v2(("start_action", "complete_action")),
    ),
    revision=2,
    parties=PARTIES,
    coordinators=("esia_officer", "france_active_officer"),
    waits=WAITS,
    # Revision 1's labels, and the known funders by name (outside the fingerprint).
    labels=with_guards(DLA_2019.extended(Labels(known_funder_options("funders"))), GUARD_NAMES),
)


def _carried_actions(history: Sequence[Record]) -> dict[str, Any]:
    """What a migration to revision 2 carries of a revision-1 plan (« Migrating revision-1 DLA
    cases »): the actions as revision 2 reads them (``_rules_dla_r2.tracks``: a started
    accompaniment is one action ``a1``, started, its consultant the one that acknowledged),
    and the plan's other actions, not carried, by their position in the plan."""
    actions = [
        {
            **track.action,
            **({"consultant": track.consultant} if track.consultant is not None else {}),
            "started": track.started,
        }
        for track in _rules_dla_r2.tracks(history).values()
    ]
    latest = _rules_dla_r2.latest_plan(history)
    plan = [] if latest is None else _rules_dla_r2.numbered(latest[1].payload.get("actions"))
    left = [
        {"plan_position": plan.index(action) + 1, **{k: v for k, v in action.items() if k != "id"}}
        for action in _rules_dla_r2.not_carried(history)
        if action in plan
    ]
    return {"actions": actions, "not_carried": left}


#: Open revision-1 cases move to revision 2, ordered by a DLA officer (the coordinators).
#: Every open state keeps its id but the two accompaniments, which become ``accompaniment``.
#: Such a case then has one action ``a1`` (the plan's first of the kind started, started,
#: its consultant the one that started it) and loses the plan's other actions:
#: ``_rules_dla_r2`` reads that from the revision-1 records (``tracks``, ``not_carried``), and
#: the ``migrate`` record writes what it read (``carried``), which a dry run shows.
MIGRATION = Migration(
    name="soutien-technique-renforce",
    from_version="2019",
    to_version="2019",
    states={
        **{id_: id_ for id_, state in _KEPT.items() if not state.terminal},
        "individual_accompaniment": "accompaniment",
        "collective_accompaniment": "accompaniment",
    },
    facts={field.name: field.name for field in FACTS_R1},
    # « commune »: revision 2's one new fact, which revision 1 never asked.
    supplied=("commune",),
    fr="Passage d'un accompagnement DLA à la révision 2 (actions suivies une à une)",
    en="A DLA accompaniment moved to revision 2 (actions followed one by one)",
    from_revision=1,
    to_revision=2,
    carries=_carried_actions,
)


def _from_2015_2017(revision: int) -> Migration:
    """« Migration from 2015-2017 », to the DLA's latest revision: revision 1's declaration
    (states, facts, values, who, the guard), from the mission's ``revision``. A revision-2
    mission has a ``commune``, carried; a revision-1 one has none, and the command supplies it.
    """
    commune = {"commune": "commune"} if revision == 2 else {}
    return attrs.evolve(
        FROM_2015_2017_R1,
        facts={**dict(FROM_2015_2017_R1.facts), **commune},
        supplied=(*FROM_2015_2017_R1.supplied, *(() if commune else ("commune",))),
        from_revision=revision,
        to_revision=2,
    )


#: Open 2015-2017 missions, of either revision, move to this revision of the DLA: the one
#: that accepts them once it is published (« a case only lands on the latest revision »).
FROM_2015_2017 = (_from_2015_2017(1), _from_2015_2017(2))
