"""The values a history is made of: who acted (`Actor`), the case (`Case`), each step (`Record`).

Records form a hash chain: each record's ``hash`` is the SHA-256 of its canonical form, which
includes the previous record's hash (``prev_hash``). Changing, removing or reordering any record
breaks the chain from that point on.

The canonical form is the library-owned cattrs ``converter``'s unstructured value, dumped as
compact JSON with sorted keys (``canonical_json``). Datetimes are ISO 8601 in UTC with
microseconds, role sets are sorted lists. The encoding and the hash are computed in
``stechnique._canonical``; ``canonical_json``, ``content_hash``, ``record_hash`` and ``to_iso``
are re-exported here.

``next_step`` is the one way a step is written: the sealed record that follows a case and the
case after it, for the engine, migrations, imports and test builders alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol, get_origin

import attrs
import cattrs

from stechnique._canonical import (
    canonical_json,
    content_hash,
    hash_of,
    record_hash,
    to_iso,
    unstructure_record,
)

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "Case",
    "Pinned",
    "Record",
    "canonical_json",
    "case_after",
    "content_hash",
    "converter",
    "facts_after",
    "from_iso",
    "next_step",
    "record_hash",
    "seal",
    "to_iso",
]

#: ``prev_hash`` of the first record of every case.
GENESIS_HASH = "0" * 64

JSON = dict[str, Any]


def _roles(value: Iterable[str] | str) -> frozenset[str]:
    # A bare string would be split into letters; treat it as one role.
    return frozenset([value]) if isinstance(value, str) else frozenset(value)


@attrs.frozen
class Actor:
    """Someone who acts on a case: an id and the roles held for this action."""

    id: str
    roles: frozenset[str] = attrs.field(factory=frozenset, converter=_roles)

    def has_any(self, roles: Iterable[str]) -> bool:
        """Whether the actor holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)


@attrs.frozen
class Case:
    """The current state of one case: a cache derived from (and written with) its history.

    ``head`` is the hash of the last record, so appending needs no extra read.
    """

    id: str
    name: str
    version: str
    fingerprint: str
    state: str
    seq: int
    facts: JSON
    created_at: datetime
    updated_at: datetime
    head: str


@attrs.frozen
class Record:
    """One step of a case's history. Record 1 is ``start`` with the facts as payload."""

    case_id: str
    seq: int
    event: str
    source: str | None
    target: str
    actor: Actor
    at: datetime
    payload: JSON
    name: str
    version: str
    fingerprint: str
    idempotency_key: str | None
    prev_hash: str
    hash: str

    def body(self) -> JSON:
        """The canonical form that ``hash`` covers (everything but the hash itself)."""
        body = unstructure_record(self)
        del body["hash"]
        return body


def from_iso(text: str) -> datetime:
    """Parse what ``to_iso`` wrote."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, to_iso)
    conv.register_structure_hook(datetime, lambda value, _: from_iso(value))
    # Role sets hash the same whatever their iteration order.
    conv.register_unstructure_hook_func(_is_frozenset, sorted)
    # What the generic hook gives, written out (``tests/test_hot_path.py`` compares the two).
    conv.register_unstructure_hook(Record, unstructure_record)
    return conv


def _is_frozenset(cls: Any) -> bool:
    return cls is frozenset or get_origin(cls) is frozenset


#: The library's cattrs converter: the one place where values become plain data and back.
converter = _make_converter()


def seal(record: Record) -> Record:
    """Return ``record`` with its hash computed over its body (``hash`` given is ignored)."""
    return attrs.evolve(record, hash=content_hash(record))


class Pinned(Protocol):
    """The procedure version a record is pinned to: a ``Procedure``, or a ``Case`` or ``Record``
    of one (anything with its name, version and fingerprint)."""

    @property
    def name(self) -> str:
        """The procedure's name."""

    @property
    def version(self) -> str:
        """The procedure's version."""

    @property
    def fingerprint(self) -> str:
        """The SHA-256 of the procedure version's canonical form."""


def next_step(
    case: Case | None,
    procedure: Pinned,
    *,
    event: str,
    target: str,
    actor: Actor,
    at: datetime,
    payload: JSON,
    idempotency_key: str | None = None,
    case_id: str | None = None,
) -> tuple[Record, Case]:
    """The sealed record that follows ``case``, and the case after it.

    The record goes from the case's state to ``target``, with the next seq, chained to the
    case's head and pinned to ``procedure``. With ``case`` None it is record 1 of a new case
    ``case_id`` (``event`` is then ``"start"`` and ``payload`` the facts): no source, chained to
    ``GENESIS_HASH``. The case after is ``case_after`` the record, its facts ``facts_after``.
    """
    if case is None:
        if case_id is None:
            raise ValueError("the first record of a case needs its case_id")
        seq, source, head, created_at, facts = 1, None, GENESIS_HASH, at, {}
    else:
        if case_id is not None and case_id != case.id:
            raise ValueError(f"case_id {case_id!r} given with case {case.id!r}")
        case_id, seq, source, head = case.id, case.seq + 1, case.state, case.head
        created_at, facts = case.created_at, case.facts
    name, version, fingerprint = procedure.name, procedure.version, procedure.fingerprint
    record = Record(
        case_id=case_id, seq=seq, event=event, source=source, target=target, actor=actor, at=at,
        payload=payload, name=name, version=version, fingerprint=fingerprint,
        idempotency_key=idempotency_key, prev_hash=head,
        hash=hash_of(case_id, seq, event, source, target, actor, at, payload, name, version,
                     fingerprint, idempotency_key, head),
    )  # fmt: skip
    return record, case_after(record, created_at=created_at, facts=facts_after(record, facts))


def case_after(record: Record, *, created_at: datetime, facts: JSON) -> Case:
    """The case right after ``record``: its state, seq, time, head and procedure version are the
    record's; ``created_at`` and ``facts`` (see ``facts_after``) come from the case's history."""
    return Case(
        id=record.case_id,
        name=record.name,
        version=record.version,
        fingerprint=record.fingerprint,
        state=record.target,
        seq=record.seq,
        facts=facts,
        created_at=created_at,
        updated_at=record.at,
        head=record.hash,
    )


def facts_after(record: Record, facts: JSON) -> JSON:
    """The case's facts once ``record`` is applied to a case with ``facts``: set by ``start``,
    replaced by ``migrate`` (its payload's ``facts``), kept by every other event."""
    if record.event == "start":
        return dict(record.payload)
    if record.event == "migrate" and isinstance(record.payload.get("facts"), dict):
        return dict(record.payload["facts"])
    return facts
