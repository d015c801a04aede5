"""The hot paths keep the behaviour of the plain code they replace.

Every fire and every audited record is hashed through a body text written out field by field
(``stechnique._chain``). By definition a record's hash is the SHA-256 of its plain cattrs form
without the hash, dumped as compact JSON with sorted keys: ``defined_hash`` below, built from
cattrs, ``json`` and ``hashlib`` alone. These properties pin the fast path, ``next_step``, the
library converter and ``records.content_hash`` to that definition, on values beyond what the
engine writes (odd unicode, floats, nested payloads, non-UTC times, non-text ids), in both
record formats: format 1 as 0.1.0 wrote, format 2 whose hash covers each salted value's
SHA-256 of ``[salt, field, value]`` (or a withheld value's marker digest) instead of the value.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_origin

import attrs
import cattrs
import pytest
from cattrs.gen import make_dict_unstructure_fn, override
from hypothesis import assume, given
from hypothesis import strategies as st

from stechnique import Field, InvalidData
from stechnique import records as definition
from stechnique._chain import case_after, content_hash, next_step
from stechnique._values import copied, replaced
from stechnique.records import GENESIS_HASH, Actor, Case, Record, canonical_json, converter, to_iso
from stechnique.schema import validate
from stechnique.testing import strategies

_text = st.text(max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_moments = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1)),
    st.sampled_from([0, 60, -330, 840]),
) | st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1)).map(lambda m: m.replace(tzinfo=UTC))

plain_records = st.builds(
    Record,
    case_id=_text,
    seq=st.integers(1, 2**40),
    event=_text,
    source=st.none() | _text,
    target=_text,
    actor=st.builds(
        Actor, _text | st.integers(), st.frozensets(_text, max_size=3), st.none() | _text
    ),
    at=_moments,
    payload=st.dictionaries(_text, _json, max_size=4),
    name=_text,
    version=_text,
    fingerprint=_text,
    idempotency_key=st.none() | _text,
    prev_hash=_text,
    hash=_text,
)


@st.composite
def _format_2(draw: st.DrawFn, record: Record) -> Record:
    """``record`` in format 2: some payload fields salted, some withheld behind a marker."""
    fields = sorted(record.payload)
    salted = draw(st.lists(st.sampled_from(fields), unique=True) if fields else st.just([]))
    salts = {field: draw(_text) for field in salted}
    payload = dict(record.payload)
    for field in fields:
        if field not in salts and draw(st.booleans()):
            payload[field] = {"__redacted__": {"fr": "x", "digest": draw(_text)}}
    return attrs.evolve(record, payload=payload, format=2, salts=salts)


records = plain_records | plain_records.flatmap(_format_2)


def _plain_converter() -> cattrs.Converter:
    """cattrs with nothing but the three rules of the canonical form: times in UTC with
    microseconds, role sets as sorted lists, an actor's body only when it has one."""
    conv = cattrs.Converter()
    conv.register_unstructure_hook(
        datetime, lambda moment: moment.astimezone(UTC).isoformat(timespec="microseconds")
    )
    conv.register_unstructure_hook_func(
        lambda cls: cls is frozenset or get_origin(cls) is frozenset, sorted
    )
    conv.register_unstructure_hook(
        Actor, make_dict_unstructure_fn(Actor, conv, body=override(omit_if_default=True))
    )
    omitted = override(omit_if_default=True)
    conv.register_unstructure_hook(
        Record, make_dict_unstructure_fn(Record, conv, format=omitted, salts=omitted)
    )
    return conv


PLAIN = _plain_converter()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def defined_text(record: Record) -> str:
    """The canonical text of ``record`` by definition: its plain cattrs form but the hash,
    compact JSON with sorted keys; in format 2, without the salts, each salted or withheld
    value moved from ``payload`` to ``digests`` as its digest."""
    body = PLAIN.unstructure(record)
    del body["hash"]
    salts = body.pop("salts", {})
    if record.format == 1:
        body.pop("format", None)
        return _dumps(body)
    body["format"], payload, digests = record.format, {}, {}
    for field, value in body["payload"].items():
        if field in salts:
            digests[field] = hashlib.sha256(
                _dumps([salts[field], field, value]).encode("utf-8")
            ).hexdigest()
        elif isinstance(value, dict) and list(value) == ["__redacted__"]:
            digests[field] = value["__redacted__"]["digest"]
        else:
            payload[field] = value
    body["payload"], body["digests"] = payload, digests
    return _dumps(body)


def defined_hash(record: Record) -> str:
    """A record's hash by definition: the SHA-256 of its canonical text."""
    return hashlib.sha256(defined_text(record).encode("utf-8")).hexdigest()


@given(records)
def test_content_hash_is_the_defined_hash(record: Record) -> None:
    assert content_hash(record) == defined_hash(record) == definition.content_hash(record)
    assert definition.seal(record).hash == defined_hash(record)


@given(records)
def test_the_converter_gives_the_plain_cattrs_form(record: Record) -> None:
    assert converter.unstructure(record) == PLAIN.unstructure(record)
    body = record.body()
    assert canonical_json(body) == defined_text(record)
    assert json.loads(canonical_json(body)) == json.loads(defined_text(record))


@given(records, records)
def test_next_step_seals_and_derives_the_case_after(before: Record, step: Record) -> None:
    assume(step.event not in ("start", "migrate"))  # the events that set the facts
    case = case_after(before, created_at=before.at - timedelta(days=1), facts={"k": [1]})
    record, after = next_step(
        case,
        step,
        event=step.event,
        target=step.target,
        actor=step.actor,
        at=step.at,
        payload=step.payload,
        idempotency_key=step.idempotency_key,
    )
    assert record == attrs.evolve(
        step, case_id=case.id, seq=case.seq + 1, source=case.state, prev_hash=case.head,
        hash=defined_hash(record), format=2, salts={},
    )  # fmt: skip
    assert after == case_after(record, created_at=case.created_at, facts=case.facts)
    assert (after.state, after.seq, after.head, after.updated_at) == (
        step.target, case.seq + 1, record.hash, step.at,
    )  # fmt: skip


@given(records)
def test_next_step_without_a_case_writes_record_1(step: Record) -> None:
    record, case = next_step(
        None,
        step,
        case_id=step.case_id,
        event="start",
        target=step.target,
        actor=step.actor,
        at=step.at,
        payload=step.payload,
    )
    assert (record.seq, record.source, record.prev_hash, record.event) == (
        1, None, GENESIS_HASH, "start",
    )  # fmt: skip
    assert record.hash == defined_hash(record)
    assert case == case_after(record, created_at=step.at, facts=step.payload)


def test_next_step_needs_the_case_id_of_a_new_case() -> None:
    step = _record()
    with pytest.raises(ValueError, match="case_id"):
        next_step(None, step, event="start", target="a", actor=step.actor, at=step.at,
                  payload={})  # fmt: skip
    case = case_after(step, created_at=step.at, facts={})
    with pytest.raises(ValueError, match="given with case"):
        next_step(case, step, case_id="other", event="e", target="b", actor=step.actor,
                  at=step.at, payload={})  # fmt: skip


def test_migrate_replaces_the_facts_and_the_pin() -> None:
    old = _record()
    case = case_after(old, created_at=old.at, facts={"a": 1})
    new = attrs.evolve(old, version="w2", fingerprint="g")
    payload = {"facts": {"b": 2}, "reason": "r"}
    _, after = next_step(case, new, event="migrate", target="b", actor=old.actor,
                         at=old.at, payload=payload)  # fmt: skip
    assert (after.version, after.fingerprint, after.facts) == ("w2", "g", {"b": 2})
    _, kept = next_step(case, old, event="e", target="b", actor=old.actor, at=old.at,
                        payload=payload)  # fmt: skip
    assert kept.facts == {"a": 1}


def _record() -> Record:
    at = datetime(2016, 3, 1, tzinfo=UTC)
    return Record(
        case_id="c", seq=2, event="e", source="a", target="b", actor=Actor("x", {"r"}), at=at,
        payload={"k": 1}, name="n", version="v", fingerprint="f", idempotency_key=None,
        prev_hash="p", hash="",
    )  # fmt: skip


def test_hash_changes_with_every_field() -> None:
    record = _record()
    changes = {
        "case_id": "d", "seq": 3, "event": "f", "source": None, "target": "c",
        "actor": Actor("x", {"s"}), "at": record.at + timedelta(microseconds=1),
        "payload": {"k": 2}, "name": "m", "version": "w", "fingerprint": "g",
        "idempotency_key": "k", "prev_hash": "q",
    }  # fmt: skip
    hashes = {content_hash(attrs.evolve(record, **{k: v})) for k, v in changes.items()}
    assert len(hashes | {content_hash(record)}) == len(changes) + 1


def test_undeclared_fields_are_reported_first_and_named() -> None:
    schema = (Field("title"), Field("count", "integer", minimum=1))
    with pytest.raises(InvalidData) as error:
        validate(schema, {"zeta": 1, "count": 0, "alpha": 2}, "payload")
    assert [(p.field, p.problem) for p in error.value.problems] == [
        ("alpha", "unexpected field (expected: count, title)"),
        ("zeta", "unexpected field (expected: count, title)"),
        ("title", "missing (expected text)"),
        ("count", "below the minimum 1"),
    ]
    nested = (Field("who", "object", fields=(Field("name"),)),)
    with pytest.raises(InvalidData) as error:
        validate(nested, {"who": {"name": "Ana", "age": 3}}, "facts")
    assert [p.field for p in error.value.problems] == ["who.age"]
    assert validate(nested, {"who": {"name": "Ana"}}, "facts") == {"who": {"name": "Ana"}}
    with pytest.raises(InvalidData):
        validate((), {"anything": None}, "payload")


def test_times_always_carry_microseconds_in_utc() -> None:
    assert to_iso(datetime(2016, 3, 1, tzinfo=UTC)) == "2016-03-01T00:00:00.000000+00:00"
    assert (
        to_iso(datetime(2016, 3, 1, 0, 0, 0, 7, tzinfo=UTC)) == "2016-03-01T00:00:00.000007+00:00"
    )
    paris = timezone(timedelta(hours=1))
    assert to_iso(datetime(2016, 3, 1, 1, tzinfo=paris)) == "2016-03-01T00:00:00.000000+00:00"


def _containers(value: Any) -> list[int]:
    """The ids of every dict and list in ``value``."""
    if isinstance(value, dict):
        return [id(value), *(i for item in value.values() for i in _containers(item))]
    if isinstance(value, list):
        return [id(value), *(i for item in value for i in _containers(item))]
    return []


@given(value=_json)
def test_copied_is_a_deep_copy(value: Any) -> None:
    """``copied`` gives an equal value that shares no dict or list with the original."""
    copy = copied(value)
    assert copy == value
    assert not set(_containers(copy)) & set(_containers(value))


@given(record=records, case=strategies.cases(), new=_json)
def test_replaced_is_evolve(record: Record, case: Case, new: Any) -> None:
    """``replaced`` builds what ``attrs.evolve`` builds, field for field."""
    assert replaced(record, "payload", new) == attrs.evolve(record, payload=new)
    assert replaced(case, "facts", new) == attrs.evolve(case, facts=new)
    assert replaced(case, "id", "other") == attrs.evolve(case, id="other")
