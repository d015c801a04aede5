"""Checkpoints: chain heads kept outside the store catch what the chain alone cannot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from audit_stories import (
    ADMIN,
    CAF,
    MIGRATED_STRUCTURE,
    PROVIDER,
    engine_on,
    every_story,
    mstr_closed,
    mstr_validated,
    rewrite,
)
from small import all_cases

from stechnique import (
    ChainHead,
    Checkpoint,
    CheckpointInvalid,
    Engine,
    HistoryCorrupted,
    export_checkpoint,
    verify_checkpoint,
)
from stechnique.audit import audit
from stechnique.storage.memory import MemoryStorage

KEY = b"la clef que garde l'auditrice"
NOW = datetime(2017, 1, 31, 17, 0, tzinfo=UTC)


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def engine(storage: MemoryStorage) -> Engine:
    engine = engine_on(storage)
    every_story(engine)
    return engine


def codes(report: object) -> set[tuple[str, int | None, str]]:
    return {(v.case_id, v.seq, v.code) for v in report.violations}  # type: ignore[attr-defined]


def test_a_checkpoint_lists_every_chain_head_signed_off(engine: Engine) -> None:
    checkpoint = export_checkpoint(engine.storage, "Jeanne Martin, auditrice", key=KEY, now=NOW)
    cases = sorted(all_cases(engine), key=lambda case: case.id)
    assert checkpoint.heads == tuple(ChainHead(c.id, c.seq, c.head) for c in cases)
    assert (checkpoint.signed_off_by, checkpoint.created_at) == ("Jeanne Martin, auditrice", NOW)
    assert checkpoint.signature == checkpoint.sign(KEY)
    checkpoint.check(KEY)
    assert export_checkpoint(engine.storage, "x", now=NOW).signature is None


def test_a_checkpoint_survives_its_file(engine: Engine, tmp_path: Path) -> None:
    checkpoint = export_checkpoint(engine.storage, "Jeanne Martin", key=KEY, now=NOW)
    path = tmp_path / "checkpoint.json"
    checkpoint.write(path)
    assert Checkpoint.read(path, KEY) == checkpoint
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "stechnique-checkpoint/1"
    assert data["cases"] == len(checkpoint.heads) == len(data["heads"])


def test_an_unchanged_or_grown_store_verifies(engine: Engine) -> None:
    checkpoint = export_checkpoint(engine.storage, "Jeanne Martin", key=KEY)
    report = verify_checkpoint(engine.storage, checkpoint, key=KEY)
    assert report.ok
    assert report.cases_checked == len(checkpoint.heads)
    # Life goes on after the checkpoint: new records, new cases.
    engine.fire("mstr-migrated", "withdraw", actor=MIGRATED_STRUCTURE, payload={"reason": "Fin"})
    mstr_validated(engine, "new-case")
    report = verify_checkpoint(engine.storage, checkpoint, key=KEY)
    assert report.ok, report.summary()
    assert report.records_checked == len(checkpoint.heads) + 1


def test_a_whole_chain_rewrite_passes_the_audit_but_not_the_checkpoint(
    storage: MemoryStorage,
) -> None:
    engine = engine_on(storage)
    mstr_closed(engine, "c")
    checkpoint = export_checkpoint(storage, "Jeanne Martin", key=KEY)
    # Someone with write access softens the report and re-seals everything after it.
    rewrite(storage, "c", 8, payload={"report": "Tout va bien"})
    assert audit(storage).ok
    report = verify_checkpoint(storage, checkpoint, key=KEY)
    assert codes(report) == {("c", 15, "checkpoint")}
    assert "chain rewritten" in report.violations[0].message


def test_a_removed_case_or_a_shortened_history_is_reported(engine: Engine) -> None:
    storage = engine.storage
    assert isinstance(storage, MemoryStorage)
    checkpoint = export_checkpoint(storage, "Jeanne Martin")
    del storage._records["convention-92"], storage._cases["convention-92"]
    del storage._records["mstr-closed"][-2:]
    report = verify_checkpoint(storage, checkpoint)
    assert codes(report) == {("convention-92", 7, "checkpoint"), ("mstr-closed", 15, "checkpoint")}
    messages = " ".join(v.message for v in report.violations)
    assert "missing" in messages
    assert "went backwards: the history ends at seq 13" in messages


def test_a_changed_record_after_the_checkpoint_breaks_the_chain_from_it(
    storage: MemoryStorage,
) -> None:
    engine = engine_on(storage)
    mstr_validated(engine, "c")
    checkpoint = export_checkpoint(storage, "Jeanne Martin")
    for event in ("acknowledge_confidentiality", "start_diagnosis"):
        engine.fire("c", event, actor=PROVIDER)
    records = storage._records["c"]
    records[6] = attrs.evolve(records[6], actor=ADMIN)
    assert codes(verify_checkpoint(storage, checkpoint)) == {("c", 7, "hash")}
    records[4] = attrs.evolve(records[4], actor=CAF, payload={"forged": 1})
    assert ("c", 5, "hash") in codes(verify_checkpoint(storage, checkpoint))


def test_an_altered_checkpoint_is_refused(engine: Engine) -> None:
    checkpoint = export_checkpoint(engine.storage, "Jeanne Martin", key=KEY, now=NOW)
    data = json.loads(checkpoint.to_json())
    moved = json.loads(checkpoint.to_json())
    moved["heads"][0]["hash"] = "f" * 64
    with pytest.raises(CheckpointInvalid, match="digest"):
        Checkpoint.from_json(json.dumps(moved))
    renamed = {**data, "signed_off_by": "Quelqu'un d'autre"}
    Checkpoint.from_json(json.dumps(renamed))  # the digest covers the heads only...
    with pytest.raises(CheckpointInvalid, match="signature"):
        Checkpoint.from_json(json.dumps(renamed), KEY)  # ...the signature covers the rest
    with pytest.raises(CheckpointInvalid, match="signature"):
        verify_checkpoint(engine.storage, checkpoint, key=b"une autre clef")
    unsigned = export_checkpoint(engine.storage, "Jeanne Martin")
    with pytest.raises(CheckpointInvalid, match="not signed"):
        unsigned.check(KEY)
    for broken in ("{}", "[]", "pas du json", json.dumps({**data, "format": "v0"})):
        with pytest.raises(CheckpointInvalid, match="not a stechnique-checkpoint/1"):
            Checkpoint.from_json(broken)


def test_nobody_signs_off_a_broken_chain(engine: Engine) -> None:
    storage = engine.storage
    assert isinstance(storage, MemoryStorage)
    records = storage._records["mstr-closed"]
    records[3] = attrs.evolve(records[3], payload={"decision": "refuse"})
    with pytest.raises(HistoryCorrupted, match="altéré à l'enregistrement 4") as caught:
        export_checkpoint(storage, "Jeanne Martin")
    assert caught.value.case_id == "mstr-closed"
    assert caught.value.seq == 4


def test_bad_arguments_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="signed_off_by"):
        export_checkpoint(engine.storage, "  ")
    with pytest.raises(ValueError, match="naive"):
        export_checkpoint(engine.storage, "Jeanne", now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="key is empty"):
        export_checkpoint(engine.storage, "Jeanne", key="")


def test_a_checkpoint_covers_every_case_and_lists_new_ones_with_the_time_they_claim(
    engine: Engine,
) -> None:
    # Issue 16, item 3: a case inserted after the checkpoint but dated before it (backdated to
    # 2016) used to pass the verification unseen; it is now listed with the time it claims,
    # next to a case honestly created since.
    checkpoint = export_checkpoint(engine.storage, "Jeanne Martin, auditrice", now=NOW)
    mstr_validated(engine_on(engine.storage, datetime(2017, 3, 1, tzinfo=UTC)), "after")
    mstr_validated(engine_on(engine.storage, datetime(2016, 5, 2, tzinfo=UTC)), "backdated")
    report = verify_checkpoint(engine.storage, checkpoint)
    claimed = dict(report.new_cases)
    assert sorted(claimed) == ["after", "backdated"]
    assert claimed["after"] > NOW > claimed["backdated"]  # type: ignore[operator]
    assert "backdated (its first record claims 2016-05-02" in report.summary()
