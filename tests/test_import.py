"""An import is all or nothing, on every adapter: whatever refuses the last case of a file (the
import's own checks as it streams, or the store itself), the cases before it are not written.

Issue #16 item 5: a 300-character id, or a NaN a PostgreSQL JSON column refuses, in a late case
used to leave the earlier cases written (once, a case cut at seq 2 that then passed its audit).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from audit_stories import engine_on, every_story
from small import AS_AUDITOR

from stechnique import InvalidData, StechniqueError, StorageError, export_jsonl
from stechnique.audit import audit
from stechnique.export import import_jsonl
from stechnique.records import GENESIS_HASH, Record, canonical_json, converter, seal
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage
from stechnique.testing.contract import stored


@pytest.fixture(scope="module")
def exported() -> list[Record]:
    """Every story, exported by an auditor, as records in file order."""
    storage = MemoryStorage()
    every_story(engine_on(storage))
    out = io.StringIO()
    export_jsonl(storage, out, **AS_AUDITOR)
    return [converter.structure(json.loads(line), Record) for line in out.getvalue().splitlines()]


def _resealed(history: list[Record]) -> list[Record]:
    """``history`` chained and sealed again, as a forger (or a faithful tool) would write it."""
    head, sealed = GENESIS_HASH, []
    for record in history:
        record = seal(attrs.evolve(record, prev_hash=head))
        sealed.append(record)
        head = record.hash
    return sealed


def _with_last_case(records: list[Record], change: Callable[[list[Record]], list[Record]]) -> str:
    """The file of ``records`` plus one more case, last by id, a copy of the first case after
    ``change``, resealed so its chain holds: only what ``change`` did is wrong with it."""
    first = records[0].case_id
    copy = [attrs.evolve(r, case_id="zz-last") for r in records if r.case_id == first]
    last = _resealed(change(copy))
    return "".join(canonical_json(converter.unstructure(r)) + "\n" for r in [*records, *last])


def _long_id(history: list[Record]) -> list[Record]:
    return [attrs.evolve(r, case_id="zz" + "x" * 298) for r in history]


def _nan(history: list[Record]) -> list[Record]:
    payload: dict[str, Any] = {**history[-1].payload, "montant": float("nan")}
    return [*history[:-1], attrs.evolve(history[-1], payload=payload)]


def _key_reused(history: list[Record]) -> list[Record]:
    """Two records of the case carrying one idempotency key: the import's checks let it
    through (the chain holds), the store refuses it."""
    return [attrs.evolve(r, idempotency_key="deux-fois") if r.seq > 1 else r for r in history]


@pytest.mark.parametrize(
    ("change", "refusal", "said"),
    [
        (_long_id, InvalidData, "longer than 255"),
        (_nan, InvalidData, "NaN"),
        # Let through by the import (the chain holds), refused by the store itself.
        (_key_reused, StorageError, None),
    ],
    ids=["300-character-id", "nan", "key-used-twice"],
)
def test_a_refused_last_case_leaves_the_store_empty(
    any_storage: Storage,
    exported: list[Record],
    change: Callable[[list[Record]], list[Record]],
    refusal: type[StechniqueError],
    said: str | None,
) -> None:
    text = _with_last_case(exported, change)
    assert len({r.case_id for r in exported}) >= 5  # earlier cases, valid, came first
    with pytest.raises(refusal, match=said):
        import_jsonl(any_storage, io.StringIO(text))
    assert stored(any_storage) == ([], [])
    assert list(any_storage.cases_without_parties()) == []
    # The store is left usable: the file without its bad case imports whole.
    good = "".join(canonical_json(converter.unstructure(r)) + "\n" for r in exported)
    report = import_jsonl(any_storage, io.StringIO(good))
    assert report.records == len(exported)
    assert audit(any_storage).ok


@pytest.mark.parametrize("escaped", [True, False], ids=["escaped", "raw"])
def test_a_lone_surrogate_is_refused_escaped_or_raw(escaped: bool) -> None:
    """A lone surrogate in a case id, whether the line escapes it (a file) or holds it (a text
    stream built in Python), is refused by name: no store can keep it."""
    source = MemoryStorage()
    every_story(engine_on(source))
    first = next(iter(source.iter_records()))
    forged = attrs.evolve(first, case_id="zz\udc80")  # unsealed: no hash covers it
    data = converter.unstructure(forged)
    line = json.dumps(data) if escaped else canonical_json(data)
    assert ("\\udc80" in line) is escaped
    target = MemoryStorage()
    with pytest.raises(InvalidData, match=r"case_id ?: holds characters that are not valid"):
        import_jsonl(target, io.StringIO(line + "\n"))
    assert stored(target) == ([], [])
