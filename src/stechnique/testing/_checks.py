"""The invariants of ``PROCEDURES.md``, checked against what a store holds.

Each check reads the store's raw cases and records and recomputes what must hold (hash chain,
replay, redaction) with its own code, so a bug in the engine's bookkeeping cannot hide itself.
Every function returns a list of problems, empty when everything holds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from stechnique._arguments import MAX_ID, _identifier_problem
from stechnique._machine import trigger
from stechnique.definition import ANY_ACTIVE, Invariant, Procedure, State, Transition
from stechnique.engine import Engine
from stechnique.errors import InvalidData, StechniqueError, UnknownCase
from stechnique.records import GENESIS_HASH, Actor, Case, Record, canonical_json, converter
from stechnique.registry import Registry
from stechnique.schema import Field, validate
from stechnique.storage.base import Storage

__all__ = [
    "Withheld",
    "bound_parties",
    "definition_problems",
    "example_data",
    "party_problems",
    "redaction_problems",
    "sees",
    "snapshot",
    "store_problems",
    "visibility_problems",
]


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Withheld:
    """A confidentiality claim of the source document, checked apart from the definition.

    ``field`` of ``event`` is never shown before the case reaches ``until`` (never, when
    ``None``) to a viewer holding only one of ``roles`` (declared roles, not case roles, or
    parties of the case: a body that is that party and no other). The
    definition's own ``ConfidentialField`` rules are what invariant 3 is judged by; a claim
    written from the document also catches a rule missing from the definition.
    """

    event: str
    field: str
    roles: tuple[str, ...] = attrs.field(converter=_strings)
    until: str | None = None


def snapshot(storage: Storage) -> str:
    """Everything the store holds (every case, every record), as one canonical text."""
    cases = [converter.unstructure(case) for case in storage.cases()]
    records = [converter.unstructure(record) for record in storage.iter_records()]
    return canonical_json({"cases": cases, "records": records})


def store_problems(
    engine: Engine,
    invariants: Sequence[Invariant] = (),
    known: set[str] | None = None,
    withheld: Sequence[Withheld] = (),
) -> list[str]:
    """Every breach of invariants 1–7 in the engine's store, plus ``invariants`` given here.

    Invariants 1 and 2 are the ones each procedure declares (``Procedure.invariants``);
    3 is judged for one viewer per role, and against the ``withheld`` claims; 4–7 are generic.
    ``known`` lets a caller that checks after every step skip the histories already found
    sound: it holds their canonical text, and the checks of one history depend on nothing else.
    """
    storage = engine.storage
    histories: dict[str, list[Record]] = defaultdict(list)
    for record in storage.iter_records():
        histories[record.case_id].append(record)
    cases = {case.id: case for case in storage.cases()}
    problems = [f"case {cid}: records without a case row" for cid in set(histories) - set(cases)]
    for case in cases.values():
        records = histories.get(case.id, [])
        text = canonical_json(converter.unstructure([case, records]))
        if known is None or text not in known:
            found = _case_problems(engine, case, records, invariants)
            found += withheld_problems(engine, case, records, withheld)
            if known is not None and not found:
                known.add(text)
            problems += found
        procedure = engine.registry.by_fingerprint(case.fingerprint)
        if procedure is not None:
            problems += exit_problems(engine, case, procedure)
    return problems


def _case_problems(
    engine: Engine, case: Case, records: list[Record], invariants: Sequence[Invariant]
) -> list[str]:
    storage = engine.storage
    problems = []
    if storage.get(case.id) != case or list(storage.records(case.id)) != records:
        problems.append(f"case {case.id}: get/records disagree with cases/iter_records")
    problems += history_problems(case, records, engine.registry)
    procedure = engine.registry.by_fingerprint(case.fingerprint)
    if procedure is None or not records:
        return problems
    for invariant in (*procedure.invariants, *invariants):
        breach = invariant.check(records)
        if breach is not None:
            problems.append(f"case {case.id}: invariant {invariant.name}: {breach}")
    for viewer in _viewers(procedure, records):
        problems += redaction_problems(engine, case, records, viewer)
    problems += visibility_problems(engine, case, records)
    problems += party_problems(engine.registry, records)
    return problems


def _hash(record: Record) -> str:
    body = converter.unstructure(record)
    del body["hash"]
    salts = body.pop("salts", {})
    if "format" in body:
        # Format 2, as the record format says, written out again here: each salted value
        # hashed as the SHA-256 of ``[salt, field, value]``, under ``digests``.
        # A value withheld from a viewer is hashed by the digest its marker keeps.
        payload = body["payload"]
        digests = {field: _sha256([salt, field, payload[field]]) for field, salt in salts.items()}
        digests |= {
            field: value["__redacted__"]["digest"]
            for field, value in payload.items()
            if _is_marker(value) and "digest" in value["__redacted__"] and field not in salts
        }
        body["digests"] = digests
        body["payload"] = {field: v for field, v in payload.items() if field not in digests}
    return _sha256(body)


def _sha256(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


_fingerprints: dict[int, tuple[Procedure, str]] = {}


def _fingerprint(procedure: Procedure) -> str:
    """SHA-256 of the canonical form, recomputed here once per definition object."""
    known = _fingerprints.get(id(procedure))
    if known is None or known[0] is not procedure:
        canonical = canonical_json(converter.unstructure(procedure))
        known = (procedure, hashlib.sha256(canonical.encode("utf-8")).hexdigest())
        _fingerprints[id(procedure)] = known
    return known[1]


def concrete_roles(
    procedure: Procedure, roles: Iterable[str], facts: Mapping[str, Any]
) -> frozenset[str]:
    """The declared roles ``roles`` stand for on a case with ``facts`` (case roles resolved)."""
    case_roles = {case_role.id: case_role for case_role in procedure.case_roles}
    found = set()
    for role in roles:
        case_role = case_roles.get(role)
        if case_role is None:
            found.add(role)
        elif (mapped := dict(case_role.roles).get(str(facts.get(case_role.fact)))) is not None:
            found.add(mapped)
    return frozenset(found)


def history_problems(case: Case, records: Sequence[Record], registry: Registry) -> list[str]:
    """Invariants 4, 5 and 7 for one case: chain, seq, legal replay, fingerprints, case row."""
    where = f"case {case.id}"
    if not records:
        return [f"{where}: case row without a history"]
    problems = []
    seqs = [record.seq for record in records]
    if seqs != list(range(1, len(records) + 1)):
        problems.append(f"{where}: seqs {seqs} are not 1, 2, 3... (invariant 5)")
    state: str | None = None
    head = GENESIS_HASH
    for record in records:
        at = f"{where} seq {record.seq}"
        if record.prev_hash != head or _hash(record) != record.hash:
            problems.append(f"{at}: hash chain broken (invariant 5)")
        head = record.hash
        # The record's own revision: every revision of a version stays registered.
        pinned = registry.by_fingerprint(record.fingerprint)
        try:
            procedure = pinned or registry.get(record.name, record.version)
        except StechniqueError:
            problems.append(f"{at}: {record.name}@{record.version} is not registered")
            return problems
        if pinned is None or (pinned.name, pinned.version) != (record.name, record.version):
            problems.append(f"{at}: fingerprint is not {procedure.key}'s (invariant 7)")
        problems += [f"{at}: {p}" for p in _step_problems(procedure, state, records[0], record)]
        state = record.target
    return problems + _case_row_problems(case, records, registry)


def _step_problems(
    procedure: Procedure, state: str | None, first: Record, record: Record
) -> list[str]:
    """What is wrong with ``record`` fired from ``state`` (``None`` before record 1)."""
    if state is None:
        problems = [] if record.event == "start" and record.source is None else ["not a start"]
        if record.target != procedure.initial.id:
            problems.append(f"starts in {record.target!r}, not the initial state")
        problems += _data_problems(procedure.facts, record.payload, "facts")
        allowed = concrete_roles(procedure, procedure.start_roles, record.payload)
        return problems + _role_problems(record.actor, allowed, "start")
    if record.event == "migrate":
        return []
    if procedure.state(state).terminal:
        return [f"{record.event!r} left the terminal state {state!r} (invariant 4)"]
    transition = procedure.transition(state, record.event, record.payload)
    if record.source != state or transition is None or transition.target != record.target:
        return [f"{record.source}-{record.event}->{record.target} is not a step from {state!r}"]
    # The engine decides steps from the transition table; the version's transitions machine
    # is the reference, and must take the very same step.
    reference = trigger(procedure, state, record.event, record.payload)
    if reference != record.target:
        return [f"the transitions machine takes {record.event!r} from {state!r} to {reference!r}"]
    problems = _data_problems(transition.payload, record.payload, "payload")
    allowed = concrete_roles(procedure, transition.roles, first.payload)
    return problems + _role_problems(record.actor, allowed, record.event)


def _data_problems(schema: Sequence[Field], value: Mapping[str, Any], what: str) -> list[str]:
    try:
        clean = validate(schema, value, what)
    except InvalidData as error:
        return [f"stored {what} are invalid: {error}"]
    return [] if clean == value else [f"stored {what} are not in normal form"]


def _role_problems(actor: Actor, allowed: frozenset[str], event: str) -> list[str]:
    if actor.roles & allowed:
        return []
    return [f"actor {actor.id!r} ({sorted(actor.roles)}) had no role allowed to {event!r}"]


def _case_row_problems(case: Case, records: Sequence[Record], registry: Registry) -> list[str]:
    first, last = records[0], records[-1]
    replayed = {
        "state": last.target,
        "seq": last.seq,
        "head": last.hash,
        "name": last.name,
        "version": last.version,
        "fingerprint": last.fingerprint,
        "created_at": first.at,
        "updated_at": last.at,
    }
    if not any(record.event == "migrate" for record in records):
        replayed["facts"] = first.payload
    problems = [
        f"case {case.id}: stored {name} {getattr(case, name)!r}, history gives {value!r} "
        "(invariant 5)"
        for name, value in replayed.items()
        if getattr(case, name) != value
    ]
    procedure = registry.by_fingerprint(case.fingerprint)
    if procedure is None or _fingerprint(procedure) != case.fingerprint:
        problems.append(f"case {case.id}: recorded fingerprint matches no definition (invariant 7)")
    return problems


def _viewers(procedure: Procedure, records: Sequence[Record]) -> list[Actor]:
    """Who reads a case in the checks: for every body the history names (and one it does
    not), an actor acting for it and claiming every role but the coordinating ones; one
    holding only the coordinating roles; one holding no role at all."""
    coordinating = set(procedure.reading_rules.coordinators)
    claimed = frozenset(role.id for role in procedure.roles) - coordinating
    bodies = {record.actor.acts_for for record in records} | {"body-outside-every-case"}
    bodies |= {body for _, _, body in bound_parties(procedure, records)}
    viewers = [Actor(f"viewer-{i}", claimed, body) for i, body in enumerate(sorted(bodies))]
    # A generated payload may bind a body no actor can act for (a newline in it, say).
    viewers = [viewer for viewer in viewers if _can_act_for(viewer.acts_for)]
    viewers.append(Actor("viewer-nobody", frozenset(), "body-of-nobody"))
    if coordinating:
        viewers.append(Actor("viewer-coordinator", frozenset(coordinating), "coordination"))
    return viewers


def bound_parties(procedure: Procedure, records: Sequence[Record]) -> set[tuple[str, str, str]]:
    """``(party, key, body)`` bound by ``records``, read here with code of its own: each
    record by the reading rules of ``procedure`` (one version; see ``_parties_now``)."""
    bound: set[tuple[str, str, str]] = set()
    for record in records:
        for party in procedure.reading_rules.parties:
            for binding in party.bound_by:
                if binding.event != record.event:
                    continue
                key = "" if binding.per is None else str(record.payload.get(binding.per, ""))
                if binding.field is None:
                    bodies = [record.actor.acts_for]
                else:
                    value = record.payload.get(binding.field)
                    values = value if isinstance(value, list | tuple) else [value]
                    bodies = [str(v) for v in values if v is not None]
                    if value is None:
                        continue
                mine = {t for t in bound if t[0] == party.id and t[1] == key}
                if binding.how == "set":
                    bound -= mine
                if binding.how == "remove":
                    bound -= {(party.id, key, body) for body in bodies}
                else:
                    bound |= {(party.id, key, body) for body in bodies}
    return bound


def _parties_now(
    registry: Registry, records: Sequence[Record]
) -> tuple[set[tuple[str, str, str]], set[str]]:
    """The parties and the roles that see a case: for every version its history has been
    under, the history read by that version's rules; the roles of each such version that see
    its cases (its coordinators, or every role when it declares no reading rules)."""
    bound: set[tuple[str, str, str]] = set()
    roles: set[str] = set()
    for fingerprint in dict.fromkeys(record.fingerprint for record in records):
        procedure = registry.by_fingerprint(fingerprint)
        if procedure is None:
            continue
        rules = procedure.reading_rules
        bound |= bound_parties(procedure, records)
        if rules.parties or rules.coordinators:
            roles |= set(rules.coordinators)
        else:
            roles |= {role.id for role in procedure.roles}
    return bound, roles


def sees(registry: Registry, records: Sequence[Record], viewer: Actor) -> bool:
    """Whether ``viewer`` may know of the case with ``records`` (invariant 9)."""
    bound, roles = _parties_now(registry, records)
    return bool(viewer.roles & roles) or any(body == viewer.acts_for for _, _, body in bound)


def hidden_fields(
    registry: Registry,
    records: Sequence[Record],
    index: int,
    viewer: Actor,
    facts: Mapping[str, Any],
) -> set[str]:
    """The payload fields of ``records[index]`` that ``viewer`` may not see (invariant 3)."""
    record = records[index]
    procedure = registry.by_fingerprint(record.fingerprint)
    if procedure is None:
        return set(record.payload)
    rules = procedure.reading_rules
    bound, _ = _parties_now(registry, records)
    reached = {r.target for r in records}
    hidden = set()
    for rule in rules.confidential:
        if rule.event != record.event or rule.field not in record.payload:
            continue
        names = list(rule.readers)
        later = [r.event for r in records[index + 1 :]]
        opened = rule.opens_at is not None and rule.opens_at in reached
        if rule.opens_on is not None and rule.opens_on in later:
            # Only the last record of the event before ``opens_on`` opens.
            opened = opened or rule.event not in later[: later.index(rule.opens_on)]
        if opened:
            names += rule.opens_to
        key = None if rule.per is None else str(record.payload.get(rule.per, ""))
        if not any(_reads(procedure, name, viewer, bound, key, facts) for name in names):
            hidden.add(rule.field)
    return hidden


def _reads(
    procedure: Procedure,
    name: str,
    viewer: Actor,
    bound: set[tuple[str, str, str]],
    key: str | None,
    facts: Mapping[str, Any],
) -> bool:
    rules = procedure.reading_rules
    if any(party.id == name for party in rules.parties):
        return any(
            p == name and (key is None or k in (key, "")) and body == viewer.acts_for
            for p, k, body in bound
        )
    if name in rules.coordinators:
        return name in viewer.roles
    return bool(viewer.roles & concrete_roles(procedure, [name], facts))


def _is_marker(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"__redacted__"}


def visibility_problems(engine: Engine, case: Case, records: Sequence[Record]) -> list[str]:
    """Invariant 9: a viewer who is neither a party of the case nor one of its coordinators
    learns nothing of it — every read answers as for a case that does not exist — and one
    who is sees it in its list of cases."""
    procedure = engine.registry.by_fingerprint(case.fingerprint)
    if procedure is None or not records:
        return []
    problems = []
    for viewer in _viewers(procedure, records):
        where = f"case {case.id} viewed by {viewer.acts_for} ({sorted(viewer.roles)})"
        allowed = sees(engine.registry, records, viewer)
        listed = case.id in {c.id for c in engine.cases(viewer=viewer)}
        if listed != allowed:
            problems.append(f"{where}: listed={listed}, may see={allowed} (invariant 9)")
        event = (procedure.events_from(case.state) or ("withdraw",))[0]
        for name, answered in _answers(engine, case.id, event, viewer).items():
            if answered != allowed:
                problems.append(f"{where}: {name} answered={answered} (invariant 9)")
    return problems


def _answers(engine: Engine, case_id: str, event: str, viewer: Actor) -> dict[str, bool]:
    """Whether each read of one case answered ``viewer`` (or said there is no such case)."""
    reads: dict[str, Callable[[], object]] = {
        "case": lambda: engine.case(case_id, viewer),
        "history": lambda: engine.history(case_id, viewer),
        "available_events": lambda: engine.available_events(case_id, viewer),
        "explain": lambda: engine.explain(case_id, event, viewer),
    }
    answers = {}
    for name, read in reads.items():
        try:
            read()
            answers[name] = True
        except UnknownCase:
            answers[name] = False
    return answers


def party_problems(registry: Registry, records: Sequence[Record]) -> list[str]:
    """Invariant 8: a step bound to a party of the case was fired by an actor acting for a
    body the history had bound to that party before it."""
    problems = []
    for index, record in enumerate(records):
        procedure = registry.by_fingerprint(record.fingerprint)
        if procedure is None or record.source is None or record.event == "migrate":
            continue
        transition = procedure.transition(record.source, record.event, record.payload)
        if transition is None or transition.party is None:
            continue
        bound, _ = _parties_now(registry, records[:index])
        party = procedure.party(transition.party)
        per = next((b.per for b in party.bound_by if b.per), None) if party else None
        key = None if per is None else str(record.payload.get(per, ""))
        if not any(
            p == transition.party
            and (key is None or k in (key, ""))
            and body == record.actor.acts_for
            for p, k, body in bound
        ):
            problems.append(
                f"case {record.case_id} seq {record.seq}: {record.event!r} fired by "
                f"{record.actor.acts_for!r}, not the case's {transition.party} (invariant 8)"
            )
    return problems


def redaction_problems(
    engine: Engine, case: Case, records: Sequence[Record], viewer: Actor
) -> list[str]:
    """Invariant 3: ``engine.history`` hides exactly what the rules hide, drops nothing, and
    shows no hash that could confirm a hidden value: a format-2 record keeps its hash, each
    hidden value's salted digest in its marker and not its salt; a format-1 record (or one
    with a hidden value not salted) has its hash withheld, and the next record's link to it."""
    where = f"case {case.id} viewed by {viewer.acts_for} ({sorted(viewer.roles)})"
    if not sees(engine.registry, records, viewer):
        return []
    shown = engine.history(case.id, viewer)
    if len(shown) != len(records):
        return [f"{where}: {len(shown)} records shown of {len(records)}"]
    problems = []
    withheld_before = False
    for index, (raw, seen) in enumerate(zip(records, shown, strict=True)):
        if not _same_but_payload(seen, raw):
            problems.append(f"{where} seq {raw.seq}: more than the payload was changed")
            continue
        if set(seen.payload) != set(raw.payload):
            problems.append(f"{where} seq {raw.seq}: payload fields dropped or added")
            continue
        hidden = hidden_fields(engine.registry, records, index, viewer, case.facts)
        for name, value in raw.payload.items():
            if name in hidden and not _is_marker(seen.payload[name]):
                problems.append(f"{where} seq {raw.seq}: {raw.event}.{name} shown (invariant 3)")
            elif name not in hidden and seen.payload[name] != value:
                problems.append(f"{where} seq {raw.seq}: {raw.event}.{name} hidden needlessly")
        # Format 2: every hidden value committed by a salt proves the record's hash.
        provable = raw.format != 1 and all(name in raw.salts for name in hidden)
        problems += _salt_problems(f"{where} seq {raw.seq}", raw, seen, hidden, provable)
        if provable:
            if seen.hash != raw.hash or _hash(seen) != seen.hash:
                problems.append(f"{where} seq {raw.seq}: the shown record does not prove its hash")
        elif (seen.hash == raw.hash) == bool(hidden):
            problems.append(
                f"{where} seq {raw.seq}: hash shown={seen.hash == raw.hash} (invariant 9)"
            )
        if (seen.prev_hash == raw.prev_hash) == withheld_before:
            problems.append(f"{where} seq {raw.seq}: link shown={seen.prev_hash == raw.prev_hash}")
        withheld_before = bool(hidden) and not provable
    return problems


def _salt_problems(
    where: str, raw: Record, seen: Record, hidden: Iterable[str], provable: bool
) -> list[str]:
    """Invariant 9 for salted values: a hidden value's salt is withheld with it and its marker
    holds the salted digest (when every hidden value has one); a shown value keeps its salt."""
    problems = []
    hidden = set(hidden)
    if seen.salts != {name: salt for name, salt in raw.salts.items() if name not in hidden}:
        problems.append(f"{where}: the salts shown are not those of the values shown")
    for name in sorted(hidden):
        if not provable:
            break
        digest = _sha256([raw.salts[name], name, raw.payload[name]])
        if seen.payload[name]["__redacted__"].get("digest") != digest:
            problems.append(f"{where}: {raw.event}.{name}'s marker lacks its digest (invariant 9)")
    return problems


_NOT_PAYLOAD = tuple(
    a.name for a in attrs.fields(Record) if a.name not in ("payload", "hash", "prev_hash", "salts")
)


def _same_but_payload(one: Record, other: Record) -> bool:
    return all(getattr(one, name) == getattr(other, name) for name in _NOT_PAYLOAD)


def withheld_problems(
    engine: Engine, case: Case, records: Sequence[Record], claims: Sequence[Withheld]
) -> list[str]:
    """Invariant 3 against claims made apart from the definition (see ``Withheld``)."""
    reached = {record.target for record in records}
    problems = []
    for claim in claims:
        if claim.until in reached or not any(r.event == claim.event for r in records):
            continue
        for name in claim.roles:
            for viewer in _claim_viewers(engine.registry, records, name):
                if not sees(engine.registry, records, viewer):
                    continue
                problems += [
                    f"case {case.id} seq {seen.seq}: {claim.event}.{claim.field} shown to "
                    f"{name} {viewer.acts_for} before {claim.until or 'the end'} (invariant 3)"
                    for seen in engine.history(case.id, viewer)
                    if seen.event == claim.event
                    and claim.field in seen.payload
                    and not _is_marker(seen.payload[claim.field])
                ]
    return problems


def _claim_viewers(registry: Registry, records: Sequence[Record], name: str) -> list[Actor]:
    """Who a claim about ``name`` (a role, or a party of the case) speaks of: a holder of the
    role acting for no party, and each body that is that party of the case and nothing else
    (a body that is also, say, the manager reads as the manager)."""
    bound, _ = _parties_now(registry, records)
    parties: dict[str, set[str]] = defaultdict(set)
    for party, _, body in bound:
        parties[body].add(party)
    viewers = [Actor("claim-viewer", {name}, "claim-body-outside-the-case")]
    viewers += [
        Actor("claim-party", {name}, body)
        for body, held in sorted(parties.items())
        if held == {name} and _can_act_for(body)
    ]
    return viewers


def _can_act_for(body: str) -> bool:
    """Whether an actor may act for ``body`` (the engine refuses control characters...)."""
    return _identifier_problem(body, MAX_ID) is None


def exit_problems(engine: Engine, case: Case, procedure: Procedure) -> list[str]:
    """Invariant 4: from a non-terminal state some event leads to a terminal state now."""
    if procedure.state(case.state).terminal:
        return []
    for event in procedure.events_from(case.state):
        transition = procedure.transition(case.state, event)
        assert transition is not None
        if not procedure.state(transition.target).terminal:
            continue
        roles = sorted(concrete_roles(procedure, transition.roles, case.facts))
        if not roles:
            continue
        actor = Actor("exit-checker", {roles[0]}, _exit_body(engine, case, transition.party))
        if actor.acts_for == "":
            continue
        payload = example_data(transition.payload)
        if engine.explain(case.id, event, actor, payload).allowed:
            return []
    return [f"case {case.id}: no way to a terminal state from {case.state!r} (invariant 4)"]


def _exit_body(engine: Engine, case: Case, party: str | None) -> str:
    """A body that may take an exit: one bound to ``party``, else the one that started the
    case (a party of every case); ``""`` when the party has no body yet."""
    records = engine.storage.records(case.id)
    if party is None:
        return records[0].actor.acts_for if records else ""
    bound, _ = _parties_now(engine.registry, records)
    return next((body for p, _, body in sorted(bound) if p == party), "")


_EXAMPLES: dict[str, Any] = {
    "text": "x",
    "email": "x@example.org",
    "integer": 0,
    "boolean": True,
    "date": "2017-06-30",
}


def example_data(schema: Sequence[Field]) -> dict[str, Any]:
    """The smallest data ``schema`` accepts: required fields only, first options, zeros."""
    result: dict[str, Any] = {}
    for field in sorted(schema, key=lambda f: f.required_when is not None):
        if field.required_when is not None:
            sibling, value = field.required_when
            if result.get(sibling) != value:
                continue
        elif not field.required:
            continue
        result[field.name] = _example_value(field)
    return result


def _example_value(field: Field) -> Any:
    if field.kind == "integer":
        return max(field.minimum or 0, 0)
    if field.kind == "choice":
        return field.options[0]
    if field.kind in ("choices", "list"):
        return [field.options[0] if field.kind == "choices" else "x"]
    if field.kind == "object":
        return example_data(field.fields)
    if field.kind == "objects":
        return [example_data(field.fields)]
    return _EXAMPLES[field.kind]


def definition_problems(states: Sequence[State], transitions: Sequence[Transition]) -> list[str]:
    """Static properties of a definition, judged from its states and transitions alone.

    Every state is reachable from the initial one; a terminal state is reachable from every
    state; terminal states have no way out; some unguarded event leads from every non-terminal
    state to a terminal one (``withdraw``, ``abandon``); no event is ambiguous from a state
    (unless the payload decides, ``Transition.when``).
    """
    terminal = {state.id for state in states if state.terminal}
    active = [state.id for state in states if not state.terminal]
    edges: dict[str, set[str]] = {state.id: set() for state in states}
    by_source: dict[tuple[str, str], list[Transition]] = defaultdict(list)
    exits: dict[str, bool] = dict.fromkeys(active, False)
    for transition in transitions:
        sources = active if transition.sources == (ANY_ACTIVE,) else transition.sources
        for source in sources:
            edges.setdefault(source, set()).add(transition.target)
            by_source[(source, transition.event)].append(transition)
            if transition.target in terminal and not transition.guards:
                exits[source] = True
    initial = [state.id for state in states if state.initial]
    reachable = _reach(initial, edges)
    problems = [f"state {s.id!r} is unreachable" for s in states if s.id not in reachable]
    problems += [
        f"state {s!r} cannot reach a terminal state"
        for s in active
        if not _reach([s], edges) & terminal
    ]
    problems += [f"terminal state {s!r} has a way out" for s in sorted(terminal) if edges.get(s)]
    problems += [f"no unguarded exit from {s!r}" for s, found in exits.items() if not found]
    for (source, event), group in sorted(by_source.items()):
        whens = [t.when for t in group]
        if len(group) > 1 and (None in whens or len(set(whens)) < len(whens)):
            problems.append(f"event {event!r} is ambiguous from {source!r}")
    return problems


def _reach(starts: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(starts)
    todo = list(seen)
    while todo:
        for following in edges.get(todo.pop(), ()):
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen
