"""The DLA's revision 2 (draft), following the seed's stories (seed ``000_ab94075ec80db73c.txt``).

« Le DLA permet à une structure de bénéficier d'un diagnostic partagé de sa situation [...].
Si la structure accepte les préconisations [...], le chargé de mission d'ESIA élabore avec elle
et met en place un plan d'accompagnement, qui comprend une ou plusieurs actions d'appui sous
forme d'ingénieries individuelles ou collectives. Il assure un suivi du plan d'accompagnement et
mesure son impact sur le développement des activités et des emplois. »

The Castellane centre's plan has three actions: two individual ones for two consultants, one
collective with the Saint-Louis centre (« problématiques communes à plusieurs structures »).
A funder refuses the first plan; the officer redraws it; one action is cancelled; the follow-up
and the closing measure the impact. Then: who may fire what (parties), who reads an action's
report, and revision-1 cases moved to revision 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from small import TickingClock

from stechnique import (
    Actor,
    Case,
    Engine,
    GuardFailed,
    InvalidData,
    MigrationRefused,
    PermissionDenied,
    Record,
    Registry,
    UnknownCase,
    is_redacted,
)
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows import _rules_dla_r2
from stechnique.workflows.drafts import draft_registry
from stechnique.workflows.soutien_technique_renforce_2019 import PROCEDURE as REVISION_1
from stechnique.workflows.soutien_technique_renforce_2019_r2 import MIGRATION
from stechnique.workflows.soutien_technique_renforce_2019_r2 import PROCEDURE as DLA

NAME = "soutien-technique-renforce"
CASTELLANE = Actor("direction", {"structure"}, body="cs-la-castellane")
SAINT_LOUIS = Actor("cs-saint-louis", {"structure"})
ESIA = Actor("charge-esia", {"esia_officer"}, body="esia")
FRANCE_ACTIVE = Actor("charge-fa", {"france_active_officer"}, body="france-active-paca")
CAF_13 = Actor("agent-caf", {"funder"}, body="caf-13")
REGION = Actor("region", {"funder"})
ETAT = Actor("etat", {"funder"})
RH = Actor("cabinet-rh", {"consultant"})
FINANCES = Actor("cabinet-finances", {"consultant"})
GROUP = "Gouvernance partagée"
PLAN = [
    {"id": "a1", "kind": "individual", "domain": "human_resources"},
    {"id": "a2", "kind": "individual", "domain": "financial_management"},
    {"id": "a3", "kind": "collective", "domain": "steering_governance", "group": GROUP},
]
IMPACT = {"activities": "Deux ateliers rouverts.", "jobs": 1}
REPORT_A1 = "Fiches de poste revues ; tension entre la direction et l'équipe."


def engine(start: str = "2019-03-04 09:00", storage: MemoryStorage | None = None) -> Engine:
    """An in-memory engine on the DLA draft (and its revision 1), clock ticking from ``start``."""
    registry = Registry((REVISION_1, DLA), (MIGRATION,))
    return Engine(storage or MemoryStorage(), registry, TickingClock(start))


def facts(structure: str = "Centre social La Castellane", **changes: Any) -> dict[str, Any]:
    base = {
        "structure": structure,
        "contact_email": "direction@castellane.example",
        "moment": "governance_questioned",
        "domains": ["human_resources", "steering_governance"],
        "commune": "Marseille",
    }
    return {**base, **changes}


def planned(
    engine_: Engine,
    structure: Actor = CASTELLANE,
    actions: Sequence[dict[str, Any]] = PLAN,
    funders: Sequence[str] = ("caf-13", "region"),
) -> Case:
    """From the request to a plan drawn up: « pré-diagnostic », « RDV de qualification »,
    « identification de la problématique », the recommendations accepted."""
    case = engine_.start(NAME, actor=structure, facts=facts(structure.acts_for))
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("send_pre_diagnostic", structure, {"pre_diagnostic": "Trésorerie tendue."}),
        ("hold_qualification_meeting", ESIA, {"needs": "Gouvernance, RH."}),
        ("identify_problem", FRANCE_ACTIVE,
         {"diagnosis": "Bureau fragile.", "recommendations": ["RH", "Gouvernance"]}),
        ("accept_recommendations", structure, {}),
        ("draw_up_plan", ESIA, {"actions": list(actions), "funders": list(funders)}),
    ]  # fmt: skip
    for event, actor, payload in steps:
        case = engine_.fire(case.id, event, actor=actor, payload=payload)
    return case


def approved(engine_: Engine, case: Case, *funders: Actor) -> Case:
    for funder in funders:
        engine_.fire(
            case.id, "record_funder_decision", actor=funder, payload={"decision": "approve"}
        )
    engine_.fire(case.id, "validate_plan", actor=ESIA)
    return engine_.fire(case.id, "start_accompaniment", actor=ESIA)


def assigned(engine_: Engine, case: Case, action: str, consultant: Actor) -> None:
    payload = {"action": action, "consultant": consultant.acts_for}
    engine_.fire(case.id, "assign_consultant", actor=ESIA, payload=payload)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=consultant,
                 payload={"action": action})  # fmt: skip


def holds_invariants(records: Sequence[Record]) -> None:
    for invariant in DLA.invariants:
        assert invariant.check(records) is None, invariant.name


def refused_by(guard: str, error: pytest.ExceptionInfo[GuardFailed]) -> None:
    assert guard in error.value.names


def _stored(engine_: Engine) -> tuple[object, ...]:
    return tuple((c, tuple(engine_.storage.records(c.id))) for c in engine_.storage.cases())


# -- the story -------------------------------------------------------------------------------


def test_la_castellane_three_actions_a_redrawn_plan_a_group_a_cancellation_and_the_impact() -> None:
    engine_ = engine()
    fire = engine_.fire
    case = planned(engine_)
    assert case.state == "plan_drawn_up"
    fire(case.id, "record_funder_decision", actor=CAF_13, payload={"decision": "approve"})
    refusal = {"decision": "refuse", "reason": "L'action collective n'est pas financée."}
    fire(case.id, "record_funder_decision", actor=REGION, payload=refusal)
    with pytest.raises(GuardFailed) as refused:
        fire(case.id, "validate_plan", actor=ESIA)
    refused_by("plan_validated_by_funders", refused)
    # A refused plan is redrawn, with other funders; the decisions on the first no longer count.
    redrawn = {"actions": PLAN, "funders": ["caf-13", "etat"]}
    fire(case.id, "redraw_plan", actor=ESIA, payload=redrawn)
    fire(case.id, "record_funder_decision", actor=ETAT, payload={"decision": "approve"})
    with pytest.raises(GuardFailed) as earlier:
        fire(case.id, "validate_plan", actor=ESIA)
    refused_by("plan_validated_by_funders", earlier)
    case = approved(engine_, case, CAF_13)
    assert case.state == "accompaniment"
    # One consultant per action: human resources for a1, finances for a2 and a3.
    fire(case.id, "assign_consultant", actor=ESIA, payload={"action": "a1", "consultant": RH.id})
    with pytest.raises(GuardFailed) as unacknowledged:
        fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    refused_by("action_acknowledged", unacknowledged)
    fire(case.id, "acknowledge_confidentiality", actor=RH, payload={"action": "a1"})
    fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    assigned(engine_, case, "a2", FINANCES)
    assigned(engine_, case, "a3", FINANCES)
    # « problématiques communes à plusieurs structures »: alone in its group, a3 waits.
    with pytest.raises(GuardFailed) as alone:
        fire(case.id, "start_action", actor=FINANCES, payload={"action": "a3"})
    refused_by("collective_has_peers_v2", alone)
    peer_plan = [{"id": "c1", "kind": "collective", "domain": "steering_governance",
                  "group": "  gouvernance PARTAGÉE "}]  # fmt: skip
    planned(engine_, SAINT_LOUIS, peer_plan)
    fire(case.id, "start_action", actor=FINANCES, payload={"action": "a3"})
    fire(case.id, "cancel_action", actor=ESIA,
         payload={"action": "a2", "reason": "Couvert par l'action collective."})  # fmt: skip
    fire(case.id, "complete_action", actor=RH,
         payload={"action": "a1", "report": REPORT_A1, "impact": IMPACT})  # fmt: skip
    with pytest.raises(GuardFailed) as open_action:
        fire(case.id, "start_follow_up", actor=ESIA)
    refused_by("actions_done", open_action)
    lost = {"activities": "Un poste de coordination supprimé.", "jobs": -1}
    fire(case.id, "complete_action", actor=FINANCES,
         payload={"action": "a3", "report": "Bureau élargi.", "impact": lost})  # fmt: skip
    fire(case.id, "start_follow_up", actor=ESIA)
    fire(case.id, "record_follow_up", actor=ESIA, payload={"note": "Point à trois mois."})
    midway = {"note": "Point à six mois.", "impact": {"activities": "Stable.", "jobs": 0}}
    fire(case.id, "record_follow_up", actor=ESIA, payload=midway)
    case = fire(
        case.id,
        "close",
        actor=ESIA,
        payload={"impact": {"activities": "Deux ateliers rouverts.", "jobs": 0}},
    )
    assert case.state == "closed"
    records = engine_.storage.records(case.id)
    assert {r.fingerprint for r in records} == {DLA.fingerprint}
    holds_invariants(records)
    tracks = _rules_dla_r2.tracks(records)
    assert [(t.id, t.consultant, t.completed, t.cancelled) for t in tracks.values()] == [
        ("a1", RH.id, True, False), ("a2", FINANCES.id, False, True),
        ("a3", FINANCES.id, True, False),
    ]  # fmt: skip
    assert engine_.audit().ok


# -- the rules, one by one ---------------------------------------------------------------------


@pytest.mark.parametrize(("at", "opens"), [("2018-12-31 17:00", False), ("2019-01-01 08:00", True)])
def test_a_case_opens_from_2019_on(at: str, opens: bool) -> None:
    engine_ = engine(at)
    if opens:
        assert engine_.start(NAME, actor=CASTELLANE, facts=facts()).state == "requested"
        return
    with pytest.raises(GuardFailed) as error:
        engine_.start(NAME, actor=CASTELLANE, facts=facts())
    refused_by("period_2019", error)
    assert "à partir du 1er janvier 2019" in str(error.value)
    assert engine_.storage.cases() == []


def test_the_commune_is_a_required_fact_and_a_decline_says_why() -> None:
    engine_ = engine()
    with pytest.raises(InvalidData) as error:
        engine_.start(NAME, actor=CASTELLANE, facts={**facts(), "commune": None})
    assert [p.field for p in error.value.problems] == ["commune"]
    case = engine_.start(NAME, actor=CASTELLANE, facts=facts())
    engine_.fire(case.id, "send_pre_diagnostic", actor=CASTELLANE, payload={"pre_diagnostic": "x"})
    engine_.fire(case.id, "hold_qualification_meeting", actor=ESIA, payload={"needs": "x"})
    engine_.fire(case.id, "identify_problem", actor=FRANCE_ACTIVE,
                 payload={"diagnosis": "x", "recommendations": ["y"]})  # fmt: skip
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "decline_recommendations", actor=CASTELLANE)
    declined = engine_.fire(case.id, "decline_recommendations", actor=CASTELLANE,
                            payload={"reason": "Pas maintenant."})  # fmt: skip
    assert declined.state == "declined"


@pytest.mark.parametrize(
    ("funders", "actions"),
    [(["caf-13", "caf-13"], PLAN), (["caf-13", "n'importe quoi"], PLAN), ([], PLAN),
     (["caf-13"], [{"id": "a1", "kind": "collective", "domain": "human_resources"}])],
    ids=["duplicate", "unknown", "empty", "collective-without-group"],
)  # fmt: skip
def test_a_plan_names_known_funders_once_and_its_collective_actions_a_group(
    funders: list[str], actions: list[dict[str, Any]]
) -> None:
    engine_ = engine()
    case = planned(engine_)
    before = _stored(engine_)
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "redraw_plan", actor=ESIA,
                     payload={"actions": actions, "funders": funders})  # fmt: skip
    assert _stored(engine_) == before


def test_the_actions_of_a_plan_have_distinct_ids() -> None:
    engine_ = engine()
    case = planned(engine_)
    twice = [PLAN[0], {**PLAN[1], "id": " a1 "}]
    with pytest.raises(GuardFailed) as error:
        engine_.fire(case.id, "redraw_plan", actor=ESIA,
                     payload={"actions": twice, "funders": ["etat"]})  # fmt: skip
    refused_by("plan_actions_named_once", error)


def test_a_funder_decides_once_per_plan_and_a_refusal_says_why() -> None:
    engine_ = engine()
    case = planned(engine_)
    with pytest.raises(InvalidData):
        engine_.fire(
            case.id, "record_funder_decision", actor=REGION, payload={"decision": "refuse"}
        )
    engine_.fire(case.id, "record_funder_decision", actor=CAF_13, payload={"decision": "approve"})
    # Another agent of the same body is the same funder.
    colleague = Actor("autre-agent", {"funder"}, body="caf-13")
    with pytest.raises(GuardFailed) as twice:
        engine_.fire(case.id, "record_funder_decision", actor=colleague,
                     payload={"decision": "approve"})  # fmt: skip
    refused_by("one_decision_per_plan_funder", twice)
    engine_.fire(
        case.id, "redraw_plan", actor=ESIA, payload={"actions": PLAN, "funders": ["caf-13"]}
    )
    engine_.fire(
        case.id, "record_funder_decision", actor=colleague, payload={"decision": "approve"}
    )
    assert engine_.fire(case.id, "validate_plan", actor=ESIA).state == "plan_validated"


def test_an_action_runs_once_and_a_new_consultant_acknowledges_before_it_works() -> None:
    engine_ = engine()
    case = approved(engine_, planned(engine_, actions=PLAN[:2]), CAF_13, REGION)
    assigned(engine_, case, "a1", RH)
    with pytest.raises(GuardFailed) as same:
        engine_.fire(case.id, "assign_consultant", actor=ESIA,
                     payload={"action": "a1", "consultant": RH.id})  # fmt: skip
    refused_by("consultant_changes", same)
    with pytest.raises(GuardFailed) as unknown:
        engine_.fire(case.id, "assign_consultant", actor=ESIA,
                     payload={"action": "a9", "consultant": RH.id})  # fmt: skip
    refused_by("action_open", unknown)
    with pytest.raises(GuardFailed) as not_started:
        engine_.fire(case.id, "complete_action", actor=RH,
                     payload={"action": "a1", "report": "x", "impact": IMPACT})  # fmt: skip
    refused_by("action_under_way", not_started)
    engine_.fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    with pytest.raises(GuardFailed) as again:
        engine_.fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    refused_by("action_not_started", again)
    # The officer hands a1 to another firm: it acknowledges before it completes the action.
    engine_.fire(case.id, "assign_consultant", actor=ESIA,
                 payload={"action": "a1", "consultant": FINANCES.id})  # fmt: skip
    work = {"action": "a1", "report": "x", "impact": IMPACT}
    with pytest.raises(GuardFailed) as fresh:
        engine_.fire(case.id, "complete_action", actor=FINANCES, payload=work)
    refused_by("action_acknowledged", fresh)
    engine_.fire(case.id, "acknowledge_confidentiality", actor=FINANCES, payload={"action": "a1"})
    engine_.fire(case.id, "complete_action", actor=FINANCES, payload=work)
    with pytest.raises(GuardFailed) as finished:
        engine_.fire(case.id, "cancel_action", actor=ESIA, payload={"action": "a1", "reason": "x"})
    refused_by("action_open", finished)
    holds_invariants(engine_.storage.records(case.id))


def test_follow_up_needs_one_completed_action_and_the_officer_may_abandon() -> None:
    engine_ = engine()
    case = approved(engine_, planned(engine_, actions=PLAN[:1]), CAF_13, REGION)
    engine_.fire(case.id, "cancel_action", actor=ESIA, payload={"action": "a1", "reason": "x"})
    with pytest.raises(GuardFailed) as none_done:
        engine_.fire(case.id, "start_follow_up", actor=ESIA)
    refused_by("actions_done", none_done)
    with pytest.raises(InvalidData):
        engine_.fire(case.id, "abandon", actor=ESIA)
    ended = engine_.fire(case.id, "abandon", actor=ESIA,
                         payload={"reason": "Plus aucune action possible."})  # fmt: skip
    assert ended.state == "abandoned"


def _accompanied_with_a_group(engine_: Engine, group: str) -> Case:
    plan = [{"id": "a1", "kind": "collective", "domain": "steering_governance", "group": group}]
    case = approved(engine_, planned(engine_, actions=plan), CAF_13, REGION)
    assigned(engine_, case, "a1", FINANCES)
    return case


def _peer(engine_: Engine, structure: Actor, group: str) -> Case:
    plan = [{"id": "x", "kind": "collective", "domain": "steering_governance", "group": group}]
    return planned(engine_, structure, plan)


def test_a_group_needs_another_structure_with_an_open_case() -> None:
    engine_ = engine()
    case = _accompanied_with_a_group(engine_, "Fin")

    def start() -> None:
        engine_.fire(case.id, "start_action", actor=FINANCES, payload={"action": "a1"})

    # A second case of the same structure is no peer; nor is a different group.
    _peer(engine_, CASTELLANE, "Fin")
    other_group = _peer(engine_, SAINT_LOUIS, "Fins")
    # A structure that left (withdrawn) is no peer either.
    left = _peer(engine_, SAINT_LOUIS, "fin")
    engine_.fire(left.id, "withdraw", actor=SAINT_LOUIS, payload={"reason": "Fusion."})
    for _ in range(2):
        with pytest.raises(GuardFailed) as alone:
            start()
        refused_by("collective_has_peers_v2", alone)
        # The group its latest plan names counts, not an earlier one.
        engine_.fire(other_group.id, "redraw_plan", actor=ESIA,
                     payload={"actions": [{"id": "x", "kind": "individual",
                                           "domain": "human_resources"}],
                              "funders": ["etat"]})  # fmt: skip
    engine_.fire(other_group.id, "redraw_plan", actor=ESIA,
                 payload={"actions": [{"id": "x", "kind": "collective", "group": " FIN  ",
                                       "domain": "human_resources"}],
                          "funders": ["etat"]})  # fmt: skip
    start()


# -- parties -------------------------------------------------------------------------------


def test_another_structure_claiming_every_party_role_learns_nothing_of_the_case() -> None:
    engine_ = engine()
    case = approved(engine_, planned(engine_), CAF_13, REGION)
    assigned(engine_, case, "a1", RH)
    intruder = Actor("cs-voisin", {"structure", "funder", "consultant"})
    before = _stored(engine_)
    steps = [
        ("withdraw", {"reason": "Non."}),
        ("acknowledge_confidentiality", {"action": "a1"}),
        ("start_action", {"action": "a1"}),
        ("complete_action", {"action": "a1", "report": "Faux.", "impact": IMPACT}),
    ]
    for event, payload in steps:
        with pytest.raises(UnknownCase):
            engine_.fire(case.id, event, actor=intruder, payload=payload)
    with pytest.raises(UnknownCase):
        engine_.history(case.id, intruder)
    with pytest.raises(UnknownCase):
        engine_.available_events(case.id, intruder)
    assert _stored(engine_) == before


def test_the_consultant_of_one_action_cannot_work_on_another() -> None:
    engine_ = engine()
    case = approved(engine_, planned(engine_), CAF_13, REGION)
    assigned(engine_, case, "a1", RH)
    assigned(engine_, case, "a2", FINANCES)
    engine_.fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    engine_.fire(case.id, "start_action", actor=FINANCES, payload={"action": "a2"})
    before = _stored(engine_)
    with pytest.raises(PermissionDenied) as error:
        engine_.fire(case.id, "complete_action", actor=RH,
                     payload={"action": "a2", "report": "x", "impact": IMPACT})  # fmt: skip
    assert error.value.party == "consultant"
    assert "consultant de l'action" in str(error.value)
    # A funder of the plan claiming the structure's role is not the case's structure.
    with pytest.raises(PermissionDenied) as funder:
        engine_.fire(case.id, "withdraw", actor=Actor("region", {"funder", "structure"}),
                     payload={"reason": "x"})  # fmt: skip
    assert funder.value.party == "structure"
    assert _stored(engine_) == before
    assert "complete_action" in engine_.available_events(case.id, RH)
    assert "complete_action" not in engine_.available_events(case.id, REGION)


def test_an_actions_report_is_read_by_the_structure_the_officers_and_its_consultant() -> None:
    engine_ = engine()
    case = approved(engine_, planned(engine_), CAF_13, REGION)
    assigned(engine_, case, "a1", RH)
    assigned(engine_, case, "a2", FINANCES)
    engine_.fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    engine_.fire(case.id, "complete_action", actor=RH,
                 payload={"action": "a1", "report": REPORT_A1, "impact": IMPACT})  # fmt: skip

    def report(viewer: Actor) -> object:
        (done,) = [r for r in engine_.history(case.id, viewer) if r.event == "complete_action"]
        return done.payload["report"]

    for reader in (CASTELLANE, ESIA, FRANCE_ACTIVE, RH):
        assert report(reader) == REPORT_A1
    for other in (FINANCES, CAF_13, REGION):
        assert is_redacted(report(other))
    # The diagnosis is the case's consultants' and, the plan drawn up, its funders'.
    for viewer in (FINANCES, REGION):
        (problem,) = [r for r in engine_.history(case.id, viewer) if r.event == "identify_problem"]
        assert problem.payload["diagnosis"] == "Bureau fragile."
    with pytest.raises(UnknownCase):
        engine_.history(case.id, ETAT)


def test_the_invariants_catch_work_by_another_consultant_or_before_the_plan_is_approved() -> None:
    engine_ = engine()
    case = approved(engine_, planned(engine_), CAF_13, REGION)
    assigned(engine_, case, "a1", RH)
    engine_.fire(case.id, "start_action", actor=RH, payload={"action": "a1"})
    records = list(engine_.storage.records(case.id))
    holds_invariants(records)
    invariants = {i.name: i for i in DLA.invariants}
    forged = attrs.evolve(records[-1], actor=FINANCES)
    breach = invariants["acknowledged_before_action_work_v2"].check([*records[:-1], forged])
    assert "not the action's consultant" in (breach or "")
    # The same start with the plan's refusal recorded before it.
    refusal = next(r for r in records if r.event == "record_funder_decision")
    refused = attrs.evolve(refusal, payload={"decision": "refuse", "reason": "Non."})
    forged_history = [refused if r is refusal else r for r in records]
    breach = invariants["plan_validated_before_v2"].check(forged_history)
    assert "after a refusal" in (breach or "")


# -- revision-1 cases moved to revision 2 ----------------------------------------------------


def _revision_1_case(storage: MemoryStorage, kind: str | None) -> Case:
    """A revision-1 DLA case of La Castellane, its plan validated, and with ``kind`` its
    accompaniment of that kind started (revision 1: one accompaniment, one consultant)."""
    old = Engine(storage, Registry((REVISION_1,)), TickingClock("2019-02-01 09:00"))
    legacy = Actor("cs-saint-louis", {"structure"})
    if kind == "collective":  # a peer naming the same group, for revision 1's guard
        peer = old.start(NAME, actor=legacy, facts={k: v for k, v in facts().items()
                                                       if k != "commune"})  # fmt: skip
        _revision_1_plan(old, peer.id, legacy)
    case = old.start(NAME, actor=CASTELLANE, facts={k: v for k, v in facts().items()
                                                     if k != "commune"})  # fmt: skip
    case = _revision_1_plan(old, case.id, CASTELLANE)
    if kind is not None:
        old.fire(case.id, "acknowledge_confidentiality", actor=FINANCES)
        case = old.fire(case.id, f"start_{kind}_accompaniment", actor=FINANCES)
    return case


def _revision_1_plan(old: Engine, case_id: str, structure: Actor) -> Case:
    plan = [{k: v for k, v in action.items() if k != "id"} for action in PLAN]
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("send_pre_diagnostic", structure, {"pre_diagnostic": "x"}),
        ("hold_qualification_meeting", ESIA, {"needs": "x"}),
        ("identify_problem", FRANCE_ACTIVE, {"diagnosis": "x", "recommendations": ["y"]}),
        ("accept_recommendations", structure, {}),
        ("draw_up_plan", ESIA, {"actions": plan, "funders": ["caf-13"]}),
        ("record_funder_decision", Actor("caf-13", {"funder"}), {"decision": "approve"}),
        ("validate_plan", ESIA, {}),
    ]
    case = None
    for event, actor, payload in steps:
        case = old.fire(case_id, event, actor=actor, payload=payload)
    assert case is not None
    return case


@pytest.mark.parametrize(
    ("kind", "first"), [("individual", "human_resources"), ("collective", "steering_governance")]
)
def test_a_revision_1_accompaniment_moves_to_revision_2_with_its_one_action(
    kind: str, first: str
) -> None:
    storage = MemoryStorage()
    case = _revision_1_case(storage, kind)
    engine_ = engine("2019-06-01 09:00", storage)
    why = {
        "actor": ESIA,
        "reason": "Passage à la révision 2 du DLA",
        "facts": {"commune": "Marseille"},
    }
    with pytest.raises(PermissionDenied):
        engine_.migrate(case.id, "2019", **{**why, "actor": CASTELLANE})  # type: ignore[arg-type]
    with pytest.raises(InvalidData):
        engine_.migrate(case.id, "2019", actor=ESIA, reason="x")
    trial = engine_.migrate(case.id, "2019", dry_run=True, **why)  # type: ignore[arg-type]
    assert (trial.source, trial.target, trial.applied) == (f"{kind}_accompaniment",
                                                          "accompaniment", False)  # fmt: skip
    plan = engine_.migrate(case.id, "2019", **why)  # type: ignore[arg-type]
    assert (plan.case.state, plan.to_revision) == ("accompaniment", 2)
    records = storage.records(case.id)
    (a1,) = _rules_dla_r2.tracks(records).values()
    assert (a1.id, a1.action["domain"], a1.consultant, a1.started) == (
        "a1", first, FINANCES.id, True)  # fmt: skip
    # The plan's other actions are not carried (a revision-1 plan, numbered in plan order).
    assert [a["id"] for a in _rules_dla_r2.not_carried(records)] == (
        ["a2", "a3"] if kind == "individual" else ["a1", "a2"])  # fmt: skip
    engine_.fire(case.id, "complete_action", actor=FINANCES,
                 payload={"action": "a1", "report": "Fait.", "impact": IMPACT})  # fmt: skip
    engine_.fire(case.id, "start_follow_up", actor=ESIA)
    assert engine_.fire(case.id, "close", actor=ESIA, payload={"impact": IMPACT}).state == "closed"
    holds_invariants(storage.records(case.id))
    assert engine_.audit().ok


def test_a_revision_1_plan_keeps_its_funders_decisions_and_gets_action_ids() -> None:
    storage = MemoryStorage()
    case = _revision_1_case(storage, None)
    engine_ = engine("2019-06-01 09:00", storage)
    moved = engine_.migrate(case.id, "2019", actor=ESIA, reason="Révision 2",
                            facts={"commune": "Marseille"})  # fmt: skip
    assert moved.case.state == "plan_validated"
    engine_.fire(case.id, "start_accompaniment", actor=ESIA)
    assert sorted(_rules_dla_r2.tracks(storage.records(case.id))) == ["a1", "a2", "a3"]
    assigned(engine_, case, "a2", RH)
    engine_.fire(case.id, "start_action", actor=RH, payload={"action": "a2"})
    holds_invariants(storage.records(case.id))


def test_a_closed_revision_1_case_stays_where_it_is() -> None:
    storage = MemoryStorage()
    case = _revision_1_case(storage, None)
    old = Engine(storage, Registry((REVISION_1,)), TickingClock("2019-03-01 09:00"))
    old.fire(case.id, "withdraw", actor=CASTELLANE, payload={"reason": "Fusion."})
    with pytest.raises(MigrationRefused):
        engine("2019-06-01 09:00", storage).migrate(
            case.id, "2019", actor=ESIA, reason="x", facts={"commune": "Marseille"}
        )


def test_the_draft_registry_holds_the_migration() -> None:
    registry = draft_registry()
    assert registry.migration_between(REVISION_1, DLA) == MIGRATION
    assert registry.get(NAME, "2019").fingerprint == DLA.fingerprint


def test_a_carried_consultant_replaced_by_the_officer_no_longer_works_on_the_action() -> None:
    storage = MemoryStorage()
    case = _revision_1_case(storage, "individual")
    engine_ = engine("2019-06-01 09:00", storage)
    engine_.migrate(
        case.id, "2019", actor=ESIA, reason="Révision 2", facts={"commune": "Marseille"}
    )
    assigned(engine_, case, "a1", RH)
    # Revision 1 bound its consultant to the case, not to an action: the party check lets it
    # through (docs/decisions.md), the rule of the action's consultant does not.
    with pytest.raises(GuardFailed) as replaced:
        engine_.fire(case.id, "complete_action", actor=FINANCES,
                     payload={"action": "a1", "report": "x", "impact": IMPACT})  # fmt: skip
    refused_by("action_acknowledged", replaced)
    engine_.fire(case.id, "complete_action", actor=RH,
                 payload={"action": "a1", "report": "Fait.", "impact": IMPACT})  # fmt: skip
    holds_invariants(storage.records(case.id))
