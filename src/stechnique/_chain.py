"""The hash chain, built and checked fast: the one place a record is sealed and its case derived.

``next_step`` writes every step there is (a start, a fire, a migration; imports and tests
too): the record that follows a case, sealed with its hash, and the case after it. The audit
checks each stored record with ``content_hash`` and replays the case row with ``case_after``
and ``facts_after``, the very functions the engine wrote it with.

A record's hash is defined in ``records`` (``content_hash``: the SHA-256 of the canonical JSON
of the record's plain data, its hash left out). Every fire and every audited record needs one,
so this module writes the same canonical text field by field instead, and builds records and
cases positionally (a class called with keywords packs them into a dict first: 0.5 µs a
fire). ``tests/test_hot_path.py`` checks on generated records that the hash here is the one
the plain cattrs, ``json`` and ``hashlib`` definition gives. Every speed trick of the record
layout lives in this module and nowhere else.

Every step is written in the current record format (``records.FORMAT``): each value of a field
its procedure declares confidential for the event (``ConfidentialField``) gets a fresh salt,
and the hash covers the value's salted digest instead of the value (``records.committed``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _encode_text
from typing import Any, Protocol

from stechnique.definition import Procedure
from stechnique.parties import NO_PARTIES, parties_after
from stechnique.records import (
    FORMAT,
    GENESIS_HASH,
    Actor,
    Case,
    Parties,
    Record,
    canonical_json,
    committed,
    new_salt,
    to_iso,
)

__all__ = [
    "Pinned",
    "case_after",
    "content_hash",
    "facts_after",
    "next_step",
    "roles_json",
    "stored_record",
]

JSON = dict[str, Any]


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

    The record goes from the case's state to ``target`` at the next seq, chained to the case's
    head and pinned to ``procedure``. With ``case`` None it is record 1 of a new case
    ``case_id`` (``event`` is then ``"start"``, ``payload`` the facts): no source, chained to
    ``GENESIS_HASH``. The case after is ``case_after`` the record, with ``facts_after`` it.
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
    salts = _salted(procedure, event, payload)
    digest = _hash(case_id, seq, event, source, target, actor, at, payload, name, version,
                   fingerprint, idempotency_key, head, FORMAT, salts)  # fmt: skip
    record = Record(case_id, seq, event, source, target, actor, at, payload, name, version,
                    fingerprint, idempotency_key, head, digest, FORMAT, salts)  # fmt: skip
    parties = _parties_after(case, procedure, record)
    return record, case_after(
        record, created_at=created_at, facts=facts_after(record, facts), parties=parties
    )


def _salted(procedure: Pinned, event: str, payload: JSON) -> dict[str, str]:
    """A fresh salt for each field of ``payload`` the procedure declares confidential for
    ``event`` (a bare pin, not a ``Procedure``, declares none)."""
    if not payload or not isinstance(procedure, Procedure):
        return {}
    return {
        rule.field: new_salt()
        for rule in procedure.reading_rules.confidential
        if rule.event == event and rule.field in payload
    }


def _parties_after(case: Case | None, procedure: Pinned, record: Record) -> Parties | None:
    """The case's parties after ``record``: unknown stays unknown (a case row upgraded from
    before parties: the engine reads them from the history before it fires), and a bare pin
    (not a ``Procedure``: imports, tests) binds nobody."""
    if not isinstance(procedure, Procedure):
        return None if case is None else case.parties
    before = NO_PARTIES if case is None else case.parties
    return None if before is None else parties_after(procedure, record, before)


def stored_record(*fields: Any) -> Record:
    """A record read back from a store, its ``fields`` in ``Record``'s declared order (the
    order of ``RecordRow``). Built positionally here, the one place that knows that order:
    keywords would cost a storage read about 0.75 µs a record."""
    return Record(*fields)


def case_after(
    record: Record, *, created_at: datetime, facts: JSON, parties: Parties | None = None
) -> Case:
    """The case right after ``record``: its state, seq, time, head and procedure version are the
    record's; ``created_at``, ``facts`` (see ``facts_after``) and ``parties`` (see
    ``stechnique.parties``) come from the case's history."""
    return Case(record.case_id, record.name, record.version, record.fingerprint, record.target,
                record.seq, facts, created_at, record.at, record.hash, parties)  # fmt: skip


def facts_after(record: Record, facts: JSON) -> JSON:
    """The case's facts once ``record`` applies to a case with ``facts``: set by ``start``,
    replaced by ``migrate`` (its payload's ``facts``), kept by every other event."""
    if record.event == "start":
        return dict(record.payload)
    if record.event == "migrate" and isinstance(record.payload.get("facts"), dict):
        return dict(record.payload["facts"])
    return facts


def content_hash(record: Record) -> str:
    """The hash ``record`` should carry (``records.content_hash``), computed faster."""
    r = record
    return _hash(r.case_id, r.seq, r.event, r.source, r.target, r.actor, r.at, r.payload, r.name,
                 r.version, r.fingerprint, r.idempotency_key, r.prev_hash, r.format,
                 r.salts)  # fmt: skip


@functools.lru_cache(maxsize=256)
def roles_json(roles: frozenset[str]) -> str:
    """The canonical JSON of a set of roles, a sorted list: what hashes cover and what the SQL
    stores keep. The same few sets sign most records, so each is encoded once."""
    return canonical_json(sorted(roles))


def _hash(
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
    format: int = 1,
    salts: Mapping[str, str] | None = None,
) -> str:
    """The hash of a record with these fields (``Record``'s, in order, but the hash)."""
    enc = _encode_text
    body: Any = _body
    extra: tuple[str, ...] = ()
    if format != 1:
        # Format 2: the payload's plain fields, and the digests of its committed ones (most
        # events carry no payload: nothing to split, and the text of the two keys is known).
        body, extra = _body_2, _NO_DIGESTS
        if payload:
            payload, digests = committed(payload, salts or {})
            if digests:
                extra = (_json(digests), _NO_DIGESTS[1])
        if format != FORMAT:
            extra = (extra[0], _json(format))
    try:
        # Fields typed ``str`` go straight to the C string encoder, which is what the generic
        # path does for any ``str`` and raises ``TypeError`` for anything else: then the
        # generic path below encodes (or refuses) exactly as ``canonical_json`` does.
        text = body(
            _actor_json(actor, enc), enc(to_iso(at)),
            enc(case_id), enc(event), enc(fingerprint),
            "null" if idempotency_key is None else enc(idempotency_key), enc(name),
            _json(payload), enc(prev_hash),
            int.__repr__(seq) if seq.__class__ is int else _json(seq),
            "null" if source is None else enc(source), enc(target), enc(version), *extra,
        )  # fmt: skip
    except TypeError:
        text = body(
            _actor_json(actor, _json), _encode_text(to_iso(at)),
            _json(case_id), _json(event), _json(fingerprint), _json(idempotency_key), _json(name),
            _json(payload), _json(prev_hash), _json(seq), _json(source), _json(target),
            _json(version), *extra,
        )  # fmt: skip
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The canonical text of a body, written out field by field: this costs a third of encoding the
# body dict. The keys are in sorted order and each value is encoded exactly as
# ``canonical_json`` encodes it, so the text, and every hash, is the same. (An f-string: half
# the time of the same template with ``%``.)
def _actor_json(actor: Actor, enc: Any) -> str:
    """The canonical JSON of an actor: its body only when it has one (0.1.0 hashes unchanged)."""
    if actor.body is None:
        return f'{{"id":{enc(actor.id)},"roles":{roles_json(actor.roles)}}}'
    return f'{{"body":{enc(actor.body)},"id":{enc(actor.id)},"roles":{roles_json(actor.roles)}}}'


def _body(
    actor: str, at: str, case_id: str, event: str, fingerprint: str, key: str,
    name: str, payload: str, prev_hash: str, seq: str, source: str, target: str, version: str,
) -> str:  # fmt: skip
    return (
        f'{{"actor":{actor},"at":{at},"case_id":{case_id},'
        f'"event":{event},"fingerprint":{fingerprint},"idempotency_key":{key},"name":{name},'
        f'"payload":{payload},"prev_hash":{prev_hash},"seq":{seq},"source":{source},'
        f'"target":{target},"version":{version}}}'
    )


#: The ``digests`` and ``format`` texts of a format-2 record that commits no value.
_NO_DIGESTS = ("{}", str(FORMAT))


def _body_2(
    actor: str, at: str, case_id: str, event: str, fingerprint: str, key: str, name: str,
    payload: str, prev_hash: str, seq: str, source: str, target: str, version: str,
    digests: str, format: str,
) -> str:  # fmt: skip
    """``_body`` of a format-2 record: the same keys, and ``digests`` and ``format``."""
    return (
        f'{{"actor":{actor},"at":{at},"case_id":{case_id},"digests":{digests},'
        f'"event":{event},"fingerprint":{fingerprint},"format":{format},'
        f'"idempotency_key":{key},"name":{name},'
        f'"payload":{payload},"prev_hash":{prev_hash},"seq":{seq},"source":{source},'
        f'"target":{target},"version":{version}}}'
    )


# What ``canonical_json`` builds on every call for a dict or a list: CPython's C encoder with
# its settings (sorted keys, compact separators, non-ASCII kept), built once. Without the cycle
# check, so only for values known to hold no cycle, such as validated payloads.
_C_ENCODER = (
    c_make_encoder(
        None, json.JSONEncoder().default, _encode_text, None, ":", ",", True, False, True
    )
    if c_make_encoder is not None
    else None
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
    return canonical_json(value)
