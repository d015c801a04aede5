"""Story 3: two social centres share a collective DLA accompaniment (2019).

Two centres of the north of Marseille file a DLA request, send their pre-diagnostic, meet ESIA
for the qualification of their needs, and France Active PACA identifies the same problem in
both: a governance to rebuild. Each accepts the recommendations; ESIA draws up each plan with
one collective action of the same group (« problématiques communes à plusieurs structures »);
the funders validate both plans; the consultant acknowledges the confidentiality rules and
starts the collective accompaniment — refused for the first centre while it is alone in its
group (guard ``collective_has_peers``), allowed once the second centre's plan names the group.
ESIA follows both centres up and closes with the measured impact on activities and jobs.

Run it: ``python examples/03_dla_accompagnement_collectif.py`` (store: ``STECHNIQUE_DB``,
default ``sqlite:///stechnique.db``). Running it twice is safe: fixed case ids, idempotency
keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from stechnique import Actor, Bodies, Engine, ManualClock, clock_of
from stechnique.labels import state_label
from stechnique.storage import SQLStorage
from stechnique.timeline import timeline

NAME = "soutien-technique-renforce"
GROUP = "gouvernance-marseille-nord-2019"

# case id -> (structure actor, start facts)
CENTRES = {
    "dla-saint-gabriel": (
        Actor("cs-saint-gabriel", {"structure"}),
        {
            "structure": "Centre social Saint-Gabriel (Marseille 14e)",
            "contact_email": "direction@cs-saint-gabriel.example.org",
            "moment": "governance_questioned",
            "domains": ["steering_governance"],
        },
    ),
    "dla-flamants-iris": (
        Actor("cs-flamants-iris", {"structure"}),
        {
            "structure": "Centre social Flamants-Iris (Marseille 14e)",
            "contact_email": "accueil@cs-flamants-iris.example.org",
            "moment": "new_director",
            "domains": ["steering_governance", "human_resources"],
        },
    ),
}
ESIA = Actor("esia-charge-de-mission", {"esia_officer"})
FRANCE_ACTIVE = Actor("france-active-paca", {"france_active_officer"})
FUNDERS = [Actor("caf-13", {"funder"}), Actor("departement-13", {"funder"})]
CONSULTANT = Actor("consultante-gouvernance", {"consultant"})

# What the deployment calls each body (the known funders, such as caf-13, are named already).
BODIES = Bodies({
    "cs-saint-gabriel": "Centre social Saint-Gabriel",
    "cs-flamants-iris": "Centre social Flamants-Iris",
    "esia-charge-de-mission": "ESIA, DLA des Bouches-du-Rhône",
    "france-active-paca": "France Active PACA",
    "consultante-gouvernance": "Consultante en gouvernance associative",
})  # fmt: skip
# « mesure son impact sur le développement des activités et des emplois »
IMPACTS = {
    "dla-saint-gabriel": ("Nouveau bureau élu, ateliers parents relancés", 1),
    "dla-flamants-iris": ("Délégations écrites, accueil du nouveau directeur", 0),
}


def where(engine: Engine, case_id: str, viewer: Actor) -> str:
    """« Dossier <id> : <état> », the state by its label as the viewer reads the case."""
    case = engine.case(case_id, viewer)
    return (
        f"Dossier {case_id} : {state_label(engine.procedure(case.name, case.version), case.state)}."
    )


def step(
    engine: Engine,
    case_id: str,
    n: int,
    event: str,
    actor: Actor,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Fire step ``n`` of a case; a step already stored is recognised by its key."""
    engine.fire(case_id, event, actor=actor, payload=payload, idempotency_key=f"{case_id}/{n}")


def up_to_plan(engine: Engine, clock: ManualClock, case_id: str, month: int) -> None:
    """From the request to the plan drawn up, for one centre (month: when it starts)."""
    structure, facts = CENTRES[case_id]
    clock.on(f"2019-{month:02d}-04 09:00")
    if engine.storage.get(case_id) is None:
        engine.start(NAME, version="2019", actor=structure, case_id=case_id, facts=facts)
    clock.on(f"2019-{month:02d}-11 10:00")
    step(engine, case_id, 2, "send_pre_diagnostic", structure, {"pre_diagnostic": (
        "Conseil d'administration réduit à quatre membres, bureau démissionnaire, "
        "assemblée générale reportée deux fois."
    )})  # fmt: skip
    clock.on(f"2019-{month:02d}-18 14:00")
    step(engine, case_id, 3, "hold_qualification_meeting", ESIA, {
        "needs": "Refonder la gouvernance associative et le partage des rôles avec la direction."
    })  # fmt: skip
    clock.on(f"2019-{month + 1:02d}-02 10:00")
    step(engine, case_id, 4, "identify_problem", FRANCE_ACTIVE, {
        "diagnosis": "Gouvernance fragilisée, risque de perte de l'agrément AGC.",
        "recommendations": ["Former les administrateurs", "Réécrire les délégations"],
    })  # fmt: skip
    clock.on(f"2019-{month + 1:02d}-09 18:00")
    step(engine, case_id, 5, "accept_recommendations", structure)
    clock.on(f"2019-{month + 1:02d}-16 11:00")
    step(engine, case_id, 6, "draw_up_plan", ESIA, {
        "actions": [{"kind": "collective", "domain": "steering_governance", "group": GROUP}],
        "funders": [funder.id for funder in FUNDERS],
    })  # fmt: skip


def validate_plan(engine: Engine, clock: ManualClock, case_id: str, month: int) -> None:
    """The funders' decisions on one centre's plan, then ESIA validates it."""
    for n, funder in enumerate(FUNDERS):
        clock.on(f"2019-{month:02d}-{20 + n:02d} 10:00")
        step(engine, case_id, 7 + n, "record_funder_decision", funder, {"decision": "approve"})
    clock.on(f"2019-{month:02d}-23 09:00")
    step(engine, case_id, 9, "validate_plan", ESIA)
    step(engine, case_id, 10, "acknowledge_confidentiality", CONSULTANT)


def tell(engine: Engine, say: Callable[[str], None] = lambda _: None) -> list[str]:
    """Write the story into ``engine``'s store; return the ids of the cases it wrote."""
    first, second = CENTRES
    with clock_of(engine, ManualClock()) as clock:
        up_to_plan(engine, clock, first, 2)
        validate_plan(engine, clock, first, 3)
        plan_validated = engine.case(first, ESIA).state == "plan_validated"
        if plan_validated and engine.storage.get(second) is None:
            # The consultant acknowledged: a party of the case, it is told why it must wait.
            for reason in engine.explain(
                first, "start_collective_accompaniment", CONSULTANT
            ).reasons:
                say(f"Accompagnement collectif pas encore possible : {reason.fr}.")
        up_to_plan(engine, clock, second, 3)
        validate_plan(engine, clock, second, 4)
        for case_id in CENTRES:
            clock.on("2019-05-06 09:30")
            step(engine, case_id, 11, "start_collective_accompaniment", CONSULTANT)
            clock.on("2019-10-07 14:00")
            step(engine, case_id, 12, "start_follow_up", ESIA)
        clock.on("2020-03-02 10:00")
        for case_id, (activities, jobs) in IMPACTS.items():
            impact = {"activities": activities, "jobs": jobs}
            step(engine, case_id, 13, "close", ESIA, {"impact": impact})
        for case_id in CENTRES:
            say(where(engine, case_id, ESIA))
    return list(CENTRES)


def open_engine() -> Engine:
    """An engine on the store named by ``STECHNIQUE_DB``."""
    url = os.environ.get("STECHNIQUE_DB", "sqlite:///stechnique.db")
    return Engine(SQLStorage(url), bodies=BODIES)


def main() -> None:
    """Tell the story, then print each case as ESIA (a coordinating officer) reads it."""
    engine = open_engine()
    for case_id in tell(engine, say=print):
        print()
        print(timeline(engine.history(case_id, viewer=ESIA), engine.registry, bodies=engine.bodies))
    engine.storage.close()


if __name__ == "__main__":
    main()
