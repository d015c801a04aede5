"""The labels of the published procedures that are presentation, not rules (``Labels``).

Each option of a choice field, what each guard says when it refuses or holds, and display
relabels of texts the canonical form fixes (« Caf », as PROCEDURES.md spells the body; short
field labels for timelines). They live outside the fingerprint (docs/decisions.md, « Labels
are presentation »), so every revision of a version carries them, the published revision 1
included: correcting one changes no rule and no history.

The 2013 convention's labels are data, like its definition: ``convention_pluripartenariale_
2013_labels.toml``, read by ``stechnique.loader.load_labels``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from stechnique.definition import GuardLabel, Labels, OptionLabel, Relabel
from stechnique.loader import load_labels
from stechnique.workflows.known_funders import KNOWN_FUNDERS

__all__ = [
    "CONVENTION_2013",
    "CONVENTION_2013_LABELS_FILE",
    "DLA_2019",
    "GUARD_LABELS",
    "MSTR_2015_2017",
    "known_funder_options",
    "nested_options",
    "with_guards",
]


def _options(field: str, *labels: tuple[str, str, str]) -> tuple[OptionLabel, ...]:
    return tuple(OptionLabel(field, option, fr, en) for option, fr, en in labels)


def _guard(name: str, refused: tuple[str, str], held: tuple[str, str]) -> GuardLabel:
    return GuardLabel(name, refused[0], refused[1], held[0], held[1])


#: What each guard of the published procedures and of the revision-2 drafts says when it
#: refuses (first) and when it holds (second). The details a refusal adds (which funders are
#: missing, who refused) are computed by the guard's explainer (``workflows.explainers``).
GUARD_LABELS: dict[str, GuardLabel] = {
    label.guard: label
    for label in (
        _guard(
            "eligible_requester",
            ("Réservé au gestionnaire du centre : son conseil d'administration pour un centre "
             "associatif, sa fédération pour un centre en gestion fédérale",
             "Reserved to the centre's manager: its board for an association-managed centre, "
             "its federation for a federation-managed one"),
            ("Demande présentée par le gestionnaire du centre",
             "Request made by the centre's manager"),
        ),
        _guard(
            "validated_by_funders",
            ("Pas validée par tous les financeurs consultés",
             "Not validated by every consulted funder"),
            ("Chaque financeur consulté a donné son accord, aucun n'a refusé",
             "Every consulted funder has approved, none has refused"),
        ),
        _guard(
            "consulted_funder",
            ("Ce financeur n'est pas consulté sur ce dossier",
             "This funder is not consulted on this case"),
            ("Financeur consulté sur ce dossier", "Funder consulted on this case"),
        ),
        _guard(
            "one_decision_per_funder",
            ("Ce financeur a déjà rendu sa décision", "This funder has already decided"),
            ("Pas encore de décision de ce financeur", "No decision of this funder yet"),
        ),
        _guard(
            "refused_by_a_funder",
            ("Aucun financeur consulté n'a refusé la demande",
             "No consulted funder has refused the request"),
            ("Un financeur consulté a refusé la demande",
             "A consulted funder has refused the request"),
        ),
        _guard(
            "no_funder_refused",
            ("Un financeur a refusé la demande", "A funder has refused the request"),
            ("Aucun financeur n'a refusé la demande", "No funder has refused the request"),
        ),
        _guard(
            "confidentiality_acknowledged",
            ("L'intervenant n'a pas encore reconnu les règles de confidentialité",
             "The practitioner has not acknowledged the confidentiality rules yet"),
            ("Règles de confidentialité reconnues par l'intervenant",
             "Confidentiality rules acknowledged by the practitioner"),
        ),
        _guard(
            "plan_has_individual_action",
            ("Le plan d'accompagnement ne prévoit aucune action individuelle",
             "The accompaniment plan has no individual action"),
            ("Le plan prévoit une action individuelle", "The plan has an individual action"),
        ),
        _guard(
            "collective_has_peers",
            ("Aucune autre structure engagée dans la démarche ne rejoint encore ce groupe",
             "No other structure taking part has joined this group yet"),
            ("Une autre structure rejoint le groupe", "Another structure joins the group"),
        ),
        _guard(
            "impact_measured",
            ("Impact à mesurer : développement des activités (texte) et emplois (nombre, au "
             "moins 0)",
             "Impact to measure: development of activities (text) and jobs (number, at least 0)"),
            ("Impact mesuré", "Impact measured"),
        ),
        _guard(
            "step_submitted",
            ("Le travail de l'étape n'a pas encore été transmis depuis l'entrée dans l'étape ou "
             "la dernière demande de reprise",
             "The step's work has not been submitted since the step was entered or last sent "
             "back for rework"),
            ("Travail de l'étape transmis", "The step's work is submitted"),
        ),
        _guard(
            "one_year_before_expiry",
            ("Trop tôt : l'évaluation commence au plus tôt un an avant l'échéance de "
             "l'agrément Caf",
             "Too early: evaluation starts no earlier than one year before the CAF agreement "
             "expires"),
            ("Moins d'un an avant l'échéance de l'agrément Caf",
             "Within a year of the CAF agreement's expiry"),
        ),
        _guard(
            "selection_criteria",
            ("Critères de sélection non remplis : le centre doit adhérer à la fédération et la "
             "collectivité locale être intéressée",
             "Selection criteria not met: the centre must be a federation member and the "
             "local authority interested"),
            ("Critères de sélection de l'expérimentation remplis",
             "Selection criteria of the experimentation met"),
        ),
        # -- revision 2 (drafts) ----------------------------------------------------------
        _guard(
            "period_2015_2017",
            ("En dehors de la période de la version : du 1er janvier 2015 au 31 décembre 2018",
             "Outside the version's period: from 2015-01-01 to 2018-12-31"),
            ("Dans la période de la version", "Within the version's period"),
        ),
        _guard(
            "period_2013",
            ("En dehors de la période de l'expérimentation : du 1er juin 2013 au 30 juin 2015",
             "Outside the experimentation's period: from 2013-06-01 to 2015-06-30"),
            ("Dans la période de l'expérimentation", "Within the experimentation's period"),
        ),
        _guard(
            "period_2019",
            ("Avant la période de la version : à partir du 1er janvier 2019",
             "Before the version's period: from 2019-01-01 on"),
            ("Dans la période de la version", "Within the version's period"),
        ),
        _guard(
            "funder_not_yet_consulted",
            ("Ce financeur est déjà consulté sur ce dossier",
             "This funder is already consulted on this case"),
            ("Financeur pas encore consulté", "Funder not consulted yet"),
        ),
        _guard(
            "funder_consulted_undecided",
            ("Ce financeur n'est pas consulté sur ce dossier ou s'est déjà prononcé",
             "This funder is not consulted on this case or has already decided"),
            ("Financeur consulté, sans décision", "Funder consulted, undecided"),
        ),
        _guard(
            "one_decision_per_funder_v2",
            ("Ce financeur a déjà rendu sa décision", "This funder has already decided"),
            ("Pas encore de décision de ce financeur", "No decision of this funder yet"),
        ),
        _guard(
            "validated_by_funders_v2",
            ("Pas validée par tous les financeurs consultés",
             "Not validated by every consulted funder"),
            ("Chaque financeur consulté a donné son accord, aucun n'a refusé",
             "Every consulted funder has approved, none has refused"),
        ),
        _guard(
            "refused_by_a_funder_v2",
            ("Aucun financeur consulté n'a refusé la demande",
             "No consulted funder has refused the request"),
            ("Un financeur consulté a refusé la demande",
             "A consulted funder has refused the request"),
        ),
        _guard(
            "provider_changes",
            ("Ce prestataire est déjà celui du dossier",
             "This provider is already the case's provider"),
            ("Nouveau prestataire", "A new provider"),
        ),
        _guard(
            "confidentiality_acknowledged_v2",
            ("Le prestataire du dossier n'a pas reconnu les règles de confidentialité depuis sa "
             "désignation",
             "The case's provider has not acknowledged the confidentiality rules since its "
             "assignment"),
            ("Règles de confidentialité reconnues par le prestataire",
             "Confidentiality rules acknowledged by the provider"),
        ),
        _guard(
            "for_the_centre_or_its_federation",
            ("Réservé au centre du dossier ou à sa fédération",
             "Reserved to the case's centre or its federation"),
            ("Demande du centre ou de sa fédération", "Made by the centre or its federation"),
        ),
        _guard(
            "protocol_endorsed",
            ("Aucun partenaire invité n'a encore approuvé le protocole d'expérimentation",
             "No invited partner has endorsed the experimentation protocol yet"),
            ("Protocole approuvé par un partenaire invité",
             "Protocol endorsed by an invited partner"),
        ),
        _guard(
            "com_end_within_agreement",
            ("La convention d'objectifs et de moyens finirait après l'échéance de l'agrément Caf",
             "The objectives and means convention would end after the CAF agreement expires"),
            ("La convention finit au plus tard à l'échéance de l'agrément Caf",
             "The convention ends no later than the CAF agreement expires"),
        ),
        _guard(
            "plan_actions_named_once",
            ("Une action du plan n'a pas d'identifiant, ou un identifiant est repris",
             "An action of the plan has no id, or an id is repeated"),
            ("Chaque action du plan a son identifiant", "Each action of the plan has its id"),
        ),
        _guard(
            "one_decision_per_plan_funder",
            ("Ce financeur a déjà rendu sa décision sur ce plan",
             "This funder has already decided on this plan"),
            ("Pas encore de décision de ce financeur sur ce plan",
             "No decision of this funder on this plan yet"),
        ),
        _guard(
            "plan_validated_by_funders",
            ("Tous les financeurs du plan n'ont pas encore donné leur accord",
             "Not every funder of the plan has approved yet"),
            ("Chaque financeur du plan a donné son accord, aucun n'a refusé",
             "Every funder of the plan has approved, none has refused"),
        ),
        _guard(
            "action_open",
            ("Cette action n'est pas au plan, ou elle est achevée ou annulée",
             "This action is not in the plan, or it is completed or cancelled"),
            ("Action du plan en cours", "Action of the plan, open"),
        ),
        _guard(
            "consultant_changes",
            ("Ce consultant est déjà celui de l'action",
             "This consultant is already the action's"),
            ("Nouveau consultant pour l'action", "A new consultant for the action"),
        ),
        _guard(
            "action_acknowledged",
            ("Le consultant de l'action n'a pas reconnu les règles de confidentialité depuis sa "
             "désignation",
             "The action's consultant has not acknowledged the confidentiality rules since its "
             "assignment"),
            ("Règles de confidentialité reconnues par le consultant de l'action",
             "Confidentiality rules acknowledged by the action's consultant"),
        ),
        _guard(
            "action_not_started",
            ("Cette action n'est pas au plan, ou elle a déjà commencé",
             "This action is not in the plan, or it has already started"),
            ("Action du plan pas encore commencée", "Action of the plan, not started"),
        ),
        _guard(
            "action_under_way",
            ("Cette action n'a pas commencé, ou elle est achevée ou annulée",
             "This action has not started, or it is completed or cancelled"),
            ("Action en cours", "Action under way"),
        ),
        _guard(
            "collective_has_peers_v2",
            ("Aucune autre structure, dans un dossier en cours, ne rejoint encore ce groupe",
             "No other structure, in an open case, has joined this group yet"),
            ("Une autre structure rejoint le groupe", "Another structure joins the group"),
        ),
        _guard(
            "actions_done",
            ("Des actions du plan sont encore en cours, ou aucune n'est achevée",
             "Some actions of the plan are still open, or none is completed"),
            ("Chaque action est achevée ou annulée", "Every action is completed or cancelled"),
        ),
    )
}  # fmt: skip


def with_guards(labels: Labels, guards: Iterable[str]) -> Labels:
    """``labels`` with the ``GUARD_LABELS`` of ``guards`` (a procedure's guard names).

    A guard without one (a draft's newest) says its rule; tests/test_labels.py checks every
    guard of the published revisions has its labels."""
    labelled = tuple(GUARD_LABELS[name] for name in guards if name in GUARD_LABELS)
    return Labels(labels.options, (*labels.guards, *labelled), labels.relabels)


def known_funder_options(*fields: str) -> tuple[OptionLabel, ...]:
    """The known funders as options of ``fields`` (revision 2's funder lists), by name."""
    return tuple(
        OptionLabel(field, funder, name, name)
        for field in fields
        for funder, name in KNOWN_FUNDERS.items()
    )


def nested_options(labels: Labels, parent: str, *fields: str) -> tuple[OptionLabel, ...]:
    """The option labels of ``fields`` in ``labels``, for the same fields nested in ``parent``
    (``transfer_to_dla.facts.moment`` carries the 2019 start fact ``moment``)."""
    return tuple(
        OptionLabel(f"{parent}.{option.field}", option.option, option.fr, option.en)
        for option in labels.options
        if option.field in fields
    )


_DECISION = _options(
    "decision",
    ("approve", "accord", "approved"),
    ("refuse", "refus", "refused"),
)

#: ``soutien-technique-renforce`` ``2015-2017`` (guards added by ``with_guards``).
MSTR_2015_2017 = Labels(
    options=(
        *_options(
            "management",
            ("association", "gestion associative", "association-managed"),
            ("federation", "gestion fédérale", "federation-managed"),
        ),
        # « une démarche préventive [...] ; une crise avérée qui met en péril l'existence »
        *_options(
            "situation",
            ("preventive", "démarche préventive", "preventive approach"),
            ("crisis", "situation de crise avérée", "actual crisis"),
        ),
        # « gestion financière, ressources humaines, ingénierie de projets, gouvernance, etc. »
        *_options(
            "domains",
            ("financial_management", "gestion financière", "financial management"),
            ("human_resources", "ressources humaines", "human resources"),
            ("project_engineering", "ingénierie de projets", "project engineering"),
            ("governance", "gouvernance", "governance"),
            ("other", "autre", "other"),
        ),
        *_DECISION,
    ),
    relabels=(
        Relabel("role", "caf_coordinator", "Coordination Caf du dispositif", "CAF coordinator"),
        Relabel("field", "management", "Gestion", "Management"),
        Relabel("field", "situation", "Situation", "Situation"),
    ),
)

_DLA_DOMAINS = (
    ("human_resources", "ressources humaines", "human resources"),
    ("financial_management", "gestion financière et économique", "financial management"),
    ("steering_governance", "pilotage et gouvernance", "steering and governance"),
)

#: ``soutien-technique-renforce`` ``2019`` (guards added by ``with_guards``).
DLA_2019 = Labels(
    options=(
        *_options(
            "moment",
            ("new_dynamic", "nouvelle dynamique", "new dynamic"),
            ("new_director", "nouveau directeur", "new director"),
            ("governance_questioned", "gouvernance en questionnement", "governance questioned"),
            ("specific_situation", "situation spécifique", "specific situation"),
        ),
        *_options("domains", *_DLA_DOMAINS),
        *_options(
            "actions.kind",
            ("individual", "individuelle", "individual"),
            ("collective", "collective", "collective"),
        ),
        *_options("actions.domain", *_DLA_DOMAINS),
        *_DECISION,
    ),
    relabels=(
        Relabel("field", "moment", "Moment clé", "Key moment"),
        Relabel("field", "impact.activities", "développement des activités", "activities"),
        Relabel("field", "impact.jobs", "emplois", "jobs"),
    ),
)

#: The data file of the 2013 convention's labels (every revision of version 2013).
CONVENTION_2013_LABELS_FILE = Path(__file__).with_name(
    "convention_pluripartenariale_2013_labels.toml"
)

#: ``convention-pluripartenariale`` ``2013`` (guards added by ``with_guards``).
CONVENTION_2013 = load_labels(CONVENTION_2013_LABELS_FILE)
