"""``MemoryStorage``: the reference adapter, kept in process memory.

It is the model the other adapters are compared against in tests, so it favours obviousness
over speed. Every operation holds one lock, which makes ``create`` and ``append`` atomic across
threads. Nothing survives the process.

Facts and payloads are dicts: it hands out copies, so that a caller changing a case or a
record it got back does not change the stored history (which the audit would then find
tampered with). What it is given it keeps as given, which the contract allows (``Storage``):
copying on write too cost a sixth of a fire.

``cases(seen_by=...)`` asks each case's ``Parties.sees``: the rule itself, with no index (the
index is what SQL adapters must add, and what the contract tests compare them on).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence

import attrs

from stechnique._values import copied, replaced
from stechnique.errors import (
    CaseIdTaken,
    ConcurrencyConflict,
    StorageError,
    StoreNotEmpty,
    UnknownCase,
)
from stechnique.records import Access, Actor, Case, Parties, Record
from stechnique.storage.base import not_followed

__all__ = ["MemoryStorage"]


class MemoryStorage:
    """Thread-safe in-memory storage of cases and their histories."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cases: dict[str, Case] = {}
        self._records: dict[str, list[Record]] = {}
        self._keys: dict[tuple[str, str], Record] = {}
        self._accesses: list[Access] = []
        # The change feed: every record in append order (position n at index n - 1), and the
        # position each consumer acknowledged. Appended under the lock: no gap, never skipped.
        self._feed: list[Record] = []
        self._consumers: dict[str, int] = {}

    def create(self, case: Case, first: Record) -> None:
        """See ``Storage.create``."""
        with self._lock:
            if case.id in self._cases:
                raise CaseIdTaken(case.id)
            self._cases[case.id] = case
            self._records[case.id] = [first]
            self._feed.append(first)
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
            key = None if record.idempotency_key is None else (case.id, record.idempotency_key)
            if key is not None and key in self._keys:
                raise ConcurrencyConflict(case.id, record.seq - 1, stored.seq)
            self._cases[case.id] = case
            self._records[case.id].append(record)
            self._feed.append(record)
            if key is not None:
                self._keys[key] = record

    def get(self, case_id: str) -> Case | None:
        """See ``Storage.get``."""
        with self._lock:
            case = self._cases.get(case_id)
        return None if case is None else _own_case(case)

    def records(self, case_id: str, after_seq: int = 0) -> Sequence[Record]:
        """See ``Storage.records``."""
        with self._lock:
            # seq n sits at index n - 1 because histories are contiguous; every seq is > 0.
            found = self._records.get(case_id, ())[max(after_seq, 0) :]
        return tuple(_own_record(record) for record in found)

    def record_by_key(self, case_id: str, idempotency_key: str) -> Record | None:
        """See ``Storage.record_by_key``."""
        with self._lock:
            record = self._keys.get((case_id, idempotency_key))
        return None if record is None else _own_record(record)

    def cases(
        self,
        *,
        name: str | None = None,
        version: str | None = None,
        state: str | None = None,
        seen_by: Actor | None = None,
    ) -> Sequence[Case]:
        """See ``Storage.cases``."""
        with self._lock:
            found = [
                case
                for case in self._cases.values()
                if (name is None or case.name == name)
                and (version is None or case.version == version)
                and (state is None or case.state == state)
                and (seen_by is None or (case.parties is not None and case.parties.sees(seen_by)))
            ]
        return [_own_case(case) for case in sorted(found, key=lambda c: (c.created_at, c.id))]

    def cases_without_parties(self) -> Iterator[str]:
        """See ``Storage.cases_without_parties``."""
        with self._lock:
            found = sorted(case.id for case in self._cases.values() if case.parties is None)
        yield from found

    def set_parties(self, case_id: str, seq: int, parties: Parties) -> bool:
        """See ``Storage.set_parties``."""
        with self._lock:
            stored = self._cases.get(case_id)
            if stored is None or stored.seq != seq:
                return False
            self._cases[case_id] = attrs.evolve(stored, parties=parties)
            return True

    def log_access(self, access: Access) -> None:
        """See ``Storage.log_access``."""
        with self._lock:
            self._accesses.append(access)

    def accesses(self) -> Sequence[Access]:
        """See ``Storage.accesses``."""
        with self._lock:
            return tuple(self._accesses)

    def iter_records(self, case_id: str | None = None) -> Iterator[Record]:
        """See ``Storage.iter_records``."""
        with self._lock:
            ids = sorted(self._records) if case_id is None else [case_id]
        for one in ids:
            yield from self.records(one)

    def restore(self, histories: Iterable[tuple[Case, Sequence[Record]]]) -> int:
        """See ``Storage.restore``: staged apart, then put in place at once under the lock."""
        with self._lock:
            if self._cases or self._records:
                raise StoreNotEmpty
            cases: dict[str, Case] = {}
            records: dict[str, list[Record]] = {}
            keys: dict[tuple[str, str], Record] = {}
            for case, history in histories:
                if case.id in cases:
                    raise CaseIdTaken(case.id)
                for record in history:
                    if record.idempotency_key is None:
                        continue
                    key = (case.id, record.idempotency_key)
                    if key in keys:
                        raise StorageError(
                            f"la clé d'idempotence de l'enregistrement {record.seq} du dossier "
                            f"{case.id} sert déjà / record {record.seq} of case {case.id} "
                            "reuses an idempotency key of the case"
                        )
                    keys[key] = record
                cases[case.id], records[case.id] = case, list(history)
            self._cases, self._records, self._keys = cases, records, keys
            # The feed numbers the imported records in the order the import gave them.
            self._feed = [record for history in records.values() for record in history]
            return sum(map(len, records.values()))

    def changes(self, after: int = 0, limit: int = 500) -> Sequence[tuple[int, Record]]:
        """See ``Feed.changes``."""
        start = max(after, 0)
        with self._lock:
            found = self._feed[start : start + max(limit, 0)]
        return tuple((start + n, _own_record(r)) for n, r in enumerate(found, start=1))

    def last_position(self) -> int:
        """See ``Feed.last_position``."""
        with self._lock:
            return len(self._feed)

    def acknowledged(self, consumer: str) -> int:
        """See ``Feed.acknowledged``."""
        with self._lock:
            return self._consumers.get(consumer, 0)

    def acknowledge(self, consumer: str, position: int) -> None:
        """See ``Feed.acknowledge``."""
        with self._lock:
            self._consumers[consumer] = max(position, self._consumers.get(consumer, 0))

    def close(self) -> None:
        """Nothing to release; kept for the protocol."""


def _own_case(case: Case) -> Case:
    return replaced(case, "facts", copied(case.facts))


def _own_record(record: Record) -> Record:
    record = replaced(record, "payload", copied(record.payload))
    # Salts are a dict too (format 2): a caller's change must not reach the stored history.
    return replaced(record, "salts", dict(record.salts)) if record.salts else record
