"""The named guard library ``GUARDS`` and the invariants 1 and 2 built on the same readings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest
from _stories import (
    ADMIN,
    CONSULTANT,
    FEDERATION,
    FUNDER_A,
    INDIVIDUAL,
    dla_to,
    engine,
    mstr_facts,
    mstr_to,
)
from small import ticket

from stechnique import GUARDS, Actor, Case, GuardContext, Procedure, ReadOnlyStore, Record
from stechnique.records import GENESIS_HASH
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows import default_registry
from stechnique.workflows import soutien_technique_renforce_2015_2017 as mstr
from stechnique.workflows import soutien_technique_renforce_2019 as dla

#: Every guard PROCEDURES.md names.
SPECIFIED = {
    "eligible_requester",
    "validated_by_funders",
    "confidentiality_acknowledged",
    "collective_has_peers",
    "impact_measured",
    "step_submitted",
    "one_year_before_expiry",
    "selection_criteria",
}
NOW = datetime(2016, 6, 30, 0, 0, tzinfo=UTC)


def _record(seq: int, event: str, source: str | None, target: str, **payload: Any) -> Record:
    return Record(
        case_id="c", seq=seq, event=event, source=source, target=target,
        actor=Actor("a", {"centre"}), at=NOW, payload=payload, name="p", version="1",
        fingerprint="f", idempotency_key=None, prev_hash=GENESIS_HASH, hash="",
    )  # fmt: skip


def _context(
    *,
    procedure: Procedure | None = None,
    state: str | None = "open",
    facts: Mapping[str, Any] | None = None,
    payload: Mapping[str, Any] | None = None,
    history: Sequence[Record] = (),
    actor: Actor = ADMIN,
    now: datetime = NOW,
) -> GuardContext:
    case = None
    if state is not None:
        case = Case(
            id="c", name="p", version="1", fingerprint="f", state=state, seq=len(history),
            facts=dict(facts or {}), created_at=now, updated_at=now, head="h",
        )  # fmt: skip
    return GuardContext(procedure or ticket(), case, facts or {}, actor, "e", payload or {}, now,
                        ReadOnlyStore(MemoryStorage()), history)  # fmt: skip


# -- the library ----------------------------------------------------------------------------


def test_every_guard_of_procedures_md_is_in_the_library_with_french_and_english() -> None:
    assert set(GUARDS) >= SPECIFIED
    for name, guard in GUARDS.items():
        assert guard.name == name
        assert guard.fr.strip()
        assert guard.en.strip()
        assert guard.fr != guard.en
    assert len({guard.fr for guard in GUARDS.values()}) == len(GUARDS)


def test_the_library_is_read_only() -> None:
    with pytest.raises(TypeError):
        GUARDS["always"] = GUARDS["step_submitted"]  # type: ignore[index]


def test_published_procedures_take_their_guards_from_the_library() -> None:
    for procedure in default_registry():
        for guard in procedure.guards:
            if guard.name in GUARDS:
                assert guard == GUARDS[guard.name]
                assert guard.check is GUARDS[guard.name].check


def test_only_impact_measured_judges_the_payload_and_only_peers_read_other_cases() -> None:
    assert {name for name, guard in GUARDS.items() if guard.uses_payload} == {"impact_measured"}
    others = {name for name, guard in GUARDS.items() if guard.reads_other_cases}
    assert others == {"collective_has_peers"}


# -- guards of the 2013 convention, judged directly -----------------------------------------


def test_step_submitted_counts_only_submissions_since_entering_the_state() -> None:
    check = GUARDS["step_submitted"].check
    start = _record(1, "start", None, "protocol")
    submit = _record(2, "submit_step", "protocol", "protocol", document="d")
    approve = _record(3, "arbitrate", "protocol", "diagnosis", decision="approve")
    assert not check(_context(state="protocol", history=[start]))
    assert check(_context(state="protocol", history=[start, submit]))
    assert not check(_context(state="diagnosis", history=[start, submit, approve]))
    again = _record(4, "submit_step", "diagnosis", "diagnosis", document="d2")
    assert check(_context(state="diagnosis", history=[start, submit, approve, again]))
    assert not check(_context(state=None))


def test_step_submitted_asks_for_new_work_after_a_rework_arbitration() -> None:
    check = GUARDS["step_submitted"].check
    history = [
        _record(1, "start", None, "protocol"),
        _record(2, "submit_step", "protocol", "protocol", document="d"),
        _record(3, "arbitrate", "protocol", "protocol", decision="rework"),
    ]
    assert not check(_context(state="protocol", history=history))
    resubmitted = [*history, _record(4, "submit_step", "protocol", "protocol", document="d2")]
    assert check(_context(state="protocol", history=resubmitted))


@pytest.mark.parametrize(("expiry", "now", "holds"), [
    ("2017-06-30", datetime(2016, 6, 29, 23, 59, tzinfo=UTC), False),
    ("2017-06-30", datetime(2016, 6, 30, 0, 0, tzinfo=UTC), True),
    (date(2017, 6, 30), datetime(2017, 1, 1, tzinfo=UTC), True),
    ("2020-02-29", datetime(2019, 2, 27, 12, tzinfo=UTC), False),
    ("2020-02-29", datetime(2019, 2, 28, 0, tzinfo=UTC), True),
    (None, datetime(2030, 1, 1, tzinfo=UTC), False),
])  # fmt: skip
def test_one_year_before_expiry_reads_the_engine_clock(
    expiry: object, now: datetime, holds: bool
) -> None:
    facts = {} if expiry is None else {"agreement_expiry": expiry}
    assert GUARDS["one_year_before_expiry"].check(_context(facts=facts, now=now)) is holds


@pytest.mark.parametrize(("member", "interest", "holds"), [
    (True, True, True), (True, False, False), (False, True, False), ("yes", True, False),
])  # fmt: skip
def test_selection_criteria_needs_both_booleans_true(
    member: object, interest: object, holds: bool
) -> None:
    facts = {"federation_member": member, "local_authority_interest": interest}
    assert GUARDS["selection_criteria"].check(_context(state=None, facts=facts)) is holds


# -- guards of soutien-technique-renforce, judged directly ----------------------------------


@pytest.mark.parametrize(("management", "actor", "holds"), [
    ("association", ADMIN, True), ("association", FEDERATION, False),
    ("federation", FEDERATION, True), ("federation", ADMIN, False),
    ("federation", Actor("both", {"administrator", "federation"}), True),
])  # fmt: skip
def test_eligible_requester_reads_the_management_fact(
    management: str, actor: Actor, holds: bool
) -> None:
    context = _context(procedure=mstr.PROCEDURE, state=None, facts=mstr_facts(management),
                       actor=actor)  # fmt: skip
    assert GUARDS["eligible_requester"].check(context) is holds


@pytest.mark.parametrize(("impact", "holds"), [
    ({"activities": "Ateliers", "jobs": 0}, True),
    (None, False),
    ({"activities": " ", "jobs": 1}, False),
    ({"activities": "Ateliers", "jobs": True}, False),
    ({"activities": "Ateliers", "jobs": -1}, False),
    ({"activities": "Ateliers"}, False),
])  # fmt: skip
def test_impact_measured_judges_the_payload(impact: object, holds: bool) -> None:
    payload = {} if impact is None else {"impact": impact}
    assert GUARDS["impact_measured"].check(_context(payload=payload)) is holds


def test_validated_by_funders_needs_a_consultation() -> None:
    history = [_record(1, "start", None, "referred")]
    assert not GUARDS["validated_by_funders"].check(_context(history=history))


def test_validated_by_funders_fails_on_any_refusal_even_when_every_consulted_funder_approved() -> (
    None
):
    def decision(seq: int, funder: str, value: str) -> Record:
        record = _record(seq, "record_funder_decision", "referred", "referred", decision=value)
        return attrs.evolve(record, actor=Actor(funder, {"funder"}))

    history = [
        _record(1, "start", None, "requested"),
        _record(2, "refer", "requested", "referred", funders=["caf-13"]),
        decision(3, "caf-13", "approve"),
    ]
    check = GUARDS["validated_by_funders"].check
    assert check(_context(history=history))
    assert not check(_context(history=[*history, decision(4, "region", "refuse")]))


# -- invariants 1 and 2 bite on forged histories --------------------------------------------


def _check(procedure: Procedure, records: Sequence[Record]) -> list[str | None]:
    return [invariant.check(records) for invariant in procedure.invariants]


def test_mstr_invariants_hold_on_a_real_history_and_catch_forgeries() -> None:
    engine_ = engine()
    case = mstr_to(engine_, "closed")
    records = list(engine_.storage.records(case.id))
    assert _check(mstr.PROCEDURE, records) == [None, None]
    refused = [
        attrs.evolve(r, payload={"decision": "refuse"}) if r.seq == 2 + 1 else r for r in records
    ]
    assert _check(mstr.PROCEDURE, refused)[0] == (
        "seq 5 enters 'validated' after a funder's refusal"
    )
    missing = [r for r in records if r.seq != 4]
    assert "without the approval of etat" in str(_check(mstr.PROCEDURE, missing)[0])
    unacknowledged = [r for r in records if r.event != "acknowledge_confidentiality"]
    assert _check(mstr.PROCEDURE, unacknowledged)[1] == (
        "seq 7 'start_diagnosis' by 'cabinet' without an earlier acknowledgement of the "
        "confidentiality rules as provider"
    )
    other = [
        attrs.evolve(r, actor=Actor("x", {"provider"}))
        if r.event == "acknowledge_confidentiality" else r
        for r in records
    ]  # fmt: skip
    assert _check(mstr.PROCEDURE, other)[1] is not None


def test_dla_invariants_hold_on_a_real_history_and_catch_forgeries() -> None:
    engine_ = engine()
    case = dla_to(engine_, "closed", actions=[INDIVIDUAL])
    records = list(engine_.storage.records(case.id))
    assert _check(dla.PROCEDURE, records) == [None, None]
    wrong_role = [
        attrs.evolve(r, actor=Actor(CONSULTANT.id, {"structure"}))
        if r.event == "acknowledge_confidentiality" else r
        for r in records
    ]  # fmt: skip
    assert "as consultant" in str(_check(dla.PROCEDURE, wrong_role)[1])
    no_funder = [r for r in records if r.event != "record_funder_decision"]
    assert "enters 'plan_validated' without the approval" in str(
        _check(dla.PROCEDURE, no_funder)[0]
    )
    assert FUNDER_A.id in str(_check(dla.PROCEDURE, no_funder)[0])
