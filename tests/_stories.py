"""Drive soutien-technique-renforce cases (2015-2017 and 2019) to a given state, for tests.

Each path is the procedure's main road, written as data: ``(event, actor, payload, state
after)``. ``mstr_to`` / ``dla_to`` start a case and fire steps until the case is in the state
asked for, so a test starts where its rule applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from small import TickingClock, the_case

from stechnique import Actor, Case, Engine, Record

NAME = "soutien-technique-renforce"


def engine() -> Engine:
    """A fresh in-memory engine on the default registry with a ticking clock."""
    return Engine(clock=TickingClock())


# -- 2015-2017 -----------------------------------------------------------------------------

ADMIN = Actor("ca-belle-de-mai", {"administrator"})
FEDERATION = Actor("federation-13", {"federation"})
CAF = Actor("caf-coordination", {"caf_coordinator"})
FUNDER_A = Actor("caf-13", {"funder"})
FUNDER_B = Actor("etat", {"funder"})
OTHER_FUNDER = Actor("region", {"funder"})
PROVIDER = Actor("cabinet", {"provider"})
OTHER_PROVIDER = Actor("autre-cabinet", {"provider"})

MSTR_ROLES = frozenset({"administrator", "federation", "caf_coordinator", "funder", "provider"})
REPORT = "Trésorerie critique : trois mois de salaires non couverts."
REVISION = "Préciser le plan de trésorerie."


def mstr_facts(management: str = "association") -> dict[str, Any]:
    """Valid 2015-2017 start facts."""
    return {
        "centre": "Centre social Belle de Mai",
        "management": management,
        "situation": "crisis",
        "domains": ["governance", "financial_management"],
    }


def manager(management: str) -> Actor:
    """The actor eligible to start (and manage) a case with this management."""
    return ADMIN if management == "association" else FEDERATION


MSTR_PATH: Sequence[tuple[str, Actor | None, Mapping[str, Any], str]] = (
    ("refer", CAF, {"funders": [FUNDER_A.id, FUNDER_B.id]}, "referred"),
    ("record_funder_decision", FUNDER_A, {"decision": "approve"}, "referred"),
    ("record_funder_decision", FUNDER_B, {"decision": "approve"}, "referred"),
    ("validate", CAF, {}, "validated"),
    ("acknowledge_confidentiality", PROVIDER, {}, "validated"),
    ("start_diagnosis", PROVIDER, {}, "diagnosis"),
    ("submit_report", PROVIDER, {"report": REPORT}, "report_sent"),
    ("validate_report", None, {}, "report_validated"),  # None: the case's manager
    ("hold_restitution", PROVIDER, {}, "restitution"),
    ("hold_partner_meeting", CAF, {}, "partner_meeting"),
    ("start_accompaniment", PROVIDER, {}, "accompaniment"),
    ("close", CAF, {"summary": "Mission menée à bien."}, "closed"),
)


def mstr_to(
    engine: Engine,
    state: str,
    *,
    management: str = "association",
    case_id: str | None = None,
    steps: int | None = None,
) -> Case:
    """A new 2015-2017 case driven along the main road until it is in ``state``.

    ``steps`` stops after that many steps instead (to stop inside a self-loop).
    """
    case = engine.start(
        NAME,
        version="2015-2017",
        actor=manager(management),
        facts=mstr_facts(management),
        case_id=case_id,
    )
    for count, (event, actor, payload, _) in enumerate(MSTR_PATH):
        if (steps is None and case.state == state) or count == steps:
            break
        case = engine.fire(case.id, event, actor=actor or manager(management), payload=payload)
    assert steps is not None or case.state == state, f"{state!r} is not on the main road"
    return case


# -- 2019 ----------------------------------------------------------------------------------

STRUCTURE = Actor("cs-saint-gabriel", {"structure"})
OTHER_STRUCTURE = Actor("cs-flamants", {"structure"})
ESIA = Actor("esia", {"esia_officer"})
FRANCE_ACTIVE = Actor("france-active", {"france_active_officer"})
CONSULTANT = Actor("consultante", {"consultant"})
OTHER_CONSULTANT = Actor("autre-consultant", {"consultant"})

DLA_ROLES = frozenset(
    {"structure", "esia_officer", "france_active_officer", "funder", "consultant"}
)
PRE_DIAGNOSTIC = "Bureau démissionnaire, assemblée générale reportée."
DIAGNOSIS = "Gouvernance fragilisée."
RECOMMENDATIONS = ["Former les administrateurs"]
GROUP = "gouvernance-nord"
INDIVIDUAL = {"kind": "individual", "domain": "financial_management"}
COLLECTIVE = {"kind": "collective", "domain": "steering_governance", "group": GROUP}
IMPACT = {"activities": "Ateliers relancés", "jobs": 2}


def dla_facts(name: str = "Centre social Saint-Gabriel") -> dict[str, Any]:
    """Valid 2019 start facts."""
    return {
        "structure": name,
        "contact_email": "direction@cs.example.org",
        "moment": "governance_questioned",
        "domains": ["steering_governance"],
    }


def dla_path(actions: Sequence[Mapping[str, Any]]) -> list[tuple[str, Actor, dict[str, Any], str]]:
    """The 2019 main road, with a plan made of ``actions``; individual accompaniment."""
    return [
        ("send_pre_diagnostic", STRUCTURE, {"pre_diagnostic": PRE_DIAGNOSTIC}, "pre_diagnostic"),
        ("hold_qualification_meeting", ESIA, {"needs": "Gouvernance"}, "qualification"),
        (
            "identify_problem",
            FRANCE_ACTIVE,
            {"diagnosis": DIAGNOSIS, "recommendations": RECOMMENDATIONS},
            "problem_identified",
        ),
        ("accept_recommendations", STRUCTURE, {}, "recommendations_accepted"),
        (
            "draw_up_plan",
            ESIA,
            {"actions": list(actions), "funders": [FUNDER_A.id, FUNDER_B.id]},
            "plan_drawn_up",
        ),
        ("record_funder_decision", FUNDER_A, {"decision": "approve"}, "plan_drawn_up"),
        ("record_funder_decision", FUNDER_B, {"decision": "approve"}, "plan_drawn_up"),
        ("validate_plan", ESIA, {}, "plan_validated"),
        ("acknowledge_confidentiality", CONSULTANT, {}, "plan_validated"),
        ("start_individual_accompaniment", CONSULTANT, {}, "individual_accompaniment"),
        ("start_follow_up", ESIA, {}, "follow_up"),
        ("close", ESIA, {"impact": IMPACT}, "closed"),
    ]


def dla_to(
    engine: Engine,
    state: str,
    *,
    actions: Sequence[Mapping[str, Any]] = (INDIVIDUAL, COLLECTIVE),
    structure: Actor = STRUCTURE,
    case_id: str | None = None,
    steps: int | None = None,
) -> Case:
    """A new 2019 case driven along the main road until it is in ``state``."""
    case = engine.start(
        NAME, version="2019", actor=structure, facts=dla_facts(structure.id), case_id=case_id
    )
    for count, (event, actor, payload, _) in enumerate(dla_path(actions)):
        if (steps is None and case.state == state) or count == steps:
            break
        who = structure if actor == STRUCTURE else actor
        case = engine.fire(case.id, event, actor=who, payload=payload)
    assert steps is not None or case.state == state, f"{state!r} is not on the main road"
    return case


def stored(engine: Engine, case_id: str) -> tuple[Case, tuple[Record, ...]]:
    """What the store holds of a case: its row and its records (to show a refusal wrote nothing)."""
    return the_case(engine, case_id), tuple(engine.storage.records(case_id))
