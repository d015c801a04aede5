"""Round trips: what is unstructured comes back equal, for generated values of every kind.

Records and cases go through the library converter and through their canonical JSON text;
schemas through the converter; definitions through their canonical form, their guards found
again by name in a guard library (the canonical form carries no code). Generated data goes
through ``schema.validate``: valid data comes back normalised and stays so, invalid data is
refused.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from small import ticket
from strategies import cases, data, invalid_data, procedures, records, schema_fields

from stechnique import Case, Guard, InvalidData, Procedure, Record
from stechnique.records import canonical_json, converter, record_hash, seal
from stechnique.schema import Field, validate
from stechnique.testing.strategies import SAMPLE_GUARDS
from stechnique.workflows import default_registry
from stechnique.workflows.guards import GUARDS


def through_json(value: Any, cls: type[Any]) -> Any:
    text = canonical_json(converter.unstructure(value))
    return converter.structure(json.loads(text), cls)


@given(records())
def test_record_round_trip(record: Record) -> None:
    assert converter.structure(converter.unstructure(record), Record) == record
    assert through_json(record, Record) == record


@given(records())
def test_sealed_record_keeps_its_hash_through_json(record: Record) -> None:
    sealed = seal(record)
    again = through_json(sealed, Record)
    assert again.hash == sealed.hash == record_hash(again.body())


@given(cases())
def test_case_round_trip(case: Case) -> None:
    assert converter.structure(converter.unstructure(case), Case) == case
    assert through_json(case, Case) == case


@given(schema_fields(depth=2))
def test_schema_round_trip(schema: tuple[Field, ...]) -> None:
    assert converter.structure(converter.unstructure(schema), tuple[Field, ...]) == schema


@given(schema_fields().flatmap(lambda schema: st.tuples(st.just(schema), data(schema))))
def test_valid_data_is_accepted_and_normal_form_is_stable(case: tuple[Any, Any]) -> None:
    schema, value = case
    clean = validate(schema, value, "generated data")
    assert validate(schema, clean, "generated data") == clean
    assert json.loads(canonical_json(clean)) == clean


@given(schema_fields().flatmap(lambda schema: st.tuples(st.just(schema), invalid_data(schema))))
def test_invalid_data_is_refused(case: tuple[Any, Any]) -> None:
    schema, value = case
    with pytest.raises(InvalidData):
        validate(schema, value, "generated data")


def structure_procedure(canonical: Any, guards: dict[str, Guard] | Any) -> Procedure:
    """A definition back from its canonical form, its guards looked up by name."""
    conv = converter.copy()
    conv.register_structure_hook(Guard, lambda value, _: guards[value["name"]])
    procedure: Procedure = conv.structure(canonical, Procedure)
    return procedure


def assert_same_definition(procedure: Procedure, again: Procedure) -> None:
    # Invariants, reading rules, whom cases wait on and labels are attached to a definition,
    # outside its canonical form: put them back.
    attached = {
        "invariants": procedure.invariants,
        "reading": procedure.reading,
        "waits": procedure.waits,
        "labels": procedure.labels,
    }
    assert attrs.evolve(again, **attached) == procedure
    assert again.fingerprint == procedure.fingerprint
    assert again.canonical() == procedure.canonical()


@given(procedures())
def test_generated_definition_round_trip(procedure: Procedure) -> None:
    canonical = json.loads(canonical_json(procedure.canonical()))
    assert_same_definition(procedure, structure_procedure(canonical, SAMPLE_GUARDS))


@pytest.mark.parametrize("procedure", [*default_registry(), ticket()], ids=lambda p: p.key)
def test_published_definition_round_trip(procedure: Procedure) -> None:
    library = {**GUARDS, **{guard.name: guard for guard in procedure.guards}}
    canonical = json.loads(canonical_json(procedure.canonical()))
    assert_same_definition(procedure, structure_procedure(canonical, library))


def test_canonical_form_carries_no_guard_code() -> None:
    canonical = ticket().canonical()
    assert all(set(guard) == {"name", "fr", "en", "uses_payload"} for guard in canonical["guards"])
    with pytest.raises(cattrs.errors.ClassValidationError):
        structure_procedure(canonical, {})
