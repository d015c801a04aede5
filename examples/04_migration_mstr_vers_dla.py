"""Story 4: an open 2015-2017 MSTR case moves to the 2019 DLA procedure.

The Centre social Air Bel asked for a preventive mission at the end of 2017; the CAF referred
it to the funders, and only one had answered when the partners decided, in 2019, to continue
the mission through the Dispositif Local d'Accompagnement. The CAF coordinator first checks the
migration without applying it (a dry run), then migrates the case: one ``migrate`` record, the
2015-2017 records untouched, the centre becoming the DLA ``structure`` with the contact e-mail
and key moment the 2019 procedure needs. The case then goes on under 2019 up to the
identification of the problem.

Printed twice: as ESIA reads it, and as a funder the CAF consulted reads it — still a party of
the case after the migration, it reads the pre-diagnostic and the diagnosis as
« [confidentiel] »: they open to the funders a DLA plan names, once it is drawn up. A funder
never consulted does not know of the case at all. The CAF coordinator keeps seeing the case it
coordinated, under either version.

Run it: ``python examples/04_migration_mstr_vers_dla.py`` (store: ``STECHNIQUE_DB``, default
``sqlite:///stechnique.db``). Running it twice is safe: fixed case id, idempotency keys, and
the migration is only asked for while the case is still under 2015-2017.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from stechnique import Actor, Bodies, Engine, ManualClock, clock_of
from stechnique.labels import field_label, option_label, state_label
from stechnique.storage import SQLStorage
from stechnique.timeline import timeline

NAME = "soutien-technique-renforce"
CASE_ID = "mstr-air-bel"

BOARD = Actor("ca-air-bel", {"administrator"})
CAF = Actor("caf-13-coordination", {"caf_coordinator"})
CAF_FUNDER = Actor("caf-13", {"funder"})
# The centre itself acts for the association that manages it: the 2019 case's structure is
# the 2015-2017 mission's manager (only a case's parties act on it).
STRUCTURE = Actor("cs-air-bel", {"structure"}, body="ca-air-bel")
ESIA = Actor("esia-charge-de-mission", {"esia_officer"})
FRANCE_ACTIVE = Actor("france-active-paca", {"france_active_officer"})

# What the deployment calls each body (the known funders, such as caf-13, are named already).
BODIES = Bodies({
    "ca-air-bel": "Association du centre social Air Bel",
    "caf-13-coordination": "Caf des Bouches-du-Rhône, coordination du dispositif",
    "cs-air-bel": "Centre social Air Bel",
    "esia-charge-de-mission": "ESIA, DLA des Bouches-du-Rhône",
    "france-active-paca": "France Active PACA",
})  # fmt: skip

# What the 2019 procedure needs and 2015-2017 did not ask for.
SUPPLIED = {"contact_email": "direction@cs-air-bel.example.org", "moment": "new_dynamic"}
REASON = "Les partenaires poursuivent la mission par le Dispositif Local d'Accompagnement (2019)."


def where(engine: Engine, case_id: str, viewer: Actor) -> str:
    """« Dossier <id> : <état> », the state by its label as the viewer reads the case."""
    case = engine.case(case_id, viewer)
    return (
        f"Dossier {case_id} : {state_label(engine.procedure(case.name, case.version), case.state)}."
    )


def step(
    engine: Engine, n: int, event: str, actor: Actor, payload: Mapping[str, Any] | None = None
) -> None:
    """Fire step ``n`` of the story; a step already stored is recognised by its key."""
    engine.fire(CASE_ID, event, actor=actor, payload=payload, idempotency_key=f"{CASE_ID}/{n}")


def migrate(engine: Engine, say: Callable[[str], None]) -> None:
    """Check the migration with a dry run, then apply it (only while still under 2015-2017)."""
    if engine.case(CASE_ID, CAF).version != "2015-2017":
        return
    trial = engine.migrate(CASE_ID, "2019", actor=CAF, facts=SUPPLIED, reason=REASON, dry_run=True)
    old, new = (engine.procedure(NAME, version) for version in ("2015-2017", "2019"))
    say(
        f"Essai (rien n'est écrit) : « {state_label(old, trial.source)} » "
        f"({trial.from_version}) → « {state_label(new, trial.target)} » ({trial.to_version})."
    )
    for field, value in trial.facts.items():
        values = value if isinstance(value, list) else [value]
        shown = ", ".join(option_label(new, field, str(item)) for item in values)
        say(f"  {field_label(new, field)} : {shown}")
    done = engine.migrate(CASE_ID, "2019", actor=CAF, facts=SUPPLIED, reason=REASON)
    say(
        f"Migration enregistrée : enregistrement n° {done.record.seq}, version {done.case.version}."
    )


def tell(engine: Engine, say: Callable[[str], None] = lambda _: None) -> list[str]:
    """Write the story into ``engine``'s store; return the ids of the cases it wrote."""
    with clock_of(engine, ManualClock()) as clock:
        clock.on("2017-11-20 10:00")
        if engine.storage.get(CASE_ID) is None:
            engine.start(NAME, version="2015-2017", actor=BOARD, case_id=CASE_ID, facts={
                "centre": "Centre social Air Bel (Marseille 11e)",
                "management": "association",
                "situation": "preventive",
                "domains": ["governance", "financial_management", "project_engineering"],
            })  # fmt: skip
        clock.on("2017-12-04 15:00")
        step(engine, 2, "refer", CAF, {"funders": ["caf-13", "departement-13"]})
        clock.on("2017-12-18 11:00")
        step(engine, 3, "record_funder_decision", CAF_FUNDER, {"decision": "approve"})
        clock.on("2019-01-14 09:00")
        migrate(engine, say)
        # From here on the case runs under 2019.
        clock.on("2019-01-21 10:00")
        step(engine, 5, "send_pre_diagnostic", STRUCTURE, {"pre_diagnostic": (
            "Budget 2018 en déficit de 40 000 euros, projet social à renouveler en 2020."
        )})  # fmt: skip
        clock.on("2019-01-28 14:00")
        step(engine, 6, "hold_qualification_meeting", ESIA, {
            "needs": "Consolider le modèle économique avant le renouvellement de l'agrément."
        })  # fmt: skip
        clock.on("2019-02-11 10:00")
        step(engine, 7, "identify_problem", FRANCE_ACTIVE, {
            "diagnosis": "Dépendance à une subvention non reconduite, fonds propres faibles.",
            "recommendations": ["Plan de trésorerie", "Diversifier les financements"],
        })  # fmt: skip
        say(where(engine, CASE_ID, ESIA))
    return [CASE_ID]


def open_engine() -> Engine:
    """An engine on the store named by ``STECHNIQUE_DB``."""
    url = os.environ.get("STECHNIQUE_DB", "sqlite:///stechnique.db")
    return Engine(SQLStorage(url), bodies=BODIES)


def main() -> None:
    """Tell the story, then print the case as ESIA and as a consulted funder read it."""
    engine = open_engine()
    for case_id in tell(engine, say=print):
        print()
        print(timeline(engine.history(case_id, viewer=ESIA), engine.registry, bodies=engine.bodies))
        print()
        print("Le même dossier vu par un financeur consulté (plan pas encore élaboré) :")
        as_funder = engine.history(case_id, viewer=CAF_FUNDER)
        print(timeline(as_funder, engine.registry, bodies=engine.bodies))
    engine.storage.close()


if __name__ == "__main__":
    main()
