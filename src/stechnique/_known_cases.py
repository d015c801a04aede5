"""The cases an engine remembers as it last read or wrote them, so a fire need not read first.

A remembered case may be stale: another process, or another engine on the same store, may have
fired since. That is safe because a fire's append only succeeds if the stored case is still
exactly where the new record follows (seq, state and head: ``Storage.append``). A fire decided
on a stale copy therefore fails without writing, and the engine forgets the copy and decides
again from the store. Nothing here is trusted for refusals: they are re-decided on a fresh read.
"""

from __future__ import annotations

import threading

from stechnique.definition import Procedure
from stechnique.records import Case

__all__ = ["KnownCases"]


class KnownCases:
    """A bounded, thread-safe map of case id to (case, procedure version); oldest out first."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"known_cases must be 0 or more, not {size}")
        self._size = size
        self._cases: dict[str, tuple[Case, Procedure]] = {}
        self._lock = threading.Lock()

    def get(self, case_id: str) -> tuple[Case, Procedure] | None:
        """The remembered case and its procedure version, if any."""
        return self._cases.get(case_id)

    def remember(self, case: Case, procedure: Procedure) -> None:
        """Remember ``case`` as the latest known state of its id."""
        if not self._size:
            return
        with self._lock:
            known = self._cases.pop(case.id, None)
            if known is not None and known[0].seq > case.seq:
                case, procedure = known  # another thread remembered a later state meanwhile
            if len(self._cases) >= self._size:
                del self._cases[next(iter(self._cases))]
            self._cases[case.id] = (case, procedure)

    def forget(self, case_id: str) -> None:
        """Drop what is remembered of ``case_id`` (it may be stale)."""
        with self._lock:
            self._cases.pop(case_id, None)
