"""The audit: what it checks on real histories, its options, and every kind of violation.

Forged records (``audit_stories.forge``) are sealed and chained like real ones, so only the
rule under test can catch them. Storage-level tampering (changed bytes, deleted or swapped
rows) is in ``test_tamper.py``, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from audit_stories import (
    ADMIN,
    CAF,
    CENTRE,
    CENTRE_FACTS,
    CONSULTANT,
    ETAT,
    MSTR,
    PROVIDER,
    REGION,
    convention,
    engine_on,
    every_story,
    forge,
    mstr_validated,
    rewrite,
)
from small import ticket

from stechnique import Actor, AuditReport, Engine, InvalidArgument, Registry, Violation
from stechnique.audit import CODES, audit
from stechnique.records import ANY_KEY, Parties
from stechnique.storage.base import StreamsCaseIds
from stechnique.storage.memory import MemoryStorage
from stechnique.workflows import default_registry

FEDERATION = Actor("fd-13", roles={"federation"})


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def engine(storage: MemoryStorage) -> Engine:
    return engine_on(storage)


def found(report: AuditReport) -> set[tuple[str, int | None, str]]:
    """The violations as ``(case id, seq, code)``, every code a documented one."""
    assert all(violation.code in CODES for violation in report.violations)
    return {(v.case_id, v.seq, v.code) for v in report.violations}


# -- a clean store ---------------------------------------------------------------------------


def test_every_published_story_passes_with_counts_and_throughput(engine: Engine) -> None:
    lengths = every_story(engine)
    report = engine.audit()
    assert report.ok, report.summary()
    assert report.violations == ()
    assert (report.cases_checked, report.records_checked) == (len(lengths), sum(lengths.values()))
    assert report.seconds > 0
    assert report.records_per_second == pytest.approx(report.records_checked / report.seconds)
    # collective_has_peers reads other cases: skipped, and said so.
    assert report.unjudged_guards == ("collective_has_peers",)
    assert "collective_has_peers" in report.summary()


def test_a_store_without_collective_accompaniment_has_no_unjudged_guard(engine: Engine) -> None:
    convention(engine, "convention-92")
    assert engine.audit().unjudged_guards == ()


def test_an_empty_store_passes() -> None:
    report = audit(MemoryStorage())
    assert (report.ok, report.cases_checked, report.records_checked) == (True, 0, 0)


# -- options ---------------------------------------------------------------------------------


def test_audit_of_one_case(engine: Engine) -> None:
    lengths = every_story(engine)
    report = engine.audit("mstr-migrated")
    assert (report.cases_checked, report.records_checked) == (1, lengths["mstr-migrated"])


def test_audit_of_a_procedure_and_version_judges_the_records_not_the_case_row(
    engine: Engine,
) -> None:
    lengths = every_story(engine)

    def cases(**selection: str) -> tuple[int, int]:
        report = audit(engine.storage, **selection)  # type: ignore[arg-type]
        return report.cases_checked, report.records_checked

    assert cases(name="convention-pluripartenariale") == (1, lengths["convention-92"])
    mstr_2015 = lengths["mstr-closed"] + lengths["mstr-migrated"]
    # The migrated case ran under both versions: it belongs to both.
    assert cases(name=MSTR, version="2015-2017") == (2, mstr_2015)
    dla = lengths["dla-collective"] + lengths["dla-collective-2"] + lengths["mstr-migrated"]
    assert cases(name=MSTR, version="2019") == (3, dla)
    assert cases(name="nothing-by-that-name") == (0, 0)
    with pytest.raises(ValueError, match="needs a procedure name"):
        audit(engine.storage, version="2019")


def test_audit_since_a_date_checks_only_later_records(
    engine: Engine, storage: MemoryStorage
) -> None:
    mstr_validated(engine, "early")
    convention(engine, "late")
    since = storage.records("late")[3].at
    later = [r for r in storage.iter_records() if r.at >= since]
    report = engine.audit(since=since)
    assert report.ok
    assert (report.cases_checked, report.records_checked) == (1, len(later))
    # An old forgery is outside the window; a new one inside it is found.
    storage._records["early"][1] = attrs.evolve(storage._records["early"][1], payload={})
    assert engine.audit(since=since).ok
    assert not engine.audit().ok
    storage._records["late"][5] = attrs.evolve(storage._records["late"][5], payload={})
    assert ("late", 6, "hash") in found(engine.audit(since=since))
    with pytest.raises(InvalidArgument) as naive:
        engine.audit(since=since.replace(tzinfo=None))
    assert "since: expected an aware datetime" in naive.value.en


def test_progress_is_called_once_per_selected_case_with_the_count_so_far(
    engine: Engine, storage: MemoryStorage
) -> None:
    mstr_validated(engine, "early")
    convention(engine, "late")
    seen: list[int] = []
    assert engine.audit(progress=seen.append).ok
    assert seen == [1, 2]
    seen.clear()
    since = storage.records("late")[3].at
    assert audit(storage, since=since, progress=seen.append).cases_checked == 1
    assert seen == [1, 2]  # "early" is read (and counted) though none of its records is checked
    seen.clear()
    audit(storage, case_id="late", progress=seen.append)
    assert seen == [1]


# -- steps, roles, data ----------------------------------------------------------------------


def test_an_event_not_allowed_from_the_state_is_an_illegal_step(
    engine: Engine, storage: MemoryStorage
) -> None:
    mstr_validated(engine, "c")
    record = forge(storage, "c", "close", CAF, {"summary": "fin"}, target="closed")
    assert found(engine.audit()) == {("c", record.seq, "step")}


def test_a_wrong_target_is_an_illegal_step(engine: Engine, storage: MemoryStorage) -> None:
    mstr_validated(engine, "c")
    engine.fire("c", "acknowledge_confidentiality", actor=PROVIDER)
    record = forge(storage, "c", "start_diagnosis", PROVIDER, target="accompaniment")
    assert found(engine.audit()) == {("c", record.seq, "step")}


def test_an_actor_without_the_role_is_reported(engine: Engine, storage: MemoryStorage) -> None:
    mstr_validated(engine, "c")
    # A funder acknowledges in the provider's place.
    record = forge(storage, "c", "acknowledge_confidentiality", ETAT)
    assert found(engine.audit()) == {("c", record.seq, "role")}


def test_case_roles_are_resolved_from_the_replayed_facts(
    engine: Engine, storage: MemoryStorage
) -> None:
    mstr_validated(engine, "c")
    # « manager » of an association-managed centre is its administrator, not a federation.
    record = forge(storage, "c", "withdraw", FEDERATION, {"reason": "x"}, target="withdrawn")
    assert found(engine.audit()) == {("c", record.seq, "role")}


def test_a_payload_the_schema_refuses_is_reported(engine: Engine, storage: MemoryStorage) -> None:
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id="c")
    record = forge(storage, "c", "refer", CAF, {"funders": []}, target="referred")
    report = engine.audit()
    assert found(report) == {("c", record.seq, "payload")}
    assert "funders" in report.violations[0].message


def test_data_not_in_the_form_the_engine_writes_is_reported(
    engine: Engine, storage: MemoryStorage
) -> None:
    convention(engine, "c")
    facts = {**storage.records("c")[0].payload, "agreement_expiry": "20170630"}
    # Valid ISO 8601 (basic format), but the engine always writes 2017-06-30.
    rewrite(storage, "c", 1, payload=facts)
    storage._cases["c"] = attrs.evolve(storage._cases["c"], facts=facts)
    report = engine.audit()
    assert found(report) == {("c", 1, "payload")}
    assert "form" in report.violations[0].message


def test_a_start_by_someone_else_than_a_start_role_is_reported(storage: MemoryStorage) -> None:
    registry = Registry((ticket(),))
    engine = Engine(storage, registry)
    case = engine.start("ticket", actor=Actor("c", {"clerk"}), facts={"title": "t", "kind": "solo"})
    rewrite(storage, case.id, 1, actor=Actor("boss", {"boss"}))
    # The boss holds no start role; the eligible guard fails with it.
    assert found(audit(storage, registry)) == {(case.id, 1, "role"), (case.id, 1, "guard")}


# -- guards re-judged from the history -------------------------------------------------------


def test_start_guard_eligible_requester_is_re_judged(storage: MemoryStorage) -> None:
    engine = engine_on(storage)
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id="c")
    engine.fire("c", "refer", actor=CAF, payload={"funders": ["etat"]})
    # A federation opens an association-managed centre's case: a start role, not the manager.
    rewrite(storage, "c", 1, actor=FEDERATION)
    report = engine.audit()
    assert found(report) == {("c", 1, "guard")}
    assert "eligible_requester" in report.violations[0].message


def test_confidentiality_acknowledged_is_re_judged(engine: Engine, storage: MemoryStorage) -> None:
    mstr_validated(engine, "c")
    record = forge(storage, "c", "start_diagnosis", PROVIDER, target="diagnosis")
    report = engine.audit()
    assert found(report) == {("c", record.seq, "guard")}
    assert "confidentiality_acknowledged" in report.violations[0].message


def test_validated_by_funders_is_re_judged(engine: Engine, storage: MemoryStorage) -> None:
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id="c")
    engine.fire("c", "refer", actor=CAF, payload={"funders": ["etat", "region-paca"]})
    engine.fire("c", "record_funder_decision", actor=ETAT, payload={"decision": "approve"})
    engine.fire("c", "record_funder_decision", actor=REGION, payload={"decision": "refuse"})
    record = forge(storage, "c", "validate", CAF, target="validated")
    report = engine.audit()
    assert found(report) == {("c", record.seq, "guard")}
    assert "validated_by_funders" in report.violations[0].message


def test_step_submitted_is_re_judged(engine: Engine, storage: MemoryStorage) -> None:
    convention(engine, "c")
    copil = Actor("copil-92", {"steering_committee"})
    # Entered social... priority_objectives by the last approval: nothing submitted since.
    record = forge(storage, "c", "arbitrate", copil, {"decision": "rework"})
    report = engine.audit()
    assert found(report) == {("c", record.seq, "guard")}
    assert "step_submitted" in report.violations[0].message


def test_a_payload_guard_is_re_judged_on_the_stored_payload(storage: MemoryStorage) -> None:
    registry = Registry((ticket(),))
    engine = Engine(storage, registry)
    clerk, boss = Actor("c", {"clerk"}), Actor("b", {"boss"})
    case = engine.start("ticket", actor=clerk, facts={"title": "t", "kind": "solo"})
    engine.fire(case.id, "approve", actor=boss)
    record = forge(storage, case.id, "finish", clerk, {}, target="done")
    report = audit(storage, registry)
    assert found(report) == {(case.id, record.seq, "guard")}
    assert "has_note" in report.violations[0].message


def test_guards_are_judged_at_the_record_time_not_today(storage: MemoryStorage) -> None:
    # one_year_before_expiry held when evaluation was entered; the audit uses record.at.
    engine = engine_on(storage)
    convention(engine, "c")
    report = engine.audit()
    assert report.ok
    copil = Actor("copil-92", {"steering_committee"})
    for _ in range(2):
        engine.fire("c", "submit_step", actor=CENTRE, payload={"document": "étape"})
        engine.fire("c", "arbitrate", actor=copil, payload={"decision": "approve"})
    # objectives_convention -> evaluation needs now >= 2016-06-30: the clock is in 2016-03.
    forge(storage, "c", "submit_step", CENTRE, {"document": "convention"})
    record = forge(storage, "c", "arbitrate", copil, {"decision": "approve"}, target="evaluation")
    assert ("c", record.seq, "guard") in found(engine.audit())


def test_migration_guards_and_facts_are_re_judged(engine: Engine, storage: MemoryStorage) -> None:
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id="c")
    engine.fire("c", "refer", actor=CAF, payload={"funders": ["etat"]})
    engine.fire("c", "record_funder_decision", actor=ETAT, payload={"decision": "refuse"})
    dla = default_registry().get(MSTR, "2019")
    facts = {"structure": "Centre social Belle de Mai", "domains": ["steering_governance"],
             "contact_email": "pas-une-adresse", "moment": "new_director"}  # fmt: skip
    payload = {"from_version": "2015-2017", "to_version": "2019",
               "from_fingerprint": storage.get("c").fingerprint,  # type: ignore[union-attr]
               "reason": "Poursuite", "facts": facts}  # fmt: skip
    record = forge(storage, "c", "migrate", CAF, payload, target="requested", procedure=dla)
    report = engine.audit()
    # A refused request may not move (no_funder_refused), and the e-mail is not one.
    assert found(report) == {("c", record.seq, "guard"), ("c", record.seq, "payload")}


def test_a_real_migration_passes_and_a_version_change_without_one_does_not(
    engine: Engine, storage: MemoryStorage
) -> None:
    every_story(engine)
    assert engine.audit("mstr-migrated").ok
    mstr_validated(engine, "c")
    dla = default_registry().get(MSTR, "2019")
    record = forge(storage, "c", "acknowledge_confidentiality", PROVIDER, procedure=dla)
    assert ("c", record.seq, "fingerprint") in found(engine.audit("c"))


def test_an_unregistered_procedure_version_is_reported_for_every_record(
    engine: Engine,
) -> None:
    mstr_validated(engine, "c")
    report = audit(engine.storage, Registry((ticket(),)))
    assert found(report) == {("c", seq, "fingerprint") for seq in range(1, 6)}


def test_a_guard_that_reads_other_cases_is_skipped_not_failed(
    engine: Engine, storage: MemoryStorage
) -> None:
    every_story(engine)
    # Withdraw the peer: collective_has_peers would no longer hold today, yet it held then.
    engine.fire("dla-collective-2", "withdraw", actor=Actor("asso-estaque", {"structure"}),
                payload={"reason": "Fin"})  # fmt: skip
    report = engine.audit()
    assert report.ok
    assert report.unjudged_guards == ("collective_has_peers",)
    assert CONSULTANT.id in {r.actor.id for r in storage.records("dla-collective")}


# -- case rows --------------------------------------------------------------------------------


def test_the_case_row_must_equal_the_replayed_case(engine: Engine, storage: MemoryStorage) -> None:
    mstr_validated(engine, "c")
    for field, value in [
        ("state", "diagnosis"),
        ("facts", {**CENTRE_FACTS, "situation": "preventive"}),
        ("version", "2019"),
        ("updated_at", storage.get("c").updated_at + timedelta(days=1)),  # type: ignore[union-attr]
    ]:
        clean = storage._cases["c"]
        storage._cases["c"] = attrs.evolve(clean, **{field: value})
        report = engine.audit()
        assert found(report) == {("c", 5, "case")}, field
        assert field in report.violations[0].message
        storage._cases["c"] = clean
    assert engine.audit().ok


def test_the_case_row_must_hold_the_parties_its_history_binds(
    engine: Engine, storage: MemoryStorage
) -> None:
    mstr_validated(engine, "c")
    clean = storage._cases["c"]
    assert clean.parties is not None
    # Someone with write access lets a funder never consulted see the case.
    widened = Parties(clean.parties.bound | {("consulted_funder", ANY_KEY, "ville-vitrolles")},
                      clean.parties.coordinators)  # fmt: skip
    storage._cases["c"] = attrs.evolve(clean, parties=widened)
    report = engine.audit()
    assert found(report) == {("c", 5, "case")}
    assert "parties" in report.violations[0].message
    # A row a store upgraded from before parties has none yet: nothing to compare.
    storage._cases["c"] = attrs.evolve(clean, parties=None)
    assert engine.audit().ok


def test_a_case_row_without_history_and_a_history_without_row(
    engine: Engine, storage: MemoryStorage
) -> None:
    mstr_validated(engine, "a")
    mstr_validated(engine, "b")
    del storage._records["a"]
    del storage._cases["b"]
    report = engine.audit()
    assert found(report) == {("a", None, "case"), ("b", 5, "case")}
    assert found(engine.audit("a")) == {("a", None, "case")}


class _StreamingIds(MemoryStorage):
    """A memory store with the optional ``iter_case_ids``, counting how often it is used."""

    streamed = 0

    def iter_case_ids(self) -> Iterator[str]:
        self.streamed += 1
        yield from sorted(self._cases)


def test_rows_without_history_are_counted_by_streaming_ids_when_the_store_can() -> None:
    storage = _StreamingIds()
    assert isinstance(storage, StreamsCaseIds)
    assert not isinstance(MemoryStorage(), StreamsCaseIds)
    engine = engine_on(storage)
    mstr_validated(engine, "a")
    mstr_validated(engine, "b")
    del storage._records["a"]
    assert found(engine.audit()) == {("a", None, "case")}
    assert storage.streamed == 2  # counted once, then searched since the counts differ


def test_violations_read_well(engine: Engine, storage: MemoryStorage) -> None:
    mstr_validated(engine, "c")
    forge(storage, "c", "start_diagnosis", PROVIDER, target="diagnosis")
    report = engine.audit()
    violation = report.violations[0]
    assert isinstance(violation, Violation)
    assert str(violation).startswith("c seq 6: [guard] ")
    assert str(violation) in report.summary()
    assert report.summary().startswith("audit 1 violation(s): 1 cases, 6 records")


def test_the_audit_guide_code_runs() -> None:
    guide = Path(__file__).parent.parent / "docs" / "audit.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile("\n".join(blocks), str(guide), "exec"), namespace)
    assert "audit ok: 1 cases, 4 records" in printed.getvalue()
    assert "Dossier bdm" in printed.getvalue()
