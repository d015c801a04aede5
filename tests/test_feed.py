"""The change feed (issue 17): every step, once, in order, as each viewer may read it.

Told on the MSTR story of Belle de Mai (tests/test_parties.py): a funder bound by ``refer`` is
told of the records before it, the partners are told of the validated report once validated,
and folding a viewer's feed gives exactly what ``Engine.history`` shows that viewer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sql_support import SQLBackend, open_empty
from test_parties import (
    BELLE_DE_MAI,
    CABINET,
    CAF,
    CAF_13,
    ETAT,
    FACTS,
    MSTR,
    OTHER_CENTRE,
    VALIDATED,
    VITROLLES,
    belle_de_mai,
)

from stechnique import (
    Actor,
    Engine,
    HistoryCorrupted,
    InvalidArgument,
    ManualClock,
    default_registry,
)
from stechnique.errors import ConcurrencyConflict, StorageError
from stechnique.feed import Change
from stechnique.parties import parties_of
from stechnique.records import Record
from stechnique.storage import MemoryStorage, SQLStorage
from stechnique.storage.base import Storage
from stechnique.testing.contract import CaseBuilder
from stechnique.visibility import is_redacted, redact

FIXTURES = Path(__file__).parent / "fixtures" / "0.1.0"
VIEWERS = (BELLE_DE_MAI, CAF, ETAT, CAF_13, CABINET, OTHER_CENTRE, VITROLLES)


def _two_cases(engine: Engine) -> tuple[str, str]:
    """Belle de Mai's whole story, and a second case of another centre fired in between."""
    other = engine.start(MSTR, version="2015-2017", actor=OTHER_CENTRE, facts=FACTS).id
    case = belle_de_mai(engine, before="validate_report")
    engine.fire(other, "refer", actor=CAF, payload={"funders": ["ville-vitrolles"]})
    engine.fire(case, "validate_report", actor=BELLE_DE_MAI)
    return case, other


def _entries(engine: Engine, viewer: Actor, limit: int = 100) -> list[Change]:
    entries, after = [], 0
    while True:
        batch = engine.changes(after, limit, viewer=viewer)
        entries += batch.entries
        if batch.position == after:
            return entries
        after = batch.position


def _folded(entries: list[Change]) -> dict[str, dict[int, Record]]:
    """What a consumer knows after applying every entry: the latest of each record."""
    known: dict[str, dict[int, Record]] = {}
    for entry in entries:
        for record in (*entry.disclosed, entry.record):
            known.setdefault(record.case_id, {})[record.seq] = record
    return known


def test_folding_a_viewers_feed_gives_the_history_it_may_read() -> None:
    engine = Engine()
    cases = _two_cases(engine)
    for viewer in VIEWERS:
        known = _folded(_entries(engine, viewer))
        visible = {case.id for case in engine.cases(viewer=viewer)}
        assert set(known) == visible, viewer
        for case_id in visible:
            history = engine.history(case_id, viewer)
            assert [known[case_id][record.seq] for record in history] == history, viewer
    assert set(_folded(_entries(engine, CAF))) == set(cases)
    assert _entries(engine, Actor("personne")) == []


def test_every_record_once_in_the_order_it_was_appended() -> None:
    engine = Engine()
    _two_cases(engine)
    entries = [e for e in _entries(engine, CAF, limit=3) if e.kind == "record"]
    assert [e.position for e in entries] == list(range(1, len(entries) + 1))
    stored = list(engine.storage.iter_records())
    assert sorted((e.record.case_id, e.record.seq) for e in entries) == sorted(
        (r.case_id, r.seq) for r in stored
    )
    for case_id in {r.case_id for r in stored}:
        seqs = [e.record.seq for e in entries if e.record.case_id == case_id]
        assert seqs == sorted(seqs)


def test_a_funder_bound_by_refer_is_told_of_the_records_before() -> None:
    engine = Engine()
    case = belle_de_mai(engine, until="referred")
    entries = _entries(engine, ETAT)
    disclosure, refer = entries
    assert (disclosure.kind, refer.kind) == ("disclosure", "record")
    assert disclosure.position == refer.position == 2
    assert disclosure.key == (case, 2, "disclosure")
    assert refer.key == (case, 2, "record")
    assert [r.seq for r in disclosure.disclosed] == [1]
    assert disclosure.disclosed == tuple(engine.history(case, ETAT)[:1])
    # Another funder, never bound, is told nothing.
    assert _entries(engine, VITROLLES) == []


def test_the_validated_report_alone_is_disclosed_to_the_partners() -> None:
    engine = Engine()
    belle_de_mai(engine)
    for partner in (CAF, ETAT, CAF_13):
        entries = _entries(engine, partner)
        reports = [e.record for e in entries if e.record.event == "submit_report"]
        assert all(is_redacted(r.payload["report"]) for r in reports)  # when submitted
        (disclosure,) = [e for e in entries if e.kind == "disclosure" and e.record.seq > 2]
        assert disclosure.record.event == "validate_report"
        (opened,) = disclosure.disclosed
        assert (opened.event, opened.payload["report"]) == ("submit_report", VALIDATED)
    # The manager read every report all along: nothing to disclose.
    assert [e for e in _entries(engine, BELLE_DE_MAI) if e.kind == "disclosure"] == []


def test_entries_are_the_same_whenever_and_from_wherever_they_are_read() -> None:
    engine = Engine()
    _two_cases(engine)
    whole = _entries(engine, ETAT)
    assert _entries(engine, ETAT, limit=1) == whole
    # A fresh engine reading from the middle reads the earlier records from the store.
    middle = whole[len(whole) // 2].position
    fresh = Engine(engine.storage)
    assert list(fresh.changes(middle - 1, 100, viewer=ETAT)) == [
        e for e in whole if e.position >= middle
    ]


def test_a_consumer_is_given_again_what_it_did_not_acknowledge() -> None:
    engine = Engine()
    belle_de_mai(engine, until="referred")
    first = next(engine.follow("dashboard", viewer=CAF, limit=1, idle=0))
    assert engine.acknowledged("dashboard") == 0  # it stopped inside the batch
    again = engine.follow("dashboard", viewer=CAF, limit=1, idle=0)
    assert next(again) == first
    rest = list(again)  # the loop asked for the next batches: each one acknowledged
    assert [b.position for b in rest] == [2]
    assert engine.acknowledged("dashboard") == 2
    assert list(engine.follow("dashboard", viewer=CAF, idle=0)) == []
    assert engine.acknowledged("other") == 0


def test_a_batch_the_viewer_sees_nothing_of_is_acknowledged_without_being_given() -> None:
    engine = Engine()
    belle_de_mai(engine, until="referred")
    assert list(engine.follow("vitrolles", viewer=VITROLLES, idle=0)) == []
    assert engine.acknowledged("vitrolles") == 2


def test_bad_arguments_are_refused_in_both_languages() -> None:
    engine = Engine()
    with pytest.raises(InvalidArgument) as refused:
        engine.changes(-1, 0, viewer="caf")  # type: ignore[arg-type]
    assert {p.argument for p in refused.value.arguments} == {"after", "limit", "viewer"}
    assert "entier" in str(refused.value)
    assert "whole number" in refused.value.en
    with pytest.raises(InvalidArgument):
        engine.follow("", viewer=CAF, idle=-1)


def test_a_record_altered_in_the_store_is_not_served(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/feed.db"
    with SQLStorage(url) as storage:
        engine = Engine(storage)
        belle_de_mai(engine, until="referred")
        records = storage.schema.records
        with sa.create_engine(url).begin() as connection:
            connection.execute(
                records.update().where(records.c.seq == 1).values(payload={"centre": "x"})
            )
        with pytest.raises(HistoryCorrupted):
            Engine(storage).changes(0, viewer=CAF)


def test_a_store_without_a_feed_is_refused_in_both_languages() -> None:
    class NoFeed:
        def __getattr__(self, name: str) -> object:
            if name in ("changes", "acknowledge", "acknowledged", "last_position"):
                raise AttributeError(name)
            return getattr(self._inner, name)

        def __init__(self) -> None:
            self._inner = MemoryStorage()

    engine = Engine(NoFeed())  # type: ignore[arg-type]
    with pytest.raises(StorageError) as refused:
        engine.changes(viewer=CAF)
    assert "flux de changements" in str(refused.value)
    assert "change feed" in str(refused.value)


# -- PostgreSQL: the append tells the followers -------------------------------------------


@pytest.fixture
def postgres_storage(postgres_url: str, table_prefix: str) -> Iterator[Storage]:
    yield from open_empty(SQLBackend("postgres", postgres_url, table_prefix))


@pytest.mark.postgres
def test_an_append_notifies_on_commit_and_a_refused_one_does_not(
    postgres_storage: SQLStorage,
) -> None:
    listener = postgres_storage.listen()
    try:
        builder = CaseBuilder("told")
        postgres_storage.create(*builder.start())
        assert listener.wait(10)
        stale = CaseBuilder("told")
        stale.case = builder.case
        postgres_storage.append(*builder.step("submit"))
        assert listener.wait(10)
        with pytest.raises(ConcurrencyConflict):
            postgres_storage.append(*stale.step("submit"))
        assert not listener.wait(0.3)
    finally:
        listener.close()


@pytest.mark.postgres
def test_a_follower_wakes_when_another_connection_appends(postgres_storage: SQLStorage) -> None:
    engine = Engine(postgres_storage)
    belle_de_mai(engine, until="referred")
    follower = engine.follow("waker", viewer=CAF, idle=30)
    assert next(follower).position == 2
    writer = threading.Timer(
        0.2,
        lambda: engine.fire(
            engine.cases(viewer=CAF)[0].id,
            "record_funder_decision",
            actor=ETAT,
            payload={"decision": "approve"},
        ),
    )
    writer.start()
    woken = next(follower)
    writer.join()
    assert [e.record.event for e in woken] == ["record_funder_decision"]
    follower.close()


# -- the command line ---------------------------------------------------------------------


def test_the_changes_command_prints_what_the_viewer_may_read(tmp_path: Path) -> None:
    from test_cli import REPORT, cli, report_sent

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with SQLStorage(db) as storage:
        report_sent(Engine(storage))
    code, out, err = cli("changes", "--as", "caf-13:funder", "--db", db)
    assert code == 0, err
    positions = [int(line.split()[0]) for line in out.splitlines()]
    assert positions == sorted(positions)
    assert "révèle #1" in out  # bound by refer: told of the start (French by default)
    assert REPORT not in out
    code, out, err = cli("changes", "--as", "caf-13:funder", "--json", "--after", "2", "--db", db)
    assert code == 0, err
    entries = [json.loads(line) for line in out.splitlines()]
    assert [e["position"] for e in entries] == list(range(3, 3 + len(entries)))
    assert all(e["key"] == [e["record"]["case_id"], e["record"]["seq"], e["kind"]] for e in entries)
    code, out, _ = cli("changes", "--as", "personne:funder", "--db", db)
    assert (code, out) == (0, "")


def test_the_changes_command_acknowledges_for_a_consumer(tmp_path: Path) -> None:
    from test_cli import cli, report_sent

    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with SQLStorage(db) as storage:
        report_sent(Engine(storage))
    first = cli("changes", "--as", "caf-13:funder", "--consumer", "bot", "--db", db)
    assert first[0] == 0
    assert first[1]
    again = cli("changes", "--as", "caf-13:funder", "--consumer", "bot", "--follow", "--idle",
                "0.1", "--db", db)  # fmt: skip
    assert again[:2] == (0, "")
    with SQLStorage(db) as storage:
        assert storage.acknowledged("bot") == storage.last_position()


def test_each_record_shows_as_its_history_up_to_it_would_show_it() -> None:
    """The definition, worked out from scratch for every entry: the record as ``redact``
    shows the case's history up to it, with the parties that history bound."""
    engine = Engine()
    _two_cases(engine)
    for viewer in VIEWERS:
        for entry in _entries(engine, viewer):
            upto = list(engine.storage.records(entry.record.case_id))[: entry.record.seq]
            parties = parties_of(upto, engine._procedure_of_record)
            assert parties.sees(viewer)
            shown = redact(upto, viewer, {}, parties, engine._procedure_of_record)
            assert entry.record == shown[-1], (viewer, entry.key)


def test_a_periodic_audit_by_append_order_finds_a_backdated_forgery() -> None:
    """Issue 16: a case written behind the engine's back after the last audit, its records
    claiming 2016, escapes ``audit(since=...)`` but not ``appended_after``."""
    engine = Engine(clock=ManualClock(datetime(2024, 1, 1, tzinfo=UTC)))
    belle_de_mai(engine, until="referred")
    checked_up_to = engine.storage.last_position()  # type: ignore[attr-defined]
    last_audit = datetime(2024, 1, 2, tzinfo=UTC)
    mstr = default_registry().get(MSTR, "2015-2017")
    forged = CaseBuilder("forged", name=MSTR, version="2015-2017")
    forged.fingerprint = mstr.fingerprint
    at = datetime(2016, 3, 1, tzinfo=UTC)
    engine.storage.create(*forged.start(FACTS, at=at, actor=BELLE_DE_MAI))
    engine.storage.append(*forged.step("validate", "validated", at=at, actor=CAF))
    assert engine.audit(since=last_audit).ok  # the forgery claims to be older
    report = engine.audit(appended_after=checked_up_to)
    assert not report.ok
    assert {v.case_id for v in report.violations} == {"forged"}
    assert report.records_checked == 2


def test_the_feed_of_an_upgraded_010_store_folds_into_each_viewers_history(
    tmp_path: Path,
) -> None:
    """0.1.0's demo (a case migrated from the MSTR to the DLA among them), upgraded in place:
    numbered by migration 0005, read from the middle and from the start, for each viewer."""
    copy = tmp_path / "store.db"
    copy.write_bytes((FIXTURES / "demo-0.1.0.sqlite").read_bytes())
    viewers = [
        Actor("caf-coordination", {"caf_coordinator"}),
        Actor("esia", {"esia_officer"}),
        Actor("france-active-paca", {"france_active_officer"}),
        Actor("caf-13", {"funder"}),
        Actor("ca-air-bel", {"structure"}),
        Actor("ca-belle-de-mai", {"administrator"}),
    ]
    with SQLStorage(f"sqlite:///{copy}") as storage:
        engine = Engine(storage)
        for viewer in viewers:
            entries = _entries(engine, viewer, limit=7)
            known = _folded(entries)
            visible = {case.id for case in engine.cases(viewer=viewer)}
            assert set(known) == visible, viewer
            for case_id in visible:
                history = engine.history(case_id, viewer)
                assert [known[case_id][r.seq] for r in history] == history, (viewer, case_id)
            middle = entries[len(entries) // 2].position if entries else 0
            fresh = Engine(storage).changes(middle - 1, 1000, viewer=viewer)
            assert list(fresh) == [e for e in entries if e.position >= middle]


def test_the_audit_command_takes_the_records_appended_after_a_position(tmp_path: Path) -> None:
    from test_cli import cli

    db = f"sqlite:///{tmp_path / 'audit.db'}"
    with SQLStorage(db) as storage:
        engine = Engine(storage, clock=ManualClock(datetime(2024, 1, 1, tzinfo=UTC)))
        belle_de_mai(engine, until="referred")
        checked_up_to = storage.last_position()
        forged = CaseBuilder("forged", name=MSTR, version="2015-2017")
        forged.fingerprint = default_registry().get(MSTR, "2015-2017").fingerprint
        at = datetime(2016, 3, 1, tzinfo=UTC)
        storage.create(*forged.start(FACTS, at=at, actor=BELLE_DE_MAI))
        storage.append(*forged.step("validate", "validated", at=at, actor=CAF))
    # The last audit ran on 2024-01-02: the forgery claims to be older and escapes --since.
    assert cli("audit", "--since", "2024-01-02", "--db", db)[0] == 3
    code, out, _ = cli("audit", "--after", str(checked_up_to), "--json", "--db", db)
    report = json.loads(out)
    assert code == 1
    assert {v["case_id"] for v in report["violations"]} == {"forged"}
    assert report["scope"]["appended_after"] == checked_up_to
