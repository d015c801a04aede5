"""``transfer_to_dla`` (MSTR revision 2, a draft): the mission moves to the DLA.

« Les modalités de mise en œuvre de soutien technique renforcé évoluent en 2019 »: a 2015-2017
mission stuck mid-diagnosis ends as ``transferred`` and continues as a 2019 case whose structure
is the mission's manager. The engine opens that case with the step and links both: the DLA
case's start facts name the mission (``transferred_from``), the mission's step names the DLA
case (``dla_case``). The two writes are not atomic; a step whose second write is lost leaves a
half-done transfer that the audit reports, and that the retry of the same command or
``Engine.finish_transfers`` finishes. Run on every store.
"""

from __future__ import annotations

from typing import Any

import pytest
from small import TickingClock

from stechnique import (
    Actor,
    Case,
    CaseIdTaken,
    Engine,
    GuardFailed,
    InvalidData,
    InvalidEvent,
    Record,
    StechniqueError,
    UnknownCase,
)
from stechnique._openings import opened_id
from stechnique.storage.base import Storage
from stechnique.workflows.drafts import draft_registry

NAME = "soutien-technique-renforce"
ADMIN = Actor("marie", {"administrator"}, body="ca-belle-de-mai")
OTHER_ADMIN = Actor("paul", {"administrator"}, body="ca-saint-mauront")
CAF = Actor("caf-coordination", {"caf_coordinator"})
CAF_13 = Actor("agent-caf", {"funder"}, body="caf-13")
PROVIDER = Actor("singuliers-co", {"provider"})
ESIA = Actor("charge-esia", {"esia_officer"}, body="esia")
STRUCTURE = Actor("direction", {"structure"}, body="ca-belle-de-mai")
GIVEN = {"contact_email": "direction@belledemai.fr", "moment": "specific_situation"}


def mstr_facts(**changes: Any) -> dict[str, Any]:
    facts = {
        "centre": "Centre social Belle de Mai",
        "management": "association",
        "situation": "crisis",
        "domains": ["governance", "financial_management", "other"],
        "commune": "Marseille",
    }
    return {**facts, **changes}


def engine(store: Storage, start: str = "2018-10-01 09:00") -> tuple[Engine, TickingClock]:
    clock = TickingClock(start)
    return Engine(store, registry=draft_registry(), clock=clock), clock


def mid_diagnosis(engine_: Engine, admin: Actor = ADMIN) -> Case:
    """« a 2015-2017 case mid-diagnostic when the mission moved to the DLA »."""
    case = engine_.start(NAME, version="2015-2017", actor=admin, facts=mstr_facts())
    fire = engine_.fire
    fire(case.id, "refer", actor=CAF, payload={"funders": ["caf-13"]})
    fire(case.id, "record_funder_decision", actor=CAF_13, payload={"decision": "approve"})
    fire(case.id, "validate", actor=CAF)
    fire(case.id, "assign_provider", actor=CAF, payload={"provider": PROVIDER.id})
    fire(case.id, "acknowledge_confidentiality", actor=PROVIDER)
    return fire(case.id, "start_diagnosis", actor=PROVIDER)


def stored(store: Storage) -> tuple[list[Case], list[Record]]:
    cases = sorted(store.cases(), key=lambda case: case.id)
    return cases, [record for case in cases for record in store.records(case.id)]


def test_the_transfer_opens_the_dla_case_of_the_manager_and_links_both(
    any_storage: Storage,
) -> None:
    engine_, clock = engine(any_storage)
    mission = mid_diagnosis(engine_)
    clock.on("2019-01-15 09:00")
    after = engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    assert after.state == "transferred"
    step = any_storage.records(mission.id)[-1]
    dla_id = step.payload["dla_case"]
    assert dla_id == opened_id(mission.id, "transfer_to_dla")
    dla = engine_.case(dla_id, viewer=STRUCTURE)
    assert (dla.name, dla.version, dla.state) == (NAME, "2019", "requested")
    assert engine_.registry.pinned(dla.id, 1, NAME, "2019", dla.fingerprint).revision == 2
    # « with the 2019 start facts given here and a link back »; the rest carried as a migration
    # to 2019 carries it (centre → structure, the 2019 domains), and the commune.
    assert dla.facts == {
        "structure": "Centre social Belle de Mai",
        "contact_email": GIVEN["contact_email"],
        "moment": GIVEN["moment"],
        "domains": ["steering_governance", "financial_management"],
        "commune": "Marseille",
        "transferred_from": mission.id,
        "structure_id": "ca-belle-de-mai",
    }
    # « whose structure is this case's manager »: the body that started the mission, not the
    # CAF that opened the DLA case.
    assert dla.parties is not None
    assert dla.parties.bodies("structure") == frozenset({"ca-belle-de-mai"})
    with pytest.raises(UnknownCase):
        engine_.case(dla.id, viewer=CAF)
    # The structure carries on, bound as if it had filed the request itself.
    moved = engine_.fire(dla.id, "send_pre_diagnostic", actor=STRUCTURE,
                         payload={"pre_diagnostic": "Conflit de gouvernance."})  # fmt: skip
    assert moved.state == "pre_diagnostic"
    report = engine_.audit()
    assert report.ok, report.violations


def test_a_transfer_the_dla_cannot_take_writes_nothing(any_storage: Storage) -> None:
    engine_, clock = engine(any_storage)
    mission = mid_diagnosis(engine_)
    before = stored(any_storage)
    # The DLA opens cases from 2019 on: in 2018 the transfer is refused, naming the period.
    with pytest.raises(GuardFailed) as early:
        engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    assert "period_2019" in early.value.names
    clock.on("2019-01-15 09:00")
    bad = {"contact_email": "pas une adresse", "moment": "specific_situation"}
    with pytest.raises(InvalidData):
        engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": bad})
    with pytest.raises(InvalidData) as chosen:
        engine_.fire(mission.id, "transfer_to_dla", actor=CAF,
                     payload={"facts": GIVEN, "dla_case": "mon-dossier"})  # fmt: skip
    assert chosen.value.fields == ("dla_case",)
    assert stored(any_storage) == before


def test_only_a_mission_under_way_is_transferred_and_only_by_the_caf() -> None:
    engine_, clock = engine(_memory())
    case = engine_.start(NAME, version="2015-2017", actor=ADMIN, facts=mstr_facts())
    clock.on("2019-01-15 09:00")
    # « diagnosis and every later non-terminal state »: before, a case migrates instead.
    with pytest.raises(InvalidEvent):
        engine_.fire(case.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    mission = mid_diagnosis(engine(engine_.storage, "2018-11-01 09:00")[0])
    with pytest.raises(StechniqueError):
        engine_.fire(mission.id, "transfer_to_dla", actor=ADMIN, payload={"facts": GIVEN})
    assert len(engine_.storage.cases(name=NAME, version="2019")) == 0


def test_no_one_opens_a_transferred_case_by_hand() -> None:
    engine_, clock = engine(_memory())
    mission = mid_diagnosis(engine_)
    clock.on("2019-01-15 09:00")
    dla_facts = {
        "structure": "Centre social Belle de Mai",
        "domains": ["financial_management"],
        "commune": "Marseille",
        **GIVEN,
    }
    link = {"transferred_from": mission.id, "structure_id": "ca-belle-de-mai"}
    # A structure cannot claim a transfer (nor name another body as the structure)...
    for facts in ({**dla_facts, **link}, {**dla_facts, "structure_id": "ca-saint-mauront"}):
        with pytest.raises(GuardFailed) as claimed:
            engine_.start(NAME, version="2019", actor=STRUCTURE, facts=facts)
        assert "opened_by_transfer" in claimed.value.names
    # ...nor the CAF open a DLA case but for the manager of a mission under way.
    for wrong in (
        {},
        {**link, "structure_id": "ca-saint-mauront"},
        {**link, "transferred_from": "no-such-case"},
    ):
        with pytest.raises(GuardFailed) as forged:
            engine_.start(NAME, version="2019", actor=CAF, facts={**dla_facts, **wrong})
        assert "opened_by_transfer" in forged.value.names
    assert len(engine_.storage.cases(name=NAME, version="2019")) == 0


# -- a transfer whose second write is lost ---------------------------------------------------


class _LostStep:
    """A store that fails once, on the append of ``event``, after the other write went
    through: what a crash between the two writes of a transfer leaves."""

    def __init__(self, store: Storage, event: str) -> None:
        self._store = store
        self._event = event
        self.failed = False

    def append(self, case: Case, record: Record) -> None:
        if record.event == self._event and not self.failed:
            self.failed = True
            raise ConnectionError("the server went away between the two writes")
        self._store.append(case, record)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def half_done(any_storage: Storage) -> tuple[Engine, Case, str]:
    """An engine on a store where a transfer lost its second write: the DLA case is open, the
    mission still in diagnosis."""
    engine_, clock = engine(any_storage)
    mission = mid_diagnosis(engine_)
    clock.on("2019-01-15 09:00")
    lossy = _LostStep(any_storage, "transfer_to_dla")
    crashing = Engine(lossy, registry=engine_.registry, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        crashing.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    assert lossy.failed
    return engine_, mission, opened_id(mission.id, "transfer_to_dla")


def test_a_half_done_transfer_is_reported_by_the_audit(
    half_done: tuple[Engine, Case, str],
) -> None:
    engine_, mission, dla_id = half_done
    assert engine_.storage.get(mission.id).state == "diagnosis"  # type: ignore[union-attr]
    assert engine_.storage.get(dla_id) is not None
    report = engine_.audit()
    assert [(v.case_id, v.code) for v in report.violations] == [(dla_id, "link")]
    assert "half-done transfer_to_dla" in report.violations[0].message


def test_finish_transfers_finishes_a_half_done_transfer(
    half_done: tuple[Engine, Case, str],
) -> None:
    engine_, mission, dla_id = half_done
    finished = engine_.finish_transfers(actor=CAF)
    assert [case.id for case in finished] == [mission.id]
    assert finished[0].state == "transferred"
    step = engine_.storage.records(mission.id)[-1]
    assert (step.event, step.payload["dla_case"]) == ("transfer_to_dla", dla_id)
    assert step.payload["facts"]["contact_email"] == GIVEN["contact_email"]
    assert len(engine_.storage.cases(name=NAME, version="2019")) == 1  # not opened twice
    assert engine_.audit().ok
    assert engine_.finish_transfers(actor=CAF) == []  # nothing left to finish


def test_the_retry_of_the_same_command_finishes_it(half_done: tuple[Engine, Case, str]) -> None:
    engine_, mission, dla_id = half_done
    other = {"contact_email": "autre@belledemai.fr", "moment": "new_director"}
    with pytest.raises(InvalidData):  # not the facts the DLA case was opened with
        engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": other})
    after = engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    assert after.state == "transferred"
    assert engine_.storage.records(mission.id)[-1].payload["dla_case"] == dla_id
    assert len(engine_.storage.cases(name=NAME, version="2019")) == 1
    assert engine_.audit().ok


def test_an_id_taken_by_another_case_is_not_linked() -> None:
    engine_, clock = engine(_memory())
    mission = mid_diagnosis(engine_)
    clock.on("2019-01-15 09:00")
    squatter = {
        "structure": "Ailleurs",
        "domains": ["financial_management"],
        "commune": "Aix",
        **GIVEN,
    }
    engine_.start(NAME, version="2019", actor=STRUCTURE, facts=squatter,
                  case_id=opened_id(mission.id, "transfer_to_dla"))  # fmt: skip
    with pytest.raises(CaseIdTaken):
        engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    assert engine_.storage.get(mission.id).state == "diagnosis"  # type: ignore[union-attr]


def _memory() -> Storage:
    from stechnique.storage.memory import MemoryStorage

    return MemoryStorage()


@pytest.mark.parametrize(
    ("change", "kind", "subject", "location"),
    [
        ({"event": "teleport"}, "unknown_event", "teleport", ("opens", 0, "event")),
        ({"case_field": "dla"}, "unknown_field", "transfer_to_dla.dla", ("opens", 0, "case_field")),
        ({"party": "owner"}, "undeclared_party", "owner", ("opens", 0, "party")),
    ],
)
def test_an_opening_names_a_step_its_field_and_a_party_of_the_case(
    change: dict[str, str], kind: str, subject: str, location: tuple[object, ...]
) -> None:
    import attrs

    from stechnique import DefinitionError
    from stechnique.workflows.soutien_technique_renforce_2015_2017_r2 import OPENINGS, PROCEDURE

    with pytest.raises(DefinitionError) as broken:
        attrs.evolve(PROCEDURE, opens=(attrs.evolve(OPENINGS[0], **change),))
    found = [(p.kind, p.subject, p.location) for p in broken.value.definition_problems]
    assert (kind, subject, location) in found
    with pytest.raises(DefinitionError) as twice:
        attrs.evolve(PROCEDURE, opens=OPENINGS * 2)
    assert ("ambiguous_event", ("opens",)) in [
        (p.kind, p.location) for p in twice.value.definition_problems
    ]


def test_two_coordinators_transferring_at_once_open_one_dla_case(any_storage: Storage) -> None:
    first, clock = engine(any_storage)
    mission = mid_diagnosis(first)
    second = Engine(any_storage, registry=first.registry, clock=clock)
    second.case(mission.id, CAF)  # the second instance remembers the mission in diagnosis
    clock.on("2019-01-15 09:00")
    first.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    with pytest.raises(InvalidEvent):  # decided again on the stored mission: transferred
        second.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    assert len(any_storage.cases(name=NAME, version="2019")) == 1
    assert [r.event for r in any_storage.records(mission.id)].count("transfer_to_dla") == 1
    assert first.audit().ok


def test_the_audit_finds_a_transfer_naming_a_case_it_did_not_open() -> None:
    import attrs

    from stechnique._chain import content_hash
    from stechnique.storage.memory import MemoryStorage

    storage = MemoryStorage()
    engine_, clock = engine(storage)
    mission = mid_diagnosis(engine_)
    clock.on("2019-01-15 09:00")
    engine_.fire(mission.id, "transfer_to_dla", actor=CAF, payload={"facts": GIVEN})
    step = storage.records(mission.id)[-1]
    forged = attrs.evolve(step, payload={**step.payload, "dla_case": "ailleurs"})
    forged = attrs.evolve(forged, hash=content_hash(forged))
    storage._records[mission.id][-1] = forged  # type: ignore[attr-defined]
    links = [(v.case_id, v.seq) for v in engine_.audit().violations if v.code == "link"]
    # The step names a case it did not open, and the DLA case it did open is half-done.
    assert (mission.id, step.seq) in links
    assert (step.payload["dla_case"], 1) in links
