"""Who takes part in a case: its parties, read from its history, and who may see it.

A procedure declares its kinds of party (``Party``: « le gestionnaire », « les financeurs
consultés », « le prestataire »...) and the steps that bind bodies to them (``Binding``). The
parties of a case are read from its history only, record by record (``parties_after``), never
from what a caller claims: the body that started an MSTR case is its manager, the bodies a
``refer`` names are its consulted funders, and so on.

A case is seen by its parties and by the bodies that coordinate its procedure version (by role:
the CAF coordinator of the MSTR, the DLA officers), for every version it has been under
(``Parties.sees``). A procedure that declares no parties at all (a partner's procedure written
before parties existed) keeps 0.1.0's rule: every actor holding one of its roles sees its cases.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence

from stechnique.definition import Binding, Procedure
from stechnique.records import ANY_KEY, Parties, Record

__all__ = ["NO_PARTIES", "parties_after", "parties_along", "parties_of"]

#: The parties of a case nobody has been bound to yet.
NO_PARTIES = Parties()


def parties_after(procedure: Procedure, record: Record, parties: Parties) -> Parties:
    """The parties of a case once ``record``, pinned to ``procedure``, applies to it.

    A ``migrate`` record only adds the new version's coordinators here: binding the parties
    the new version reads from the earlier records is ``parties_of``'s work.
    """
    bindings = procedure.bindings(record.event)
    roles = procedure.seen_by_roles
    if not bindings and roles <= parties.coordinators:
        return parties  # most steps bind nobody: nothing to build
    bound = set(parties.bound)
    for party, binding in bindings:
        _apply(bound, party, binding, record)
    return Parties(frozenset(bound), parties.coordinators | roles)


def _apply(bound: set[tuple[str, str, str]], party: str, binding: Binding, record: Record) -> None:
    payload = record.payload
    key = ANY_KEY
    if binding.per is not None:
        key = str(payload.get(binding.per, ""))
    if binding.field is None:
        bodies = [record.actor.acts_for]
    else:
        value = payload.get(binding.field)
        if value is None:
            return
        bodies = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    if binding.how == "set":
        bound.difference_update({t for t in bound if t[0] == party and t[1] == key})
    if binding.how == "remove":
        bound.difference_update({(party, key, body) for body in bodies})
    else:
        bound.update((party, key, body) for body in bodies)


def parties_of(records: Sequence[Record], procedure_of: Callable[[Record], Procedure]) -> Parties:
    """The parties of a case with these records (in seq order), each record read by the rules
    of the procedure version it is pinned to (see ``parties_along``)."""
    # The last of ``parties_along``: a deque of one keeps only it.
    return next(iter(deque(parties_along(records, procedure_of), maxlen=1)), NO_PARTIES)


def parties_along(
    records: Sequence[Record], procedure_of: Callable[[Record], Procedure]
) -> Iterator[Parties]:
    """The parties of the case after each of ``records`` (in seq order), each record read by
    the rules of the procedure version it is pinned to.

    A migration to another version re-reads the records before it with the new version's
    rules, so that the parties it names (a DLA case's structure is the body that started the
    MSTR case) are bound, while the earlier version's parties stay (they took part).
    """
    parties = NO_PARTIES
    for index, record in enumerate(records):
        procedure = procedure_of(record)
        if record.event == "migrate":
            for earlier in records[:index]:
                parties = parties_after(procedure, earlier, parties)
        parties = parties_after(procedure, record, parties)
        yield parties
