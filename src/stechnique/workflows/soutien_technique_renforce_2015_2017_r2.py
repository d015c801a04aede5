"""« La mission de soutien technique renforcé » (MSTR), 2015-2017, revision 2 — a DRAFT.

Source: the leaflet of the Convention cadre des centres sociaux et de l'Animation de la vie
sociale des Bouches-du-Rhône, 2015-2017 (seed ``001_28d3ef919107c964.txt``), read again as
PROCEDURES.md « Revision 2 of every published version » says:

« 1. Fiche d'information transmise par le demandeur (le centre social gestionnaire, la
fédération gestionnaire) 2. Saisine concertée entre le centre social et les partenaires
3. Diagnostic « flash » par le prestataire 4. Rapport du diagnostic transmis au gestionnaire,
puis, une fois validé, aux partenaires 5. Restitution au gestionnaire par le prestataire. Le
cas échéant, une rencontre est ensuite organisée avec les partenaires »

What revision 2 changes: every step revision 1 let the manager, the provider or a funder fire
is bound to *this case's* manager, provider or consulted funder (``Transition.party``); the
CAF coordinator (« la Caf a été désignée pour coordonner le dispositif ») assigns the provider,
consults or releases funders and may abandon a mission; refusals carry a reason; funder lists
accept only the funders the leaflet names; cases open only within the version's period; the
report is read by the manager and the provider, and only the validated report opens to the
consulted funders and the CAF.

``transfer_to_dla`` (« a 2015-2017 case mid-diagnostic when the mission moved to the DLA »)
ends the mission as ``transferred`` and opens the 2019 case that continues it: the engine
opens it with the step (``OPENINGS``, ``Engine.fire``) and links both.

A DRAFT: not in the default registry, fingerprint not pinned (``stechnique.workflows.drafts``).
Nothing may depend on it until revision 2 is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from stechnique.definition import (
    ANY_ACTIVE,
    Binding,
    ConfidentialField,
    Labels,
    Opening,
    Party,
    Procedure,
    State,
    Transition,
)
from stechnique.schema import Field
from stechnique.workflows._invariants_r2 import (
    acknowledged_before_work_v2,
    funders_validated_before_v2,
)
from stechnique.workflows._rules_r2 import TRANSFERABLE
from stechnique.workflows.guards import GUARDS
from stechnique.workflows.guards_r2 import GUARDS_R2
from stechnique.workflows.known_funders import KNOWN_FUNDER_IDS
from stechnique.workflows.labels import (
    DLA_2019,
    MSTR_2015_2017,
    known_funder_options,
    nested_options,
    with_guards,
)
from stechnique.workflows.soutien_technique_renforce_2015_2017 import (
    FACTS as FACTS_R1,
)
from stechnique.workflows.soutien_technique_renforce_2015_2017 import (
    MANAGER,
    ROLES,
    WAITS,
)
from stechnique.workflows.soutien_technique_renforce_2015_2017 import (
    STATES as STATES_R1,
)
from stechnique.workflows.soutien_technique_renforce_2019 import (
    FACTS as DLA_FACTS,
)
from stechnique.workflows.soutien_technique_renforce_2019 import (
    MIGRATION as TO_2019,
)

__all__ = ["OPENINGS", "PROCEDURE", "TRANSFER_FACTS"]

# Roles and the manager case role are revision 1's: revision 2 renames nothing.

# « La fiche d'information à transmettre à la CAF », and the commune of the centre (compared
# trimmed and case-folded where it is compared).
FACTS = (*FACTS_R1, Field("commune", fr="Commune du centre", en="The centre's commune"))

STATES = (
    *STATES_R1,
    State("abandoned", "Mission abandonnée", "Mission abandoned", terminal=True),
    State("transferred", "Transférée au DLA", "Transferred to the DLA", terminal=True),
)

# « Diagnostic "flash" », the report, the restitution, the accompaniment: the provider's work,
# from the request's validation to the end.
WORKING = (
    "validated", "diagnosis", "report_sent", "report_validated", "restitution",
    "partner_meeting", "accompaniment",
)  # fmt: skip

# « Les partenaires financeurs sont : l'Etat, la Région, le Département, la CAF et les
# communes [...] »: funder lists name these only (``known_funders``).
FUNDERS = Field(
    "funders",
    "choices",
    options=KNOWN_FUNDER_IDS,
    fr="Financeurs consultés",
    en="Funders consulted",
)
FUNDER = Field("funder", "choice", options=KNOWN_FUNDER_IDS, fr="Financeur", en="Funder")
DECISION = Field("decision", "choice", options=("approve", "refuse"), fr="Décision", en="Decision")
REASON = Field("reason", fr="Motif", en="Reason")
# A refusal says why (PROCEDURES.md: « reason required when decision is refuse »).
REFUSAL_REASON = Field(
    "reason", required=False, required_when=("decision", "refuse"), fr="Motif", en="Reason"
)
# The steps of the provider's work come after its acknowledgement since its latest assignment.
ACKNOWLEDGED = "confidentiality_acknowledged_v2"

# « with the 2019 start facts given here »: what the 2015-2017 case lacks (the contact e-mail,
# the key moment), and what the coordinator may restate (the structure's name, the 2019
# domains, the commune), which are otherwise carried over as a migration to 2019 carries them.
_OPTIONAL = ("structure", "domains")
TRANSFER_FACTS = Field(
    "facts",
    "object",
    fields=(
        *(attrs.evolve(field, required=field.name not in _OPTIONAL) for field in DLA_FACTS),
        Field(
            "commune", required=False, fr="Commune de la structure", en="The structure's commune"
        ),
    ),
    fr="Faits de départ du dossier DLA",
    en="Start facts of the DLA case",
)
# The id of the DLA case the transfer opened: the engine writes it (``Opening.case_field``).
DLA_CASE = Field("dla_case", fr="Dossier DLA ouvert", en="DLA case opened")

# fmt: off
TRANSITIONS = (
    # 2. « Saisine concertée entre le centre social et les partenaires »
    Transition("refer", "requested", "referred", "caf_coordinator", payload=(FUNDERS,),
               fr="Saisir les partenaires", en="Refer to the partners"),
    # The CAF coordinates: it adds a funder to the consultation, or releases one that does not
    # answer (« ne s'est pas prononcé »); decisions already recorded stay.
    Transition("consult_funder", "referred", "referred", "caf_coordinator",
               guards=("funder_not_yet_consulted",), payload=(FUNDER,),
               fr="Consulter un financeur de plus", en="Consult one more funder"),
    Transition("release_funder", "referred", "referred", "caf_coordinator",
               guards=("funder_consulted_undecided",), payload=(FUNDER, REASON),
               fr="Libérer un financeur qui ne s'est pas prononcé",
               en="Release a funder that has not decided"),
    # « Une fois que la demande est validée par les financeurs »: each consulted funder of
    # this case decides once.
    Transition("record_funder_decision", "referred", "referred", "funder",
               guards=("one_decision_per_funder_v2",), payload=(DECISION, REFUSAL_REASON),
               party="consulted_funder",
               fr="Décision d'un financeur", en="Funder's decision"),
    Transition("validate", "referred", "validated", "caf_coordinator",
               guards=("validated_by_funders_v2",),
               fr="Valider la demande", en="Validate the request"),
    Transition("reject", "referred", "rejected", "caf_coordinator",
               guards=("refused_by_a_funder_v2",), payload=(REASON,),
               fr="Refuser la demande", en="Reject the request"),
    # « un prestataire extérieur », named by the CAF for this case, in any state of the work
    # (a new provider replaces the last one).
    *(Transition("assign_provider", state, state, "caf_coordinator",
                 guards=("provider_changes",),
                 payload=(Field("provider", fr="Prestataire désigné", en="Provider assigned"),),
                 fr="Désigner le prestataire", en="Assign the provider")
      for state in WORKING),
    # « dans le respect des règles de confidentialité »: the case's provider, in any state of
    # the work (a newly assigned provider acknowledges before it works).
    *(Transition("acknowledge_confidentiality", state, state, "provider", party="provider",
                 fr="Reconnaître les règles de confidentialité",
                 en="Acknowledge the confidentiality rules")
      for state in WORKING),
    # 3. « Diagnostic "flash" par le prestataire »
    Transition("start_diagnosis", "validated", "diagnosis", "provider", guards=(ACKNOWLEDGED,),
               party="provider",
               fr="Commencer le diagnostic flash", en="Start the flash diagnosis"),
    # 4. « Rapport du diagnostic transmis au gestionnaire, puis, une fois validé, aux
    # partenaires »
    Transition("submit_report", "diagnosis", "report_sent", "provider", guards=(ACKNOWLEDGED,),
               payload=(Field("report", fr="Rapport du diagnostic", en="Diagnosis report"),),
               party="provider",
               fr="Transmettre le rapport au gestionnaire", en="Send the report to the manager"),
    Transition("request_revision", "report_sent", "diagnosis", "manager", payload=(REASON,),
               party="manager",
               fr="Demander une révision du rapport", en="Ask for a revised report"),
    Transition("validate_report", "report_sent", "report_validated", "manager", party="manager",
               fr="Valider le rapport", en="Validate the report"),
    # 5. « Restitution au gestionnaire par le prestataire »
    Transition("hold_restitution", "report_validated", "restitution", "provider",
               guards=(ACKNOWLEDGED,), party="provider",
               fr="Tenir la restitution", en="Hold the debriefing"),
    # « Le cas échéant, une rencontre est ensuite organisée avec les partenaires »
    Transition("hold_partner_meeting", "restitution", "partner_meeting", "caf_coordinator",
               fr="Organiser la rencontre avec les partenaires", en="Hold the partner meeting",
               note="optional step (« le cas échéant »)"),
    # « Une fois que la demande est validée par les financeurs, l'accompagnement se fait [...]
    # dans le respect des règles de confidentialité »: both are checked again.
    Transition("start_accompaniment", ("restitution", "partner_meeting"), "accompaniment",
               "provider", guards=("validated_by_funders_v2", ACKNOWLEDGED), party="provider",
               fr="Commencer l'accompagnement", en="Start the accompaniment"),
    Transition("close", ("restitution", "partner_meeting", "accompaniment"), "closed",
               "caf_coordinator",
               payload=(Field("summary", fr="Bilan de la mission", en="Mission summary"),),
               fr="Clôturer la mission", en="Close the mission"),
    Transition("withdraw", ANY_ACTIVE, "withdrawn", "manager", payload=(REASON,),
               party="manager",
               fr="Retirer la demande", en="Withdraw the request"),
    # The coordinator is never stuck: a mission nobody carries on can be abandoned, with why.
    Transition("abandon", ANY_ACTIVE, "abandoned", "caf_coordinator", payload=(REASON,),
               fr="Abandonner la mission", en="Abandon the mission"),
    # « Les modalités de mise en œuvre de soutien technique renforcé évoluent en 2019 »: a
    # mission under way continues as a DLA case of its manager (``OPENINGS``).
    Transition("transfer_to_dla", TRANSFERABLE, "transferred", "caf_coordinator",
               payload=(TRANSFER_FACTS, DLA_CASE),
               fr="Transférer la mission au DLA", en="Transfer the mission to the DLA"),
)
# fmt: on

# Parties are named as a refusal says « réservé au gestionnaire du dossier »: with their article.
PARTIES = (
    # « le centre social gestionnaire, la fédération gestionnaire »: the body that started it.
    Party("manager", "le gestionnaire", "the manager", bound_by=(Binding("start"),)),
    # « Saisine concertée [...] avec les partenaires »: those referred, added, not released.
    Party(
        "consulted_funder",
        "les financeurs consultés",
        "the consulted funders",
        bound_by=(
            Binding("refer", "funders", "set"),
            Binding("consult_funder", "funder", "add"),
            Binding("release_funder", "funder", "remove"),
        ),
    ),
    # « un prestataire extérieur »: the one the CAF assigned last.
    Party(
        "provider",
        "le prestataire",
        "the provider",
        bound_by=(Binding("assign_provider", "provider"),),
    ),
)

# « Rapport du diagnostic transmis au gestionnaire, puis, une fois validé, aux partenaires »:
# the manager and the provider read every draft and every revision request; once the manager
# validates the report, that report (the last one sent before) opens to the consulted funders
# and to the CAF, which is one of the « partenaires ». Revision requests never open.
CONFIDENTIAL = (
    ConfidentialField(
        "submit_report",
        "report",
        readers=("manager", "provider"),
        opens_to=("consulted_funder", "caf_coordinator"),
        opens_on="validate_report",
        fr="Rapport du diagnostic : réservé au gestionnaire et au prestataire ; le rapport "
        "validé est transmis aux financeurs consultés et à la Caf",
        en="Diagnosis report: for the manager and the provider; the validated report goes to "
        "the consulted funders and the CAF",
    ),
    ConfidentialField(
        "request_revision",
        "reason",
        readers=("manager", "provider"),
        fr="Demande de révision du rapport : réservée au gestionnaire et au prestataire",
        en="Request to revise the report: for the manager and the provider only",
    ),
)


def _dla_facts(mission: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """The DLA case's start facts: the mission's, carried as a migration to 2019 carries them
    (``centre`` → ``structure``, the domains translated), its commune, then those given."""
    carried = TO_2019.translate(mission)
    if not carried.get("domains"):
        carried.pop("domains", None)  # none has a 2019 counterpart: the transfer names them
    if mission.get("commune") is not None:
        carried["commune"] = mission["commune"]
    given = payload.get("facts")
    return {**carried, **(given if isinstance(given, Mapping) else {})}


def _transfer_payload(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The ``transfer_to_dla`` payload that opened a DLA case with these start facts."""
    named = {field.name for field in TRANSFER_FACTS.fields}
    return {"facts": {name: value for name, value in facts.items() if name in named}}


#: « opens a new 2019 case (latest revision) whose structure is this case's manager, with the
#: 2019 start facts given here and a link back; records the new case's id here ».
OPENINGS = (
    Opening(
        "transfer_to_dla",
        name="soutien-technique-renforce",
        version="2019",
        case_field="dla_case",
        link_fact="transferred_from",
        party="manager",
        party_fact="structure_id",
        facts=_dla_facts,
        payload_of=_transfer_payload,
    ),
)

GUARD_NAMES_R1 = ("eligible_requester",)
GUARD_NAMES_R2 = (
    "period_2015_2017",
    "funder_not_yet_consulted",
    "funder_consulted_undecided",
    "one_decision_per_funder_v2",
    "validated_by_funders_v2",
    "refused_by_a_funder_v2",
    "provider_changes",
    "confidentiality_acknowledged_v2",
)

#: Revision 2 of ``soutien-technique-renforce`` version ``2015-2017`` (MSTR): a draft.
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
    start_guards=("eligible_requester", "period_2015_2017"),
    guards=(
        *(GUARDS[name] for name in GUARD_NAMES_R1),
        *(GUARDS_R2[name] for name in GUARD_NAMES_R2),
    ),
    case_roles=(MANAGER,),
    confidential=CONFIDENTIAL,
    source="seeds/001_28d3ef919107c964.txt",
    invariants=(
        funders_validated_before_v2(("validated", "diagnosis", "accompaniment")),
        acknowledged_before_work_v2(
            ("start_diagnosis", "submit_report", "hold_restitution", "start_accompaniment")
        ),
    ),
    revision=2,
    parties=PARTIES,
    coordinators=("caf_coordinator",),
    # Whom an open case waits on: revision 1's table (outside the fingerprint); its provider is
    # now the one the CAF assigned last.
    waits=WAITS,
    opens=OPENINGS,
    # Revision 1's labels, and the known funders by name (outside the fingerprint).
    labels=with_guards(
        MSTR_2015_2017.extended(
            Labels(
                (
                    *known_funder_options("funders", "funder"),
                    # The transfer states the 2019 start facts, labelled as the DLA labels them.
                    *nested_options(DLA_2019, "facts", "moment", "domains"),
                )
            )
        ),
        (*GUARD_NAMES_R1, *GUARD_NAMES_R2),
    ),
)
