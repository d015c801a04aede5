"""``MemoryStorage``: the reference adapter, kept in process memory.

It is the model the other adapters are compared against in tests, so it favours obviousness
over speed. Every operation holds one lock, which makes ``create`` and ``append`` atomic across
threads. Nothing survives the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from stechnique.errors import CaseIdTaken, ConcurrencyConflict, UnknownCase
from stechnique.records import Case, Record
from stechnique.storage.base import not_followed

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """Thread-safe in-memory storage of cases and their histories."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cases: dict[str, Case] = {}
        self._records: dict[str, list[Record]] = {}
        self._keys: dict[tuple[str, str], Record] = {}

    def create(self, case: Case, first: Record) -> None:
        """See ``Storage.create``."""
        with self._lock:
            if case.id in self._cases:
                raise CaseIdTaken(case.id)
            self._cases[case.id] = case
            self._records[case.id] = [first]
            if first.idempotency_key is not None:
                self._keys[(case.id, first.idempotency_key)] = first

    def append(self, case: Case, record: Record) -> None:
        """See ``Storage.append``."""
        with self._lock:
            stored = self._cases.get(case.id)
            if stored is None:
                raise UnknownCase(case.id)
            if stored.seq != record.seq - 1 or case.seq != record.seq:
                raise ConcurrencyConflict(case.id, record.seq - 1, stored.seq)
            if (stored.state, stored.head) != (record.source, record.prev_hash):
                raise ConcurrencyConflict(
                    case.id, record.seq - 1, stored.seq, not_followed(stored, record)
                )
            key = (case.id, record.idempotency_key) if record.idempotency_key else None
            if key is not None and key in self._keys:
                raise ConcurrencyConflict(case.id, record.seq - 1, stored.seq)
            self._cases[case.id] = case
            self._records[case.id].append(record)
            if key is not None:
                self._keys[key] = record

    def get(self, case_id: str) -> Case | None:
        """See ``Storage.get``."""
        with self._lock:
            return self._cases.get(case_id)

    def records(self, case_id: str, after_seq: int = 0) -> Sequence[Record]:
        """See ``Storage.records``."""
        with self._lock:
            # seq n sits at index n - 1 because histories are contiguous.
            return tuple(self._records.get(case_id, ())[after_seq:])

    def record_by_key(self, case_id: str, idempotency_key: str) -> Record | None:
        """See ``Storage.record_by_key``."""
        with self._lock:
            return self._keys.get((case_id, idempotency_key))

    def cases(
        self, *, name: str | None = None, version: str | None = None, state: str | None = None
    ) -> Sequence[Case]:
        """See ``Storage.cases``."""
        with self._lock:
            found = [
                case
                for case in self._cases.values()
                if (name is None or case.name == name)
                and (version is None or case.version == version)
                and (state is None or case.state == state)
            ]
        return sorted(found, key=lambda case: (case.created_at, case.id))

    def iter_records(self, case_id: str | None = None) -> Iterator[Record]:
        """See ``Storage.iter_records``."""
        with self._lock:
            ids = sorted(self._records) if case_id is None else [case_id]
        for one in ids:
            yield from self.records(one)

    def close(self) -> None:
        """Nothing to release; kept for the protocol."""
