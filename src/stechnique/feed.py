"""The change feed: what happened to the cases a viewer may see, every step, once, in order.

The store numbers every record it appends with a global **position** (``storage.base.Feed``:
no gap, and never one made readable before a smaller one). The feed reads the records after a
position, in position order, and turns each into what a viewer may learn of it *at that
moment* (``Change``):

* a ``record`` entry: the record as the viewer could read it right after it was appended
  (``visibility.redact`` over the case's history up to it, with the parties that history had
  bound then), if the viewer saw the case then (``Parties.sees``); nothing otherwise;
* a ``disclosure`` entry, just before it, when that record widened what the viewer may read:
  the viewer now sees a case it did not see (a funder bound by ``refer``), or a field it could
  not read has opened (a report validated: ``opens_on``, ``opens_at``). It carries the earlier
  records as the viewer may now read them: every earlier record for a case newly seen, the
  records whose fields opened otherwise.

An entry is the same whenever it is read, so a consumer that reads a position twice (after a
crash, before it acknowledged) gets the same entries; ``Change.key``, ``(case id, seq, kind)``,
tells them apart for de-duplication.

Reading keeps the histories of the cases it met last (``FeedReader``, a bounded cache): a case's
records come in seq order, so catching up from position 0 reads each record once; a case met
mid-history is read from the store once. Each record is checked as the link after the one before
it (seq, chain and own hash): a feed never serves a record an audit would reject.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs

from stechnique._chain import facts_after
from stechnique._histories import link_problems
from stechnique.definition import Procedure
from stechnique.errors import HistoryCorrupted
from stechnique.parties import parties_after, parties_along
from stechnique.records import GENESIS_HASH, Actor, Parties, Record, converter
from stechnique.storage.base import Feed, Listener, Storage
from stechnique.visibility import is_redacted, redact, redact_next

__all__ = ["DISCLOSURE", "RECORD", "Change", "Changes", "FeedReader", "Kind", "follow"]

#: The kind of an entry that is a record appended.
RECORD = "record"
#: The kind of an entry that discloses earlier records.
DISCLOSURE = "disclosure"

Kind = Literal["record", "disclosure"]


@attrs.frozen
class Change:
    """One entry of the feed, as its viewer may read it.

    ``position`` is the record's in the store; ``record`` the record appended there, redacted
    for the viewer as of that moment. A ``disclosure`` entry (``kind``) also carries in
    ``disclosed`` the earlier records of the case that ``record`` made readable, as the viewer
    may read them now, in seq order.
    """

    position: int
    kind: Kind
    record: Record
    disclosed: tuple[Record, ...] = ()

    @property
    def key(self) -> tuple[str, int, str]:
        """``(case id, seq, kind)``: what a consumer de-duplicates entries by."""
        return (self.record.case_id, self.record.seq, self.kind)

    def to_data(self) -> dict[str, Any]:
        """The entry as plain JSON data (records as ``export_jsonl`` writes them)."""
        return {
            "position": self.position,
            "kind": self.kind,
            "key": list(self.key),
            "record": converter.unstructure(self.record),
            "disclosed": [converter.unstructure(record) for record in self.disclosed],
        }


@attrs.frozen
class Changes:
    """The entries read after a position, and the position to read after next time.

    ``position`` is the last position read (the one given if nothing was read): a viewer may
    see none of the records read, and still moves on past them.
    """

    entries: tuple[Change, ...]
    position: int

    def __iter__(self) -> Iterator[Change]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


@attrs.define
class _Known:
    """A case's history up to the last record read, its parties after each record, its facts
    after the last, and how each viewer was last shown it (``views``: that history redacted
    for the viewer, as of its last record)."""

    records: list[Record]
    parties: list[Parties]
    facts: dict[str, Any] = attrs.field(factory=dict)
    reached: frozenset[str] = frozenset()
    views: dict[Actor, list[Record]] = attrs.field(factory=dict)


class FeedReader:
    """Reads a store's feed for viewers, keeping the histories of the last ``cases_kept``
    cases it met (thread-safe)."""

    def __init__(
        self,
        storage: Storage,
        procedure_of: Callable[[Record], Procedure],
        *,
        cases_kept: int = 4096,
    ) -> None:
        self._storage = storage
        self._pinned = procedure_of
        # The procedure of each (name, version, fingerprint) met, pinned once: a feed asks for
        # it several times a record.
        self._procedures: dict[tuple[str, str, str], Procedure] = {}
        self._kept = cases_kept
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._lock = threading.Lock()

    def changes(self, feed: Feed, after: int, limit: int, viewer: Actor) -> Changes:
        """The entries of the (at most ``limit``) records after ``after``, for ``viewer``."""
        read = feed.changes(after, limit)
        entries: list[Change] = []
        with self._lock:
            for position, record in read:
                entries.extend(self._entries(position, record, viewer))
        return Changes(tuple(entries), read[-1][0] if read else after)

    def _entries(self, position: int, record: Record, viewer: Actor) -> list[Change]:
        known = self._history_to(record)
        before = known.views.pop(viewer, None)
        if not known.parties[-1].sees(viewer):
            return []
        if before is not None and len(before) != record.seq - 1:
            before = None  # shown an older prefix: not the one before this record
        if before is not None and not self._widens(known):
            # The earlier records show as they did: only the new one is worked out.
            procedure = self._procedure_of(record)
            before.append(redact_next(known.records, viewer, known.facts, known.parties[-1],
                                      procedure, before[-1] if before else None,
                                      known.reached))  # fmt: skip
            known.views[viewer] = before
            return [Change(position, "record", before[-1])]
        shown = self._redact(known.records, known.parties, viewer)
        known.views[viewer] = shown
        entry = Change(position, "record", shown[-1])
        if record.seq == 1:
            return [entry]
        if not known.parties[-2].sees(viewer):
            disclosed = shown[:-1]
        else:
            earlier = before or self._redact(known.records[:-1], known.parties[:-1], viewer)
            disclosed = [
                now for now, then in zip(shown, earlier, strict=False) if _opened(then, now)
            ]
        if not disclosed:
            return [entry]
        return [Change(position, "disclosure", shown[-1], tuple(disclosed)), entry]

    def _widens(self, known: _Known) -> bool:
        """Whether the last record may change how the earlier ones show: it binds or unbinds
        a party, migrates (other rules, other facts), or may open a confidential field."""
        record = known.records[-1]
        if record.seq == 1 or record.event == "migrate" or known.parties[-1] != known.parties[-2]:
            return True
        rules = self._procedure_of(record).reading_rules.confidential
        return any(rule.opens_on == record.event or rule.opens_at == record.target
                   for rule in rules)  # fmt: skip

    def _redact(self, records: list[Record], parties: list[Parties], viewer: Actor) -> list[Record]:
        # ``redact`` reads the facts from the history's ``start``: no fallback is needed.
        return redact(records, viewer, {}, parties[-1], self._procedure_of)

    def _history_to(self, record: Record) -> _Known:
        """The case's history ending with ``record`` (checked link by link) and its parties."""
        case_id = record.case_id
        known = self._known.pop(case_id, None)
        if known is None or len(known.records) < record.seq - 1:
            known = self._load(case_id, record.seq - 1)
        elif len(known.records) >= record.seq:  # read again (an earlier position): cut back
            known = self._load(case_id, record.seq - 1, known.records[: record.seq - 1])
        head = known.records[-1].hash if known.records else GENESIS_HASH
        _check_link(record, record.seq, head)
        known.records.append(record)
        known.facts = facts_after(record, known.facts)
        if record.target not in known.reached:
            known.reached = known.reached | {record.target}
        if record.event == "migrate":  # re-reads the earlier records: ``parties_along``
            known.parties = list(parties_along(known.records, self._procedure_of))
        else:
            previous = known.parties[-1] if known.parties else Parties()
            known.parties.append(parties_after(self._procedure_of(record), record, previous))
        self._known[case_id] = known
        while len(self._known) > self._kept:
            self._known.popitem(last=False)
        return known

    def _load(self, case_id: str, upto: int, records: list[Record] | None = None) -> _Known:
        """The first ``upto`` records of the case (from the store unless given), checked, with
        their parties and facts."""
        if records is None:  # (a case met at its first record has nothing to read)
            records = list(self._storage.records(case_id)[:upto]) if upto else []
        head: str = GENESIS_HASH
        facts: dict[str, Any] = {}
        for expected, record in enumerate(records, start=1):
            _check_link(record, expected, head)
            head, facts = record.hash, facts_after(record, facts)
        if len(records) < upto:
            raise HistoryCorrupted(case_id, len(records) + 1, "a record the feed read is missing")
        parties = list(parties_along(records, self._procedure_of))
        return _Known(records, parties, facts, frozenset(r.target for r in records))

    def _procedure_of(self, record: Record) -> Procedure:
        key = (record.name, record.version, record.fingerprint)
        procedure = self._procedures.get(key)
        if procedure is None:  # pinned (and checked) once; the registry never changes a pin
            procedure = self._procedures[key] = self._pinned(record)
        return procedure


def _check_link(record: Record, seq: int, head: str) -> None:
    problems = link_problems(record, seq, head)
    if problems:
        _, at, problem = problems[0]
        raise HistoryCorrupted(record.case_id, at, problem)


def _opened(then: Record, now: Record) -> bool:
    """Whether a field withheld from ``then`` is readable in ``now`` (the same record, read
    before and after a record that widened what the viewer may see)."""
    return any(
        is_redacted(value) and not is_redacted(now.payload.get(name))
        for name, value in then.payload.items()
    )


def follow(
    reader: FeedReader,
    feed: Feed,
    listener: Listener,
    consumer: str | None,
    viewer: Actor,
    *,
    after: int = 0,
    limit: int,
    idle: float | None,
    longest_wait: float = 1.0,
) -> Iterator[Changes]:
    """The feed for ``consumer`` from the position it acknowledged, batch by batch, forever
    (or until nothing new has come for ``idle`` seconds).

    A batch is acknowledged (``Feed.acknowledge``) when the loop asks for the next one, that
    is once the caller has handled it: a consumer that stops or crashes inside a batch gets it
    again (at least once). Batches the viewer sees nothing of are acknowledged without being
    yielded. Without a ``consumer``, the feed is read from ``after`` and nothing is stored.
    When nothing is new it waits on ``listener`` (woken by an append on PostgreSQL),
    at first briefly, then twice as long each time up to ``longest_wait`` seconds: a missed
    wake-up costs at most that long, never a record.
    """
    position = after if consumer is None else feed.acknowledged(consumer)
    delay, quiet_since = _SHORTEST_WAIT, time.monotonic()
    while True:
        batch = reader.changes(feed, position, limit, viewer)
        if batch.position == position:
            if idle is not None and time.monotonic() - quiet_since >= idle:
                return
            delay = _SHORTEST_WAIT if listener.wait(delay) else min(delay * 2, longest_wait)
            continue
        delay, quiet_since = _SHORTEST_WAIT, time.monotonic()
        if batch.entries:
            yield batch
        if consumer is not None:
            feed.acknowledge(consumer, batch.position)
        position = batch.position


#: The first wait of a follower that found nothing new, in seconds.
_SHORTEST_WAIT = 0.01
