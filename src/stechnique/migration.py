"""Moving an open case to a newer version, or a newer revision of its version, as one
recorded step.

A ``Migration`` is declared as data with the newer version (or revision): which states may move
and where they land, how the facts translate, which new facts the command must supply, who may
order it and which conditions the old history must meet. ``Engine.migrate`` applies one;
nothing already written is touched. The migration appends a single ``migrate`` record, written
under the new revision and chained on the old head, whose payload says from which version (and
fingerprint) the case came, why, and the facts it has from then on; a migration that concerns a
revision other than 1 also names both revisions (``from_revision``, ``to_revision``), so that
the records of 0.1.0's migrations between versions keep their exact form.

Between two revisions of one version, the migration is ordered by the version's coordinating
roles (``Procedure.coordinators`` of the newer revision; the migration's ``roles`` when it
declares none), and the history before it keeps counting: consultations, funders' decisions,
acknowledgements and party bindings carry across (``workflows._rules.since_migration`` cuts a
history only at a migration that changed version). A case only ever lands on the latest
revision of a version, as only the latest revision accepts ``start``.

``plan_migration`` computes that step without writing anything, so a dry run and a real
migration are the same computation; ``replay_problems`` lets the audit re-check a stored
``migrate`` record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from stechnique._chain import next_step
from stechnique._judge import MIGRATE as MIGRATE
from stechnique._judge import GuardsFailed, judge_migration
from stechnique._labels import state_both
from stechnique._values import items, pairs
from stechnique.definition import Guard, GuardContext, Procedure, ReadOnlyStore
from stechnique.errors import FieldProblem, InvalidData, MigrationRefused, StechniqueError
from stechnique.i18n import Label, both, both_n
from stechnique.records import Actor, Case, Record
from stechnique.schema import validate

if TYPE_CHECKING:
    from stechnique.registry import Registry

__all__ = [
    "MIGRATE",
    "Migration",
    "MigrationPlan",
    "MigrationRefusal",
    "MigrationReport",
    "declared_migration",
    "plan_migration",
    "replay_problems",
    "shown",
]

#: The keys a migration payload carries when either revision is not 1.
_REVISION_KEYS = ("from_revision", "to_revision")


def shown(version: str, revision: int) -> str:
    """``version`` as people read it: revision 1 is the bare version, later ones ``1/r2``."""
    return version if revision == 1 else f"{version}/r{revision}"


def _triples(value: Iterable[Sequence[str]]) -> tuple[tuple[str, str, str], ...]:
    return tuple((str(a), str(b), str(c)) for a, b, c in value)


@attrs.frozen
class Migration:
    """How open cases of ``name`` move from ``from_version`` to ``to_version``, or between two
    revisions of one version (``from_revision``, ``to_revision``: 1 unless given).

    ``states`` maps each old state that may move to its new state; any other state finishes
    under the old version. ``facts`` maps each new fact to the old fact it is taken from (old
    facts not named are left behind, still readable in the old ``start`` record); ``values``
    rewrites values on the way as ``(new fact, old value, new value)`` rows, and a value of a
    fact with rows but no row of its own is dropped. ``supplied`` names the new facts the
    command must give. Only actors holding one of ``roles`` (roles of the old version) may
    migrate, and every guard of ``guards`` must hold on the old history. Between two
    revisions of one version, the newer revision's coordinating roles
    (``Procedure.coordinators``), when it declares some, order the migration instead of
    ``roles`` (``ordered_by``); the later revision must have the greater number.
    """

    name: str
    from_version: str
    to_version: str
    states: tuple[tuple[str, str], ...] = attrs.field(converter=pairs)
    facts: tuple[tuple[str, str], ...] = attrs.field(converter=pairs)
    supplied: tuple[str, ...] = attrs.field(default=(), converter=items)
    roles: tuple[str, ...] = attrs.field(default=(), converter=items)
    values: tuple[tuple[str, str, str], ...] = attrs.field(default=(), converter=_triples)
    guards: tuple[Guard, ...] = attrs.field(default=(), converter=items)
    fr: str = ""
    en: str = ""
    from_revision: int = 1
    to_revision: int = 1
    #: What the migration carries across beyond the facts, read from the old history: the
    #: ``migrate`` record writes it as ``carried``, and a dry run shows it (a revision-1 DLA
    #: case's one action ``a1``, and the plan's actions not carried). Code, so outside ``eq``.
    carries: Callable[[Sequence[Record]], dict[str, Any]] | None = attrs.field(
        default=None, eq=False
    )

    @property
    def key(self) -> str:
        """``name@from_version->to_version``, each version shown with its revision from 2 on
        (``ticket@1->1/r2``)."""
        return (
            f"{self.name}@{shown(self.from_version, self.from_revision)}"
            f"->{shown(self.to_version, self.to_revision)}"
        )

    @property
    def within_version(self) -> bool:
        """Whether the migration moves cases between two revisions of one version."""
        return self.from_version == self.to_version

    def ordered_by(self, new: Procedure) -> tuple[str, ...]:
        """The roles that may order this migration to ``new`` (its target revision).

        Within a version, the version's coordinating roles (``new.coordinators``) when it
        declares some, else ``roles``; between versions, ``roles``.
        """
        if self.within_version and new.coordinators:
            return tuple(new.coordinators)
        return self.roles

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
        ordering = self.ordered_by(new)
        found += [f"role {r!r} is not a role of {old.key}" for r in ordering if r not in roles]
        if not ordering:
            found.append("no role may order the migration")
        if self.within_version and self.to_revision <= self.from_revision:
            found.append(
                f"a migration within {self.from_version} goes to a later revision, not from "
                f"revision {self.from_revision} to revision {self.to_revision}"
            )
        return found

    def _identity(self, old: Procedure, new: Procedure) -> list[tuple[str, object, object]]:
        wanted: list[tuple[str, object, object]] = [
            ("old procedure", old.name, self.name),
            ("new procedure", new.name, self.name),
            ("old version", old.version, self.from_version),
            ("new version", new.version, self.to_version),
            ("old revision", old.revision, self.from_revision),
            ("new revision", new.revision, self.to_revision),
        ]
        return [row for row in wanted if row[1] != row[2]]


@attrs.frozen
class MigrationPlan:
    """What a migration does (``applied`` false: a dry run) or did (``applied`` true).

    ``record`` is the ``migrate`` record written (or that would be written) and ``case`` the
    case after it; ``from_revision`` and ``to_revision`` the revisions it leaves and reaches;
    ``carried`` what it carries beyond the facts (``Migration.carries``), if it says.
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
    from_revision: int = 1
    to_revision: int = 1
    carried: dict[str, Any] | None = None

    @property
    def not_carried(self) -> tuple[Any, ...]:
        """What the old history had that the migration leaves behind (``carried``'s
        ``not_carried``: the plan's other actions of a revision-1 DLA case)."""
        left = (self.carried or {}).get("not_carried", ())
        return tuple(left) if isinstance(left, list | tuple) else ()


@attrs.frozen
class MigrationRefusal:
    """A case a bulk migration did not (or would not) move, and why (``reason``, the error's
    message, in French and English: « fr / en »)."""

    case_id: str
    state: str
    from_revision: int
    reason: str
    #: The refusal itself, as ``Engine.migrate`` would raise it for this case.
    error: StechniqueError = attrs.field(eq=False, repr=False)


@attrs.frozen
class MigrationReport:
    """What ``Engine.migrate_all`` did (``applied``) or would do (a dry run) to the open cases
    of ``name@version`` under older revisions than ``to_revision``.

    ``plans`` holds one ``MigrationPlan`` per case moved (or that would move), ``refused`` one
    ``MigrationRefusal`` per case left where it is; every case considered is in exactly one.
    Each case moved is moved by one atomic append: a refusal on one case moves nothing of it,
    and does not stop the others.
    """

    name: str
    version: str
    to_revision: int
    applied: bool
    plans: tuple[MigrationPlan, ...]
    refused: tuple[MigrationRefusal, ...]

    @property
    def ok(self) -> bool:
        """Whether no case was refused."""
        return not self.refused

    def summary(self) -> str:
        """A few lines for people, in the language in force: what moves where (or would),
        then every refusal."""
        target = shown(self.version, self.to_revision)
        moved = len(self.plans)
        cases = both_n("{n} case", "{n} cases", moved, n=moved)
        key, refused = f"{self.name}@{target}", len(self.refused)
        if self.applied:
            said = both("{key}: {cases} migrated, {refused} refused", key=key, cases=cases,
                        refused=refused)  # fmt: skip
        else:
            said = both("{key}: {cases} would migrate, {refused} refused", key=key, cases=cases,
                        refused=refused)  # fmt: skip
        lines = [said.text()]
        for plan in self.plans:
            lines.append(
                f"  {plan.case_id}: {shown(plan.from_version, plan.from_revision)} "
                f"{plan.source} -> {shown(plan.to_version, plan.to_revision)} {plan.target}"
            )
            if plan.not_carried:
                carried = _listed(plan.not_carried)
                lines.append(both("    not carried: {actions}", actions=carried).text())
        lines += [
            f"  {refusal.case_id} ({shown(self.version, refusal.from_revision)} "
            f"{refusal.state}): {refusal.error}"
            for refusal in self.refused
        ]
        return "\n".join(lines)


def _listed(left: Sequence[Any]) -> str:
    """What a migration leaves behind, for people: each item's values, one item after the
    other (« 1 collective steering_governance Gouvernance partagée »)."""
    return "; ".join(
        " ".join(str(value) for value in item.values()) if isinstance(item, Mapping) else str(item)
        for item in left
    )


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
    to_revision: int | None = None,
) -> MigrationPlan:
    """The migration of ``case`` (pinned to ``old``) to ``to_version`` at ``to_revision`` (its
    latest revision when None), computed and checked, nothing written.

    Raises ``UnknownProcedure`` for a target not registered, and ``MigrationRefused``,
    ``PermissionDenied`` or ``InvalidData`` exactly as the real migration would.
    """
    new = registry.get(case.name, to_version, to_revision)
    refuse = _Refuser(case, old, new)
    migration = _declared(registry, refuse, old, new)
    target = _movable(migration, refuse, case, old)
    _check_rules(migration, refuse, new, case, old, actor, store, now)
    clean = _new_facts(migration, new, case.facts, facts, reason)
    carried = None
    if migration.carries is not None:
        carried = migration.carries(store.records(case.id)[: max(case.seq, 0)])
    return _written(case, old, new, target, actor, now, reason.strip(), clean, carried)


def _written(
    case: Case,
    old: Procedure,
    new: Procedure,
    target: str,
    actor: Actor,
    now: datetime,
    reason: str,
    facts: dict[str, Any],
    carried: dict[str, Any] | None = None,
) -> MigrationPlan:
    """The ``migrate`` record, chained on the case's head, and the case after it."""
    payload: dict[str, Any] = {
        "from_version": case.version,
        "to_version": new.version,
        "from_fingerprint": case.fingerprint,
        "reason": reason,
        "facts": facts,
    }
    payload.update(_revision_fields(old, new))
    if carried is not None:
        payload["carried"] = carried
    record, after = next_step(
        case, new, event=MIGRATE, target=target, actor=actor, at=now, payload=payload
    )
    return MigrationPlan(
        case.id, case.version, new.version, case.state, target, facts, record, after,
        from_revision=old.revision, to_revision=new.revision, carried=carried,
    )  # fmt: skip


def _revision_fields(old: Procedure, new: Procedure) -> dict[str, int]:
    """The revisions a ``migrate`` payload names: none between two revisions 1 (the form 0.1.0
    wrote), both otherwise."""
    if old.revision == new.revision == 1:
        return {}
    return {"from_revision": old.revision, "to_revision": new.revision}


class _Refuser:
    """Builds the ``MigrationRefused`` of one planned migration, revisions shown from 2 on."""

    def __init__(self, case: Case, old: Procedure, new: Procedure) -> None:
        self.case, self.old, self.new = case, old, new

    def __call__(self, reason: Label) -> MigrationRefused:
        return MigrationRefused(
            self.case.id,
            self.case.version,
            self.new.version,
            reason,
            from_revision=self.old.revision,
            to_revision=self.new.revision,
        )


def _declared(registry: Registry, refuse: _Refuser, old: Procedure, new: Procedure) -> Migration:
    if new.fingerprint == old.fingerprint:
        raise refuse(both("the case is already there"))
    if new.version == old.version and new.revision < old.revision:
        raise refuse(
            both(
                "a case never moves back to an earlier revision ({old} -> revision {revision})",
                old=old.revision_key,
                revision=new.revision,
            )
        )
    if not registry.is_latest(new):
        latest = registry.get(new.name, new.version)
        raise refuse(
            both(
                "only the latest revision of {key} ({latest}) takes cases in, not revision "
                "{revision}",
                key=new.key,
                latest=latest.revision_key,
                revision=new.revision,
            )
        )
    migration = registry.migration_between(old, new)
    if migration is None:
        if old.revision == new.revision == 1:
            raise refuse(both("no migration between these versions is declared"))
        raise refuse(
            both(
                "no migration from {old} to {new} is declared",
                old=old.revision_key,
                new=new.revision_key,
            )
        )
    return migration


def _movable(migration: Migration, refuse: _Refuser, case: Case, old: Procedure) -> str:
    if old.state(case.state).terminal:
        # Granted, refused or withdrawn: the case is over, in the words of its own state.
        raise refuse(
            both(
                "the case is over: it ended in state '{state}' and no longer moves",
                state=state_both(old, case.state),
            )
        )
    target = migration.target_of(case.state)
    if target is None:
        raise refuse(
            both(
                "a case in '{state}' is past the states that may move to {to} ({movable}); it "
                "finishes under {finishes}",
                state=state_both(old, case.state),
                to=shown(migration.to_version, migration.to_revision),
                movable=", ".join(source for source, _ in migration.states),
                finishes=shown(old.version, old.revision),
            )
        )
    return target


def _check_rules(
    migration: Migration,
    refuse: _Refuser,
    new: Procedure,
    case: Case,
    old: Procedure,
    actor: Actor,
    store: ReadOnlyStore,
    now: datetime,
) -> None:
    """Who may migrate and under which guards: the judge's answer, raised."""
    verdict = judge_migration(
        old,
        migration.ordered_by(new),
        migration.guards,
        actor=actor,
        facts=case.facts,
        context=lambda: GuardContext(old, case, case.facts, actor, MIGRATE, {}, now, store),
    )
    for refusal in verdict.refusals:
        if isinstance(refusal, GuardsFailed):
            rules = Label(
                " ; ".join(f"{g.name} « {g.fr} »" for g in refusal.failed),
                "; ".join(f"{g.name} '{g.en}'" for g in refusal.failed),
            )
            raise refuse(both("rules not met: {rules}", rules=rules))
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


def declared_migration(
    registry: Registry, previous: Record, record: Record
) -> tuple[Migration, Procedure, Procedure] | None:
    """The migration a stored ``migrate`` ``record`` followed from the ``previous`` record,
    with the revisions it left and reached (read from the records' fingerprints); ``None`` when
    either fingerprint is unknown or no such migration is declared."""
    old = registry.by_fingerprint(previous.fingerprint)
    new = registry.by_fingerprint(record.fingerprint)
    if old is None or new is None:
        return None
    migration = registry.migration_between(old, new)
    return None if migration is None else (migration, old, new)


def replay_problems(
    registry: Registry,
    previous: Record,
    state: str | None,
    facts: Mapping[str, Any],
    record: Record,
) -> list[str]:
    """What is wrong with a stored ``migrate`` record, given the replay so far (empty: legal)."""
    declared = declared_migration(registry, previous, record)
    if declared is None or previous.name != record.name:
        return [
            f"migration {_pinned_key(registry, previous)} -> {_pinned_key(registry, record)} "
            "is not declared"
        ]
    migration, old, new = declared
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
    expected = _revision_fields(old, new)
    if {key: payload.get(key) for key in _REVISION_KEYS} != {
        key: expected.get(key) for key in _REVISION_KEYS
    }:
        problems.append(
            f"migration payload names other revisions than the records' fingerprints "
            f"({old.revision_key} -> {new.revision_key})"
        )
    return problems


def _pinned_key(registry: Registry, record: Record) -> str:
    """``name@version`` of a record, with its revision from 2 on when its fingerprint is known."""
    procedure = registry.by_fingerprint(record.fingerprint)
    if procedure is not None and (procedure.name, procedure.version) == (
        record.name,
        record.version,
    ):
        return procedure.revision_key
    return f"{record.name}@{record.version}"
