"""Reading stored histories one case at a time: the stream shared by audit, export, checkpoints.

Every reader here walks ``Storage.iter_records`` (ordered by ``(case_id, seq)``) and holds one
case's records at a time, so memory follows the longest case, not the size of the store. The
checks of one link of a hash chain, and the case row a history replays to, live here too:
audit, import and checkpoints must agree on them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from itertools import groupby
from operator import attrgetter
from typing import Any, Protocol, runtime_checkable

import attrs

from stechnique._chain import case_after, content_hash, facts_after
from stechnique.errors import HistoryCorrupted
from stechnique.records import GENESIS_HASH, Case, Record
from stechnique.storage.base import Storage, StreamsCaseIds

__all__ = [
    "HistoryFilter",
    "Row",
    "StreamsRows",
    "case_from_history",
    "case_ids",
    "histories",
    "link_problems",
    "rows_by_case",
]

#: A stored row as an audit reads it: a record, or why the row cannot be one.
Row = Record | HistoryCorrupted


@runtime_checkable
class StreamsRows(Protocol):
    """A store whose rows may not be records (a SQL database edited behind the library's
    back): it streams them as ``iter_records`` does, a ``HistoryCorrupted`` standing in for
    each row that cannot be a record, and goes on (``SQLStorage.iter_rows``)."""

    def iter_rows(self, case_id: str | None = None) -> Iterator[Row]:
        """Every row (or one case's) by ``(case_id, seq)``, as a record or a problem."""
        ...


@attrs.frozen
class HistoryFilter:
    """Which histories to read: one case, one procedure (name, optionally version), or all.

    A procedure filter selects the cases having at least one record pinned to that procedure
    (and version), judged on the records rather than on the case row, which is only a cache:
    a migrated case belongs to both versions it ran under.
    """

    case_id: str | None = None
    name: str | None = None
    version: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.version is not None and self.name is None:
            raise ValueError(f"a version filter ({self.version!r}) needs a procedure name too")

    def selects(self, records: Sequence[Record]) -> bool:
        """Whether a case with these records is selected."""
        if self.name is None:
            return True
        return any(
            record.name == self.name and self.version in (None, record.version)
            for record in records
        )


def case_ids(storage: Storage) -> Iterator[str]:
    """The id of every case row in ``storage``, streamed where the store can
    (``StreamsCaseIds``), else read whole through ``cases()``."""
    if isinstance(storage, StreamsCaseIds):
        yield from storage.iter_case_ids()
    else:
        yield from (case.id for case in storage.cases())


def histories(storage: Storage, selection: HistoryFilter | None = None) -> Iterator[list[Record]]:
    """Every selected case's records, one case at a time, in the store's ``case_id`` order."""
    selection = selection or HistoryFilter()
    if selection.case_id is not None:
        # One case fits in memory anyway; ``records`` is the store's fastest read.
        records = list(storage.records(selection.case_id))
        if records and selection.selects(records):
            yield records
        return
    stream = storage.iter_records(selection.case_id)
    try:
        for _, group in groupby(stream, key=attrgetter("case_id")):
            records = list(group)
            if selection.selects(records):
                yield records
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def rows_by_case(
    storage: Storage, selection: HistoryFilter | None = None
) -> Generator[list[Row], None, None]:
    """Every selected case's rows, one case at a time, as ``histories`` reads them, except that
    a row which cannot be a record comes as its ``HistoryCorrupted`` (``StreamsRows``) instead of
    ending the stream: an audit reports it and goes on. A case is selected by its readable
    records (one none of whose rows is readable, only when no procedure is).
    The store's stream is closed when this one is, or fails."""
    selection = selection or HistoryFilter()
    if isinstance(storage, StreamsRows):
        stream: Iterator[Row] = storage.iter_rows(selection.case_id)
    elif selection.case_id is not None:
        stream = iter(storage.records(selection.case_id))
    else:
        stream = storage.iter_records()
    try:
        for _, group in groupby(stream, key=attrgetter("case_id")):
            rows = list(group)
            readable = [row for row in rows if isinstance(row, Record)]
            if selection.selects(readable):
                yield rows
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def link_problems(record: Record, expected_seq: int, head: str) -> list[tuple[str, int, str]]:
    """What is wrong with ``record`` as the link after ``head`` at ``expected_seq``.

    Each problem is ``(code, seq, message)``: ``seq`` for a gap or a repeated seq, ``chain``
    when ``prev_hash`` is not the previous record's hash, ``hash`` when the record's content
    does not match its own hash. A gap is reported at the first missing seq.
    """
    problems: list[tuple[str, int, str]] = []
    if record.seq > expected_seq:
        missing = (
            f"record {expected_seq} is missing"
            if record.seq == expected_seq + 1
            else f"records {expected_seq} to {record.seq - 1} are missing"
        )
        problems.append(("seq", expected_seq, f"{missing} (next stored record is {record.seq})"))
    elif record.seq < expected_seq:
        problems.append(("seq", record.seq, f"seq {record.seq} comes after seq {expected_seq - 1}"))
    if record.prev_hash != head:
        before = "the genesis hash" if head == GENESIS_HASH else "the previous record's hash"
        problems.append(("chain", record.seq, f"prev_hash does not match {before}"))
    if content_hash(record) != record.hash:
        problems.append(("hash", record.seq, "hash does not match the record's content"))
    return problems


def case_from_history(records: Sequence[Record]) -> Case:
    """The case row a (non-empty) history replays to, as the engine writes it."""
    facts: dict[str, Any] = {}
    for record in records:
        facts = facts_after(record, facts)
    return case_after(records[-1], created_at=records[0].at, facts=facts)
