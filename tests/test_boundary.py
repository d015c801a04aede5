"""Each reproduction of issue 16 (items 6, 7, 8, 10): a clear refusal that changes nothing.

Run on every adapter: the limits are the same whatever the store.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import attrs
import pytest
from small import AS_AUDITOR, AUDITOR, FORM_REGISTRY, TickingClock, all_cases, the_case, whole

from stechnique import (
    Actor,
    Engine,
    InvalidArgument,
    InvalidData,
    StechniqueError,
    export_jsonl,
    import_jsonl,
)
from stechnique._arguments import MAX_ID, MAX_NAME
from stechnique.records import seal
from stechnique.storage import MemoryStorage, Storage
from stechnique.storage._sql_schema import ID_LENGTH, NAME_LENGTH
from stechnique.testing._checks import snapshot

CLERK = Actor("clerk-1", {"clerk"})
BOSS = Actor("boss-1", {"boss"})
FACTS = {"title": "Imprimante", "kind": "solo"}


def said(error: BaseException) -> str:
    """Both texts of a refusal (French, then English): what it says in either language."""
    assert isinstance(error, StechniqueError)
    return f"{error.fr}\n{error.en}"


@pytest.fixture
def engine(any_storage: Storage) -> Engine:
    return Engine(any_storage, FORM_REGISTRY, TickingClock())


def refused(engine: Engine, call: Any, error: type[StechniqueError]) -> StechniqueError:
    """Run ``call``, which must raise ``error`` and leave the store as it was."""
    before = snapshot(engine.storage)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(engine.storage) == before
    assert engine.audit().ok
    return caught.value


def test_limits_are_the_sql_columns() -> None:
    """The boundary refuses exactly what the SQL columns cannot hold."""
    assert (MAX_ID, MAX_NAME) == (ID_LENGTH, NAME_LENGTH)


@pytest.mark.parametrize("bad", ["dossier-\udc80", "\ud800"])
def test_lone_surrogates_in_ids_are_refused(engine: Engine, bad: str) -> None:
    """A lone surrogate in a case id, actor id or key: ``InvalidArgument`` naming it."""
    case = engine.start("form", actor=CLERK, facts=FACTS)
    attempts = {
        "case_id": lambda: engine.start("form", actor=CLERK, facts=FACTS, case_id=bad),
        "actor.id": lambda: engine.fire(
            case.id, "note", actor=Actor(bad, {"clerk"}), payload={"text": "x"}
        ),
        "idempotency_key": lambda: engine.fire(
            case.id, "note", actor=CLERK, payload={"text": "x"}, idempotency_key=bad
        ),
    }
    for argument, call in attempts.items():
        error = refused(engine, call, InvalidArgument)
        assert error.fields == (argument,)
        assert "lone surrogate" in said(error)
        assert "demi-caractère" in said(error)
        said(error).encode("utf-8")  # printable, loggable: the value is not echoed
    for read in (engine.case, engine.history):
        with pytest.raises(InvalidArgument, match="case_id"):
            read(bad, AUDITOR)


@pytest.mark.parametrize(
    ("argument", "value", "problem"),
    [
        ("case_id", "", "empty"),
        ("case_id", "   ", "empty"),
        ("case_id", "a\nb", "control characters"),
        ("case_id", "x" * 256, "longer than 255 characters (256)"),
        ("case_id", ("a", "b"), "expected text, got a tuple"),
        ("case_id", 7, "expected text, got an integer"),
        ("case_id", True, "expected text, got a boolean"),
        ("version", "v" * 201, "longer than 200 characters"),
    ],
)
def test_bad_ids_on_start(engine: Engine, argument: str, value: Any, problem: str) -> None:
    """Empty, control characters, too long, not text: each named, in French and English."""
    kwargs = {"actor": CLERK, "facts": FACTS, argument: value}
    error = refused(engine, lambda: engine.start("form", **kwargs), InvalidArgument)
    assert isinstance(error, InvalidData)  # what the caller gave cannot be used
    assert error.fields == (argument,)
    assert problem in said(error)
    assert f"arguments non valides : {argument} :" in said(error)
    assert all_cases(engine) == []


@pytest.mark.parametrize("key", [["form-42"], ("form-42",), "", 42])
def test_ill_typed_or_empty_idempotency_keys_are_refused(engine: Engine, key: Any) -> None:
    """Item 7: a list key used to be stored unhashed on servers; ``""`` was no key in memory."""
    case = engine.start("form", actor=CLERK, facts=FACTS)
    call = lambda: engine.fire(  # noqa: E731
        case.id, "note", actor=CLERK, payload={"text": "x"}, idempotency_key=key
    )
    error = refused(engine, call, InvalidArgument)
    assert error.fields == ("idempotency_key",)


@pytest.mark.parametrize("case_id", [["a", "b"], ("a", "b"), 1, False])
def test_ill_typed_case_ids_write_nothing(engine: Engine, case_id: Any) -> None:
    """Item 7: a list case id was written on PostgreSQL, then the start reported a failure."""
    refused(
        engine,
        lambda: engine.start("form", actor=CLERK, facts=FACTS, case_id=case_id),
        InvalidArgument,
    )
    assert all_cases(engine) == []
    export_jsonl(engine.storage, io.StringIO(), **AS_AUDITOR)  # the store can still be exported


def test_ill_typed_arguments_name_each_one(engine: Engine) -> None:
    """``actor=None``, an event given as a list, facts as a string, a non-``Actor`` viewer."""
    case = engine.start("form", actor=CLERK, facts=FACTS)
    error = refused(
        engine, lambda: engine.start("form", actor=None, facts="title"), InvalidArgument
    )  # type: ignore[arg-type]
    assert error.fields == ("actor", "facts")
    assert "expected an Actor, got nothing (None)" in said(error)
    assert "un Actor attendu" in said(error)
    error = refused(
        engine,
        lambda: engine.fire(case.id, ["note"], actor=CLERK, payload=[("text", "x")]),  # type: ignore[arg-type]
        InvalidArgument,
    )
    assert error.fields == ("event", "payload")
    with pytest.raises(InvalidArgument, match="viewer : un Actor attendu"):
        engine.history(case.id, viewer="boss-1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"actor\.roles : du texte attendu, reçu un entier"):
        engine.available_events(case.id, Actor("x", {1}))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="expected_seq"):
        engine.fire(case.id, "note", actor=CLERK, payload={"text": "x"}, expected_seq=10**5000)
    with pytest.raises(InvalidArgument, match="dry_run"):
        engine.migrate(case.id, "2", actor=BOSS, reason="r", dry_run="no")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(10**5000, "beyond ±(2^53 - 1)", id="5000-digits"),
        (2**53, "beyond ±(2^53 - 1)"),
        (-(2**53), "beyond ±(2^53 - 1)"),
        (math.nan, "expected an integer, got a decimal number"),
        (math.inf, "expected an integer, got a decimal number"),
    ],
)
def test_numbers_json_cannot_hold_are_refused(engine: Engine, value: Any, problem: str) -> None:
    """Item 6: an integer of 5,000 digits passed validation, then failed at hashing."""
    case = engine.start("form", actor=CLERK, facts=FACTS)
    error = refused(
        engine,
        lambda: engine.fire(case.id, "note", actor=CLERK, payload={"text": "x", "score": value}),
        InvalidData,
    )
    assert error.fields == ("score",)  # type: ignore[attr-defined]
    assert problem in said(error)
    assert engine.fire(case.id, "note", actor=CLERK, payload={"text": "x", "score": 2**53 - 1})


def test_deep_nesting_in_a_choice_is_refused_without_echo(engine: Engine) -> None:
    """Item 6: a list nested 5,000 deep gave ``RecursionError`` while the message was built."""
    deep: Any = "low"
    for _ in range(5000):
        deep = [deep]
    error = refused(
        engine,
        lambda: engine.start("form", actor=CLERK, facts={**FACTS, "kind": deep}),
        InvalidData,
    )
    assert error.en == "invalid facts of form@2: kind: expected one of solo, group, got a list"


def test_refusals_do_not_echo_values(engine: Engine) -> None:
    """A value given (here a confidential one) is described, never repeated."""
    case = engine.start("form", actor=CLERK, facts=FACTS)
    secret = "code-4242"
    with pytest.raises(InvalidData) as error:
        engine.fire(case.id, "note", actor=CLERK, payload={"text": "x", "level": secret})
    assert secret not in said(error.value)
    with pytest.raises(InvalidData) as error:
        engine.start("form", actor=CLERK, facts={**FACTS, secret: 1, ("a",): 2})
    assert error.value.fields == ("(a tuple as a key)", "code-4242")  # keys name the fields


def test_returned_values_cannot_change_the_store(engine: Engine) -> None:
    """Item 8: changing a returned case or record changes nothing stored nor remembered."""
    case = engine.start("form", version="1", actor=CLERK, facts={**FACTS, "tags": ["a"]})
    case.facts["kind"] = "group"
    case.facts["tags"].append("b")
    fired = engine.fire(case.id, "note", actor=CLERK, payload={"text": "x", "secret": "s"})
    fired.facts["title"] = "HACKED"
    whole(engine, case.id)[1].payload["text"] = "HACKED"
    engine.history(case.id, viewer=BOSS)[1].payload["secret"] = "HACKED"
    the_case(engine, case.id).facts["kind"] = "group"
    all_cases(engine)[0].facts["kind"] = "group"
    plan = engine.migrate(case.id, "2", actor=BOSS, reason="refonte")
    plan.record.payload["reason"] = "HACKED"
    plan.case.facts["kind"] = "group"
    plan.facts["title"] = "HACKED"
    again = engine.fire(case.id, "note", actor=CLERK, payload={"text": "y"})
    assert again.facts == {**FACTS, "tags": ["a"]}
    assert the_case(engine, case.id).facts == {**FACTS, "tags": ["a"]}
    assert [r.payload.get("text") for r in whole(engine, case.id)] == [None, "x", None, "y"]
    assert whole(engine, case.id)[2].payload["reason"] == "refonte"
    report = engine.audit()
    assert report.ok, report.violations


def _line(record: dict[str, Any], **changes: Any) -> str:
    return json.dumps({**record, **changes})


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("case_id", "c\udc80", "case_id: holds characters that are not valid Unicode"),
        ("case_id", "c" * 256, "case_id: longer than 255 characters"),
        ("idempotency_key", "k\udc80", "idempotency_key: holds characters"),
        ("payload", {"title": "\udc80"}, "payload: holds text that is not valid Unicode"),
    ],
)
def test_import_refuses_what_no_store_holds(field: str, value: Any, problem: str) -> None:
    """An export line with an id no store can keep is refused by name, before any write."""
    source = Engine(MemoryStorage(), FORM_REGISTRY, TickingClock())
    source.start("form", actor=CLERK, facts=FACTS)
    out = io.StringIO()
    export_jsonl(source.storage, out, **AS_AUDITOR)
    record = json.loads(out.getvalue().splitlines()[0])
    target = MemoryStorage()
    with pytest.raises(InvalidData, match="line 1") as error:
        import_jsonl(target, io.StringIO(_line(record, **{field: value}) + "\n"))
    assert problem in said(error.value)
    assert snapshot(target) == snapshot(MemoryStorage())


def test_import_keeps_what_0_1_0_wrote() -> None:
    """Import refuses only what a store cannot hold: an empty key and a tab in a case id, which
    0.1.0 accepted and new commands refuse, import as written (the hash chain decides)."""
    engine = Engine(MemoryStorage(), FORM_REGISTRY, TickingClock())
    case = engine.start("form", actor=CLERK, facts=FACTS)
    first = engine.storage.records(case.id)[0]
    legacy = seal(attrs.evolve(first, case_id="tab\tid", idempotency_key=""))
    store = MemoryStorage()
    store.create(attrs.evolve(case, id="tab\tid", head=legacy.hash), legacy)
    out = io.StringIO()
    export_jsonl(store, out, **AS_AUDITOR)
    target = MemoryStorage()
    report = import_jsonl(target, io.StringIO(out.getvalue()))
    assert (report.cases, report.records) == (1, 1)
    assert target.records("tab\tid")[0] == legacy
