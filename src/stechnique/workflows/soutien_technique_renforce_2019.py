"""« Soutien technique renforcé : les modalités évoluent en 2019 » — through the DLA.

Source: seed ``000_ab94075ec80db73c.txt``. « Les partenaires ont réaffirmé leur volonté de
poursuivre la mission de soutien technique aux équipements par le biais du Dispositif Local
d'Accompagnement. » It is the next version of the same procedure as 2015-2017.

« Comment solliciter le DLA ?
  • Dépôt d'une demande par mail à : accueil@esia.org
  • Envoi d'un pré-diagnostic et 1ier RDV de qualification des besoins
  • Identification de la problématique par un(e) chargé(e) de mission de France Active PACA
  • Mise en oeuvre d'un accompagnement qui peut être individuel ou collectif (problématiques
    communes à plusieurs structures) par un(e) consultant(e) spécialisé(e)
  • Mise en place d'un suivi de l'association bénéficiaire. »

``MIGRATION`` declares how open 2015-2017 cases move to this version. This version is
published: never edit it; a change is a new version in a new module.
"""

from __future__ import annotations

import attrs

from stechnique.definition import (
    ANY_ACTIVE,
    Answered,
    Binding,
    Bound,
    ConfidentialField,
    Party,
    Procedure,
    Reading,
    Role,
    State,
    Transition,
    Wait,
)
from stechnique.migration import Migration
from stechnique.schema import Field
from stechnique.workflows._invariants import acknowledged_before_work, funders_validated_before
from stechnique.workflows.guards import GUARDS
from stechnique.workflows.labels import DLA_2019, with_guards

__all__ = ["MIGRATION", "PROCEDURE"]

ROLES = (
    Role("structure", "Structure bénéficiaire", "Beneficiary structure"),
    # « le chargé de mission d'ESIA élabore avec elle et met en place un plan d'accompagnement
    # [...] Il assure un suivi du plan d'accompagnement et mesure son impact »
    Role("esia_officer", "Chargé(e) de mission ESIA (DLA)", "ESIA officer (DLA operator)"),
    # « Identification de la problématique par un(e) chargé(e) de mission de France Active PACA »
    Role(
        "france_active_officer", "Chargé(e) de mission France Active PACA", "France Active officer"
    ),
    Role("funder", "Partenaire financeur", "Funding partner"),
    Role("consultant", "Consultant(e) spécialisé(e)", "Specialised consultant"),
)

# « les ressources humaines, la gestion financière, le pilotage et la gouvernance »
DOMAINS = ("human_resources", "financial_management", "steering_governance")

FACTS = (
    Field("structure", fr="Structure", en="Structure"),
    # « Dépôt d'une demande par mail »
    Field("contact_email", "email", fr="Adresse électronique de contact", en="Contact e-mail"),
    # « Cette offre intervient dans un moment clé du fonctionnement de l'équipement social »
    Field(
        "moment",
        "choice",
        options=("new_dynamic", "new_director", "governance_questioned", "specific_situation"),
        fr="Moment clé (nouvelle dynamique, nouveau directeur, gouvernance en questionnement, "
        "situation spécifique)",
        en="Key moment (new dynamic, new director, governance questioned, specific situation)",
    ),
    Field("domains", "choices", options=DOMAINS, fr="Domaines d'expertise", en="Domains"),
)

STATES = (
    State("requested", "Demande déposée", "Request filed", initial=True),
    State("pre_diagnostic", "Pré-diagnostic envoyé", "Pre-diagnostic sent"),
    State("qualification", "Rendez-vous de qualification des besoins", "Needs qualification"),
    State("problem_identified", "Problématique identifiée", "Problem identified"),
    State("recommendations_accepted", "Préconisations acceptées", "Recommendations accepted"),
    State("plan_drawn_up", "Plan d'accompagnement élaboré", "Accompaniment plan drawn up"),
    State("plan_validated", "Plan validé par les financeurs", "Plan validated by the funders"),
    State("individual_accompaniment", "Accompagnement individuel", "Individual accompaniment"),
    State("collective_accompaniment", "Accompagnement collectif", "Collective accompaniment"),
    State("follow_up", "Suivi de la structure", "Follow-up of the structure"),
    State("closed", "Accompagnement clôturé", "Accompaniment closed", terminal=True),
    State("declined", "Préconisations refusées", "Recommendations declined", terminal=True),
    State("withdrawn", "Demande retirée", "Request withdrawn", terminal=True),
)

# « une ou plusieurs actions d'appui sous forme d'ingénieries individuelles ou collectives »
ACTION = (
    Field("kind", "choice", options=("individual", "collective"), fr="Type", en="Kind"),
    Field("domain", "choice", options=DOMAINS, fr="Domaine", en="Domain"),
    Field("group", required=False, required_when=("kind", "collective"),
          fr="Groupe (action collective)", en="Group (collective action)"),
)  # fmt: skip

# « mesure son impact sur le développement des activités et des emplois »; optional in the
# schema so that the guard impact_measured, not a data error, says what is missing.
IMPACT = Field(
    "impact",
    "object",
    required=False,
    fields=(
        Field("activities", fr="Développement des activités", en="Development of activities"),
        Field("jobs", "integer", minimum=0, fr="Emplois", en="Jobs"),
    ),
    fr="Impact mesuré",
    en="Measured impact",
)
REASON = Field("reason", fr="Motif", en="Reason")

# fmt: off
TRANSITIONS = (
    # « Envoi d'un pré-diagnostic et 1ier RDV de qualification des besoins »
    Transition("send_pre_diagnostic", "requested", "pre_diagnostic", "structure",
               payload=(Field("pre_diagnostic", fr="Pré-diagnostic", en="Pre-diagnostic"),),
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
               "structure", fr="Accepter les préconisations", en="Accept the recommendations"),
    Transition("decline_recommendations", "problem_identified", "declined", "structure",
               payload=(REASON,),
               fr="Refuser les préconisations", en="Decline the recommendations"),
    # « le chargé de mission d'ESIA élabore avec elle [...] un plan d'accompagnement »
    Transition("draw_up_plan", "recommendations_accepted", "plan_drawn_up", "esia_officer",
               payload=(Field("actions", "objects", fields=ACTION, fr="Actions d'appui",
                              en="Support actions"),
                        Field("funders", "list", fr="Financeurs consultés",
                              en="Funders consulted")),
               fr="Élaborer le plan d'accompagnement", en="Draw up the accompaniment plan"),
    Transition("record_funder_decision", "plan_drawn_up", "plan_drawn_up", "funder",
               guards=("consulted_funder", "one_decision_per_funder"),
               payload=(Field("decision", "choice", options=("approve", "refuse"),
                              fr="Décision", en="Decision"),),
               fr="Décision d'un financeur", en="Funder's decision"),
    # Interpretation (PROCEDURES.md): the partners fund the engineering, so they validate the
    # plan, as they validated the request in 2015-2017.
    Transition("validate_plan", "plan_drawn_up", "plan_validated", "esia_officer",
               guards=("validated_by_funders",),
               fr="Valider le plan", en="Validate the plan"),
    Transition("acknowledge_confidentiality", "plan_validated", "plan_validated", "consultant",
               fr="Reconnaître les règles de confidentialité",
               en="Acknowledge the confidentiality rules"),
    Transition("start_individual_accompaniment", "plan_validated", "individual_accompaniment",
               "consultant", guards=("confidentiality_acknowledged", "plan_has_individual_action"),
               fr="Commencer l'accompagnement individuel",
               en="Start the individual accompaniment"),
    # « collectif (problématiques communes à plusieurs structures) »
    Transition("start_collective_accompaniment", "plan_validated", "collective_accompaniment",
               "consultant", guards=("confidentiality_acknowledged", "collective_has_peers"),
               fr="Commencer l'accompagnement collectif",
               en="Start the collective accompaniment"),
    # « Mise en place d'un suivi de l'association bénéficiaire »
    Transition("start_follow_up", ("individual_accompaniment", "collective_accompaniment"),
               "follow_up", "esia_officer",
               fr="Mettre en place le suivi", en="Start the follow-up"),
    Transition("close", "follow_up", "closed", "esia_officer", guards=("impact_measured",),
               payload=(IMPACT,), fr="Clôturer l'accompagnement", en="Close the accompaniment"),
    Transition("withdraw", ANY_ACTIVE, "withdrawn", "structure", payload=(REASON,),
               fr="Retirer la demande", en="Withdraw the request"),
)
# fmt: on

_SECRET_FR = "Diagnostic de la structure : réservé à la structure, aux chargés de mission et au "
_SECRET_FR += "consultant ; les financeurs le voient une fois le plan d'accompagnement élaboré"
_SECRET_EN = "Diagnosis of the structure: for the structure, the officers and the consultant; "
_SECRET_EN += "funders see it once the accompaniment plan is drawn up"

CONFIDENTIAL = tuple(
    ConfidentialField(
        event,
        field,
        readers=("structure", "esia_officer", "france_active_officer", "consultant"),
        opens_to=("funder",),
        opens_at="plan_drawn_up",
        fr=_SECRET_FR,
        en=_SECRET_EN,
    )
    for event, field in (
        ("send_pre_diagnostic", "pre_diagnostic"),
        ("identify_problem", "diagnosis"),
        ("identify_problem", "recommendations"),
    )
)

# Who reads a case (stechnique 0.2; outside the fingerprint, like the invariants: reading rules
# change no history). The parties are read from the history as revision 2 binds them, with
# what revision 1 records: the structure started the case, the funders are those of the latest
# plan, a consultant is one that acknowledged the confidentiality rules. The two officers
# coordinate. The qualification meeting's `needs` are as confidential as the diagnosis.
PARTIES = (
    Party("structure", "la structure", "the structure", bound_by=(Binding("start"),)),
    Party(
        "funder", "les financeurs", "the funders", bound_by=(Binding("draw_up_plan", "funders"),)
    ),
    Party(
        "consultant",
        "le consultant",
        "the consultant",
        bound_by=(Binding("acknowledge_confidentiality", how="add"),),
    ),
)

READING = Reading(
    parties=PARTIES,
    coordinators=("esia_officer", "france_active_officer"),
    # The names of the published rules read as parties and coordinators here.
    confidential=(
        *CONFIDENTIAL,
        attrs.evolve(CONFIDENTIAL[0], event="hold_qualification_meeting", field="needs"),
    ),
)

# Whom an open case waits on (stechnique 0.2; outside the fingerprint, like the invariants:
# waiting changes no rule). PROCEDURES.md « Waiting, deadlines and reminders », read for
# revision 1, which has no `assign_consultant` and runs one accompaniment: once the plan is
# validated the case waits on the ESIA officer until a consultant has acknowledged the
# confidentiality rules (the officer finds one), then on that consultant; during the
# accompaniment, on the consultant, and on the ESIA officer, who starts the follow-up
# (interpretation: the table's `accompaniment` row and its MSTR twin « provider;
# caf_coordinator to close »).
WAITS = (
    Wait("requested", on="structure"),  # pre-diagnostic
    Wait("pre_diagnostic", on="esia_officer"),
    Wait("qualification", on="france_active_officer"),
    Wait("problem_identified", on="structure"),
    Wait("recommendations_accepted", on="esia_officer"),
    # « each listed funder without a decision; then esia_officer »
    Wait("plan_drawn_up", on="funder", until=Answered("record_funder_decision"),
         then="esia_officer"),
    Wait("plan_validated", on="esia_officer", until=Bound("consultant"), then="consultant"),
    Wait(("individual_accompaniment", "collective_accompaniment"),
         on=("consultant", "esia_officer")),
    Wait("follow_up", on="esia_officer"),
)  # fmt: skip

GUARD_NAMES = (
    "consulted_funder",
    "one_decision_per_funder",
    "validated_by_funders",
    "confidentiality_acknowledged",
    "plan_has_individual_action",
    "collective_has_peers",
    "impact_measured",
)

#: The published ``soutien-technique-renforce`` version ``2019`` (DLA).
PROCEDURE = Procedure(
    name="soutien-technique-renforce",
    version="2019",
    fr="Soutien technique renforcé par le Dispositif Local d'Accompagnement (2019)",
    en="Reinforced technical support through the Local Support Scheme (DLA, 2019)",
    roles=ROLES,
    states=STATES,
    transitions=TRANSITIONS,
    facts=FACTS,
    start_roles=("structure",),
    guards=tuple(GUARDS[name] for name in GUARD_NAMES),
    confidential=CONFIDENTIAL,
    source="seeds/000_ab94075ec80db73c.txt",
    invariants=(
        funders_validated_before(
            ("plan_validated", "individual_accompaniment", "collective_accompaniment")
        ),
        acknowledged_before_work(
            "consultant", ("start_individual_accompaniment", "start_collective_accompaniment")
        ),
    ),
    reading=READING,
    waits=WAITS,
    # Presentation, outside the fingerprint (stechnique 0.2, docs/decisions.md).
    labels=with_guards(DLA_2019, GUARD_NAMES),
)

#: Open 2015-2017 cases move to 2019 before the diagnosis starts; later ones finish as MSTR.
MIGRATION = Migration(
    name="soutien-technique-renforce",
    from_version="2015-2017",
    to_version="2019",
    # « requested, referred, validated → requested »: the DLA request starts over.
    states={"requested": "requested", "referred": "requested", "validated": "requested"},
    # « keeping the facts, translating centre to structure »; management and situation have
    # no 2019 counterpart and stay readable in the 2015-2017 start record.
    facts={"structure": "centre", "domains": "domains"},
    # The 2019 domains are « les ressources humaines, la gestion financière, le pilotage et la
    # gouvernance »; project engineering and « other » have no 2019 counterpart.
    values=(
        ("domains", "financial_management", "financial_management"),
        ("domains", "human_resources", "human_resources"),
        ("domains", "governance", "steering_governance"),
    ),
    # « the 2019 facts that 2015-2017 lacks, contact_email and moment, are supplied »
    supplied=("contact_email", "moment"),
    # « la Caf a été désignée pour coordonner le dispositif »: the coordinator of the open case
    # records the partners' decision to continue it through the DLA.
    roles=("caf_coordinator",),
    # A request a funder refused ends as « Demande refusée »; moving it would bypass the refusal.
    guards=(GUARDS["no_funder_refused"],),
    fr="Poursuite d'une mission 2015-2017 par le Dispositif Local d'Accompagnement",
    en="A 2015-2017 mission continued through the Local Support Scheme",
)
