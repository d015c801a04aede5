"""Audit of stored histories: does what the store holds still prove itself?

``audit`` streams every record by ``(case_id, seq)`` and checks, case by case: the hash chain,
contiguous seq from 1, record 1 a ``start`` into the initial state, every later step a legal
transition from its source state for the actor's roles under the record's pinned procedure
version, the fingerprint known, and the stored case equal to the one the history replays to.
Memory stays proportional to one case, not to the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import Any

import attrs

from stechnique.definition import Procedure
from stechnique.migration import MIGRATE, replay_problems
from stechnique.records import GENESIS_HASH, Case, Record, record_hash
from stechnique.registry import Registry
from stechnique.storage.base import Storage

__all__ = ["AuditReport", "Replay", "Violation", "audit"]


@attrs.frozen
class Violation:
    """One thing wrong in a stored history: which case, at which seq (None: the case row)."""

    case_id: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        at = f" seq {self.seq}" if self.seq is not None else ""
        return f"{self.case_id}{at}: {self.message}"


@attrs.frozen
class AuditReport:
    """The outcome of an audit: ``ok`` when no violation was found."""

    ok: bool
    cases_checked: int
    records_checked: int
    violations: tuple[Violation, ...]


def audit(
    storage: Storage, registry: Registry | None = None, case_id: str | None = None
) -> AuditReport:
    """Audit every history in ``storage`` (or only ``case_id``) against ``registry``."""
    if registry is None:
        from stechnique.workflows import default_registry

        registry = default_registry()
    violations: list[Violation] = []
    seen: set[str] = set()
    records = 0
    for one_id, group in groupby(storage.iter_records(case_id), key=lambda record: record.case_id):
        replay = Replay(one_id, registry)
        for record in group:
            replay.feed(record)
        replay.compare(storage.get(one_id))
        violations += replay.violations
        records += replay.records
        seen.add(one_id)
    violations += _cases_without_history(storage, seen, case_id)
    return AuditReport(not violations, len(seen), records, tuple(violations))


def _cases_without_history(
    storage: Storage, seen: set[str], case_id: str | None
) -> list[Violation]:
    if case_id is not None:
        stored = storage.get(case_id)
        cases: Iterable[Case] = [stored] if stored is not None else []
    else:
        cases = storage.cases()
    return [Violation(c.id, None, "case row has no history") for c in cases if c.id not in seen]


class Replay:
    """Replays one case's records in order, collecting every violation it meets."""

    def __init__(self, case_id: str, registry: Registry) -> None:
        self.case_id = case_id
        self.registry = registry
        self.violations: list[Violation] = []
        self.records = 0
        self.state: str | None = None
        self.facts: dict[str, Any] = {}
        self.head = GENESIS_HASH
        self.last: Record | None = None

    def _violation(self, seq: int | None, message: str) -> None:
        self.violations.append(Violation(self.case_id, seq, message))

    def feed(self, record: Record) -> None:
        """Check one record against the replay so far, then advance the replay."""
        self.records += 1
        expected_seq = self.last.seq + 1 if self.last is not None else 1
        if record.seq != expected_seq:
            self._violation(record.seq, f"seq {record.seq} where {expected_seq} was expected")
        if record.prev_hash != self.head:
            self._violation(record.seq, "prev_hash does not match the previous record's hash")
        if record_hash(record.body()) != record.hash:
            self._violation(record.seq, "hash does not match the record's content")
        procedure = self.registry.by_fingerprint(record.fingerprint)
        if procedure is None:
            self._violation(record.seq, f"unknown procedure fingerprint {record.fingerprint[:12]}")
        else:
            self._check_step(record, procedure)
        self.state, self.head, self.last = record.target, record.hash, record

    def _check_step(self, record: Record, procedure: Procedure) -> None:
        if (procedure.name, procedure.version) != (record.name, record.version):
            self._violation(record.seq, "fingerprint belongs to another procedure version")
        if self.last is None:
            self._check_start(record, procedure)
            return
        if record.source != self.state:
            self._violation(
                record.seq, f"source {record.source!r} but the case was in {self.state!r}"
            )
        if record.event == MIGRATE:
            for problem in replay_problems(
                self.registry, self.last, self.state, self.facts, record
            ):
                self._violation(record.seq, problem)
            self.facts = dict(record.payload.get("facts") or {})
            return
        transition = procedure.transition(self.state or "", record.event, record.payload)
        if transition is None:
            self._violation(record.seq, f"{record.event!r} is not allowed from {self.state!r}")
        elif transition.target != record.target:
            self._violation(
                record.seq,
                f"{record.event!r} leads to {transition.target!r}, not {record.target!r}",
            )
        elif not record.actor.has_any(procedure.allowed_roles(transition.roles, self.facts)):
            self._violation(
                record.seq,
                f"actor {record.actor.id!r} had no role allowed to fire {record.event!r}",
            )

    def _check_start(self, record: Record, procedure: Procedure) -> None:
        if record.event != "start" or record.source is not None:
            self._violation(record.seq, f"record 1 is {record.event!r}, not 'start'")
        if record.target != procedure.initial.id:
            self._violation(
                record.seq, f"starts in {record.target!r}, not {procedure.initial.id!r}"
            )
        self.facts = dict(record.payload)
        allowed = procedure.allowed_roles(procedure.start_roles, self.facts)
        if not record.actor.has_any(allowed):
            self._violation(record.seq, f"actor {record.actor.id!r} had no role allowed to start")

    def compare(self, case: Case | None) -> None:
        """Check the stored case row against the replayed history."""
        last = self.last
        if case is None or last is None:
            self._violation(None, "history has no case row")
            return
        replayed = {
            "state": last.target,
            "seq": last.seq,
            "head": last.hash,
            "version": last.version,
            "fingerprint": last.fingerprint,
            "name": last.name,
        }
        for name, value in replayed.items():
            if getattr(case, name) != value:
                self._violation(
                    None, f"stored {name} {getattr(case, name)!r} but history gives {value!r}"
                )
