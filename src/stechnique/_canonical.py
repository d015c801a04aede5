"""The canonical form of a record and its hash, computed fast: the codec behind ``records``.

By definition a record's hash is ``record_hash(body)``: the SHA-256 of ``canonical_json`` (compact,
sorted keys, non-ASCII kept) of its body, the plain cattrs unstructured record without its
``hash`` (times by ``to_iso``, role sets as sorted lists). Every fire and every audited record
is hashed, so ``hash_of`` (which seals a new record) and ``content_hash`` (which checks a stored
one) write the same text field by field instead; ``tests/test_hot_path.py`` checks on generated
records that both ways give the same text and hash. Every speed trick of the encoding lives in
this module and nowhere else.

Nothing here imports the record classes: ``records`` builds on this module.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _encode_text
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stechnique.records import Actor, Record

__all__ = [
    "canonical_json",
    "content_hash",
    "hash_of",
    "record_hash",
    "roles_json",
    "to_iso",
    "unstructure_record",
]


def to_iso(moment: datetime) -> str:
    """ISO 8601 text of an aware datetime, in UTC, always with microseconds."""
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: stechnique only stores aware UTC times")
        moment = moment.astimezone(UTC)
    # Without timespec isoformat is faster, and the same unless there are no microseconds.
    return moment.isoformat() if moment.microsecond else moment.isoformat(timespec="microseconds")


# One encoder for every call: json.dumps with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# What ``_ENCODER.encode`` builds on every call for a dict or a list (CPython's C encoder with
# the encoder's settings), built once. Only for values known to hold no cycle: no check.
_C_ENCODER = (
    c_make_encoder(None, _ENCODER.default, _encode_text, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys, the form every hash and fingerprint is taken over."""
    return _ENCODER.encode(value)


def record_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a record body; the body includes ``prev_hash``, chaining the records."""
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=256)
def roles_json(roles: frozenset[str]) -> str:
    """The canonical JSON of a set of roles, a sorted list: what hashes cover and what the SQL
    stores keep. The same few sets sign most records, so each is encoded once."""
    return canonical_json(sorted(roles))


def unstructure_record(record: Record) -> dict[str, Any]:
    """The plain data of ``record``: what the library converter's generic unstructuring gives,
    written out by hand (exports and ``Record.body`` run it once a record)."""
    return {
        "case_id": record.case_id,
        "seq": record.seq,
        "event": record.event,
        "source": record.source,
        "target": record.target,
        "actor": {"id": record.actor.id, "roles": sorted(record.actor.roles)},
        "at": to_iso(record.at),
        "payload": record.payload,
        "name": record.name,
        "version": record.version,
        "fingerprint": record.fingerprint,
        "idempotency_key": record.idempotency_key,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def content_hash(record: Record) -> str:
    """The hash ``record`` should carry: ``record_hash`` of its body, computed faster."""
    r = record
    return hash_of(r.case_id, r.seq, r.event, r.source, r.target, r.actor, r.at, r.payload,
                   r.name, r.version, r.fingerprint, r.idempotency_key, r.prev_hash)  # fmt: skip


def hash_of(
    case_id: str,
    seq: int,
    event: str,
    source: str | None,
    target: str,
    actor: Actor,
    at: datetime,
    payload: Mapping[str, Any],
    name: str,
    version: str,
    fingerprint: str,
    idempotency_key: str | None,
    prev_hash: str,
) -> str:
    """The hash of a record with these fields (``Record``'s, in order, but the hash): what seals
    a new record before it is built. Positional, because every fire calls it."""
    enc = _encode_text
    try:
        # Fields typed ``str`` go straight to the C string encoder, which is what the generic
        # path does for any ``str`` and raises ``TypeError`` for anything else: then the
        # generic path below encodes (or refuses) exactly as ``canonical_json`` does.
        text = _body(
            enc(actor.id), roles_json(actor.roles), enc(to_iso(at)),
            enc(case_id), enc(event), enc(fingerprint),
            "null" if idempotency_key is None else enc(idempotency_key), enc(name),
            _json(payload), enc(prev_hash),
            int.__repr__(seq) if seq.__class__ is int else _json(seq),
            "null" if source is None else enc(source), enc(target), enc(version),
        )  # fmt: skip
    except TypeError:
        text = _body(
            _json(actor.id), roles_json(actor.roles), _encode_text(to_iso(at)),
            _json(case_id), _json(event), _json(fingerprint), _json(idempotency_key), _json(name),
            _json(payload), _json(prev_hash), _json(seq), _json(source), _json(target),
            _json(version),
        )  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The canonical text of a body, written out field by field: this costs a third of encoding the
# body dict. The keys are in sorted order and each value is encoded exactly as
# ``canonical_json`` encodes it, so the text, and every hash, is the same. (An f-string: half
# the time of the same template with ``%``.)
def _body(
    actor_id: str, roles: str, at: str, case_id: str, event: str, fingerprint: str, key: str,
    name: str, payload: str, prev_hash: str, seq: str, source: str, target: str, version: str,
) -> str:  # fmt: skip
    return (
        f'{{"actor":{{"id":{actor_id},"roles":{roles}}},"at":{at},"case_id":{case_id},'
        f'"event":{event},"fingerprint":{fingerprint},"idempotency_key":{key},"name":{name},'
        f'"payload":{payload},"prev_hash":{prev_hash},"seq":{seq},"source":{source},'
        f'"target":{target},"version":{version}}}'
    )


def _json(value: Any) -> str:
    """``canonical_json(value)``, with the common scalars done directly as the encoder does."""
    kind = value.__class__
    if kind is str:
        return _encode_text(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is dict and not value:
        return "{}"
    if _C_ENCODER is not None and (kind is dict or kind is list):
        return "".join(_C_ENCODER(value, 0))
    return _ENCODER.encode(value)
