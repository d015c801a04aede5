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
  record follows a migration declared between the two revisions its fingerprints name
  (another version, or a later revision of the same one), fired by a role allowed to order it;
* the **guards**, re-judged as they stood when the record was written: the history before it,
  its payload, its actor, ``now`` = its time, the facts as replayed. Guards that read other
  cases (``Guard.reads_other_cases``, e.g. ``collective_has_peers``) cannot be re-judged from
  one history: they are skipped and named in ``AuditReport.unjudged_guards``;
* every **row** can be read as a record (a case): one that cannot (a cell holding what the
  library never writes) is a ``row`` violation, and the records after it are checked as links
  of the chain only, the state they follow being unknown;
* the **record format** (``Record.format``): 1 (0.1.0's) or 2 (``records.FORMAT``), never
  back to 1 once a case has a format-2 record (a chain switches once, when its store was
  upgraded), a format-1 record with no salts, and a format-2 record with a salt for every
  confidential value its procedure declares for the event (none committed in the clear);
* the **case row** equals the case the history replays to (state, seq, head, version,
  fingerprint, facts, creation and update times), and no case row lacks a history.

Memory follows the longest case, not the store: one case's records are held at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from datetime import datetime
from typing import Any

import attrs

from stechnique._chain import case_after, content_hash, facts_after
from stechnique._histories import HistoryFilter, Row, case_ids, link_problems, rows_by_case
from stechnique._judge import START, PayloadInvalid, Refusal, judge, judge_migration
from stechnique._labels import REGISTER_PROCEDURE
from stechnique._openings import link_back_problems, links_back
from stechnique.definition import GuardContext, Opening, Procedure, ReadOnlyStore
from stechnique.errors import HistoryCorrupted, InvalidData
from stechnique.migration import MIGRATE, declared_migration, replay_problems
from stechnique.parties import NO_PARTIES, parties_after, parties_of
from stechnique.records import FORMAT, GENESIS_HASH, Case, Record
from stechnique.registry import Registry
from stechnique.schema import Field, validate
from stechnique.storage.base import Feed, Storage
from stechnique.storage.memory import MemoryStorage

__all__ = ["CODES", "AuditReport", "Replay", "Violation", "audit"]

# A declared opening and the procedure that declares it.
_Opened = tuple[Procedure, Opening]

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
    "row": "a stored row cannot be read as a record or a case (a cell of the wrong kind)",
    "format": "a record format that is unknown, goes back to 1, or leaves a confidential "
    "value unsalted",
    "checkpoint": "the store no longer holds a history as an earlier checkpoint saw it",
    "link": "a case another case's step opened (transfer_to_dla) and that step disagree: a "
    "half-done transfer, a link back to a case that did not open it, or a step naming a case "
    "it did not open",
}


@attrs.frozen
class Violation:
    """One thing wrong in a stored history.

    ``seq`` is the record concerned (for a missing record, the first missing seq; for a case
    row that disagrees with its history or cannot be read, the last seq of that history);
    ``None`` only for a case row with no history at all, or a record whose seq cannot be read.
    ``code`` is one of ``CODES``.

    :ivar case_id: the case concerned.
    :ivar seq: the record concerned, as above.
    :ivar message: what is wrong, for people.
    :ivar code: the kind of violation, a key of ``CODES``.
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

    :ivar ok: ``True`` when no violation was found.
    :ivar cases_checked: how many cases were replayed.
    :ivar records_checked: how many records were checked.
    :ivar violations: every violation found, in the order met.
    :ivar seconds: the wall time the audit took.
    :ivar unjudged_guards: guards met that read other cases, so were not re-judged.
    :ivar new_cases: (checkpoint verification only) the cases the checkpoint did not see,
        with the time each one's first record claims (``None`` for a case row without history).
    """

    ok: bool
    cases_checked: int
    records_checked: int
    violations: tuple[Violation, ...]
    seconds: float = 0.0
    unjudged_guards: tuple[str, ...] = ()
    new_cases: tuple[tuple[str, datetime | None], ...] = ()

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
        if self.new_cases:
            lines.append(f"{len(self.new_cases)} case(s) new since the checkpoint:")
            lines += [
                f"  {case_id} (its first record claims {at})" for case_id, at in self.new_cases
            ]
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
    progress: Callable[[int], None] | None = None,
    appended_after: int | None = None,
) -> AuditReport:
    """Audit the histories in ``storage`` against ``registry`` (default: published procedures).

    All cases, or one (``case_id``), or the cases having records pinned to procedure ``name``
    (and ``version``). With ``since`` (an aware datetime) only records written at or after it
    are checked and counted; earlier records are still read, to rebuild the state, facts and
    chain head the later ones are judged against, and the case row is checked only for cases
    having such records. ``since`` trusts the time each record claims; ``appended_after`` (a
    position of the change feed, ``storage.base.Feed``) selects instead the records the store
    appended after that position, whatever time they claim: what a periodic audit resuming
    where the last one stopped should use, since a record backdated by whoever could write it
    would escape ``since``. A full audit also finds case rows that have no history.

    ``progress``, when given, is called once per selected case, after its history is read
    (and checked), with the number of cases read so far: a progress bar over the selected
    cases ends full (cases ``since`` leaves unchecked are counted as read).
    """
    if since is not None and since.tzinfo is None:
        raise ValueError(f"since={since!r} is naive; give an aware datetime (UTC)")
    appended = None if appended_after is None else _appended(storage, appended_after)
    checked = _checked(since, appended)
    if registry is None:
        from stechnique.workflows import default_registry

        registry = default_registry()
    began = time.perf_counter()
    tally = _Tally()
    store = ReadOnlyStore(storage)
    openings = _openings_by_target(registry)
    # ``closing``: whatever happens, the store's stream (a server-side cursor) ends with the
    # audit, not whenever the garbage collector gets to it.
    with closing(rows_by_case(storage, HistoryFilter(case_id, name, version))) as stream:
        for read, rows in enumerate(stream, 1):
            _audit_case(rows, registry, storage, store, checked, tally)
            if openings:
                tally.violations += _link_violations(storage, rows[0].case_id, openings)
                tally.violations += _opened_violations(storage, registry, rows)
            if progress is not None:
                progress(read)
    if case_id is not None and tally.cases == 0 and _case_row(storage, case_id) is not None:
        tally.violations.append(Violation(case_id, None, "case row has no history", "case"))
    elif case_id is None and name is None and checked is None:
        tally.violations += _rows_without_history(storage, tally.rows_with_history)
    return tally.report(time.perf_counter() - began)


def _appended(storage: Storage, after: int) -> frozenset[tuple[str, int]]:
    """The ``(case id, seq)`` of the records appended after position ``after``."""
    if not isinstance(storage, Feed):
        raise ValueError("appended_after needs a store that keeps the change feed (Feed)")
    found: set[tuple[str, int]] = set()
    while batch := storage.changes(after, 10_000):
        found.update((record.case_id, record.seq) for _, record in batch)
        after = batch[-1][0]
    return frozenset(found)


def _checked(
    since: datetime | None, appended: frozenset[tuple[str, int]] | None
) -> Callable[[Record], bool] | None:
    """Which records an audit judges: those ``since`` and ``appended`` both select (None:
    every record)."""
    if since is None and appended is None:
        return None
    return lambda record: (
        (since is None or record.at >= since)
        and (appended is None or (record.case_id, record.seq) in appended)
    )


def _audit_case(
    rows: list[Row],
    registry: Registry,
    storage: Storage,
    store: ReadOnlyStore,
    checked: Callable[[Record], bool] | None,
    tally: _Tally,
) -> None:
    """Replay one case's rows (records, or why a row is not one) and check its case row;
    only the records ``checked`` selects are judged (all of them when it is None)."""
    if checked is not None and all(isinstance(row, Record) and not checked(row) for row in rows):
        return
    replay = Replay(rows[0].case_id, registry, store)
    for row in rows:
        if isinstance(row, Record):
            replay.feed(row, check=checked is None or checked(row))
        else:
            replay.unreadable(row)
    case = _case_row(storage, replay.case_id)
    if isinstance(case, HistoryCorrupted):
        replay.unreadable(case, record=False)
    else:
        replay.compare(case)
    tally.add(replay, case is not None)


def _openings_by_target(registry: Registry) -> dict[tuple[str, str], list[_Opened]]:
    """Every declared ``Opening`` with the procedure it is declared by, by the ``name,
    version`` of the cases it opens."""
    found: dict[tuple[str, str], list[_Opened]] = {}
    for procedure in registry:
        for opening in procedure.opens:
            found.setdefault((opening.name, opening.version), []).append((procedure, opening))
    return found


def _link_violations(
    storage: Storage, case_id: str, openings: dict[tuple[str, str], list[_Opened]]
) -> list[Violation]:
    """What is wrong with the link of a case another case's step opened (``_openings``): a
    half-done transfer is reported until it is finished."""
    case = _case_row(storage, case_id)
    if not isinstance(case, Case):
        return []
    found = []
    for origin_procedure, opening in openings.get((case.name, case.version), []):
        link = case.facts.get(opening.link_fact)
        if link is None:
            continue
        origin = _case_row(storage, str(link))
        origin = origin if isinstance(origin, Case) else None
        records = storage.records(origin.id) if origin is not None else []
        found += [
            Violation(case.id, 1, message, "link")
            for message in link_back_problems(opening, origin_procedure, case, origin, records)
        ]
    return found


def _opened_violations(storage: Storage, registry: Registry, rows: list[Row]) -> list[Violation]:
    """What is wrong with a step that opened another case (``transfer_to_dla``): the case its
    payload names must exist and link back to this one. The engine writes that case first,
    so a step without it was not written by the engine."""
    found = []
    for row in rows:
        if not isinstance(row, Record):
            continue
        procedure = registry.by_fingerprint(row.fingerprint)
        opening = None if procedure is None else procedure.opening(row.event)
        if opening is None:
            continue
        named = str(row.payload.get(opening.case_field))
        opened = _case_row(storage, named)
        if not isinstance(opened, Case) or not links_back(opening, opened, row.case_id):
            message = f"{row.event} names case {named!r}, which it did not open"
            found.append(Violation(row.case_id, row.seq, message, "link"))
    return found


def _case_row(storage: Storage, case_id: str) -> Case | HistoryCorrupted | None:
    """The stored case row, or why it cannot be read as a case."""
    try:
        return storage.get(case_id)
    except HistoryCorrupted as problem:
        return problem


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


def _rows_without_history(storage: Storage, rows_with_history: int) -> list[Violation]:
    """Case rows no history leads to: counted first, looked for only when the count differs."""
    if sum(1 for _ in case_ids(storage)) == rows_with_history:
        return []
    return [
        Violation(one, None, "case row has no history", "case")
        for one in case_ids(storage)
        if not _has_records(storage, one)
    ]


def _has_records(storage: Storage, case_id: str) -> bool:
    try:
        return bool(storage.records(case_id))
    except HistoryCorrupted:
        return True  # rows that are not records, reported where the stream met them


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

    ``store`` is what re-judged guards may read (an empty store when not given). Every step is
    re-judged by the engine's own judge (``_judge.judge``), as the engine judged it live.
    """

    def __init__(
        self,
        case_id: str,
        registry: Registry,
        store: ReadOnlyStore | None = None,
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
        # The parties the history has bound so far: a party-bound step is re-judged with them.
        self.parties = NO_PARTIES
        # The procedure the last record was pinned to: an ordinary step under the same version
        # needs no registry lookup.
        self.procedure: Procedure | None = None
        # Once a row could not be read as a record, the state, facts and parties the next
        # records follow are unknown: they are checked as links only (``_feed_link``).
        self.broken = False
        # The seq of the last row met, readable or not (None: an unreadable seq).
        self.position: int | None = 0

    def unreadable(self, problem: HistoryCorrupted, *, record: bool = True) -> None:
        """Report a row that cannot be read (``record``: a records row, else the case row)
        and go on: the records after it are checked as links of the chain only."""
        if not record:  # reported, as every case row violation, at its history's last seq
            self._violation(self.position if self.last else problem.seq, problem.reason, "row")
            return
        self._violation(problem.seq, problem.reason, "row")
        self.records += 1
        self.broken = True
        self.position = problem.seq
        self.head = ""  # unknown: the next record's prev_hash is not judged

    def _violation(self, seq: int | None, message: str, code: str = "step") -> None:
        self.violations.append(Violation(self.case_id, seq, message, code))

    def feed(self, record: Record, *, check: bool = True) -> None:
        """Check one record against the replay so far (unless ``check`` is false), then advance.

        Unchecked records still move the replay on: state, facts, chain head and history.
        """
        if self.broken:
            self._feed_link(record, check=check)
            return
        self.position = record.seq
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
            if record.format != FORMAT or record.payload:  # else nothing to check: no value
                self._check_format(record, last)
            procedure = self.procedure
            if (
                procedure is not None
                and last is not None
                and record.fingerprint == last.fingerprint
                and record.name == last.name
                and record.version == last.version
                and record.source == self.state
                and record.event != MIGRATE
                and procedure.name == record.name
                and procedure.version == record.version
            ):
                self._check_transition(record, procedure)
            else:
                self._check_record(record)
        event = record.event
        if event == "start" or event == MIGRATE:
            self.facts = facts_after(record, self.facts)
        if self.last is None or record.fingerprint != self.last.fingerprint:
            self.procedure = self.registry.by_fingerprint(record.fingerprint)
        self.state, self.head, self.last = record.target, record.hash, record
        self.history.append(record)
        self._bind(record)

    def _check_format(self, record: Record, last: Record | None) -> None:
        """The record's format: known, never back to 1, its confidential values salted."""
        kind = record.format
        if kind.__class__ is not int or kind not in (1, FORMAT):
            self._violation(record.seq, f"unknown record format {kind!r}", "format")
            return
        if kind == 1 and last is not None and last.format != 1:
            self._violation(
                record.seq,
                f"format-1 record after a format-{last.format} one: a chain switches format "
                "once, and never back",
                "format",
            )
        if kind == 1:
            if record.salts:
                self._violation(record.seq, "a format-1 record has no salts", "format")
            return
        procedure = self.registry.by_fingerprint(record.fingerprint)
        rules = () if procedure is None else procedure.reading_rules.confidential
        for rule in rules:
            field = rule.field
            if rule.event == record.event and field in record.payload and field not in record.salts:
                self._violation(
                    record.seq, f"confidential field {field!r} committed without a salt", "format"
                )

    def _feed_link(self, record: Record, *, check: bool) -> None:
        """After an unreadable row: check ``record`` as a link only (its seq follows the row
        before, its ``prev_hash`` is the hash of the record before when that one was read, its
        hash matches its content); the steps cannot be re-judged without the state before."""
        if check:
            self.records += 1
            expected = record.seq if self.position is None else self.position + 1
            head = self.head or record.prev_hash
            for code, seq, message in link_problems(record, expected, head):
                self._violation(seq, message, code)
        self.position, self.head, self.state, self.last = record.seq, record.hash, None, record
        self.history.append(record)

    def _bind(self, record: Record) -> None:
        """Bind the parties ``record`` binds, as the engine did when it wrote it."""
        procedure = self.procedure
        if procedure is None:
            return  # an unknown fingerprint: reported, and nothing to bind by
        if record.event == MIGRATE:
            # A record pinned to an unknown fingerprint is reported; read it by the new rules.
            self.parties = parties_of(
                self.history, lambda one: self.registry.by_fingerprint(one.fingerprint) or procedure
            )
        else:
            self.parties = parties_after(procedure, record, self.parties)

    def _check_record(self, record: Record) -> None:
        """Every check of one record, the general way (any record, any procedure)."""
        procedure = self.registry.by_fingerprint(record.fingerprint)
        if procedure is None:
            self._violation(record.seq, self._unknown_fingerprint(record), "fingerprint")
        else:
            self._check_step(record, procedure)

    def _unknown_fingerprint(self, record: Record) -> str:
        short, key = record.fingerprint[:12], f"{record.name}@{record.version}"
        unknown = f"unknown procedure fingerprint {short} (record says {key})"
        if (record.name, record.version) in self.registry:
            # The version is registered, with another definition: not a missing registration.
            registered = self.registry.get(record.name, record.version).fingerprint[:12]
            return f"{unknown}, but the registered {key} has fingerprint {registered}"
        return (
            f"empreinte de procédure inconnue {short} (l'enregistrement dit {key}) ; "
            f"{REGISTER_PROCEDURE.fr} / {unknown}; {REGISTER_PROCEDURE.en}"
        )

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
            self._check_migration_rules(record)
            return
        self._check_transition(record, procedure)

    def _check_transition(self, record: Record, procedure: Procedure) -> None:
        """Re-judge a stored step as the engine judged it when it fired."""
        self._judged(record, procedure, self.state, self._case_before)

    def _check_migration_rules(self, record: Record) -> None:
        """Re-judge who migrated and under which guards, as the engine judged it."""
        last = self.last
        old = self.registry.by_fingerprint(last.fingerprint) if last is not None else None
        if last is None or old is None:
            return
        declared = declared_migration(self.registry, last, record)
        if declared is None or last.name != record.name:
            return  # ``replay_problems`` reports an undeclared migration
        migration, _, new = declared
        carried = None if migration.carries is None else migration.carries(self.history)
        if record.payload.get("carried") != carried:
            self._violation(
                record.seq,
                "the migration's payload 'carried' is not what the history before it gives",
                "payload",
            )
        verdict = judge_migration(
            old,
            migration.ordered_by(new),
            migration.guards,
            actor=record.actor,
            facts=self.facts,
            context=lambda: self._context(record, old, self._case_before(), {}),
            replaying=True,
        )
        self.unjudged.update(verdict.unjudged)
        for refusal in verdict.refusals:
            self._found(record.seq, refusal)

    def _check_start(self, record: Record, procedure: Procedure) -> None:
        if record.event != "start" or record.source is not None:
            self._violation(record.seq, f"record 1 is {record.event!r}, not 'start'", "start")
        if record.target != procedure.initial.id:
            self._violation(
                record.seq, f"starts in {record.target!r}, not {procedure.initial.id!r}", "start"
            )
        self._judged(record, procedure, None, lambda: None, event=START)

    def _judged(
        self,
        record: Record,
        procedure: Procedure,
        state: str | None,
        case_before: Callable[[], Case | None],
        *,
        event: str | None = None,
    ) -> None:
        """Re-judge ``record`` as a step from ``state`` and report what the judge refuses."""
        event = event or record.event
        starting = event == START
        payload = record.payload
        verdict = judge(
            procedure,
            state=state,
            event=event,
            actor=record.actor,
            facts=payload if starting else self.facts,
            payload=payload,
            context=lambda clean: self._context(record, procedure, case_before(), clean),
            parties=self.parties,
            exhaustive=True,
            replaying=True,
        )
        transition = verdict.transition
        if transition is None:
            self._found(record.seq, verdict.refusals[0])
            return
        if not starting and transition.target != record.target:
            self._violation(
                record.seq,
                f"{record.event!r} leads to {transition.target!r}, not {record.target!r}",
            )
        invalid = False
        for refusal in verdict.refusals:
            self._found(record.seq, refusal)
            invalid = invalid or isinstance(refusal, PayloadInvalid)
        if not invalid and verdict.payload != payload:
            what = "facts" if starting else f"payload of {record.event}"
            self._violation(record.seq, f"{what} not in the form the engine writes", "payload")
        self.unjudged.update(verdict.unjudged)

    def _found(self, seq: int, refusal: Refusal) -> None:
        for code, message in refusal.findings():
            self._violation(seq, message, code)

    def _context(
        self, record: Record, procedure: Procedure, case: Case | None, payload: Mapping[str, Any]
    ) -> GuardContext:
        """What a guard saw when ``record`` was written: the history before it, its time."""
        facts = self.facts if case is not None else record.payload
        return GuardContext(
            procedure, case, facts, record.actor, record.event, payload, record.at,
            self.store, history=self.history,
        )  # fmt: skip

    def _check_data(self, record: Record, schema: Sequence[Field], data: Any, what: str) -> None:
        try:
            clean = validate(schema, data, what)
        except InvalidData as error:
            self._violation(record.seq, str(error), "payload")
            return
        if clean != data:
            self._violation(record.seq, f"{what} not in the form the engine writes", "payload")

    def _case_before(self) -> Case | None:
        """The case row as it stood before the record being checked."""
        if self.last is None or not self.history:
            return None
        return case_after(self.last, created_at=self.history[0].at, facts=self.facts)

    def compare(self, case: Case | None) -> None:
        """Check the stored case row against the replayed history (only that both exist
        when a row of the history could not be read: there is nothing to replay it to)."""
        last = self.last
        if self.broken:
            if case is None:
                self._violation(self.position, "history has no case row", "case")
            return
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
        if case.parties is not None and self.procedure is not None:
            # ``None``: a row upgraded from before parties, not read yet; nothing to compare.
            self._compare_field("parties", case.parties, self.parties, last.seq)

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
