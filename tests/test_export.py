"""Export and restore: JSON Lines round trip on SQLite, CSV for spreadsheets, redacted exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from audit_stories import (
    ADMIN,
    CAF,
    ETAT,
    MIGRATED_STRUCTURE,
    MSTR,
    PROVIDER,
    engine_on,
    every_story,
    mstr_validated,
)
from small import AS_AUDITOR

from stechnique import (
    Actor,
    Engine,
    HistoryCorrupted,
    ImportReport,
    InvalidData,
    StoreNotEmpty,
    export_csv,
    export_jsonl,
    import_jsonl,
    is_redacted,
)
from stechnique.audit import audit
from stechnique.export import CSV_COLUMNS
from stechnique.records import canonical_json
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage
from stechnique.storage.sql import SQLStorage
from stechnique.testing.contract import CaseBuilder


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLStorage]:
    """Every story on SQLite, written once for the module; tests only read it."""
    storage = SQLStorage(f"sqlite:///{tmp_path_factory.mktemp('export') / 'source.db'}")
    every_story(engine_on(storage))
    yield storage
    storage.close()


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[SQLStorage]:
    storage = SQLStorage(f"sqlite:///{tmp_path / 'restored.db'}")
    yield storage
    storage.close()


def test_export_import_audit_round_trip_on_sqlite(
    source: SQLStorage, empty: SQLStorage, tmp_path: Path
) -> None:
    path = tmp_path / "histories.jsonl"
    written = export_jsonl(source, path, **AS_AUDITOR)
    originals = list(source.iter_records())
    assert written == len(originals)
    report = import_jsonl(empty, path)
    assert report == ImportReport(cases=5, records=len(originals))
    # Identical records, hashes included, and the very case rows the engine wrote.
    assert list(empty.iter_records()) == originals
    assert sorted(empty.cases(), key=_id) == sorted(source.cases(), key=_id)
    restored = audit(empty)
    assert restored.ok, restored.summary()
    assert (restored.cases_checked, restored.records_checked) == (5, len(originals))
    again = tmp_path / "again.jsonl"
    export_jsonl(empty, again, **AS_AUDITOR)
    assert again.read_bytes() == path.read_bytes()
    # A restored store works on: the engine fires on the restored cases.
    Engine(empty).fire(
        "mstr-migrated", "withdraw", actor=MIGRATED_STRUCTURE, payload={"reason": "x"}
    )
    assert audit(empty).ok


def _id(case: object) -> str:
    return case.id  # type: ignore[attr-defined, no-any-return]


def test_jsonl_is_canonical_one_record_per_line_in_case_and_seq_order(source: SQLStorage) -> None:
    out = io.StringIO()
    export_jsonl(source, out, **AS_AUDITOR)
    lines = out.getvalue().splitlines()
    keys = []
    for line in lines:
        data = json.loads(line)
        assert canonical_json(data) == line
        keys.append((data["case_id"], data["seq"]))
    assert keys == sorted(keys)
    assert len(lines) == len(list(source.iter_records()))


def test_exports_take_a_case_or_a_procedure(source: SQLStorage) -> None:
    def cases(**selection: str) -> set[str]:
        out = io.StringIO()
        export_jsonl(source, out, **selection, **AS_AUDITOR)  # type: ignore[arg-type]
        return {json.loads(line)["case_id"] for line in out.getvalue().splitlines()}

    assert cases(case_id="convention-92") == {"convention-92"}
    assert cases(name=MSTR, version="2015-2017") == {"mstr-closed", "mstr-migrated"}
    assert cases(name="convention-pluripartenariale") == {"convention-92"}
    assert cases(case_id="no-such-case") == set()


def _reported(engine: Engine) -> None:
    mstr_validated(engine, "c")
    engine.fire("c", "acknowledge_confidentiality", actor=PROVIDER)
    engine.fire("c", "start_diagnosis", actor=PROVIDER)
    engine.fire("c", "submit_report", actor=PROVIDER, payload={"report": "Trésorerie tendue"})


def test_an_export_for_a_viewer_is_redacted_and_cannot_be_restored() -> None:
    storage = MemoryStorage()
    engine = engine_on(storage)
    _reported(engine)
    as_funder, as_manager = io.StringIO(), io.StringIO()
    export_jsonl(storage, as_funder, viewer=ETAT)
    export_jsonl(storage, as_manager, viewer=ADMIN)
    seen_by_funder = json.loads(as_funder.getvalue().splitlines()[-1])["payload"]["report"]
    seen_by_manager = json.loads(as_manager.getvalue().splitlines()[-1])["payload"]["report"]
    assert is_redacted(seen_by_funder)
    assert seen_by_manager == "Trésorerie tendue"
    # The same as Engine.history(viewer=...).
    history = engine.history("c", viewer=ETAT)
    assert [json.loads(line)["payload"] for line in as_funder.getvalue().splitlines()] == [
        record.payload for record in history
    ]
    as_funder.seek(0)
    with pytest.raises(HistoryCorrupted, match="redacted"):
        import_jsonl(MemoryStorage(), as_funder)
    csv_out = io.StringIO()
    export_csv(storage, csv_out, viewer=ETAT)
    assert "Trésorerie" not in csv_out.getvalue()


def test_csv_reads_in_a_spreadsheet_and_says_what_happened(
    source: SQLStorage, tmp_path: Path
) -> None:
    path = tmp_path / "histories.csv"
    written = export_csv(source, path, **AS_AUDITOR)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    records = list(source.iter_records())
    assert written == len(rows) == len(records)
    assert tuple(rows[0]) == CSV_COLUMNS
    for row, record in zip(rows, records, strict=True):
        assert (row["case_id"], int(row["seq"]), row["hash"]) == (
            record.case_id,
            record.seq,
            record.hash,
        )
        assert datetime.fromisoformat(row["at"]) == record.at
        assert datetime.fromisoformat(row["at_utc"] + "+00:00") == record.at.replace(microsecond=0)
        assert json.loads(row["payload"]) == record.payload
        assert set(row["actor_roles"].split()) == record.actor.roles
    closing = next(r for r in rows if r["case_id"] == "mstr-closed" and r["event"] == "close")
    assert (closing["event_fr"], closing["target_fr"]) == (
        "Clôturer la mission",
        "Mission clôturée",
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_import_refuses_a_store_that_is_not_empty(source: SQLStorage, tmp_path: Path) -> None:
    path = tmp_path / "histories.jsonl"
    export_jsonl(source, path, **AS_AUDITOR)
    before = list(source.iter_records())
    with pytest.raises(StoreNotEmpty, match="empty store only") as refused:
        import_jsonl(source, path)
    assert "magasin vide" in str(refused.value)
    assert list(source.iter_records()) == before


def _exported(source: SQLStorage) -> list[str]:
    out = io.StringIO()
    export_jsonl(source, out, **AS_AUDITOR)
    return out.getvalue().splitlines()


def _import(lines: list[str], storage: SQLStorage) -> None:
    import_jsonl(storage, io.StringIO("\n".join(lines) + "\n"))


def test_a_changed_line_is_refused_and_nothing_is_written(
    source: SQLStorage, empty: SQLStorage
) -> None:
    lines = _exported(source)
    last = len(lines) - 1  # in the last case: every earlier case was valid
    data = json.loads(lines[last])
    data["actor"]["id"] = "quelqu-un"
    lines[last] = canonical_json(data)
    with pytest.raises(HistoryCorrupted, match=f"line {last + 1}: hash") as caught:
        _import(lines, empty)
    assert (caught.value.case_id, caught.value.seq) == (data["case_id"], data["seq"])
    assert list(empty.iter_records()) == []
    assert list(empty.cases()) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda lines: lines.__setitem__(2, "{pas du json"), "line 3.*not JSON"),
        (lambda lines: lines.__setitem__(2, '{"seq": 3}'), "line 3.*expected the fields"),
        (lambda lines: lines.append(lines[0]), "increasing case id"),
    ],
    ids=["not-json", "not-a-record", "cases-out-of-order"],
)
def test_malformed_files_are_refused_with_the_line(
    source: SQLStorage, empty: SQLStorage, change: object, problem: str
) -> None:
    lines = _exported(source)
    change(lines)  # type: ignore[operator]
    with pytest.raises(InvalidData, match=problem):
        _import(lines, empty)
    assert list(empty.iter_records()) == []


def test_a_deleted_line_is_a_broken_chain(source: SQLStorage, empty: SQLStorage) -> None:
    lines = _exported(source)
    del lines[3]
    with pytest.raises(HistoryCorrupted, match="record 4 is missing"):
        _import(lines, empty)


def test_import_reads_its_source_once(source: SQLStorage, empty: SQLStorage) -> None:
    """A stream that cannot seek (a pipe) imports: the file is verified as it streams."""

    class OneWay(io.StringIO):
        def seekable(self) -> bool:
            return False

        def seek(self, *_: object) -> int:
            raise AssertionError("read twice")

    counts: list[int] = []
    report = import_jsonl(
        empty, OneWay("\n".join(_exported(source)) + "\n"), progress=counts.append
    )
    assert report.records == len(list(source.iter_records()))
    # Called once per case, with the records read so far: a bar over the lines ends full.
    assert len(counts) == report.cases
    assert counts == sorted(counts)
    assert counts[-1] == report.records


def test_a_memory_store_round_trips_too() -> None:
    storage = MemoryStorage()
    engine = engine_on(storage)
    mstr_validated(engine, "c")
    engine.fire("c", "acknowledge_confidentiality", actor=PROVIDER, idempotency_key="ack-1")
    out = io.StringIO()
    export_jsonl(storage, out, **AS_AUDITOR)
    out.seek(0)
    restored = MemoryStorage()
    import_jsonl(restored, out)
    assert list(restored.iter_records()) == list(storage.iter_records())
    assert restored.record_by_key("c", "ack-1") == storage.record_by_key("c", "ack-1")
    assert restored.get("c") == storage.get("c")
    assert CAF.id in {r.actor.id for r in restored.records("c")}


def test_actor_bodies_round_trip_through_jsonl(any_storage: Storage) -> None:
    """An actor's body is exported (only when given, as its hash covers it) and restored; the
    restored case rows have parties None, for the engine to derive from the histories."""
    source = MemoryStorage()
    builder = CaseBuilder("bodies")
    source.create(*builder.start(actor=Actor("agent-1", {"applicant"}, body="asso-é")))
    source.append(*builder.step("submit", actor=Actor("agent-2", {"applicant"})))
    source.append(*builder.step(actor=Actor("o", {"officer"}, body="caf"), idempotency_key="k"))
    out = io.StringIO()
    export_jsonl(source, out, **AS_AUDITOR)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["actor"].get("body") for line in lines] == ["asso-é", None, "caf"]
    assert "body" not in lines[1]["actor"]
    out.seek(0)
    import_jsonl(any_storage, out)
    records = list(any_storage.records("bodies"))
    assert records == list(source.records("bodies"))
    assert [r.actor.body for r in records] == ["asso-é", None, "caf"]
    assert list(any_storage.cases_without_parties()) == ["bodies"]
