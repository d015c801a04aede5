"""Hostile and ill-typed arguments to every public ``Engine`` method, on every adapter.

Every call either succeeds or raises a ``StechniqueError``; a refused call leaves the store
exactly as it was; after any call the store can still be read whole and audits clean (an
accepted value the hash does not cover would show there as tampering).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from small import FORM_FACTS, FORM_REGISTRY, TickingClock

from stechnique import (
    Actor,
    Engine,
    StechniqueError,
)
from stechnique.storage import Storage
from stechnique.testing._checks import snapshot

CLERK = Actor("clerk-1", {"clerk"})
BOSS = Actor("boss-1", {"boss"})
FACTS = {"title": "Imprimante", "kind": "solo"}


def _deep(depth: int) -> Any:
    value: Any = "low"
    for _ in range(depth):
        value = [value]
    return value


class _Impostor:
    """Looks like an actor to duck typing, is not one."""

    id = "impostor"
    roles = frozenset({"boss"})


#: Values no argument should take, and a few that trip encoders, drivers and messages.
HOSTILE: list[Any] = [
    None, "", " ", "\udc80", "dossier-\ud800", "a\x00b", "tab\there", "x" * 256, "é" * 300,
    0, -1, 2**53, 10**5000, True, False, 1.5, math.nan, math.inf,
    [], ["form-42"], ("a", "b"), {}, {"a": 1}, {1: "x"}, b"bytes", object(), _Impostor(),
    _deep(5000), "closed", "note", "form", "1", "2",
]  # fmt: skip


def hostile() -> st.SearchStrategy[Any]:
    """One hostile value (drawn by index: hypothesis shows strategies by their values' repr)."""
    return st.integers(0, len(HOSTILE) - 1).map(_hostile_at)


def _hostile_at(index: int) -> Any:
    return HOSTILE[index]


@attrs.frozen
class Arg:
    """An argument: its valid values, and the hostile ones."""

    valid: st.SearchStrategy[Any]
    bad: st.SearchStrategy[Any]


def field_data(valid: dict[str, Any], names: tuple[str, ...]) -> Arg:
    """Facts or a payload: valid; or a field made hostile, an extra field, not a mapping."""
    return Arg(
        st.just(valid).map(dict),
        st.one_of(
            st.builds(lambda name, bad: {**valid, name: bad}, st.sampled_from(names), hostile()),
            st.builds(lambda k, bad: {**valid, k: bad}, hostile().filter(_hashable), hostile()),
            hostile(),
        ),
    )


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def either(*valid: Any) -> Arg:
    """One of ``valid``, or a hostile value."""
    return Arg(st.sampled_from(valid), hostile())


FACT_NAMES = tuple(f.name for f in FORM_FACTS)
PAYLOAD_NAMES = ("text", "score", "level", "secret", "items")
NOTE = {"text": "ok", "score": 3, "items": [{"n": 1}]}


@attrs.frozen(repr=False)
class Call:
    """One public method with its arguments."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def run(self, engine: Engine) -> Any:
        return getattr(engine, self.method)(*self.args, **self.kwargs)

    def __repr__(self) -> str:
        # Some values have no repr (an integer of 5,000 digits, a list nested 5,000 deep).
        shown = [_shown(a) for a in self.args]
        shown += [f"{k}={_shown(v)}" for k, v in self.kwargs.items()]
        return f"engine.{self.method}({', '.join(shown)})"


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} without a repr>"
    return text if len(text) < 80 else f"{text[:60]}...({len(text)} characters)"


def _call(method: str, *args: Arg, **kwargs: Arg) -> st.SearchStrategy[Call]:
    """Calls of ``method`` with valid arguments but for one or two hostile ones:
    with every argument drawn hostile half the time, the engine would almost always refuse
    several at once and the checks of each alone would go untried."""
    slots: list[int | str] = [*range(len(args)), *kwargs]

    @st.composite
    def draw_call(draw: st.DrawFn) -> Call:
        chosen = {draw(st.sampled_from(slots))}
        if draw(st.booleans()):
            chosen.add(draw(st.sampled_from(slots)))
        values = {slot: draw((args[slot] if isinstance(slot, int) else kwargs[slot]).valid)
                  for slot in slots}  # fmt: skip
        for slot in chosen:
            values[slot] = draw((args[slot] if isinstance(slot, int) else kwargs[slot]).bad)
        positional = tuple(values[i] for i in range(len(args)))
        return Call(method, positional, {k: values[k] for k in kwargs})

    return draw_call()


def calls(case_id: str) -> dict[str, st.SearchStrategy[Call]]:
    """Calls to each public ``Engine`` method, by method, arguments valid or hostile."""
    ids = either(case_id, "absent")
    actors = either(CLERK, BOSS)
    every = (
        _call("start", either("form"), actor=actors, facts=field_data(FACTS, FACT_NAMES),
              version=either(None, "1"), case_id=either(None, "fresh")),
        _call("fire", ids, either("note", "close"), actor=actors,
              payload=field_data(NOTE, PAYLOAD_NAMES), expected_seq=either(None, 1),
              idempotency_key=either(None, "form-42")),
        _call("migrate", ids, either("2"), actor=actors, facts=field_data({}, FACT_NAMES),
              reason=either("refonte"), dry_run=either(False, True)),
        _call("history", ids, viewer=actors),
        _call("case", ids, actors),
        _call("explain", ids, either("note"), actors, field_data(NOTE, PAYLOAD_NAMES)),
        _call("available_events", ids, actors),
        _call("cases", viewer=actors, name=either(None, "form"), version=either(None, "1"),
              state=either(None, "open")),
        _call("procedure", either("form"), either(None, "1")),
        _call("audit", either(None, case_id), name=either(None, "form")),
        _call("unredacted_history", ids, auditor=actors, reason=either("contrôle")),
        _call("unredacted_cases", auditor=actors, reason=either("contrôle"),
              name=either(None, "form")),
    )  # fmt: skip
    return dict(zip(METHODS, every, strict=True))


METHODS = ("start", "fire", "migrate", "history", "case", "explain", "available_events",
           "cases", "procedure", "audit", "unredacted_history", "unredacted_cases")  # fmt: skip


def escape(engine: Engine, call: Call) -> str | None:
    """What went wrong with ``call``, or None when it behaved."""
    before = snapshot(engine.storage)
    try:
        call.run(engine)
    except StechniqueError as refused:
        str(refused).encode("utf-8")  # the message itself can be printed and logged
        if snapshot(engine.storage) != before:
            return f"{call.method} refused ({type(refused).__name__}) but changed the store"
        return None
    except Exception as error:  # what this test hunts
        return f"{call.method} escaped with {type(error).__name__}"
    try:
        snapshot(engine.storage)
    except Exception as error:
        return f"{call.method} left a store that cannot be read: {type(error).__name__}"
    report = engine.audit()
    if not report.ok:
        return f"{call.method} left a store the audit rejects: {report.violations[0].message}"
    return None


@pytest.fixture
def fuzzed(any_storage: Storage) -> Engine:
    """An engine on each adapter in turn."""
    return Engine(any_storage, FORM_REGISTRY, TickingClock())


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_calls_refused_cleanly(fuzzed: Engine, method: str, data: st.DataObject) -> None:
    """Each call succeeds or raises a ``StechniqueError`` that changed nothing."""
    # A fresh open case each time: on a case closed by an earlier example, every fire would
    # be refused for its state before any other argument is looked at.
    case = fuzzed.start("form", version="1", actor=CLERK, facts=FACTS)
    call = data.draw(calls(case.id)[method])
    problem = escape(fuzzed, call)
    assert problem is None, f"{problem}: {call!r}"
