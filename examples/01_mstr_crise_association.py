"""Story 1: an association-managed social centre in crisis, through the whole 2015-2017 MSTR.

The board (administrateurs) of the Centre social Belle de Mai asks the CAF for a « mission de
soutien technique renforcé »; the CAF consults the funders, who all approve; the provider
acknowledges the confidentiality rules, runs the flash diagnosis, sends its report (revised
once at the board's request), the board validates it, the provider debriefs, the partners
meet, the accompaniment runs and the CAF closes the mission.

Run it: ``python examples/01_mstr_crise_association.py`` (store: ``STECHNIQUE_DB``, default
``sqlite:///stechnique.db``). Running it twice is safe: the case has a fixed id, and every
step carries an idempotency key, so steps already stored are not written again.

Who reads what: the case is known only to its parties (the board that started it, the funders
the CAF consulted, the provider once it acknowledged the confidentiality rules) and to the CAF
coordinator. The report drafts and the revision request stay between the board and the
provider; the validated report opens to the consulted funders and the CAF.
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
CASE_ID = "mstr-belle-de-mai"

# The actors. An actor is an id plus the roles it holds for the action; here each actor's id
# is the body it acts for (``Actor(id, roles, body=...)`` when people act for a body).
BOARD = Actor("ca-belle-de-mai", {"administrator"})
CAF = Actor("caf-13-coordination", {"caf_coordinator"})
FUNDERS = {
    "caf-13": Actor("caf-13", {"funder"}),
    "etat-ddcs-13": Actor("etat-ddcs-13", {"funder"}),
    "departement-13": Actor("departement-13", {"funder"}),
    "ville-de-marseille": Actor("ville-de-marseille", {"funder"}),
}
PROVIDER = Actor("singuliers-et-co", {"provider"})

# What the deployment calls each body (the known funders, such as caf-13, are named already).
BODIES = Bodies({
    "ca-belle-de-mai": "Association du centre social Belle de Mai",
    "caf-13-coordination": "Caf des Bouches-du-Rhône, coordination du dispositif",
    "etat-ddcs-13": "État (DDCS des Bouches-du-Rhône)",
    "ville-de-marseille": "Ville de Marseille",
    "singuliers-et-co": "Singuliers & Co (prestataire)",
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
        clock.on("2016-02-01 09:30")
        if engine.storage.get(CASE_ID) is None:
            # « La fiche d'information à transmettre à la CAF »
            engine.start(NAME, version="2015-2017", actor=BOARD, case_id=CASE_ID, facts={
                "centre": "Centre social Belle de Mai",
                "management": "association",
                "situation": "crisis",
                "domains": ["financial_management", "human_resources", "governance"],
            })  # fmt: skip
            say("Fiche d'information transmise par le conseil d'administration.")
        clock.on("2016-02-08 14:00")
        step(engine, 2, "refer", CAF, {"funders": list(FUNDERS)})
        for n, (day, funder) in enumerate(zip((10, 11, 15, 16), FUNDERS.values(), strict=True)):
            clock.on(f"2016-02-{day} 10:00")
            step(engine, 3 + n, "record_funder_decision", funder, {"decision": "approve"})
        clock.on("2016-02-17 09:00")
        step(engine, 7, "validate", CAF)
        clock.on("2016-02-22 09:00")
        step(engine, 8, "acknowledge_confidentiality", PROVIDER)
        step(engine, 9, "start_diagnosis", PROVIDER)
        clock.on("2016-03-07 17:00")
        step(engine, 10, "submit_report", PROVIDER, {"report": (
            "Trésorerie inférieure à un mois de charges ; deux postes de coordination vacants ; "
            "bureau renouvelé aux deux tiers, délégations de signature à clarifier."
        )})  # fmt: skip
        clock.on("2016-03-10 18:30")
        step(engine, 11, "request_revision", BOARD, {
            "reason": "Préciser le plan de trésorerie et le calendrier des recrutements."
        })  # fmt: skip
        clock.on("2016-03-17 16:00")
        step(engine, 12, "submit_report", PROVIDER, {"report": (
            "Version révisée : plan de trésorerie sur six mois, recrutement d'un coordinateur "
            "en avril, délégations de signature votées au prochain conseil."
        )})  # fmt: skip
        clock.on("2016-03-21 19:00")
        step(engine, 13, "validate_report", BOARD)
        clock.on("2016-03-29 18:00")
        step(engine, 14, "hold_restitution", PROVIDER)
        clock.on("2016-04-12 10:00")
        step(engine, 15, "hold_partner_meeting", CAF)
        clock.on("2016-04-19 09:00")
        step(engine, 16, "start_accompaniment", PROVIDER)
        clock.on("2016-09-30 12:00")
        step(engine, 17, "close", CAF, {"summary": (
            "Trésorerie rétablie, coordinateur recruté, gouvernance stabilisée."
        )})  # fmt: skip
        say(where(engine, CASE_ID, CAF))
    return [CASE_ID]


def open_engine() -> Engine:
    """An engine on the store named by ``STECHNIQUE_DB``."""
    url = os.environ.get("STECHNIQUE_DB", "sqlite:///stechnique.db")
    return Engine(SQLStorage(url), bodies=BODIES)


def main() -> None:
    """Tell the story, then print the case as the board reads it, and as a consulted funder
    does (the drafts and the revision request « [confidentiel] », the validated report not)."""
    engine = open_engine()
    for case_id in tell(engine, say=print):
        print()
        print(
            timeline(engine.history(case_id, viewer=BOARD), engine.registry, bodies=engine.bodies)
        )
        print()
        print("Le même dossier vu par un financeur consulté :")
        as_funder = engine.history(case_id, viewer=FUNDERS["caf-13"])
        print(timeline(as_funder, engine.registry, bodies=engine.bodies))
    engine.storage.close()


if __name__ == "__main__":
    main()
