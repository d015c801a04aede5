"""Moving an open case to a newer version of its procedure, as one recorded step.

A ``Migration`` is declared as data with the newer version: which states may move and where
they land, how the facts translate, which new facts the command must supply, who may order it
and which conditions the old history must meet. ``Engine.migrate`` applies one; nothing already
written is touched. The migration appends a single ``migrate`` record, written under the new
version and chained on the old head, whose payload says from which version (and fingerprint)
the case came, why, and the facts it has from then on.

``plan_migration`` computes that step without writing anything, so a dry run and a real
migration are the same computation; ``replay_problems`` lets the audit re-check a stored
``migrate`` record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from stechnique._chain import next_step
from stechnique._judge import MIGRATE as MIGRATE
from stechnique._judge import GuardsFailed, judge_migration
from stechnique._values import items, pairs
from stechnique.definition import Guard, GuardContext, Procedure, ReadOnlyStore
from stechnique.errors import FieldProblem, InvalidData, MigrationRefused
from stechnique.records import Actor, Case, Record
from stechnique.schema import validate

if TYPE_CHECKING:
    from stechnique.registry import Registry

__all__ = ["MIGRATE", "Migration", "MigrationPlan", "plan_migration", "replay_problems"]

#: The event of a migration record (reserved: no procedure may declare it).


def _triples(value: Iterable[Sequence[str]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((str(a), str(b), str(c)) for a, b, c in value)


@attrs.frozen
class Migration:
    """How open cases of ``name`` move from ``from_version`` to ``to_version``.

    ``states`` maps each old state that may move to its new state; any other state finishes
    under the old version. ``facts`` maps each new fact to the old fact it is taken from (old
    facts not named are left behind, still readable in the old ``start`` record); ``values``
    rewrites values on the way as ``(new fact, old value, new value)`` rows, and a value of a
    fact with rows but no row of its own is dropped. ``supplied`` names the new facts the
    command must give. Only actors holding one of ``roles`` (roles of the old version) may
    migrate, and every guard of ``guards`` must hold on the old history.
    """

    name: str
    from_version: str
    to_version: str
    states: tuple[tuple[str, str], ...] = attrs.field(converter=pairs)
    facts: tuple[tuple[str, str], ...] = attrs.field(converter=pairs)
    supplied: tuple[str, ...] = attrs.field(converter=items)
    roles: tuple[str, ...] = attrs.field(converter=items)
    values: tuple[tuple[str, str, str], ...] = attrs.field(default=(), converter=_triples)
    guards: tuple[Guard, ...] = attrs.field(default=(), converter=items)
    fr: str = ""
    en: str = ""

    @property
    def key(self) -> str:
        """``name@from_version->to_version``."""
        return f"{self.name}@{self.from_version}->{self.to_version}"

    def target_of(self, state: str) -> str | None:
        """The new state a case in old ``state`` lands in, or ``None`` if it may not move."""
        return dict(self.states).get(state)

    def translate(self, old_facts: Mapping[str, Any]) -> dict[str, Any]:
        """The new facts carried over from ``old_facts`` (before the supplied ones)."""
        rewrites: dict[str, dict[str, str]] = {}
        for fact, old, new in self.values:
            rewrites.setdefault(fact, {})[old] = new
        carried: dict[str, Any] = {}
        for new_fact, old_fact in self.facts:
            if old_fact not in old_facts:
                continue
            value = old_facts[old_fact]
            table = rewrites.get(new_fact)
            if table is None:
                carried[new_fact] = value
            elif isinstance(value, list):
                carried[new_fact] = [table[v] for v in value if v in table]
            elif value in table:
                carried[new_fact] = table[value]
        return carried

    def problems(self, old: Procedure, new: Procedure) -> list[str]:
        """Every inconsistency between this declaration and the two versions it links."""
        found = [f"{what} is {got!r}, not {want!r}" for what, got, want in self._identity(old, new)]
        old_states = {s.id: s for s in old.states}
        new_states = {s.id for s in new.states}
        for source, target in self.states:
            if source not in old_states or old_states[source].terminal:
                found.append(f"state {source!r} is not an open state of {old.key}")
            if target not in new_states:
                found.append(f"state {target!r} is not a state of {new.key}")
        old_facts = {f.name for f in old.facts}
        new_facts = {f.name for f in new.facts}
        for new_fact, old_fact in self.facts:
            if old_fact not in old_facts:
                found.append(f"fact {old_fact!r} is not a fact of {old.key}")
            if new_fact not in new_facts:
                found.append(f"fact {new_fact!r} is not a fact of {new.key}")
        found += [
            f"supplied fact {name!r} is not a fact of {new.key}"
            for name in self.supplied
            if name not in new_facts
        ]
        roles = {r.id for r in old.roles} | {r.id for r in old.case_roles}
        found += [f"role {r!r} is not a role of {old.key}" for r in self.roles if r not in roles]
        if not self.roles:
            found.append("no role may order the migration")
        return found

    def _identity(self, old: Procedure, new: Procedure) -> list[tuple[str, str, str]]:
        wanted = [
            ("old procedure", old.name, self.name),
            ("new procedure", new.name, self.name),
            ("old version", old.version, self.from_version),
            ("new version", new.version, self.to_version),
        ]
        return [row for row in wanted if row[1] != row[2]]


@attrs.frozen
class MigrationPlan:
    """What a migration does (``applied`` false: a dry run) or did (``applied`` true).

    ``record`` is the ``migrate`` record written (or that would be written) and ``case`` the
    case after it.
    """

    case_id: str
    from_version: str
    to_version: str
    source: str
    target: str
    facts: dict[str, Any]
    record: Record
    case: Case
    applied: bool = False


def plan_migration(
    registry: Registry,
    store: ReadOnlyStore,
    case: Case,
    old: Procedure,
    to_version: str,
    *,
    actor: Actor,
    facts: Mapping[str, Any] | None,
    reason: str,
    now: datetime,
) -> MigrationPlan:
    """The migration of ``case`` to ``to_version``, computed and checked, nothing written.

    Raises ``MigrationRefused``, ``PermissionDenied`` or ``InvalidData`` exactly as the real
    migration would.
    """
    new = registry.get(case.name, to_version)
    migration = _declared(registry, case, to_version)
    target = _movable(migration, case, old)
    _check_rules(migration, case, old, actor, store, now)
    clean = _new_facts(migration, new, case.facts, facts, reason)
    return _written(case, new, target, actor, now, reason.strip(), clean)


def _written(
    case: Case,
    new: Procedure,
    target: str,
    actor: Actor,
    now: datetime,
    reason: str,
    facts: dict[str, Any],
) -> MigrationPlan:
    """The ``migrate`` record, chained on the case's head, and the case after it."""
    payload = {
        "from_version": case.version,
        "to_version": new.version,
        "from_fingerprint": case.fingerprint,
        "reason": reason,
        "facts": facts,
    }
    record, after = next_step(
        case, new, event=MIGRATE, target=target, actor=actor, at=now, payload=payload
    )
    return MigrationPlan(
        case.id, case.version, new.version, case.state, target, facts, record, after
    )


def _declared(registry: Registry, case: Case, to_version: str) -> Migration:
    if case.version == to_version:
        raise MigrationRefused(case.id, case.version, to_version, "the case is already there")
    migration = registry.migration(case.name, case.version, to_version)
    if migration is None:
        raise MigrationRefused(
            case.id, case.version, to_version, "no migration between these versions is declared"
        )
    return migration


def _movable(migration: Migration, case: Case, old: Procedure) -> str:
    if old.state(case.state).terminal:
        raise MigrationRefused(
            case.id, case.version, migration.to_version, f"the case is closed ({case.state!r})"
        )
    target = migration.target_of(case.state)
    if target is None:
        movable = ", ".join(source for source, _ in migration.states)
        raise MigrationRefused(
            case.id,
            case.version,
            migration.to_version,
            f"a case in {case.state!r} is past the states that may move ({movable}); "
            f"it finishes under {case.version}",
        )
    return target


def _check_rules(
    migration: Migration,
    case: Case,
    old: Procedure,
    actor: Actor,
    store: ReadOnlyStore,
    now: datetime,
) -> None:
    """Who may migrate and under which guards: the judge's answer, raised."""
    verdict = judge_migration(
        old,
        migration.roles,
        migration.guards,
        actor=actor,
        facts=case.facts,
        context=lambda: GuardContext(old, case, case.facts, actor, MIGRATE, {}, now, store),
    )
    for refusal in verdict.refusals:
        if isinstance(refusal, GuardsFailed):
            rules = "; ".join(f"{g.name} « {g.fr} » ({g.en})" for g in refusal.failed)
            raise MigrationRefused(
                case.id, case.version, migration.to_version, f"rules not met: {rules}"
            )
        raise refusal.error(case.id)


def _new_facts(
    migration: Migration,
    new: Procedure,
    old_facts: Mapping[str, Any],
    supplied: Mapping[str, Any] | None,
    reason: str,
) -> dict[str, Any]:
    given = dict(supplied or {})
    problems = [
        FieldProblem(name, f"must be supplied by the migration to {new.key}")
        for name in migration.supplied
        if given.get(name) is None
    ]
    if not isinstance(reason, str) or not reason.strip():
        problems.append(FieldProblem("reason", "missing (say why the case is migrated)"))
    merged = {**migration.translate(old_facts), **given}
    try:
        clean = validate(new.facts, merged, f"facts of {new.key} after migration")
    except InvalidData as error:
        known = {problem.field for problem in problems}
        problems += [problem for problem in error.problems if problem.field not in known]
    if problems:
        raise InvalidData(f"migration to {new.key}", problems)
    return clean


def replay_problems(
    registry: Registry,
    previous: Record,
    state: str | None,
    facts: Mapping[str, Any],
    record: Record,
) -> list[str]:
    """What is wrong with a stored ``migrate`` record, given the replay so far (empty: legal)."""
    migration = registry.migration(previous.name, previous.version, record.version)
    if migration is None or previous.name != record.name:
        return [
            f"migration {previous.name}@{previous.version} -> {record.name}@{record.version} "
            "is not declared"
        ]
    problems = []
    target = migration.target_of(state or "")
    if target != record.target:
        problems.append(f"migration maps {state!r} to {target!r}, not {record.target!r}")
    payload = record.payload
    if (payload.get("from_version"), payload.get("to_version")) != (
        previous.version,
        record.version,
    ):
        problems.append("migration payload names other versions than the records")
    if payload.get("from_fingerprint") != previous.fingerprint:
        problems.append("migration payload names another fingerprint than the previous record")
    return problems
