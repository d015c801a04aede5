"""Real histories for the audit, export and checkpoint tests, written through the engine.

Every story uses the published procedures (default registry) and a ticking clock, so each
record has its own time and the stores are the same from run to run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
from small import TickingClock, all_cases

from stechnique import Actor, Engine, Procedure, Record, default_registry
from stechnique._chain import next_step
from stechnique.parties import parties_of
from stechnique.records import Parties, seal
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage

ADMIN = Actor("asso-belle-de-mai", roles={"administrator"})
CAF = Actor("caf-13", roles={"caf_coordinator"})
ETAT = Actor("etat", roles={"funder"})
REGION = Actor("region-paca", roles={"funder"})
PROVIDER = Actor("cabinet-conseil", roles={"provider"})
STRUCTURE = Actor("asso-quartiers-nord", roles={"structure"})
STRUCTURE_2 = Actor("asso-estaque", roles={"structure"})
ESIA = Actor("esia", roles={"esia_officer"})
FRANCE_ACTIVE = Actor("france-active", roles={"france_active_officer"})
CONSULTANT = Actor("consultant-rh", roles={"consultant"})
CENTRE = Actor("centre-gennevilliers", roles={"centre"})
COPIL = Actor("copil-92", roles={"steering_committee"})
#: The structure of the migrated case: the 2015-2017 manager, now acting as the DLA structure
#: (only a case's parties act on it).
MIGRATED_STRUCTURE = Actor("direction-belle-de-mai", roles={"structure"}, body=ADMIN.id)

MSTR = "soutien-technique-renforce"
CONVENTION = "convention-pluripartenariale"
CENTRE_FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["governance", "human_resources"],
}


#: How far the clock of every story moves on each reading.
STEP = timedelta(hours=1, microseconds=1)


def engine_on(storage: Storage, start: datetime | None = None) -> Engine:
    """An engine over ``storage`` with the published procedures and a ticking clock."""
    return Engine(storage, clock=TickingClock(start or "2016-03-01 09:00", STEP))


def mstr_validated(engine: Engine, case_id: str) -> None:
    """An MSTR case referred to two funders who both approve, then validated (5 records)."""
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id=case_id)
    engine.fire(case_id, "refer", actor=CAF, payload={"funders": ["etat", "region-paca"]})
    for funder in (ETAT, REGION):
        engine.fire(
            case_id, "record_funder_decision", actor=funder, payload={"decision": "approve"}
        )
    engine.fire(case_id, "validate", actor=CAF)


def mstr_closed(engine: Engine, case_id: str) -> None:
    """An MSTR case through diagnosis, report, restitution and accompaniment to closed."""
    mstr_validated(engine, case_id)
    steps = [
        ("acknowledge_confidentiality", PROVIDER, None),
        ("start_diagnosis", PROVIDER, None),
        ("submit_report", PROVIDER, {"report": "Gouvernance fragilisée, trésorerie tendue"}),
        ("request_revision", ADMIN, {"reason": "Préciser le plan de trésorerie"}),
        ("submit_report", PROVIDER, {"report": "Rapport révisé"}),
        ("validate_report", ADMIN, None),
        ("hold_restitution", PROVIDER, None),
        ("hold_partner_meeting", CAF, None),
        ("start_accompaniment", PROVIDER, None),
        ("close", CAF, {"summary": "Mission menée à son terme"}),
    ]
    for event, actor, payload in steps:
        engine.fire(case_id, event, actor=actor, payload=payload)


def mstr_migrated(engine: Engine, case_id: str) -> None:
    """A validated MSTR case migrated to the 2019 DLA, then carried to its plan."""
    mstr_validated(engine, case_id)
    engine.migrate(
        case_id,
        "2019",
        actor=CAF,
        facts={"contact_email": "direction@belledemai.example", "moment": "new_director"},
        reason="Poursuite par le DLA",
    )
    actions = [{"kind": "individual", "domain": "human_resources"}]
    dla_to_plan(engine, case_id, actions, structure=MIGRATED_STRUCTURE)


def dla_to_plan(
    engine: Engine, case_id: str, actions: list[dict[str, str]], structure: Actor = STRUCTURE
) -> None:
    """A DLA case from ``requested`` to a validated plan with ``actions``, acknowledged."""
    steps = [
        ("send_pre_diagnostic", STRUCTURE, {"pre_diagnostic": "Difficultés RH"}),
        ("hold_qualification_meeting", ESIA, {"needs": "Structurer la fonction RH"}),
        (
            "identify_problem",
            FRANCE_ACTIVE,
            {"diagnosis": "Organisation RH à revoir", "recommendations": ["Plan RH"]},
        ),
        ("accept_recommendations", STRUCTURE, None),
        ("draw_up_plan", ESIA, {"actions": actions, "funders": ["etat"]}),
        ("record_funder_decision", ETAT, {"decision": "approve"}),
        ("validate_plan", ESIA, None),
        ("acknowledge_confidentiality", CONSULTANT, None),
    ]
    for event, actor, payload in steps:
        if actor is STRUCTURE:
            actor = STRUCTURE_2 if case_id.endswith("-2") else structure
        engine.fire(case_id, event, actor=actor, payload=payload)


def dla_collective(engine: Engine, case_id: str, structure: Actor = STRUCTURE) -> None:
    """A DLA case into a collective accompaniment shared with ``<case_id>-2``."""
    facts = {
        "structure": "Association des quartiers nord",
        "contact_email": "contact@quartiers-nord.example",
        "moment": "new_dynamic",
        "domains": ["human_resources"],
    }
    group = [{"kind": "collective", "domain": "human_resources", "group": "rh-13"}]
    for one, actor in ((case_id, structure), (f"{case_id}-2", STRUCTURE_2)):
        engine.start(MSTR, version="2019", actor=actor, facts=facts, case_id=one)
        dla_to_plan(engine, one, group)
    engine.fire(case_id, "start_collective_accompaniment", actor=CONSULTANT)


def convention(engine: Engine, case_id: str) -> None:
    """A 2013 convention through its first arbitrations (one rework, two approvals)."""
    facts = {
        "centre": "Centre social de Gennevilliers",
        "agreement_expiry": "2017-06-30",
        "federation_member": True,
        "local_authority_interest": True,
    }
    engine.start(CONVENTION, version="2013", actor=CENTRE, facts=facts, case_id=case_id)
    steps = [
        ("submit_step", CENTRE, {"document": "Protocole v1"}),
        ("arbitrate", COPIL, {"decision": "rework"}),
        ("submit_step", CENTRE, {"document": "Protocole v2"}),
        ("arbitrate", COPIL, {"decision": "approve"}),
        ("submit_step", CENTRE, {"document": "Diagnostic territorial"}),
        ("arbitrate", COPIL, {"decision": "approve"}),
    ]
    for event, actor, payload in steps:
        engine.fire(case_id, event, actor=actor, payload=payload)


def every_story(engine: Engine) -> dict[str, int]:
    """Write one case of every story; return the number of records of each case by id."""
    mstr_closed(engine, "mstr-closed")
    mstr_migrated(engine, "mstr-migrated")
    dla_collective(engine, "dla-collective")
    convention(engine, "convention-92")
    return {case.id: case.seq for case in all_cases(engine)}


def forge(
    storage: Storage,
    case_id: str,
    event: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    *,
    target: str | None = None,
    procedure: Procedure | None = None,
) -> Record:
    """Append a record the engine would not have written, sealed and chained like a real one.

    This is what someone with write access to the store could do: the record and the case row
    agree, the hash chain holds; only the rules of the procedure can tell it apart.
    ``target`` defaults to the case's state, ``procedure`` to the one the case is pinned to.
    """
    case = storage.get(case_id)
    assert case is not None
    record, after = next_step(
        case,
        procedure or case,
        event=event,
        target=target or case.state,
        actor=actor,
        at=case.updated_at + timedelta(minutes=5),
        payload=payload or {},
    )
    # The forger keeps the row's parties in step with the forged record too.
    parties = _parties_of([*storage.records(case_id), record])
    if parties is not None and case.parties is not None:
        after = attrs.evolve(after, parties=parties)
    storage.append(after, record)
    return record


def _parties_of(records: list[Record]) -> Parties | None:
    """The parties these records bind, read as the engine does (``parties_of``, a migration
    re-reading the records before it); ``None`` for a version the default registry lacks."""
    registry = default_registry()
    if any(registry.by_fingerprint(record.fingerprint) is None for record in records):
        return None
    return parties_of(
        records, lambda r: registry.pinned(r.case_id, r.seq, r.name, r.version, r.fingerprint)
    )


def rewrite(storage: MemoryStorage, case_id: str, seq: int, **changes: Any) -> Record:
    """Change record ``seq`` of a case and re-seal the chain after it, head of the row too.

    A whole-chain rewrite: every hash is right again, the row's parties are those the
    rewritten history binds; only the rules (or a checkpoint) can tell. Returns the changed
    record.
    """
    records = storage._records[case_id]
    records[seq - 1] = seal(attrs.evolve(records[seq - 1], **changes))
    for index in range(seq, len(records)):
        records[index] = seal(attrs.evolve(records[index], prev_hash=records[index - 1].hash))
    row = attrs.evolve(storage._cases[case_id], head=records[-1].hash)
    parties = _parties_of(records)
    if parties is not None and row.parties is not None:
        row = attrs.evolve(row, parties=parties)
    storage._cases[case_id] = row
    return records[seq - 1]
