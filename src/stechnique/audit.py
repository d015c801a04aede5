"""Audit of stored histories: does what the store holds still prove itself?

``audit`` streams every record by ``(case_id, seq)`` and replays each case against the procedure
version each record is pinned to. For every record it checks:

* the **chain**: contiguous seq from 1, ``prev_hash`` equal to the previous record's hash, the
  record's own hash matching its content;
* the **pinned version**: the fingerprint is registered, under the record's name and version,
  and only a ``migrate`` record changes the version of a case;
* the **step**: record 1 is a ``start`` into the initial state by an actor holding a start role,
  with facts the procedure accepts; every later record is a transition declared from the state
  the case was in, to its declared target, fired by an actor holding one of its roles (case
  roles resolved from the replayed facts), with a payload its schema accepts; a ``migrate``
  record follows a declared migration;
* the **guards**, re-judged as they stood when the record was written: the history before it,
  its payload, its actor, ``now`` = its time, the facts as replayed. Guards that read other
  cases (``Guard.reads_other_cases``, e.g. ``collective_has_peers``) cannot be re-judged from
  one history: they are skipped and named in ``AuditReport.unjudged_guards``;
* the **case row** equals the case the history replays to (state, seq, head, version,
  fingerprint, facts, creation and update times), and no case row lacks a history.

Memory follows the longest case, not the store: one case's records are held at a time.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from stechnique._chain import case_after, content_hash, facts_after
from stechnique._histories import HistoryFilter, histories, link_problems
from stechnique.definition import Guard, GuardContext, Procedure, ReadOnlyStore, Transition
from stechnique.errors import InvalidData
from stechnique.migration import MIGRATE, replay_problems
from stechnique.records import GENESIS_HASH, Case, Record
from stechnique.registry import Registry
from stechnique.schema import Field, validate
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage

__all__ = ["CODES", "AuditReport", "Replay", "Violation", "audit"]

#: What each ``Violation.code`` means.
CODES: dict[str, str] = {
    "seq": "a record is missing, repeated or out of order",
    "chain": "prev_hash is not the hash of the record before",
    "hash": "the record's content does not match its hash",
    "fingerprint": "the pinned procedure version is unknown or changed without a migration",
    "start": "record 1 is not a proper start",
    "step": "the event is not a legal transition from the state the case was in",
    "role": "the actor held no role allowed to fire the event",
    "payload": "facts or payload the procedure does not accept",
    "guard": "a guard did not hold when the event fired",
    "case": "the case row disagrees with its history, or one exists without the other",
    "checkpoint": "the store no longer holds a history as an earlier checkpoint saw it",
}


@attrs.frozen
class Violation:
    """One thing wrong in a stored history.

    ``seq`` is the record concerned (for a missing record, the first missing seq; for a case
    row that disagrees with its history, the last seq of that history); ``None`` only for a
    case row with no history at all. ``code`` is one of ``CODES``.
    """

    case_id: str
    seq: int | None
    message: str
    code: str = "step"

    def __str__(self) -> str:
        at = f" seq {self.seq}" if self.seq is not None else ""
        return f"{self.case_id}{at}: [{self.code}] {self.message}"


@attrs.frozen
class AuditReport:
    """The outcome of an audit: ``ok`` when no violation was found.

    ``seconds`` is the wall time the audit took; ``unjudged_guards`` names the guards met in
    the audited records that could not be re-judged from one history (they read other cases).
    """

    ok: bool
    cases_checked: int
    records_checked: int
    violations: tuple[Violation, ...]
    seconds: float = 0.0
    unjudged_guards: tuple[str, ...] = ()

    @property
    def records_per_second(self) -> float:
        """Audit throughput (0 when nothing was timed)."""
        return self.records_checked / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """A few lines for people: verdict, counts, throughput, every violation."""
        verdict = "ok" if self.ok else f"{len(self.violations)} violation(s)"
        lines = [
            f"audit {verdict}: {self.cases_checked} cases, {self.records_checked} records "
            f"in {self.seconds:.3f} s ({self.records_per_second:,.0f} records/s)"
        ]
        if self.unjudged_guards:
            names = ", ".join(self.unjudged_guards)
            lines.append(f"not re-judged (they read other cases): {names}")
        lines += [f"  {violation}" for violation in self.violations]
        return "\n".join(lines)


def audit(
    storage: Storage,
    registry: Registry | None = None,
    case_id: str | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    since: datetime | None = None,
) -> AuditReport:
    """Audit the histories in ``storage`` against ``registry`` (default: published procedures).

    All cases, or one (``case_id``), or the cases having records pinned to procedure ``name``
    (and ``version``). With ``since`` (an aware datetime) only records written at or after it
    are checked and counted; earlier records are still read, to rebuild the state, facts and
    chain head the later ones are judged against, and the case row is checked only for cases
    having such records. A full audit also finds case rows that have no history.
    """
    if since is not None and since.tzinfo is None:
        raise ValueError(f"since={since!r} is naive; give an aware datetime (UTC)")
    if registry is None:
        from stechnique.workflows import default_registry

        registry = default_registry()
    began = time.perf_counter()
    tally = _Tally()
    store = ReadOnlyStore(storage)
    steps: dict[tuple[str, str | None, str], _Step | None] = {}
    for records in histories(storage, HistoryFilter(case_id, name, version)):
        if since is not None and all(record.at < since for record in records):
            continue
        replay = Replay(records[0].case_id, registry, store, steps=steps)
        for record in records:
            replay.feed(record, check=since is None or record.at >= since)
        case = storage.get(replay.case_id)
        replay.compare(case)
        tally.add(replay, case is not None)
    if case_id is not None and tally.cases == 0 and storage.get(case_id) is not None:
        tally.violations.append(Violation(case_id, None, "case row has no history", "case"))
    elif case_id is None and name is None and since is None:
        tally.violations += _rows_without_history(storage, tally.rows_with_history)
    return tally.report(time.perf_counter() - began)


@attrs.define
class _Tally:
    cases: int = 0
    records: int = 0
    rows_with_history: int = 0
    violations: list[Violation] = attrs.Factory(list)
    unjudged: set[str] = attrs.Factory(set)

    def add(self, replay: Replay, has_row: bool) -> None:
        self.cases += 1
        self.records += replay.records
        self.rows_with_history += has_row
        self.violations += replay.violations
        self.unjudged |= replay.unjudged

    def report(self, seconds: float) -> AuditReport:
        return AuditReport(
            not self.violations,
            self.cases,
            self.records,
            tuple(self.violations),
            seconds,
            tuple(sorted(self.unjudged)),
        )


def _case_ids(storage: Storage) -> Iterator[str]:
    # ``iter_case_ids`` is an optional capability: a store that streams its case ids keeps this
    # pass in constant memory; otherwise ``cases()`` is read whole.
    stream = getattr(storage, "iter_case_ids", None)
    if callable(stream):
        yield from stream()
    else:
        yield from (case.id for case in storage.cases())


def _rows_without_history(storage: Storage, rows_with_history: int) -> list[Violation]:
    """Case rows no history leads to: counted first, looked for only when the count differs."""
    if sum(1 for _ in _case_ids(storage)) == rows_with_history:
        return []
    return [
        Violation(one, None, "case row has no history", "case")
        for one in _case_ids(storage)
        if not storage.records(one)
    ]


@attrs.frozen
class _Step:
    """What an ordinary step (no start, no migration, one transition for its event from its
    state, under the version the case runs) asks of a record, worked out once per audit."""

    procedure: Procedure
    transition: Transition
    #: The roles allowed to fire it, or ``None`` when case roles resolve them from the facts.
    roles: frozenset[str] | None
    #: The guards re-judged (the case before the record and a context are built only for them)
    #: and the names of those that read other cases, which cannot be.
    guards: tuple[Guard, ...]
    unjudged: tuple[str, ...]
    what: str

    @classmethod
    def plan(cls, registry: Registry, record: Record) -> _Step | None:
        """The plan for steps like ``record``, or ``None`` when the general checks must run."""
        procedure = registry.by_fingerprint(record.fingerprint)
        if (
            record.event == MIGRATE
            or procedure is None
            or (procedure.name, procedure.version) != (record.name, record.version)
        ):
            return None
        candidates = procedure.candidates(record.source or "", record.event)
        if len(candidates) != 1:
            return None
        transition = candidates[0]
        case_roles = {role.id for role in procedure.case_roles}
        roles = None if case_roles.intersection(transition.roles) else frozenset(transition.roles)
        guards = tuple(procedure.guard(name) for name in transition.guards)
        judged = tuple(guard for guard in guards if not guard.reads_other_cases)
        unjudged = tuple(guard.name for guard in guards if guard.reads_other_cases)
        return cls(procedure, transition, roles, judged, unjudged, f"payload of {record.event}")


_CASE_FIELDS = (
    "state",
    "head",
    "name",
    "version",
    "fingerprint",
    "facts",
    "created_at",
    "updated_at",
)


class Replay:
    """Replays one case's records in order, collecting every violation it meets.

    ``store`` is what re-judged guards may read (an empty store when not given). ``steps``
    caches what each ``(fingerprint, state, event)`` asks of a record: share one dict between
    the replays of one audit, against one registry.
    """

    def __init__(
        self,
        case_id: str,
        registry: Registry,
        store: ReadOnlyStore | None = None,
        *,
        steps: dict[tuple[str, str | None, str], _Step | None] | None = None,
    ) -> None:
        self.case_id = case_id
        self.registry = registry
        self.store = store if store is not None else ReadOnlyStore(MemoryStorage())
        self.violations: list[Violation] = []
        self.unjudged: set[str] = set()
        self.records = 0
        self.state: str | None = None
        self.facts: dict[str, Any] = {}
        self.head = GENESIS_HASH
        self.last: Record | None = None
        self.history: list[Record] = []
        self._steps: dict[tuple[str, str | None, str], _Step | None] = (
            steps if steps is not None else {}
        )

    def _violation(self, seq: int | None, message: str, code: str = "step") -> None:
        self.violations.append(Violation(self.case_id, seq, message, code))

    def feed(self, record: Record, *, check: bool = True) -> None:
        """Check one record against the replay so far (unless ``check`` is false), then advance.

        Unchecked records still move the replay on: state, facts, chain head and history.
        """
        last = self.last
        if check:
            self.records += 1
            expected = last.seq + 1 if last is not None else 1
            # The usual case, a sound link, costs three comparisons; problems are worked out
            # (and worded) by the shared ``link_problems`` only when one of them fails.
            if (
                record.seq != expected
                or record.prev_hash != self.head
                or content_hash(record) != record.hash
            ):
                for code, seq, message in link_problems(record, expected, self.head):
                    self._violation(seq, message, code)
            step = self._step(record) if last is not None else None
            if step is not None:
                self._check_planned(record, step)
            else:
                self._check_record(record)
        event = record.event
        if event == "start" or event == MIGRATE:
            self.facts = facts_after(record, self.facts)
        self.state, self.head, self.last = record.target, record.hash, record
        self.history.append(record)

    def _check_record(self, record: Record) -> None:
        """Every check of one record, the general way (any record, any procedure)."""
        procedure = self.registry.by_fingerprint(record.fingerprint)
        if procedure is None:
            self._violation(
                record.seq,
                f"unknown procedure fingerprint {record.fingerprint[:12]} "
                f"(record says {record.name}@{record.version})",
                "fingerprint",
            )
        else:
            self._check_step(record, procedure)

    def _step(self, record: Record) -> _Step | None:
        """The plan for ``record`` when it is an ordinary step of the version the case runs
        under (else ``None``: the general checks apply)."""
        last = self.last
        if (
            last is None
            or record.fingerprint != last.fingerprint
            or record.name != last.name
            or record.version != last.version
            or record.source != self.state
        ):
            return None
        key = (record.fingerprint, record.source, record.event)
        try:
            return self._steps[key]
        except KeyError:
            step = self._steps[key] = _Step.plan(self.registry, record)
            return step

    def _check_planned(self, record: Record, step: _Step) -> None:
        """The checks of ``_check_transition``, with what depends only on the step worked out."""
        transition = step.transition
        if transition.target != record.target:
            self._violation(
                record.seq,
                f"{record.event!r} leads to {transition.target!r}, not {record.target!r}",
            )
        roles: Collection[str] | None = step.roles
        if roles is None:
            roles = step.procedure.allowed_roles(transition.roles, self.facts)
        if record.actor.roles.isdisjoint(roles):
            self._violation(
                record.seq,
                f"actor {record.actor.id!r} had no role allowed to fire {record.event!r}",
                "role",
            )
        payload = record.payload
        # ``validate`` of an empty schema and an empty payload is ``{}``: nothing to check.
        if transition.payload or payload.__class__ is not dict or payload:
            self._check_data(record, transition.payload, payload, step.what)
        if step.unjudged:
            self.unjudged.update(step.unjudged)
        if step.guards:
            self._check_guards(record, step.procedure, step.guards, self._case_before(), payload)

    def _check_step(self, record: Record, procedure: Procedure) -> None:
        if (procedure.name, procedure.version) != (record.name, record.version):
            self._violation(
                record.seq,
                f"fingerprint belongs to {procedure.key}, not {record.name}@{record.version}",
                "fingerprint",
            )
        if self.last is None:
            self._check_start(record, procedure)
            return
        if record.event != MIGRATE and record.fingerprint != self.last.fingerprint:
            self._violation(
                record.seq,
                f"pinned to {record.name}@{record.version} while the case ran under "
                f"{self.last.name}@{self.last.version}, with no migration between",
                "fingerprint",
            )
        if record.source != self.state:
            self._violation(
                record.seq, f"source {record.source!r} but the case was in {self.state!r}"
            )
        if record.event == MIGRATE:
            for problem in replay_problems(
                self.registry, self.last, self.state, self.facts, record
            ):
                self._violation(record.seq, problem)
            self._check_data(record, procedure.facts, record.payload.get("facts"), "facts")
            self._check_migration_guards(record)
            return
        self._check_transition(record, procedure)

    def _check_transition(self, record: Record, procedure: Procedure) -> None:
        transition = procedure.transition(self.state or "", record.event, record.payload)
        if transition is None:
            self._violation(record.seq, f"{record.event!r} is not allowed from {self.state!r}")
            return
        if transition.target != record.target:
            self._violation(
                record.seq,
                f"{record.event!r} leads to {transition.target!r}, not {record.target!r}",
            )
        if not record.actor.has_any(procedure.allowed_roles(transition.roles, self.facts)):
            self._violation(
                record.seq,
                f"actor {record.actor.id!r} had no role allowed to fire {record.event!r}",
                "role",
            )
        self._check_data(record, transition.payload, record.payload, f"payload of {record.event}")
        if transition.guards:
            guards = [procedure.guard(name) for name in transition.guards]
            self._check_guards(record, procedure, guards, self._case_before(), record.payload)

    def _check_migration_guards(self, record: Record) -> None:
        last = self.last
        old = self.registry.by_fingerprint(last.fingerprint) if last is not None else None
        if last is None or old is None:
            return
        migration = self.registry.migration(last.name, last.version, record.version)
        if migration is not None and migration.guards:
            # The engine judges migration guards on the old version, without a payload.
            self._check_guards(record, old, migration.guards, self._case_before(), {})

    def _check_start(self, record: Record, procedure: Procedure) -> None:
        if record.event != "start" or record.source is not None:
            self._violation(record.seq, f"record 1 is {record.event!r}, not 'start'", "start")
        if record.target != procedure.initial.id:
            self._violation(
                record.seq, f"starts in {record.target!r}, not {procedure.initial.id!r}", "start"
            )
        allowed = procedure.allowed_roles(procedure.start_roles, record.payload)
        if not record.actor.has_any(allowed):
            self._violation(
                record.seq, f"actor {record.actor.id!r} had no role allowed to start", "role"
            )
        self._check_data(record, procedure.facts, record.payload, "facts")
        guards = [procedure.guard(name) for name in procedure.start_guards]
        self._check_guards(record, procedure, guards, None, record.payload)

    def _check_data(self, record: Record, schema: Sequence[Field], data: Any, what: str) -> None:
        try:
            clean = validate(schema, data, what)
        except InvalidData as error:
            self._violation(record.seq, str(error), "payload")
            return
        if clean != data:
            self._violation(record.seq, f"{what} not in the form the engine writes", "payload")

    def _check_guards(
        self,
        record: Record,
        procedure: Procedure,
        guards: Iterable[Guard],
        case: Case | None,
        payload: Mapping[str, Any],
    ) -> None:
        """Re-judge ``guards`` as the engine did when ``record`` was written."""
        facts = self.facts if case is not None else record.payload
        context = GuardContext(
            procedure, case, facts, record.actor, record.event, payload, record.at,
            self.store, history=self.history,
        )  # fmt: skip
        for guard in guards:
            name = guard.name
            if guard.reads_other_cases:
                self.unjudged.add(name)
                continue
            try:
                held = guard.check(context)
            except Exception as error:  # a guard meeting tampered data must not stop the audit
                self._violation(record.seq, f"guard {name!r} could not be judged: {error}", "guard")
                continue
            if not held:
                self._violation(
                    record.seq,
                    f"guard {name!r} did not hold when {record.event!r} fired: {guard.en}",
                    "guard",
                )

    def _case_before(self) -> Case | None:
        """The case row as it stood before the record being checked."""
        if self.last is None or not self.history:
            return None
        return case_after(self.last, created_at=self.history[0].at, facts=self.facts)

    def compare(self, case: Case | None) -> None:
        """Check the stored case row against the replayed history."""
        last = self.last
        if last is None:
            if case is not None:
                self._violation(None, "case row has no history", "case")
            return
        if case is None:
            self._violation(last.seq, "history has no case row", "case")
            return
        if case.seq != last.seq:
            self._compare_seq(case.seq, last.seq)
            return
        replayed = case_after(last, created_at=self.history[0].at, facts=self.facts)
        for field in _CASE_FIELDS:
            self._compare_field(field, getattr(case, field), getattr(replayed, field), last.seq)

    def _compare_seq(self, stored: int, replayed: int) -> None:
        if stored > replayed:
            missing = replayed + 1
            gone = f"record {missing}" if stored == missing else f"records {missing} to {stored}"
            self._violation(
                missing,
                f"{gone} missing: the case row is at seq {stored} but the history ends at "
                f"seq {replayed}",
                "seq",
            )
        else:
            self._violation(
                stored + 1,
                f"case row: stored seq {stored} but the history goes on to seq {replayed}",
                "case",
            )

    def _compare_field(self, field: str, stored: Any, replayed: Any, seq: int) -> None:
        if stored != replayed:
            self._violation(
                seq,
                f"case row: stored {field} {stored!r} but the history gives {replayed!r}",
                "case",
            )
