"""The hot paths keep the behaviour of the plain code they replace.

The fast record hash (``content_hash``, ``sealed``) equals the canonical one on any record.

Every fire and every audited record is hashed through a body text written out field by field
(``records._body``); the canonical definition is ``record_hash(record.body())``, the SHA-256 of
``canonical_json`` of the body dict. These properties pin the two together, on values beyond
what the engine writes (odd unicode, floats, nested payloads, non-UTC times, non-text ids).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stechnique import Field, InvalidData
from stechnique._values import copied, replaced
from stechnique.records import Actor, Case, Record, content_hash, record_hash, seal, sealed, to_iso
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

records = st.builds(
    Record,
    case_id=_text,
    seq=st.integers(1, 2**40),
    event=_text,
    source=st.none() | _text,
    target=_text,
    actor=st.builds(Actor, _text | st.integers(), st.frozensets(_text, max_size=3)),
    at=_moments,
    payload=st.dictionaries(_text, _json, max_size=4),
    name=_text,
    version=_text,
    fingerprint=_text,
    idempotency_key=st.none() | _text,
    prev_hash=_text,
    hash=_text,
)


@given(records)
def test_content_hash_is_the_hash_of_the_canonical_body(record: Record) -> None:
    assert content_hash(record) == record_hash(record.body())


@given(records)
def test_sealed_builds_what_seal_gives(record: Record) -> None:
    fields = attrs.astuple(record, recurse=False)[:-1]
    built = sealed(*fields)
    assert built == seal(record)
    assert built.hash == record_hash(record.body())


def test_hash_changes_with_every_field() -> None:
    at = datetime(2016, 3, 1, tzinfo=UTC)
    record = Record("c", 2, "e", "a", "b", Actor("x", {"r"}), at, {"k": 1}, "n", "v", "f", None,
                    "p", "")  # fmt: skip
    changes = {
        "case_id": "d", "seq": 3, "event": "f", "source": None, "target": "c",
        "actor": Actor("x", {"s"}), "at": at + timedelta(microseconds=1), "payload": {"k": 2},
        "name": "m", "version": "w", "fingerprint": "g", "idempotency_key": "k", "prev_hash": "q",
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
