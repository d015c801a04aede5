"""Story 5: the Hauts-de-Seine multi-partner convention, « 6 étapes & 6 phases d'arbitrage ».

June 2013: the CAF, the État and the FDCS 92 launch an experimentation around the social
project of the centres. The Centre social Les Acacias (Nanterre) meets the selection criteria
(member of the federation, the town is interested) and opens its case. Each of the six steps
ends with an arbitration by the local steering committee (« Comité de pilotage local »): the
territorial diagnosis is sent back once for rework; in March 2015 the committee tries to open
the evaluation too early and the engine refuses (guard ``one_year_before_expiry``: the
evaluation starts « un an avant la date d'échéance »); it opens in July 2016 and the process
closes in May 2017.

This procedure is declared as a data file, not in Python:
``src/stechnique/workflows/convention_pluripartenariale_2013.toml``.

Revision 1 of this procedure records no party facts: the case is known to the bodies that
acted on it (the centre, the federation once it submitted a step, the committee once it
arbitrated).

Run it: ``python examples/05_convention_hauts_de_seine.py`` (store: ``STECHNIQUE_DB``, default
``sqlite:///stechnique.db``). Running it twice is safe: fixed case id, idempotency keys.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from stechnique import Actor, Bodies, Engine, GuardFailed, ManualClock, clock_of
from stechnique.timeline import timeline

NAME = "convention-pluripartenariale"
CASE_ID = "convention-acacias-nanterre"
FACTS = {
    "centre": "Centre social Les Acacias (Nanterre)",
    "agreement_expiry": "2017-06-30",
    "federation_member": True,
    "local_authority_interest": True,
}

CENTRE = Actor("cs-acacias-nanterre", {"centre"})
FEDERATION = Actor("fdcs-92", {"federation"})
COMMITTEE = Actor("copil-nanterre", {"steering_committee"})

# What the deployment calls each body.
BODIES = Bodies({
    "cs-acacias-nanterre": "Centre social Les Acacias",
    "fdcs-92": "Fédération des centres sociaux des Hauts-de-Seine (FDCS 92)",
    "copil-nanterre": "Comité de pilotage local de Nanterre",
})  # fmt: skip

EVALUATION_OPENS = "2016-07-04 14:00"
TOO_EARLY = "2015-03-19 14:00"

# (date, event, actor, payload): the six steps, each closed by an arbitration.
STORY: list[tuple[str, str, Actor, dict[str, Any]]] = [
    ("2013-09-16 10:00", "submit_step", FEDERATION, {"document": "Protocole d'expérimentation"}),
    ("2013-10-03 14:00", "arbitrate", COMMITTEE, {"decision": "approve"}),
    ("2014-01-20 09:00", "submit_step", CENTRE, {"document": "Diagnostic territorial, v1"}),
    ("2014-02-06 14:00", "arbitrate", COMMITTEE, {"decision": "rework"}),
    ("2014-03-10 09:00", "submit_step", CENTRE, {"document": "Diagnostic territorial, v2 "
                                                 "(habitants et partenaires associés)"}),
    ("2014-03-27 14:00", "arbitrate", COMMITTEE, {"decision": "approve"}),
    ("2014-05-19 09:00", "submit_step", FEDERATION, {"document": "Objectifs prioritaires"}),
    ("2014-06-12 14:00", "arbitrate", COMMITTEE, {"decision": "approve"}),
    ("2014-09-22 09:00", "submit_step", CENTRE, {"document": "Projet social 2015-2018"}),
    ("2014-10-16 14:00", "arbitrate", COMMITTEE, {"decision": "approve"}),
    ("2015-02-02 09:00", "submit_step", CENTRE, {"document": "Convention d'objectifs et de "
                                                 "moyens pluri-partenariale 2015-2017"}),
    # Arbitration 5 opens the evaluation; an attempt in March 2015 is refused (see too_early).
    (EVALUATION_OPENS, "arbitrate", COMMITTEE, {"decision": "approve"}),
    ("2017-03-13 09:00", "submit_step", CENTRE, {"document": "Évaluation du projet social"}),
    ("2017-05-22 14:00", "arbitrate", COMMITTEE, {"decision": "approve"}),
]  # fmt: skip


def step(
    engine: Engine, n: int, event: str, actor: Actor, payload: Mapping[str, Any] | None = None
) -> None:
    """Fire step ``n`` of the story; a step already stored is recognised by its key."""
    engine.fire(CASE_ID, event, actor=actor, payload=payload, idempotency_key=f"{CASE_ID}/{n}")


def tell(engine: Engine, say: Callable[[str], None] = lambda _: None) -> list[str]:
    """Write the story into ``engine``'s store; return the ids of the cases it wrote."""
    with clock_of(engine, ManualClock()) as clock:
        clock.on("2013-06-24 10:00")
        if engine.storage.get(CASE_ID) is None:
            engine.start(NAME, version="2013", actor=CENTRE, facts=FACTS, case_id=CASE_ID)
            say("Dossier ouvert : critères de sélection de l'expérimentation remplis.")
        for n, (moment, event, actor, payload) in enumerate(STORY, start=2):
            if moment == EVALUATION_OPENS:
                too_early(engine, clock, say)
            clock.on(moment)
            step(engine, n, event, actor, payload)
        state = engine.case(CASE_ID, CENTRE).state
        say(f"Dossier {CASE_ID} : {engine.procedure(NAME, '2013').state(state).fr}.")
    return [CASE_ID]


def too_early(engine: Engine, clock: ManualClock, say: Callable[[str], None]) -> None:
    """March 2015: the committee tries to open the evaluation; the engine says not yet."""
    if engine.case(CASE_ID, COMMITTEE).state != "objectives_convention":
        return  # told before: the case has moved on
    clock.on(TOO_EARLY)
    try:
        engine.fire(CASE_ID, "arbitrate", actor=COMMITTEE, payload={"decision": "approve"})
    except GuardFailed as refused:
        say(f"Évaluation pas encore possible en mars 2015 : {refused.failed_guards[0].fr}.")


def open_engine() -> Engine:
    """An engine on the store named by ``STECHNIQUE_DB``."""
    url = os.environ.get("STECHNIQUE_DB", "sqlite:///stechnique.db")
    try:
        from stechnique.storage import SQLStorage
    except ImportError:  # the SQL adapter is not there yet: keep the story in memory
        from stechnique.storage import MemoryStorage

        return Engine(MemoryStorage(), bodies=BODIES)
    return Engine(SQLStorage(url), bodies=BODIES)


def main() -> None:
    """Tell the story, then print the case's timeline as the centre reads it."""
    engine = open_engine()
    for case_id in tell(engine, say=print):
        print()
        print(
            timeline(engine.history(case_id, viewer=CENTRE), engine.registry, bodies=engine.bodies)
        )
    engine.storage.close()


if __name__ == "__main__":
    main()
