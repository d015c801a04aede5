"""The values a history is made of: who acted (`Actor`), the case (`Case`), each step (`Record`).

Records form a hash chain: each record's ``hash`` is the SHA-256 of its canonical form, which
includes the previous record's hash (``prev_hash``). Changing, removing or reordering any record
breaks the chain from that point on.

The canonical form is the library-owned cattrs ``converter``'s unstructured value, dumped as
compact JSON with sorted keys (``canonical_json``). Datetimes are ISO 8601 in UTC with
microseconds, role sets are sorted lists. This module says what the hash is
(``content_hash``, ``seal``); the engine and the audit compute the same hash faster, and build
every step, in ``stechnique._chain``.

Record formats (``Record.format``). Format 1 (0.1.0) hashes the payload as it is. Format 2,
written by every step since, commits each confidential value with its own salt, the way
SD-JWT commits to a selectively disclosable claim: the hashed body holds, in ``digests``, the
SHA-256 of ``[salt, field, value]`` (``value_digest``) instead of the value, and the salt
travels with the value (``Record.salts``). A reader the value is withheld from gets a
redaction marker holding that digest, without value or salt (``stechnique.visibility``): the
record still proves its chain, and a guess of the value cannot be checked against anything,
for the 128 random bits of the salt are missing. The body of a format-1 record is exactly as
0.1.0 wrote it, so every 0.1.0 hash still verifies.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, get_origin

import attrs
import cattrs

__all__ = [
    "ANY_KEY",
    "FORMAT",
    "GENESIS_HASH",
    "JSON",
    "REDACTED",
    "SALT_BYTES",
    "SALT_SOURCE",
    "Access",
    "Actor",
    "Case",
    "Parties",
    "Record",
    "actor_data",
    "canonical_json",
    "committed",
    "content_hash",
    "converter",
    "from_iso",
    "new_salt",
    "record_hash",
    "seal",
    "to_iso",
    "value_digest",
    "withheld_digest",
]

#: ``prev_hash`` of the first record of every case.
GENESIS_HASH = "0" * 64

#: Facts and payloads: JSON objects as plain Python data.
JSON = dict[str, Any]

#: The record format every step writes now (see the module docstring); 0.1.0 wrote format 1.
FORMAT = 2
#: The key of a redaction marker (``stechnique.visibility``); a withheld format-2 value's
#: marker also holds its ``digest``, which its record's hash covers.
REDACTED = "__redacted__"
#: Bytes of randomness in a salt: 128 bits, as SD-JWT recommends, so that no dictionary of
#: guesses can be tried against a digest.
SALT_BYTES = 16


#: Where this context's salts come from; ``None`` (always, in use) is ``secrets``. Only the
#: differential tests (``stechnique.testing``) set it, so that two stores fed the same commands
#: hold the very same bytes: a salt is random so that a guess cannot be checked, and a test's
#: salts guard nothing.
SALT_SOURCE: ContextVar[Callable[[], str] | None] = ContextVar("stechnique_salts", default=None)


def new_salt() -> str:
    """A fresh random salt (``SALT_BYTES`` from ``secrets``, as hex text)."""
    source = SALT_SOURCE.get()
    return secrets.token_hex(SALT_BYTES) if source is None else source()


def value_digest(salt: str, field: str, value: Any) -> str:
    """SHA-256 (hex) of ``[salt, field, value]`` as canonical JSON: what a format-2 record's
    hash covers in place of a confidential value (SD-JWT's disclosure digest)."""
    return hashlib.sha256(canonical_json([salt, field, value]).encode("utf-8")).hexdigest()


def withheld_digest(value: Any) -> str | None:
    """The digest a redaction marker of a format-2 value holds, or None if ``value`` is not
    such a marker."""
    if value.__class__ is not dict or len(value) != 1:
        return None
    marker = value.get(REDACTED)
    digest = marker.get("digest") if isinstance(marker, dict) else None
    return digest if isinstance(digest, str) else None


def committed(payload: Mapping[str, Any], salts: Mapping[str, str]) -> tuple[JSON, JSON]:
    """A format-2 payload split as its hash covers it: the plain fields, and the digest of
    each committed one (salted, or withheld from the reader and replaced by its marker)."""
    plain: JSON = {}
    digests: JSON = {}
    for field, value in payload.items():
        salt = salts.get(field)
        if salt is not None:
            digests[field] = value_digest(salt, field, value)
            continue
        digest = withheld_digest(value)
        if digest is None:
            plain[field] = value
        else:
            digests[field] = digest
    return plain, digests


def _roles(value: Iterable[str] | str) -> frozenset[str]:
    # A bare string would be split into letters; treat it as one role.
    return frozenset([value]) if isinstance(value, str) else frozenset(value)


@attrs.frozen
class Actor:
    """Someone who acts on a case: an id, the roles held for this action, the body acted for.

    A party of a case is a body (an association, a funder, a firm...); an actor acts for one.
    Where the application does not tell people from bodies, leave ``body`` out: the actor's id
    is then the body's id (``acts_for``). An absent body is not encoded in a record's hash, so
    every record written before bodies existed keeps its hash.

    :ivar id: who acts, as the application names them (a person or a body).
    :ivar roles: the roles held for this action; a single string is one role.
    :ivar body: the body the actor acts for, when it is not the actor itself.
    """

    id: str
    roles: frozenset[str] = attrs.field(factory=frozenset, converter=_roles)
    body: str | None = None

    @property
    def acts_for(self) -> str:
        """The body the actor acts for: ``body``, or the actor's own id."""
        return self.id if self.body is None else self.body

    def has_any(self, roles: Iterable[str]) -> bool:
        """Whether the actor holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)


#: A party binding that holds whatever the key (not bound per action).
ANY_KEY = ""


def _bound(value: Iterable[tuple[str, str, str]]) -> frozenset[tuple[str, str, str]]:
    return frozenset((str(p), str(k), str(b)) for p, k, b in value)


@attrs.frozen
class Parties:
    """The bodies bound to each party of a case, and the roles that coordinate it.

    :ivar bound: ``(party, key, body)`` triples: ``body`` is the case's ``party`` (for the key
        ``key`` when the party is bound per action, else for ``ANY_KEY``).
    :ivar coordinators: the coordinating roles of every version the case has been under.
    :ivar open: whether the case's procedure declares no reading rules at all, so that every
        actor holding one of ``coordinators`` (then: every role of the procedure) sees it.
    """

    bound: frozenset[tuple[str, str, str]] = attrs.field(factory=frozenset, converter=_bound)
    coordinators: frozenset[str] = attrs.field(factory=frozenset, converter=_roles)

    def bodies(self, party: str | None = None, key: str | None = None) -> frozenset[str]:
        """The bodies bound to ``party`` (to any party when ``None``), for ``key`` if given."""
        return frozenset(
            body
            for p, k, body in self.bound
            if (party is None or p == party) and (key is None or k in (key, ANY_KEY))
        )

    def of(self, body: str) -> frozenset[str]:
        """The parties ``body`` is bound to."""
        return frozenset(p for p, _, b in self.bound if b == body)

    def sees(self, viewer: Actor) -> bool:
        """Whether ``viewer`` may know of the case: one of its parties, or a coordinator."""
        if not viewer.roles.isdisjoint(self.coordinators):
            return True
        body = viewer.acts_for
        return any(b == body for _, _, b in self.bound)

    def readers(self) -> frozenset[str]:
        """What a store indexes the case by: ``body:<id>`` of each party, ``role:<role>`` of
        each coordinating role (``Storage.cases(seen_by=...)`` looks them up)."""
        return frozenset(
            [f"body:{body}" for _, _, body in self.bound]
            + [f"role:{role}" for role in self.coordinators]
        )

    def to_data(self) -> dict[str, Any]:
        """Plain data, sorted (what a store or an export keeps)."""
        return {
            "bound": [list(triple) for triple in sorted(self.bound)],
            "coordinators": sorted(self.coordinators),
        }

    @classmethod
    def from_data(cls, data: Any) -> Parties:
        """What ``to_data`` wrote (``ValueError`` if it is not that)."""
        if not isinstance(data, dict) or set(data) != {"bound", "coordinators"}:
            raise ValueError(f"not the parties of a case: {data!r}")
        bound, coordinators = data["bound"], data["coordinators"]
        if not isinstance(bound, list) or not all(
            isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t)
            for t in bound
        ):
            raise ValueError(f"not the bound parties of a case: {bound!r}")
        if not isinstance(coordinators, list) or not all(isinstance(r, str) for r in coordinators):
            raise ValueError(f"not the coordinating roles of a case: {coordinators!r}")
        return cls(frozenset(tuple(t) for t in bound), frozenset(coordinators))


@attrs.frozen
class Case:
    """The current state of one case: a cache derived from (and written with) its history.

    ``head`` is the hash of the last record, so appending needs no extra read.

    :ivar id: the case id, unique in its store.
    :ivar name: the procedure's name, e.g. ``soutien-technique-renforce``.
    :ivar version: the procedure version the case runs under, e.g. ``2015-2017``.
    :ivar fingerprint: the SHA-256 fingerprint of that version's definition.
    :ivar state: the current state id.
    :ivar seq: the sequence number of the last record (1 after ``start``).
    :ivar facts: the facts recorded at start (as migrated, for a migrated case).
    :ivar created_at: when the case started (aware, UTC).
    :ivar updated_at: when its last record was written (aware, UTC).
    :ivar head: the hash of the last record.
    :ivar parties: who takes part in the case and who coordinates it, read from its history
        (``stechnique.parties``); ``None`` for a case row a store upgraded from before parties
        existed, until the engine has read them.
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
    parties: Parties | None = None


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Access:
    """An unredacted read of cases by an auditor, as the store logs it: who, when, why, which.

    Reading a case always names a viewer and shows what that viewer may see; the one way past
    the reading rules is an auditor's explicit read, and every such read leaves one of these.

    :ivar actor: the auditor who read, with the roles held.
    :ivar at: when (aware, UTC).
    :ivar reason: why, in the auditor's words.
    :ivar case_ids: the cases read, in the order they were read.
    """

    actor: Actor
    at: datetime
    reason: str
    case_ids: tuple[str, ...] = attrs.field(converter=_ids)


@attrs.frozen
class Record:
    """One step of a case's history. Record 1 is ``start`` with the facts as payload.

    :ivar case_id: the case this record belongs to.
    :ivar seq: its position in the case's history: 1, 2, 3... with no gap.
    :ivar event: the event fired (``start`` for record 1, ``migrate`` for a migration).
    :ivar source: the state before the event; ``None`` for ``start``.
    :ivar target: the state after the event.
    :ivar actor: who fired it, with the roles they held.
    :ivar at: when it was written (aware, UTC, from the engine's clock).
    :ivar payload: the data given with the event (the facts, for ``start``).
    :ivar name: the procedure's name the record is pinned to.
    :ivar version: the procedure version the record is pinned to.
    :ivar fingerprint: the fingerprint of that version's definition.
    :ivar idempotency_key: the key the command was sent with, if any.
    :ivar prev_hash: the previous record's ``hash`` (``GENESIS_HASH`` for record 1).
    :ivar hash: the SHA-256 of this record's canonical form (``body``).
    :ivar format: the record format: 1 as 0.1.0 wrote, 2 (``FORMAT``) with salted
        confidential values (see the module docstring).
    :ivar salts: (format 2) the salt of each confidential payload field the record holds;
        a field withheld from a reader has neither value nor salt.
    """

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
    format: int = 1
    salts: dict[str, str] = attrs.field(factory=dict)

    def body(self) -> JSON:
        """The canonical form that ``hash`` covers (everything but the hash itself): for
        format 2, the salts left out and each committed value replaced by its digest
        (``committed``)."""
        body = _unstructure_fields(self)
        del body["hash"]
        if self.format != 1:
            body["format"] = self.format
            body["payload"], body["digests"] = committed(self.payload, self.salts)
        return body


def to_iso(moment: datetime) -> str:
    """ISO 8601 text of an aware datetime, in UTC, always with microseconds."""
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: stechnique only stores aware UTC times")
        moment = moment.astimezone(UTC)
    # Without timespec isoformat is faster, and the same unless there are no microseconds.
    return moment.isoformat() if moment.microsecond else moment.isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    """Parse what ``to_iso`` wrote."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _unstructure_record(record: Record) -> JSON:
    # What the converter's generic hook gives (a test compares them), written out by hand:
    # 2.5 times faster, and exports and ``Record.body`` run it once a record. A format-1
    # record has no ``format`` nor ``salts`` key: its data is exactly what 0.1.0 wrote.
    data = _unstructure_fields(record)
    if record.format != 1:
        data["format"] = record.format
    if record.salts:
        data["salts"] = dict(record.salts)
    return data


def _unstructure_fields(record: Record) -> JSON:
    return {
        "case_id": record.case_id,
        "seq": record.seq,
        "event": record.event,
        "source": record.source,
        "target": record.target,
        "actor": actor_data(record.actor),
        "at": to_iso(record.at),
        "payload": record.payload,
        "name": record.name,
        "version": record.version,
        "fingerprint": record.fingerprint,
        "idempotency_key": record.idempotency_key,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def actor_data(actor: Actor) -> JSON:
    """An actor as plain data: its id, its sorted roles, and its body when it has one."""
    data: JSON = {"id": actor.id, "roles": sorted(actor.roles)}
    if actor.body is not None:
        data["body"] = actor.body
    return data


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, to_iso)
    conv.register_structure_hook(datetime, lambda value, _: from_iso(value))
    # Role sets hash the same whatever their iteration order.
    conv.register_unstructure_hook_func(_is_frozenset, sorted)
    conv.register_unstructure_hook(Record, _unstructure_record)
    conv.register_unstructure_hook(Actor, actor_data)
    return conv


def _is_frozenset(cls: Any) -> bool:
    return cls is frozenset or get_origin(cls) is frozenset


#: The library's cattrs converter: the one place where values become plain data and back.
converter = _make_converter()


# One encoder for every call: json.dumps with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys, the form every hash and fingerprint is taken over."""
    return _ENCODER.encode(value)


def record_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a record body; the body includes ``prev_hash``, chaining the records."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def content_hash(record: Record) -> str:
    """The hash ``record`` should carry: ``record_hash(record.body())``."""
    return record_hash(record.body())


def seal(record: Record) -> Record:
    """Return ``record`` with its hash computed over its body (``hash`` given is ignored)."""
    return attrs.evolve(record, hash=content_hash(record))
