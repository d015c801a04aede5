"""« La mission de soutien technique renforcé » (MSTR), Convention cadre 2015-2017.

Source: the leaflet of the Convention cadre des centres sociaux et de l'Animation de la vie
sociale des Bouches-du-Rhône, 2015-2017 (seed ``001_28d3ef919107c964.txt``). The CAF des
Bouches-du-Rhône coordinates; the État, the Région, the Département, the CAF and the communes
fund; an external firm chosen by public tender (MAPA) does the diagnosis and the support.

« COMMENT ÇA MARCHE ?
1. Fiche d'information transmise par le demandeur (le centre social gestionnaire, la fédération
   gestionnaire)
2. Saisine concertée entre le centre social et les partenaires
3. Diagnostic « flash » par le prestataire
4. Rapport du diagnostic transmis au gestionnaire, puis, une fois validé, aux partenaires
5. Restitution au gestionnaire par le prestataire. Le cas échéant, une rencontre est ensuite
   organisée avec les partenaires »

This version is published: never edit it; a change is a new version in a new module.
"""

from __future__ import annotations

from stechnique.definition import (
    ANY_ACTIVE,
    Answered,
    Binding,
    Bound,
    CaseRole,
    ConfidentialField,
    Party,
    Procedure,
    Reading,
    Role,
    State,
    Transition,
    Wait,
)
from stechnique.schema import Field
from stechnique.workflows._invariants import acknowledged_before_work, funders_validated_before
from stechnique.workflows.guards import GUARDS
from stechnique.workflows.labels import MSTR_2015_2017, with_guards

__all__ = ["PROCEDURE"]

ROLES = (
    # « Qui peut saisir la mission ? Les administrateurs, pour les centres sociaux gérés par une
    # association ; les équipes salariées [...] par l'intermédiaire de leur employeur, la
    # fédération, pour les centres sociaux gérés par une fédération. »
    Role("administrator", "Administrateur du centre associatif", "Administrator (association)"),
    Role("federation", "Fédération gestionnaire", "Managing federation"),
    # « la Caf a été désignée pour coordonner le dispositif »
    Role("caf_coordinator", "Coordinateur CAF du dispositif", "CAF coordinator"),
    Role("funder", "Partenaire financeur", "Funding partner"),
    # « un prestataire extérieur », selected by public tender
    Role("provider", "Prestataire", "Provider"),
)

# The manager (« le gestionnaire ») is the role that was eligible to start this case.
MANAGER = CaseRole(
    "manager",
    "management",
    {"association": "administrator", "federation": "federation"},
    fr="Gestionnaire du centre",
    en="Centre manager",
)

# « La fiche d'information à transmettre à la CAF »
FACTS = (
    Field("centre", fr="Centre social", en="Social centre"),
    Field(
        "management",
        "choice",
        options=("association", "federation"),
        fr="Gestion (associative ou fédérale)",
        en="Management (association or federation)",
    ),
    # « une démarche préventive [...] ; une crise avérée qui met en péril l'existence »
    Field(
        "situation",
        "choice",
        options=("preventive", "crisis"),
        fr="Situation (démarche préventive ou crise avérée)",
        en="Situation (preventive or crisis)",
    ),
    # « gestion financière, ressources humaines, ingénierie de projets, gouvernance, etc. »
    Field(
        "domains",
        "choices",
        options=(
            "financial_management",
            "human_resources",
            "project_engineering",
            "governance",
            "other",
        ),
        fr="Champs d'intervention",
        en="Domains",
    ),
)

STATES = (
    State("requested", "Fiche d'information transmise", "Information sheet sent", initial=True),
    State("referred", "Saisine concertée", "Joint referral"),
    State("validated", "Demande validée par les financeurs", "Request validated by funders"),
    State("diagnosis", "Diagnostic flash", "Flash diagnosis"),
    State("report_sent", "Rapport transmis au gestionnaire", "Report sent to the manager"),
    State(
        "report_validated",
        "Rapport validé, transmis aux partenaires",
        "Report validated, sent to partners",
    ),
    State("restitution", "Restitution au gestionnaire", "Debriefing with the manager"),
    State("partner_meeting", "Rencontre avec les partenaires", "Meeting with the partners"),
    State("accompaniment", "Accompagnement", "Accompaniment"),
    State("closed", "Mission clôturée", "Mission closed", terminal=True),
    State("rejected", "Demande refusée", "Request rejected", terminal=True),
    State("withdrawn", "Demande retirée", "Request withdrawn", terminal=True),
)

DECISION = Field("decision", "choice", options=("approve", "refuse"), fr="Décision", en="Decision")
REASON = Field("reason", fr="Motif", en="Reason")

# fmt: off
TRANSITIONS = (
    # 2. « Saisine concertée entre le centre social et les partenaires »
    Transition("refer", "requested", "referred", "caf_coordinator",
               payload=(Field("funders", "list", fr="Financeurs consultés",
                              en="Funders consulted"),),
               fr="Saisir les partenaires", en="Refer to the partners"),
    # « Une fois que la demande est validée par les financeurs »
    Transition("record_funder_decision", "referred", "referred", "funder",
               guards=("consulted_funder", "one_decision_per_funder"), payload=(DECISION,),
               fr="Décision d'un financeur", en="Funder's decision"),
    Transition("validate", "referred", "validated", "caf_coordinator",
               guards=("validated_by_funders",),
               fr="Valider la demande", en="Validate the request"),
    Transition("reject", "referred", "rejected", "caf_coordinator",
               guards=("refused_by_a_funder",),
               fr="Refuser la demande", en="Reject the request"),
    # « dans le respect des règles de confidentialité »
    Transition("acknowledge_confidentiality", "validated", "validated", "provider",
               fr="Reconnaître les règles de confidentialité",
               en="Acknowledge the confidentiality rules"),
    # 3. « Diagnostic "flash" par le prestataire »
    Transition("start_diagnosis", "validated", "diagnosis", "provider",
               guards=("confidentiality_acknowledged",),
               fr="Commencer le diagnostic flash", en="Start the flash diagnosis"),
    # 4. « Rapport du diagnostic transmis au gestionnaire, puis, une fois validé, aux
    # partenaires »
    Transition("submit_report", "diagnosis", "report_sent", "provider",
               payload=(Field("report", fr="Rapport du diagnostic", en="Diagnosis report"),),
               fr="Transmettre le rapport au gestionnaire", en="Send the report to the manager"),
    Transition("request_revision", "report_sent", "diagnosis", "manager", payload=(REASON,),
               fr="Demander une révision du rapport", en="Ask for a revised report"),
    Transition("validate_report", "report_sent", "report_validated", "manager",
               fr="Valider le rapport", en="Validate the report"),
    # 5. « Restitution au gestionnaire par le prestataire »
    Transition("hold_restitution", "report_validated", "restitution", "provider",
               fr="Tenir la restitution", en="Hold the debriefing"),
    # « Le cas échéant, une rencontre est ensuite organisée avec les partenaires »
    Transition("hold_partner_meeting", "restitution", "partner_meeting", "caf_coordinator",
               fr="Organiser la rencontre avec les partenaires", en="Hold the partner meeting",
               note="optional step (« le cas échéant »)"),
    # « Une fois que la demande est validée par les financeurs, l'accompagnement se fait [...]
    # dans le respect des règles de confidentialité »: both are checked again.
    Transition("start_accompaniment", ("restitution", "partner_meeting"), "accompaniment",
               "provider", guards=("validated_by_funders", "confidentiality_acknowledged"),
               fr="Commencer l'accompagnement", en="Start the accompaniment"),
    Transition("close", ("restitution", "partner_meeting", "accompaniment"), "closed",
               "caf_coordinator",
               payload=(Field("summary", fr="Bilan de la mission", en="Mission summary"),),
               fr="Clôturer la mission", en="Close the mission"),
    Transition("withdraw", ANY_ACTIVE, "withdrawn", "manager", payload=(REASON,),
               fr="Retirer la demande", en="Withdraw the request"),
)
# fmt: on

_REPORT_FR = "Rapport du diagnostic : réservé au gestionnaire, au prestataire et à la CAF "
_REPORT_FR += "jusqu'à sa validation par le gestionnaire"
_REPORT_EN = "Diagnosis report: for the manager, the provider and the CAF only until the "
_REPORT_EN += "manager validates it"

# « Rapport du diagnostic transmis au gestionnaire, puis, une fois validé, aux partenaires »
CONFIDENTIAL = tuple(
    ConfidentialField(
        event,
        field,
        readers=("manager", "provider", "caf_coordinator"),
        opens_to=("funder",),
        opens_at="report_validated",
        fr=_REPORT_FR,
        en=_REPORT_EN,
    )
    for event, field in (("submit_report", "report"), ("request_revision", "reason"))
)

# Who reads a case (stechnique 0.2; outside the fingerprint, like the invariants: reading rules
# change no history). The parties are read from the history as revision 2 binds them, with
# what revision 1 records: the manager started the case, the consulted funders are those of
# the latest `refer`, a provider is one that acknowledged the confidentiality rules. The report
# follows revision 2's reading of the source: « transmis au gestionnaire, puis, une fois validé,
# aux partenaires » — the validated report opens to the funders consulted and to the CAF (one
# of the « partenaires »); drafts and revision requests stay between manager and provider.
_DRAFT_FR = "Rapport du diagnostic : réservé au gestionnaire et au prestataire ; une fois validé, "
_DRAFT_FR += "transmis aux financeurs consultés et à la Caf"
_DRAFT_EN = "Diagnosis report: for the manager and the provider; once validated, sent to the "
_DRAFT_EN += "consulted funders and the CAF"
_REVISION_FR = "Demande de révision du rapport : réservée au gestionnaire et au prestataire"
_REVISION_EN = "Request for a revised report: for the manager and the provider only"

PARTIES = (
    Party("manager", "le gestionnaire", "the manager", bound_by=(Binding("start"),)),
    Party(
        "consulted_funder",
        "les financeurs consultés",
        "the consulted funders",
        bound_by=(Binding("refer", "funders"),),
    ),
    Party(
        "provider",
        "le prestataire",
        "the provider",
        bound_by=(Binding("acknowledge_confidentiality", how="add"),),
    ),
)

READING = Reading(
    parties=PARTIES,
    coordinators=("caf_coordinator",),
    confidential=(
        ConfidentialField(
            "submit_report",
            "report",
            readers=("manager", "provider"),
            opens_to=("consulted_funder", "caf_coordinator"),
            opens_on="validate_report",
            fr=_DRAFT_FR,
            en=_DRAFT_EN,
        ),
        ConfidentialField(
            "request_revision",
            "reason",
            readers=("manager", "provider"),
            fr=_REVISION_FR,
            en=_REVISION_EN,
        ),
    ),
)

# Whom an open case waits on (stechnique 0.2; outside the fingerprint, like the invariants:
# waiting changes no rule). PROCEDURES.md « Waiting, deadlines and reminders », row by row. The
# provider is the party read from the history: in revision 1, every provider that
# acknowledged the confidentiality rules (revision 2: the one the CAF assigned last).
WAITS = (
    Wait("requested", on="caf_coordinator"),  # refer
    # « each consulted funder without a decision; then caf_coordinator »
    Wait("referred", on="consulted_funder", until=Answered("record_funder_decision"),
         then="caf_coordinator"),
    # « caf_coordinator until a provider is assigned; then the provider »
    Wait("validated", on="caf_coordinator", until=Bound("provider"), then="provider"),
    Wait("diagnosis", on="provider"),
    Wait("report_sent", on="manager"),
    # « provider; caf_coordinator to close »
    Wait(("report_validated", "restitution", "partner_meeting", "accompaniment"),
         on=("provider", "caf_coordinator")),
)  # fmt: skip

GUARD_NAMES = (
    "eligible_requester",
    "consulted_funder",
    "one_decision_per_funder",
    "validated_by_funders",
    "refused_by_a_funder",
    "confidentiality_acknowledged",
)

#: The published ``soutien-technique-renforce`` version ``2015-2017`` (MSTR).
PROCEDURE = Procedure(
    name="soutien-technique-renforce",
    version="2015-2017",
    fr="Mission de soutien technique renforcé (Convention cadre 2015-2017)",
    en="Reinforced technical support mission (framework agreement 2015-2017)",
    roles=ROLES,
    states=STATES,
    transitions=TRANSITIONS,
    facts=FACTS,
    start_roles=("administrator", "federation"),
    start_guards=("eligible_requester",),
    guards=tuple(GUARDS[name] for name in GUARD_NAMES),
    case_roles=(MANAGER,),
    confidential=CONFIDENTIAL,
    source="seeds/001_28d3ef919107c964.txt",
    invariants=(
        funders_validated_before(("validated", "diagnosis", "accompaniment")),
        acknowledged_before_work("provider", ("start_diagnosis", "start_accompaniment")),
    ),
    reading=READING,
    waits=WAITS,
    # Presentation, outside the fingerprint (stechnique 0.2, docs/decisions.md).
    labels=with_guards(MSTR_2015_2017, GUARD_NAMES),
)
