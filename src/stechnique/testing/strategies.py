"""Hypothesis strategies for stechnique values, public so partners test their own procedures.

Data is generated from the schemas a procedure declares: ``data(schema)`` gives values every
``Field`` accepts, ``invalid_data(schema)`` values that ``schema.validate`` must refuse (a field
dropped, broken or unknown). Text is drawn mostly from a small vocabulary that holds the actor
ids, so that a generated ``funders`` list names actors who then act, and two cases name the same
group; the rest is arbitrary unicode. ``procedures()`` builds whole valid definitions, and
``records()`` / ``cases()`` the values a store keeps, for round-trip properties.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

import attrs
from hypothesis import strategies as st

from stechnique.definition import (
    ANY_ACTIVE,
    CaseRole,
    ConfidentialField,
    Guard,
    GuardContext,
    Procedure,
    Role,
    State,
    Transition,
)
from stechnique.records import Actor, Case, Record
from stechnique.schema import KINDS, Field

__all__ = [
    "DEFAULT_ACTOR_IDS",
    "DEFAULT_WORDS",
    "SAMPLE_GUARDS",
    "UNKNOWN_FIELD",
    "actors",
    "actors_with",
    "cases",
    "clock_steps",
    "data",
    "field_values",
    "invalid_data",
    "json_values",
    "moments",
    "payloads",
    "procedures",
    "records",
    "schema_fields",
    "texts",
]

#: Actor ids drawn by default: few, so the same actor is often consulted, then acts.
DEFAULT_ACTOR_IDS: tuple[str, ...] = ("p1", "p2", "p3")
#: Words text fields are drawn from most of the time: the actor ids, so that a generated list
#: of funders names actors who then decide, and two cases name the same group.
DEFAULT_WORDS: tuple[str, ...] = DEFAULT_ACTOR_IDS

#: A field name no schema declares (the empty-set sign cannot appear in an identifier).
UNKNOWN_FIELD = "∅unknown"
_NOT_AN_OPTION = "∅not-an-option"


@functools.cache
def texts() -> st.SearchStrategy[str]:
    """Arbitrary non-blank text that UTF-8 can encode (no lone surrogate), without NUL."""
    characters = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(characters, min_size=1, max_size=12).filter(str.strip)


@functools.cache
def _words(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    if not words:
        return texts()
    # Seven chances in eight of a vocabulary word: actors and groups meet across commands.
    pick = st.sampled_from(words)
    return st.one_of(pick, pick, pick, pick, pick, pick, pick, texts())


def moments(
    min_value: datetime = datetime(2000, 1, 1), max_value: datetime = datetime(2100, 1, 1)
) -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes with microseconds, as every stored time is."""
    return st.datetimes(min_value, max_value, timezones=st.just(UTC))


def clock_steps(max_days: int = 500) -> st.SearchStrategy[timedelta]:
    """How far a test clock moves in one step: from nothing to well over a year."""
    return st.one_of(
        st.timedeltas(timedelta(0), timedelta(hours=1)),
        st.timedeltas(timedelta(0), timedelta(days=max_days)),
    )


def field_values(field: Field, words: Sequence[str] = DEFAULT_WORDS) -> st.SearchStrategy[Any]:
    """Values ``field`` accepts (dates as ISO text or ``date``, which validation normalises)."""
    return _field_values(field, tuple(words))


def _address(word: str) -> str:
    """An e-mail address made of ``word``: blanks and ``@`` cannot be in its local part."""
    local = re.sub(r"[@\s]+", "-", word).strip("-") or "x"
    return f"{local}@example.org"


@functools.cache
def _field_values(field: Field, words: tuple[str, ...]) -> st.SearchStrategy[Any]:
    kind = field.kind
    if kind == "text":
        return _words(words)
    if kind == "email":
        return _words(words).map(_address)
    if kind == "choice":
        return st.sampled_from(field.options)
    if kind == "choices":
        return st.lists(st.sampled_from(field.options), min_size=1, unique=True)
    if kind == "list":
        # Lists name actors (funders consulted...): only vocabulary words when there are some.
        items = st.sampled_from(words) if words else texts()
        return st.lists(items, min_size=1, max_size=2)
    if kind == "integer":
        low = field.minimum if field.minimum is not None else -(2**53)
        return st.integers(low, max(low, 2**53))
    if kind == "boolean":
        return st.booleans()
    if kind == "date":
        days = st.dates(date(2000, 1, 1), date(2040, 12, 31))
        return st.one_of(days.map(date.isoformat), days)
    if kind == "object":
        return data(field.fields, words)
    if kind == "objects":
        return st.lists(data(field.fields, words), min_size=1, max_size=3)
    raise ValueError(f"field {field.name!r} has unknown kind {kind!r} (known: {KINDS})")


def data(
    schema: Sequence[Field], words: Sequence[str] = DEFAULT_WORDS
) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings ``schema.validate`` accepts: required fields present, optional ones at will."""
    return _data(tuple(schema), tuple(words))


def invalid_data(
    schema: Sequence[Field], words: Sequence[str] = DEFAULT_WORDS
) -> st.SearchStrategy[Any]:
    """Things ``schema.validate`` refuses: a valid mapping with one thing broken.

    Either a field is added that the schema does not declare, a required field is dropped, a
    field gets a value of the wrong kind, or the whole thing is not a mapping.
    """
    return _invalid_data(tuple(schema), tuple(words))


@functools.lru_cache(maxsize=1024)
def _data(schema: tuple[Field, ...], words: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    # Cached: building and validating strategies anew at every step costs more than drawing.
    return _draw_data(schema, words)


@st.composite
def _draw_data(
    draw: st.DrawFn, schema: tuple[Field, ...], words: tuple[str, ...]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for field in sorted(schema, key=lambda f: f.required_when is not None):
        value = draw(field_values(field, words))
        if field.required_when is not None:
            sibling, expected = field.required_when
            keep = result.get(sibling) == expected or draw(st.booleans())
        else:
            keep = field.required or draw(st.booleans())
        if keep:
            result[field.name] = value
    return {field.name: result[field.name] for field in schema if field.name in result}


def _wrong_values(field: Field) -> st.SearchStrategy[Any]:
    """Values ``field`` refuses (never ``None``, which means "absent")."""
    wrong: dict[str, tuple[Any, ...]] = {
        "text": ("", "   ", 0, ["x"]),
        "email": ("", "no-at-sign", "a@b", "a b@c.fr", 3),
        "choice": (_NOT_AN_OPTION, 1, [_NOT_AN_OPTION]),
        "choices": ((), _NOT_AN_OPTION, [_NOT_AN_OPTION], "x"),
        "list": ((), "x", [""], [1]),
        "integer": ("1", 1.5, True),
        "boolean": ("true", 1, 0),
        "date": ("2017-13-45", "yesterday", 20170630),
        "object": ("x", [1], 3),
        "objects": ((), "x", {}, [1]),
    }
    choices = list(wrong[field.kind])
    if field.kind == "integer" and field.minimum is not None:
        choices.append(field.minimum - 1)
    if field.kind == "choices" and field.options:
        choices.append([field.options[0], field.options[0]])
    return st.sampled_from(choices).map(lambda value: list(value) if value == () else value)


@functools.lru_cache(maxsize=1024)
def _invalid_data(schema: tuple[Field, ...], words: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return _draw_invalid_data(schema, words)


@st.composite
def _draw_invalid_data(draw: st.DrawFn, schema: tuple[Field, ...], words: tuple[str, ...]) -> Any:
    base = draw(data(schema, words))
    plain_required = [f.name for f in schema if f.required and f.required_when is None]
    ways = ["unknown", "not-a-mapping", *(["wrong"] if schema else [])]
    ways += ["missing"] if plain_required else []
    how = draw(st.sampled_from(ways))
    if how == "unknown":
        return {**base, UNKNOWN_FIELD: draw(_words(words))}
    if how == "not-a-mapping":
        return draw(st.sampled_from([["x"], "x", 3]))
    if how == "missing":
        name = draw(st.sampled_from(plain_required))
        return {key: value for key, value in base.items() if key != name}
    field = draw(st.sampled_from(tuple(schema)))
    return {**base, field.name: draw(_wrong_values(field))}


def actors(
    roles: Sequence[str], ids: Sequence[str] = DEFAULT_ACTOR_IDS
) -> st.SearchStrategy[Actor]:
    """Anyone: an id from ``ids`` or an outsider, holding any roles, declared or not."""
    return _actors(tuple(roles), tuple(ids))


@functools.cache
def _actors(roles: tuple[str, ...], ids: tuple[str, ...]) -> st.SearchStrategy[Actor]:
    role_names = (*roles, "intruder")
    return st.builds(
        Actor,
        st.sampled_from((*ids, "outsider")),
        st.frozensets(st.sampled_from(role_names), max_size=3),
    )


def actors_with(
    roles: Sequence[str], ids: Sequence[str] = DEFAULT_ACTOR_IDS
) -> st.SearchStrategy[Actor]:
    """An actor from ``ids`` holding one of ``roles`` (an outsider if ``roles`` is empty)."""
    return _actors_with(tuple(roles), tuple(ids))


@functools.cache
def _actors_with(roles: tuple[str, ...], ids: tuple[str, ...]) -> st.SearchStrategy[Actor]:
    if not roles:
        return st.just(Actor("outsider", frozenset()))
    return st.builds(Actor, st.sampled_from(ids), st.sampled_from([frozenset([r]) for r in roles]))


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """JSON values as payloads hold them: text, integers, booleans, lists and objects."""
    leaves = st.one_of(texts(), st.integers(-(2**53), 2**53), st.booleans(), st.none())
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(texts(), inner, max_size=3)
        ),
        max_leaves=max_leaves,
    )


def payloads() -> st.SearchStrategy[dict[str, Any]]:
    """Arbitrary JSON objects, as a record's payload."""
    return st.dictionaries(texts(), json_values(), max_size=4)


def _hashes() -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=64, max_size=64)


def records(case_id: str | None = None) -> st.SearchStrategy[Record]:
    """Any ``Record`` value a store may be asked to keep (not necessarily sealed)."""
    return st.builds(
        Record,
        case_id=st.just(case_id) if case_id is not None else texts(),
        seq=st.integers(1, 2**31 - 1),
        event=texts(),
        source=st.none() | texts(),
        target=texts(),
        actor=st.builds(Actor, texts(), st.frozensets(texts(), max_size=3)),
        at=moments(),
        payload=payloads(),
        name=texts(),
        version=texts(),
        fingerprint=_hashes(),
        idempotency_key=st.none() | texts(),
        prev_hash=_hashes(),
        hash=_hashes(),
    )


def cases() -> st.SearchStrategy[Case]:
    """Any ``Case`` value a store may be asked to keep."""
    return st.builds(
        Case,
        id=texts(),
        name=texts(),
        version=texts(),
        fingerprint=_hashes(),
        state=texts(),
        seq=st.integers(1, 2**31 - 1),
        facts=payloads(),
        created_at=moments(),
        updated_at=moments(),
        head=_hashes(),
    )


@functools.cache
def schema_fields(depth: int = 1) -> st.SearchStrategy[tuple[Field, ...]]:
    """Schemas: distinct field names, every kind, nested objects down to ``depth``."""
    return st.lists(_field(depth), max_size=4, unique_by=lambda f: f.name).map(_tie_required_when)


@functools.cache
def _field(depth: int) -> st.SearchStrategy[Field]:
    kinds = [k for k in KINDS if depth > 0 or k not in ("object", "objects")]
    options = st.lists(st.sampled_from(("a", "b", "c", "d")), min_size=1, max_size=3, unique=True)
    return st.builds(
        Field,
        name=st.sampled_from(("f1", "f2", "f3", "f4", "f5", "f6")),
        kind=st.sampled_from(kinds),
        required=st.booleans(),
        options=options.map(tuple),
        fields=st.deferred(lambda: schema_fields(depth - 1)) if depth > 0 else st.just(()),
        minimum=st.none() | st.integers(-5, 5),
        fr=texts(),
        en=texts(),
    ).map(_fit_kind)


def _fit_kind(field: Field) -> Field:
    """Drop what a kind does not use, so the field reads like a hand-written one."""
    keep_options = field.kind in ("choice", "choices")
    keep_fields = field.kind in ("object", "objects")
    return attrs.evolve(
        field,
        options=field.options if keep_options else (),
        fields=field.fields if keep_fields else (),
        minimum=field.minimum if field.kind == "integer" else None,
    )


def _tie_required_when(fields: list[Field]) -> tuple[Field, ...]:
    """Make the first optional text field required when the first choice field takes a value."""
    choice = next((f for f in fields if f.kind == "choice"), None)
    if choice is None:
        return tuple(fields)
    result = []
    tied = False
    for field in fields:
        if not tied and field is not choice and not field.required and field.kind == "text":
            field = attrs.evolve(field, required_when=(choice.name, choice.options[0]))
            tied = True
        result.append(field)
    return tuple(result)


def _always(context: GuardContext) -> bool:
    return True


def _after_start(context: GuardContext) -> bool:
    return bool(context.history())


def _payload_given(context: GuardContext) -> bool:
    return bool(context.payload)


#: The guards generated procedures use, by name: a library, as data files have.
SAMPLE_GUARDS: Mapping[str, Guard] = MappingProxyType(
    {
        guard.name: guard
        for guard in (
            Guard("always", "Toujours", "Always", _always),
            Guard("after_start", "Après le début", "After the start", _after_start),
            Guard(
                "payload_given", "Données fournies", "Data given", _payload_given, uses_payload=True
            ),
        )
    }
)


@st.composite
def procedures(draw: st.DrawFn, guards: Mapping[str, Guard] = SAMPLE_GUARDS) -> Procedure:
    """Valid definitions: a path through 1–4 states to an end, ``withdraw`` from everywhere, a
    few extra transitions, sometimes an ``arbitrate`` the payload decides, case roles,
    confidential fields, schemas of every kind; guards taken from ``guards`` by name.
    """
    active = [f"s{i}" for i in range(draw(st.integers(1, 4)))]
    ends = [f"end{i}" for i in range(draw(st.integers(1, 2)))]
    roles = draw(st.lists(st.sampled_from(("r1", "r2", "r3")), min_size=1, max_size=3, unique=True))
    usable = st.lists(st.sampled_from((*roles, "owner")), min_size=1, max_size=2, unique=True)
    named = st.lists(st.sampled_from(sorted(guards)), max_size=2, unique=True)

    def transition(event: str, source: str, target: str, guarded: bool = True) -> Transition:
        return Transition(
            event,
            source,
            target,
            tuple(draw(usable)),
            guards=tuple(draw(named)) if guarded else (),
            payload=draw(schema_fields()),
            fr=draw(texts()),
            en=draw(texts()),
        )

    steps = enumerate(itertools.pairwise(active))
    transitions = [transition(f"step{i}", source, target) for i, (source, target) in steps]
    transitions.append(transition("finish", active[-1], ends[0]))
    transitions.append(transition("withdraw", ANY_ACTIVE, ends[-1], guarded=False))
    pairs = st.tuples(st.sampled_from(active), st.sampled_from(active + ends))
    for n, (source, target) in enumerate(draw(st.lists(pairs, max_size=3))):
        transitions.append(transition(f"extra{n}", source, target))
    if draw(st.booleans()):
        transitions += _arbitration(draw, active, ends, tuple(draw(usable)))
    states = [
        State(s, draw(texts()), draw(texts()), initial=i == 0, terminal=s in ends)
        for i, s in enumerate(active + ends)
    ]
    return Procedure(
        name=draw(st.sampled_from(("generated", "procédure générée"))),
        version=draw(st.sampled_from(("1", "2015-2017", "v2.0"))),
        fr=draw(texts()),
        en=draw(texts()),
        roles=[Role(role, draw(texts()), draw(texts())) for role in roles],
        states=states,
        transitions=transitions,
        facts=(Field("kind", "choice", options=("x", "y")), *draw(schema_fields())),
        start_roles=tuple(draw(usable)),
        start_guards=tuple(draw(named)),
        guards=tuple(guards.values()),
        case_roles=(CaseRole("owner", "kind", {"x": roles[0], "y": roles[-1]}),),
        confidential=draw(_confidential(transitions, active + ends, roles)),
        source=draw(texts()),
    )


def _arbitration(
    draw: st.DrawFn, active: list[str], ends: list[str], roles: tuple[str, ...]
) -> list[Transition]:
    """``arbitrate``: ``approve`` moves on, ``rework`` stays (the payload decides)."""
    source = draw(st.sampled_from(active))
    target = draw(st.sampled_from(active + ends))
    payload = (Field("decision", "choice", options=("approve", "rework")),)
    # Typed loosely: mypy cannot solve the type of ``when``'s optional converter.
    approve: Any = ("decision", "approve")
    rework: Any = ("decision", "rework")
    return [
        Transition("arbitrate", source, target, roles, payload=payload, when=approve),
        Transition("arbitrate", source, source, roles, payload=payload, when=rework),
    ]


def _confidential(
    transitions: list[Transition], states: list[str], roles: list[str]
) -> st.SearchStrategy[list[ConfidentialField]]:
    fields = sorted({(t.event, f.name) for t in transitions for f in t.payload})
    if not fields:
        return st.just([])
    readers = st.lists(st.sampled_from((*roles, "owner")), max_size=2, unique=True).map(tuple)
    rule = st.builds(
        ConfidentialField,
        st.sampled_from(fields).map(lambda pair: pair[0]),
        st.just(""),
        readers,
        opens_to=readers,
        opens_at=st.none() | st.sampled_from(states),
        fr=texts(),
        en=texts(),
    )
    return st.lists(rule, max_size=2).map(lambda rules: _fit_rules(rules, fields))


def _fit_rules(
    rules: list[ConfidentialField], fields: list[tuple[str, str]]
) -> list[ConfidentialField]:
    """Give each rule a field its event really has (the event was drawn alone)."""
    names = {event: [f for e, f in fields if e == event] for event, _ in fields}
    return [attrs.evolve(rule, field=names[rule.event][0]) for rule in rules]
