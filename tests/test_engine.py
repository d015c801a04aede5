"""The engine on the small ticket procedure: commands, refusals, idempotency, queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from small import TickingClock, all_cases, relay, the_case, ticket, whole

from stechnique import (
    Actor,
    Case,
    ConcurrencyConflict,
    Engine,
    GuardFailed,
    HistoryCorrupted,
    IdempotencyKeyReused,
    InvalidData,
    InvalidEvent,
    PermissionDenied,
    Registry,
    StechniqueError,
    UnknownCase,
    UnknownProcedure,
    is_redacted,
)
from stechnique.clock import ManualClock
from stechnique.i18n import use_locale
from stechnique.records import GENESIS_HASH, canonical_json, converter, record_hash
from stechnique.storage import MemoryStorage, SQLStorage

CLERK = Actor("clerk-1", {"clerk"})
BOSS = Actor("boss-1", {"boss"})
TEAM = Actor("team-1", {"team"})
FACTS = {"title": "Imprimante en panne", "kind": "solo"}


#: Where the engine's clock starts; it ticks one minute a reading.
START = "2016-03-01 09:30:00.123456"


@pytest.fixture
def engine() -> Engine:
    return Engine(MemoryStorage(), Registry((ticket(),)), TickingClock(START))


def approved(engine: Engine) -> Case:
    case = engine.start("ticket", actor=CLERK, facts=FACTS)
    return engine.fire(case.id, "approve", actor=BOSS)


def snapshot(engine: Engine, case_id: str) -> str:
    """Everything the store holds about a case, as canonical text."""
    stored = engine.storage.get(case_id)
    records = engine.storage.records(case_id)
    return canonical_json(converter.unstructure([stored, list(records)]))


def test_start_writes_record_one_with_the_facts(engine: Engine) -> None:
    case = engine.start("ticket", actor=CLERK, facts=FACTS)
    (first,) = whole(engine, case.id)
    assert (case.state, case.seq, case.version) == ("open", 1, "1")
    assert (first.seq, first.event, first.source, first.target) == (1, "start", None, "open")
    assert first.payload == FACTS
    assert first.prev_hash == GENESIS_HASH
    assert first.at == case.created_at
    assert first.at.tzinfo is not None


def test_fire_appends_a_chained_record(engine: Engine) -> None:
    case = approved(engine)
    first, second = whole(engine, case.id)
    assert (case.state, case.seq, case.head) == ("approved", 2, second.hash)
    assert second.prev_hash == first.hash
    assert second.actor == BOSS
    assert second.fingerprint == ticket().fingerprint


def test_hash_chain_recomputes(engine: Engine) -> None:
    case = approved(engine)
    engine.fire(case.id, "comment", actor=CLERK, payload={"text": "merci"})
    previous = GENESIS_HASH
    for record in whole(engine, case.id):
        assert record.prev_hash == previous
        assert record_hash(record.body()) == record.hash
        previous = record.hash
    tampered = attrs.evolve(whole(engine, case.id)[1], payload={"note": "forged"})
    assert record_hash(tampered.body()) != tampered.hash


def test_times_come_from_the_injected_clock(engine: Engine) -> None:
    case = approved(engine)
    first, second = whole(engine, case.id)
    assert second.at - first.at == timedelta(minutes=1)
    assert second.at.microsecond == 123456


def test_naive_clock_is_refused() -> None:
    engine = Engine(MemoryStorage(), Registry((ticket(),)), lambda: datetime(2016, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        engine.start("ticket", actor=CLERK, facts=FACTS)


def test_unknown_procedure_and_version(engine: Engine) -> None:
    with pytest.raises(UnknownProcedure, match="ticket@9"):
        engine.start("ticket", version="9", actor=CLERK, facts=FACTS)
    with pytest.raises(UnknownProcedure, match="enregistrées : ticket@1") as caught:
        engine.start("nothing", actor=CLERK, facts=FACTS)
    assert caught.value.en == "unknown procedure nothing; registered: ticket@1"


def test_unknown_case(engine: Engine) -> None:
    with pytest.raises(UnknownCase) as caught:
        engine.fire("no-such-case", "approve", actor=BOSS)
    assert caught.value.case_id == "no-such-case"


def test_invalid_event_lists_the_allowed_ones(engine: Engine) -> None:
    case = approved(engine)
    with pytest.raises(InvalidEvent) as caught:
        engine.fire(case.id, "approve", actor=BOSS)
    assert caught.value.allowed == ("comment", "finish", "cancel")
    assert caught.value.state == "approved"
    # Named by its label in the language in force (French by default), the events by id.
    assert "l'état « Approuvé »" in str(caught.value)
    assert "possibles : comment, finish, cancel" in str(caught.value)
    assert "possible events: comment, finish, cancel" in caught.value.en


def test_permission_denied_names_the_allowed_roles(engine: Engine) -> None:
    case = engine.start("ticket", actor=CLERK, facts=FACTS)
    with pytest.raises(PermissionDenied) as caught:
        engine.fire(case.id, "approve", actor=CLERK)
    assert caught.value.allowed == ("boss",)
    # The roles allowed, by their labels (the ids are in ``allowed``).
    assert "rôles requis : Chef" in str(caught.value)
    assert "roles allowed: Boss" in caught.value.en


def test_case_role_resolves_from_the_facts(engine: Engine) -> None:
    case = engine.start("ticket", actor=TEAM, facts={**FACTS, "kind": "group"})
    with pytest.raises(PermissionDenied) as caught:
        engine.fire(case.id, "cancel", actor=CLERK, payload={"reason": "doublon"})
    assert caught.value.allowed == ("team",)
    assert (
        engine.fire(case.id, "cancel", actor=TEAM, payload={"reason": "doublon"}).state
        == "cancelled"
    )


def test_start_role_and_start_guard(engine: Engine) -> None:
    with pytest.raises(PermissionDenied):
        engine.start("ticket", actor=BOSS, facts=FACTS)
    with pytest.raises(GuardFailed) as caught:
        engine.start("ticket", actor=TEAM, facts=FACTS)  # a solo ticket is the clerk's
    assert caught.value.names == ("eligible",)
    assert all_cases(engine) == []


def test_guard_failed_names_every_failed_guard_in_both_languages(engine: Engine) -> None:
    case = approved(engine)
    with pytest.raises(GuardFailed) as caught:
        engine.fire(case.id, "finish", actor=CLERK)
    (failed,) = caught.value.failed_guards
    assert (failed.name, failed.fr, failed.en) == ("has_note", "Note jointe", "Note attached")
    # Both texts kept, each naming the guard; str() shows French by default.
    assert "has_note : Note jointe" in caught.value.fr
    assert "has_note: Note attached" in caught.value.en
    assert str(caught.value) == caught.value.fr
    with use_locale("en"):
        assert str(caught.value) == caught.value.en


def test_invalid_data_names_each_bad_field(engine: Engine) -> None:
    case = approved(engine)
    with pytest.raises(InvalidData) as caught:
        engine.fire(case.id, "comment", actor=CLERK, payload={"text": "", "colour": "red"})
    assert set(caught.value.fields) == {"text", "colour"}
    with pytest.raises(InvalidData) as caught:
        engine.start("ticket", actor=CLERK, facts={"kind": "plural"})
    assert set(caught.value.fields) == {"title", "kind"}


def test_expected_seq_conflict(engine: Engine) -> None:
    case = approved(engine)
    with pytest.raises(ConcurrencyConflict) as caught:
        engine.fire(case.id, "comment", actor=CLERK, payload={"text": "x"}, expected_seq=1)
    assert (caught.value.expected_seq, caught.value.actual_seq) == (1, 2)
    assert (
        engine.fire(case.id, "comment", actor=CLERK, payload={"text": "x"}, expected_seq=2).seq == 3
    )


def test_idempotent_retry_returns_the_first_result(engine: Engine) -> None:
    case = approved(engine)
    first = engine.fire(
        case.id, "comment", actor=CLERK, payload={"text": "x"}, idempotency_key="k1"
    )
    engine.fire(case.id, "comment", actor=BOSS, payload={"text": "y"})
    again = engine.fire(
        case.id, "comment", actor=CLERK, payload={"text": "x"}, idempotency_key="k1"
    )
    assert again == first
    assert len(whole(engine, case.id)) == 4


def test_idempotency_key_reused_for_another_command(engine: Engine) -> None:
    case = approved(engine)
    engine.fire(case.id, "comment", actor=CLERK, payload={"text": "x"}, idempotency_key="k1")
    with pytest.raises(IdempotencyKeyReused):
        engine.fire(
            case.id, "comment", actor=CLERK, payload={"text": "other"}, idempotency_key="k1"
        )


def test_lost_race_with_idempotency_key_returns_the_winner() -> None:
    storage = MemoryStorage()
    engine = Engine(storage, Registry((ticket(),)), TickingClock(START))
    case = approved(engine)
    stale = the_case(engine, case.id)
    engine.fire(case.id, "comment", actor=CLERK, payload={"text": "x"}, idempotency_key="k1")
    # A second engine that read the case before the first fire retries the same command.
    storage_get = storage.get
    storage.get = lambda case_id: stale  # type: ignore[method-assign]
    try:
        again = engine.fire(
            case.id, "comment", actor=CLERK, payload={"text": "x"}, idempotency_key="k1"
        )
    finally:
        storage.get = storage_get  # type: ignore[method-assign]
    assert again.seq == 3
    assert len(storage.records(case.id)) == 3


REFUSALS: list[tuple[str, Callable[[Engine, str], object]]] = [
    ("bad event", lambda e, c: e.fire(c, "approve", actor=BOSS)),
    ("wrong role", lambda e, c: e.fire(c, "finish", actor=BOSS, payload={"note": "n"})),
    ("failed guard", lambda e, c: e.fire(c, "finish", actor=CLERK)),
    ("bad payload", lambda e, c: e.fire(c, "comment", actor=CLERK, payload={"text": 3})),
    (
        "stale seq",
        lambda e, c: e.fire(c, "comment", actor=CLERK, payload={"text": "a"}, expected_seq=1),
    ),
]


@pytest.mark.parametrize(("what", "command"), REFUSALS, ids=[what for what, _ in REFUSALS])
def test_a_refused_command_changes_nothing(
    engine: Engine, what: str, command: Callable[[Engine, str], object]
) -> None:
    case = approved(engine)
    before = snapshot(engine, case.id)
    with pytest.raises(StechniqueError):
        command(engine, case.id)
    assert snapshot(engine, case.id) == before


def test_available_events_evaluates_roles_and_guards(engine: Engine) -> None:
    case = engine.start("ticket", actor=CLERK, facts=FACTS)
    assert engine.available_events(case.id, BOSS) == ["approve"]
    assert engine.available_events(case.id, CLERK) == ["cancel"]
    engine.fire(case.id, "approve", actor=BOSS)
    # `finish` needs a note, a payload guard: it cannot be judged before the payload is known.
    assert engine.available_events(case.id, CLERK) == ["comment", "finish", "cancel"]
    # A procedure that declares no parties shows its cases to its roles only (0.1.0's rule):
    # to anyone else the case does not exist.
    with pytest.raises(UnknownCase):
        engine.available_events(case.id, Actor("nobody"))


def test_explain_gives_every_reason_in_french_and_english(engine: Engine) -> None:
    case = approved(engine)
    explanation = engine.explain(case.id, "finish", BOSS, payload={"note": "", "extra": 1})
    kinds = [(reason.kind, reason.code) for reason in explanation.reasons]
    assert ("role", "clerk") in kinds
    assert ("data", "note") in kinds
    assert ("data", "extra") in kinds
    assert ("guard", "has_note") in kinds
    assert not explanation.allowed
    assert all(reason.fr and reason.en for reason in explanation.reasons)
    assert engine.explain(case.id, "finish", CLERK, payload={"note": "ok"}).allowed


def test_explain_an_event_not_possible_now(engine: Engine) -> None:
    case = approved(engine)
    explanation = engine.explain(case.id, "approve", BOSS)
    assert [reason.kind for reason in explanation.reasons] == ["event"]
    assert "comment, finish, cancel" in explanation.reasons[0].en


def test_history_redacts_for_a_viewer_and_says_why(engine: Engine) -> None:
    case = approved(engine)
    engine.fire(case.id, "comment", actor=BOSS, payload={"text": "vu", "secret": "salaire"})
    as_boss = engine.history(case.id, viewer=BOSS)[-1].payload
    assert as_boss["text"] == "vu"
    assert is_redacted(as_boss["secret"])
    assert as_boss["secret"]["__redacted__"]["readers"] == ["clerk"]
    assert engine.history(case.id, viewer=CLERK)[-1].payload["secret"] == "salaire"
    engine.fire(case.id, "finish", actor=CLERK, payload={"note": "fini"})
    # Once `done` is reached the rule opens the field to the boss.
    assert engine.history(case.id, viewer=BOSS)[2].payload["secret"] == "salaire"
    assert whole(engine, case.id)[2].payload["secret"] == "salaire"


def test_cases_filters_on_the_cache(engine: Engine) -> None:
    first = approved(engine)
    second = engine.start("ticket", actor=CLERK, facts=FACTS)
    assert [c.id for c in all_cases(engine)] == [first.id, second.id]
    assert [c.id for c in all_cases(engine, state="open")] == [second.id]
    assert all_cases(engine, name="ticket", version="1", state="approved")[0].id == first.id
    assert all_cases(engine, version="2") == []


def test_a_changed_published_definition_is_detected_on_load(engine: Engine) -> None:
    case = approved(engine)
    changed = Engine(engine.storage, Registry((ticket(fr="Ticket révisé"),)), TickingClock(START))
    with pytest.raises(HistoryCorrupted, match="fingerprint"):
        changed.fire(case.id, "comment", actor=CLERK, payload={"text": "x"})


def test_audit_passes_on_a_clean_store_and_finds_a_tampered_record(engine: Engine) -> None:
    case = approved(engine)
    engine.fire(case.id, "comment", actor=CLERK, payload={"text": "x"})
    report = engine.audit()
    assert (report.ok, report.cases_checked, report.records_checked) == (True, 1, 3)
    storage = engine.storage
    assert isinstance(storage, MemoryStorage)
    records = storage._records[case.id]
    records[1] = attrs.evolve(records[1], payload={"forged": True})
    report = engine.audit()
    assert not report.ok
    # Record 2 no longer matches its hash; record 3 still chains to the hash record 2 carries.
    assert {(v.case_id, v.seq) for v in report.violations} == {(case.id, 2)}


def test_text_that_is_not_valid_unicode_is_refused_by_name(engine: Engine) -> None:
    case = approved(engine)
    before = snapshot(engine, case.id)
    with pytest.raises(InvalidData) as caught:
        engine.fire(case.id, "comment", actor=CLERK, payload={"text": "a\ud800"})
    assert caught.value.fields == ("text",)
    assert snapshot(engine, case.id) == before


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_an_honest_retry_is_recognised_whatever_the_event_does_in_other_states(
    storage: str, tmp_path: Path
) -> None:
    # ``advance`` carries ``baton`` from « first » and ``score`` from « second »: the retry of a
    # step taken from « first » must be judged against the schema of that step, not against
    # the first ``advance`` declared.
    store = MemoryStorage() if storage == "memory" else SQLStorage(f"sqlite:///{tmp_path}/r.db")
    engine = Engine(store, Registry((relay(),)), ManualClock(datetime(2020, 1, 1, tzinfo=UTC)))
    runner = Actor("runner-1", roles={"runner"})
    case = engine.start("relay", actor=runner, facts={"team": "bleue"})
    moved = engine.fire(case.id, "advance", actor=runner, payload={"baton": "b1"},
                        idempotency_key="k1")  # fmt: skip
    retried = engine.fire(case.id, "advance", actor=runner, payload={"baton": "b1"},
                          idempotency_key="k1")  # fmt: skip
    assert (retried.state, retried.seq, retried.head) == (moved.state, moved.seq, moved.head)
    assert len(whole(engine, case.id)) == 2
