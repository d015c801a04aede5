"""Story 2: a funder refuses, and the MSTR request of a federation-managed centre is rejected.

The Centre social de l'Abeille, at La Ciotat, is managed by a federation. Its salaried team
asks for a preventive mission « par l'intermédiaire de leur employeur, la fédération ». A
volunteer who is not its manager is refused first (guard ``eligible_requester``). The CAF
consults three funders; one refuses, so the request cannot be validated (guard
``validated_by_funders``) and the CAF rejects it (guard ``refused_by_a_funder``).

Run it: ``python examples/02_mstr_refus_financeur.py`` (store: ``STECHNIQUE_DB``, default
``sqlite:///stechnique.db``). Running it twice is safe: fixed case id, idempotency keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from stechnique import Actor, Bodies, Engine, GuardFailed, ManualClock, clock_of
from stechnique.labels import state_label
from stechnique.storage import SQLStorage
from stechnique.timeline import timeline

NAME = "soutien-technique-renforce"
CASE_ID = "mstr-abeille-la-ciotat"
FACTS = {
    "centre": "Centre social de l'Abeille (La Ciotat)",
    "management": "federation",
    "situation": "preventive",
    "domains": ["project_engineering", "human_resources"],
}

FEDERATION = Actor("leo-lagrange-mediterranee", {"federation"})
VOLUNTEER = Actor("benevole-abeille", {"administrator"})
CAF = Actor("caf-13-coordination", {"caf_coordinator"})
CAF_FUNDER = Actor("caf-13", {"funder"})
REGION = Actor("region-sud", {"funder"})
CITY = Actor("ville-de-la-ciotat", {"funder"})

# What the deployment calls each body (the known funders, such as caf-13, are named already).
BODIES = Bodies({
    "leo-lagrange-mediterranee": "Fédération Léo Lagrange Méditerranée",
    "benevole-abeille": "Bénévole du centre social de l'Abeille",
    "caf-13-coordination": "Caf des Bouches-du-Rhône, coordination du dispositif",
    "region-sud": "Région Provence-Alpes-Côte d'Azur",
    "ville-de-la-ciotat": "Ville de La Ciotat",
})  # fmt: skip


def step(
    engine: Engine, n: int, event: str, actor: Actor, payload: Mapping[str, Any] | None = None
) -> None:
    """Fire step ``n`` of the story; a step already stored is recognised by its key."""
    engine.fire(CASE_ID, event, actor=actor, payload=payload, idempotency_key=f"{CASE_ID}/{n}")


def where(engine: Engine, case_id: str, viewer: Actor) -> str:
    """« Dossier <id> : <état> », the state by its label as the viewer reads the case."""
    case = engine.case(case_id, viewer)
    return (
        f"Dossier {case_id} : {state_label(engine.procedure(case.name, case.version), case.state)}."
    )


def tell(engine: Engine, say: Callable[[str], None] = lambda _: None) -> list[str]:
    """Write the story into ``engine``'s store; return the ids of the cases it wrote."""
    with clock_of(engine, ManualClock()) as clock:
        clock.on("2017-03-06 10:00")
        if engine.storage.get(CASE_ID) is None:
            try:
                engine.start(NAME, version="2015-2017", actor=VOLUNTEER, facts=FACTS)
            except GuardFailed as refused:
                say(f"Demande d'un bénévole refusée : {refused.failed_guards[0].fr}.")
            engine.start(NAME, version="2015-2017", actor=FEDERATION, case_id=CASE_ID, facts=FACTS)
            say("Fiche d'information transmise par la fédération gestionnaire.")
        clock.on("2017-03-13 15:00")
        step(engine, 2, "refer", CAF, {"funders": ["caf-13", "region-sud", "ville-de-la-ciotat"]})
        clock.on("2017-03-20 11:00")
        step(engine, 3, "record_funder_decision", CAF_FUNDER, {"decision": "approve"})
        clock.on("2017-03-27 16:30")
        step(engine, 4, "record_funder_decision", REGION, {"decision": "refuse"})
        if engine.case(CASE_ID, CAF).state == "referred":
            # Nothing is written when a guard refuses: explain() says why, in fr and en.
            for reason in engine.explain(CASE_ID, "validate", CAF).reasons:
                say(f"Validation impossible : {reason.fr}.")
        clock.on("2017-04-03 09:00")
        step(engine, 5, "reject", CAF)
        say(where(engine, CASE_ID, CAF))
    return [CASE_ID]


def open_engine() -> Engine:
    """An engine on the store named by ``STECHNIQUE_DB``."""
    url = os.environ.get("STECHNIQUE_DB", "sqlite:///stechnique.db")
    return Engine(SQLStorage(url), bodies=BODIES)


def main() -> None:
    """Tell the story, then print the case as the federation, its manager, reads it."""
    engine = open_engine()
    for case_id in tell(engine, say=print):
        print()
        as_manager = engine.history(case_id, viewer=FEDERATION)
        print(timeline(as_manager, engine.registry, bodies=engine.bodies))
    engine.storage.close()


if __name__ == "__main__":
    main()
