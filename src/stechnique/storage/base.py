"""The storage contract: what every adapter must do, and the only place its semantics are written.

An adapter stores the current ``Case`` of each case (a cache derived from the history, its
``parties`` included), the append-only list of ``Record`` values of each case, and a log of
``Access`` values (the auditors' unredacted reads). It moves these values as they are; it does
not validate procedures, evaluate guards, compute hashes or derive parties (the engine does).
Adapters document only where they differ from this contract.

Rules every adapter follows:

* **Atomic steps.** ``create`` writes the case and its first record, ``append`` writes one record
  and the updated case, each all or nothing. After a failure the store is exactly as before.
  ``restore`` writes a whole store (every case and history of an import) as one such step.
* **Optimistic concurrency.** ``append`` succeeds only if the stored case is still exactly
  where ``record`` follows: at ``record.seq - 1``, in state ``record.source``, with head
  ``record.prev_hash``; otherwise it raises ``ConcurrencyConflict`` and writes nothing. (Seq
  alone settles races between writers; state and head also refuse to chain a record onto a
  case row that was altered behind the engine's back.) ``create`` raises
  ``CaseIdTaken`` if the case id exists (whoever got there first), saying nothing else about
  that case. Two records of a case with the same non-null
  ``idempotency_key`` are refused the same way.
* **Faithful round trip.** Every field comes back equal: unicode text, large JSON payloads,
  datetimes as the same aware instant with microseconds (a UTC time comes back in UTC; a time
  in another zone may come back converted to UTC), roles as a frozenset, an actor's ``body``
  (``None`` stays ``None``), a case's ``parties`` (``None`` stays ``None``), every ``Access``.
* **Values apart.** A case or record returned is the caller's: changing its facts or payload
  changes nothing stored. A case or record given to ``create`` or ``append`` may be kept as
  given (the memory store does), so the caller must not change it afterwards; the engine
  never does.
* **Ordering.** ``records`` and ``iter_records`` yield records by ``(case_id, seq)``; ``cases``
  yields cases by ``(created_at, id)``; ``accesses`` oldest first.
* **Who sees a case.** A case is seen by ``viewer`` when its parties are known and
  ``parties.sees(viewer)``: one of its ``Parties.readers()`` is one of ``readers_of(viewer)``
  (its body, or one of its roles). ``cases(seen_by=viewer)`` lists exactly those cases, and
  finds them through an index kept with the cases (written by ``create``, ``append`` and
  ``set_parties`` in the same atomic step), never by reading every case: a store holding
  100,000 cases answers a viewer of 1,000 by reading those. A case whose ``parties`` is
  ``None`` (a row upgraded from before parties, not derived yet) is seen by nobody.
* **Errors.** Driver failures surface as ``StorageError`` (chained with ``from``), never as the
  driver's own exception types.

Every adapter also keeps the change feed (``Feed``: each record's global position, never
readable out of order, and the durable consumers' positions); ``Engine.changes`` and
``Engine.follow`` need it, and the contract suite checks it.

Beyond ``Storage`` and ``Feed``, an adapter may offer optional capabilities, each declared
here as its own small protocol (``StreamsCaseIds``, ``SignalsAppends``). The library checks
for one with ``isinstance`` and falls back on the ``Storage`` methods when it is absent, so no
adapter is required to implement it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from stechnique.records import Access, Actor, Case, Parties, Record

__all__ = [
    "Feed",
    "Listener",
    "SignalsAppends",
    "Sleeper",
    "Storage",
    "StreamsCaseIds",
    "not_followed",
    "readers_of",
]


@runtime_checkable
class Storage(Protocol):
    """What the engine needs from a store of cases and their histories."""

    def create(self, case: Case, first: Record) -> None:
        """Store a new case (``case.seq == 1``) with its first record, atomically, indexed
        under the readers of its parties (nothing when they are ``None``).

        Raises ``CaseIdTaken`` if a case with ``case.id`` already exists, even when another
        writer created it a moment ago: retrying the same id can never succeed.
        """

    def append(self, case: Case, record: Record) -> None:
        """Append ``record`` and replace the stored case by ``case``, atomically, its parties
        and their readers index included (``case.parties`` None: indexed under nothing).

        ``record.seq == case.seq`` and the stored case must still be at ``record.seq - 1``, in
        state ``record.source``, with head ``record.prev_hash``; otherwise (lost race, altered
        case row, or a duplicate ``idempotency_key`` on the case) raise ``ConcurrencyConflict``
        and write nothing. Raises ``UnknownCase`` if the case is absent.
        """

    def get(self, case_id: str) -> Case | None:
        """The stored case, or ``None`` if there is no such case."""

    def records(self, case_id: str, after_seq: int = 0) -> Sequence[Record]:
        """The case's records with ``seq > after_seq``, in seq order (empty if none)."""

    def record_by_key(self, case_id: str, idempotency_key: str) -> Record | None:
        """The record of the case carrying that idempotency key, if any."""

    def cases(
        self,
        *,
        name: str | None = None,
        version: str | None = None,
        state: str | None = None,
        seen_by: Actor | None = None,
    ) -> Sequence[Case]:
        """The stored cases matching every filter given, by ``(created_at, id)``.

        With ``seen_by``, only the cases that actor sees (see "Who sees a case" above), found
        by index.
        """

    def cases_without_parties(self) -> Iterator[str]:
        """The ids of the cases whose ``parties`` is ``None``, by id (rows upgraded from before
        parties: the engine derives theirs from their histories and calls ``set_parties``)."""

    def set_parties(self, case_id: str, seq: int, parties: Parties) -> bool:
        """Set the parties of the case, and index it under their readers, only if it is still
        at ``seq``; atomically. Returns whether it wrote (False: the case is absent or has
        moved on, or the store was opened for reading only, and nothing changed). Nothing
        else of the case changes."""

    def log_access(self, access: Access) -> None:
        """Add ``access`` to the access log (kept whole, never changed or removed).

        The reason is a person's words: a store may refuse one holding a NUL character.
        """

    def accesses(self) -> Sequence[Access]:
        """Every logged access, oldest (first logged) first."""

    def iter_records(self, case_id: str | None = None) -> Iterator[Record]:
        """Stream records (of one case, or of all) by ``(case_id, seq)`` in constant memory."""

    def restore(self, histories: Iterable[tuple[Case, Sequence[Record]]]) -> int:
        """Write each ``(case, records)``: the case row and its whole history (records by seq,
        ``case`` the row after the last one, indexed under its readers), every case in **one
        atomic step**, into a store holding no case and no record; return how many records
        were written. What ``import_jsonl`` restores an export with.

        ``histories`` is read while the step is open (an import verifies as it streams): when
        reading it raises, that exception propagates and nothing is written. Raises
        ``StoreNotEmpty`` if the store holds a case or a record (checked in the same step), and
        a ``StechniqueError`` (``StorageError`` for a SQL store) for what the store refuses: a
        case id given twice, an idempotency key used twice in one case, a value it cannot
        keep. On every failure the store is exactly as before: empty.
        """

    def close(self) -> None:
        """Release connections and files; the storage is unusable afterwards."""


@runtime_checkable
class StreamsCaseIds(Protocol):
    """Optional: a store that streams its case ids in constant memory.

    The audit counts the case rows to find rows that have no history; a store offering this
    capability (as ``SQLStorage`` does) keeps that pass in constant memory, any other is asked
    for ``Storage.cases`` whole. Not part of ``Storage``: an adapter without it stays valid.
    """

    def iter_case_ids(self) -> Iterator[str]:
        """Stream the id of every stored case, by id, in constant memory."""


@runtime_checkable
class Feed(Protocol):
    """The change feed: every record at its global position, and the durable consumers.

    Every record a store holds has a **position**: 1 for the first appended, then 2, 3... in
    the order the appends happened, with no gap. It is not part of the record (nor of its
    hash): ``changes`` gives it beside the record. The rule an adapter must keep under
    concurrent writers:

    * **Never skipped.** Once ``changes(after=n)`` has returned a record at position ``p``,
      no record at a position between ``n`` and ``p`` can appear later: a position becomes
      readable only after every smaller one has (or never is, if its append failed). A reader
      that moves past what it read therefore misses nothing. Positions handed out when a
      record is inserted are *not* enough: two transactions commit in either order. ``create``
      and ``append`` give the position in their own atomic step, under a lock held until they
      commit (``SQLStorage``: one counter row; ``MemoryStorage``: its lock).
    * **Stable.** A record keeps its position forever; a store upgraded from before positions
      numbered its records once, in a documented order that keeps each case's seq order.
    * **Consumers.** ``acknowledge`` stores a consumer's position durably, with the records,
      and only moves it forward; ``acknowledged`` reads it back (0 for a new consumer).

    The contract suite (``stechnique.testing.StorageContract``) checks every adapter for it;
    ``Engine.changes`` and ``Engine.follow`` need it.
    """

    def changes(self, after: int = 0, limit: int = 500) -> Sequence[tuple[int, Record]]:
        """Up to ``limit`` records whose position is greater than ``after``, as
        ``(position, record)`` in position order (empty: nothing after ``after`` yet)."""

    def last_position(self) -> int:
        """The greatest position handed out so far (0 in an empty store)."""

    def acknowledged(self, consumer: str) -> int:
        """The last position ``consumer`` acknowledged (0 if it never did)."""

    def acknowledge(self, consumer: str, position: int) -> None:
        """Store that ``consumer`` has handled every record up to ``position``, atomically;
        a position below the stored one changes nothing (positions never go back)."""


class Listener(Protocol):
    """What a follower of the feed waits on (``SignalsAppends.listen``)."""

    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for a sign that records were appended; whether
        one came. A sign is a hint: a follower reads the feed again either way."""

    def close(self) -> None:
        """Stop listening and release the connection."""


@runtime_checkable
class SignalsAppends(Protocol):
    """Optional: a store that tells followers of its feed when records are appended
    (``SQLStorage`` on PostgreSQL: ``LISTEN/NOTIFY``). Without it, followers poll."""

    def listen(self) -> Listener:
        """Start listening for appends (call before reading the feed, so none is missed)."""


class Sleeper:
    """The ``Listener`` of a store that signals nothing: waiting is sleeping."""

    def wait(self, timeout: float) -> bool:
        """Sleep ``timeout`` seconds; no signal can come (False)."""
        time.sleep(timeout)
        return False

    def close(self) -> None:
        """Nothing to release."""


def readers_of(viewer: Actor) -> frozenset[str]:
    """What ``viewer`` reads a case as: ``body:<the body it acts for>`` and ``role:<role>`` of
    each role. It sees a case when one of these is among the case's ``Parties.readers()``."""
    return frozenset([f"body:{viewer.acts_for}", *(f"role:{role}" for role in viewer.roles)])


def not_followed(stored: Case, record: Record) -> str:
    """Why ``record`` cannot follow ``stored`` although the seqs match: the ``detail`` of the
    ``ConcurrencyConflict`` an adapter raises when the state or the head differ."""
    return (
        f"record {record.seq} follows state {record.source!r} and head {record.prev_hash[:12]}, "
        f"but the stored case is in state {stored.state!r} with head {stored.head[:12]}"
    )
