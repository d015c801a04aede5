"""Whom an open case waits on, since when and by when; which cases are overdue under a policy.

Each procedure version declares, state by state, whom its open cases wait on (``Wait``,
attached outside the fingerprint: PROCEDURES.md, « Waiting, deadlines and reminders »). Who
that is on a given case is read from its definition and its history only
(``waiting_on``): the bodies bound to a party of the case (its manager, its provider, each
consulted funder that has not decided yet...), or a coordinating role (the CAF coordinator, the
DLA officers). How long a case may wait is not in the sources (but for the 2013 evaluation's
due date): it is the deployment's ``Policy``. Nothing here ever decides whether an event may
fire: waiting and deadlines only inform the people who coordinate.

The engine answers for a viewer, about the cases it may see only (``Engine.waiting``,
``Engine.overdue``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import attrs

from stechnique.definition import Answered, Binding, Bound, Each, Fired, Procedure, Wait
from stechnique.errors import ArgumentProblem, InvalidArgument
from stechnique.parties import parties_of
from stechnique.records import Case, Parties, Record
from stechnique.workflows import _rules

__all__ = [
    "Limit",
    "Overdue",
    "Policy",
    "Waited",
    "Waiting",
    "overdue",
    "waiting_on",
]


@attrs.frozen
class Waited:
    """One body or coordinating role an open case waits on, and since when.

    :ivar party: the party of the case waited on (``None`` for a coordinating role).
    :ivar body: the body bound to that party; ``None`` while no body is bound to it yet (a
        revision-1 2013 case's steering committee is known once it has arbitrated).
    :ivar role: the coordinating role waited on (``None`` for a party).
    :ivar since: since when the case waits on it (aware, UTC).
    """

    party: str | None
    body: str | None
    role: str | None
    since: datetime

    @property
    def who(self) -> str:
        """The body, else the role, else the party: what a reader is shown."""
        return self.body or self.role or self.party or ""


@attrs.frozen
class Waiting:
    """Whom an open case waits on (``on``, possibly several) and the date it is due, if any.

    A closed case, or one in a state its version declares no wait for, waits on nobody.
    """

    case_id: str
    name: str
    version: str
    fingerprint: str
    state: str
    on: tuple[Waited, ...] = ()
    due: date | None = None

    @property
    def since(self) -> datetime | None:
        """Since when the case has waited on someone: the earliest of ``on``."""
        return min((waited.since for waited in self.on), default=None)

    def bodies(self) -> frozenset[str]:
        """The bodies waited on."""
        return frozenset(w.body for w in self.on if w.body is not None)

    def roles(self) -> frozenset[str]:
        """The coordinating roles waited on."""
        return frozenset(w.role for w in self.on if w.role is not None)

    def waits_on(self, who: str) -> bool:
        """Whether the case waits on the body or the coordinating role ``who``."""
        return who in self.bodies() or who in self.roles()


def waiting_on(procedure: Procedure, case: Case, records: Sequence[Record]) -> Waiting:
    """Whom ``case`` (pinned to ``procedure``, with its ``records`` in seq order) waits on.

    Since when: the record that entered the state; for « each funder without a decision », the
    record that consulted that funder; for the one waited on next (« then the CAF
    coordinator »), the record after which the first ones no longer were (the last decision,
    the provider's binding, the step's submission). A case row without parties (upgraded from
    before them) has them read from ``records`` with ``procedure``'s rules.
    """
    nobody = Waiting(case.id, case.name, case.version, case.fingerprint, case.state)
    wait = procedure.wait(case.state)
    if wait is None or procedure.state(case.state).terminal or not records:
        return nobody
    parties = case.parties or parties_of(records, lambda _: procedure)
    entered = max(_rules.entered_at(records, case.state), 0)
    on = _waited(procedure, wait, parties, records, entered)
    return attrs.evolve(nobody, on=on, due=_due(wait, records))


def _waited(
    procedure: Procedure, wait: Wait, parties: Parties, records: Sequence[Record], entered: int
) -> tuple[Waited, ...]:
    start = records[entered].at
    until = wait.until
    if until is None:
        return _named(procedure, wait.on, parties, start)
    after = records[entered:]
    if isinstance(until, Answered):
        party = wait.on[0]
        pending = _unanswered(procedure, parties, party, until.event, records, entered)
        if pending:
            return pending
        moved = _latest(after, lambda r: r.event == until.event or _binds(procedure, r, party))
        return _named(procedure, wait.then, parties, moved or start)
    if isinstance(until, Bound):
        if not parties.bodies(until.party):
            return _named(procedure, wait.on, parties, start)
        moved = _latest(after, lambda r: _binds(procedure, r, until.party))
        return _named(procedure, wait.then, parties, moved or start)
    if isinstance(until, Each):
        return _each(procedure, wait, until, parties, records, entered)
    return _fired(procedure, wait, until, parties, after)


def _each(
    procedure: Procedure,
    wait: Wait,
    until: Each,
    parties: Parties,
    records: Sequence[Record],
    entered: int,
) -> tuple[Waited, ...]:
    # « each action's consultant for its open actions; esia_officer when none is open »: an
    # open action nobody is assigned to waits on ``then`` too (whoever assigns it).
    found: dict[tuple[str | None, str | None, str | None], datetime] = {}
    for body, index in until.open(records):
        since = records[max(entered, entered if index is None else index)].at
        if body is None:
            items = _named(procedure, wait.then, parties, since)
        else:
            items = (Waited(wait.on[0], body, None, since),)
        for item in items:
            key = (item.party, item.body, item.role)
            found[key] = min(since, found.get(key, since))
    if not found:
        # None open: the wait moved on when the last one was completed or cancelled.
        return _named(procedure, wait.then, parties, records[-1].at)
    ordered = sorted(found.items(), key=lambda item: (item[1], str(item[0])))
    return tuple(Waited(party, body, role, since) for (party, body, role), since in ordered)


def _fired(
    procedure: Procedure, wait: Wait, until: Fired, parties: Parties, after: Sequence[Record]
) -> tuple[Waited, ...]:
    # « rework » sends the step back: the first ones are waited on again from then.
    reset = max((i for i, r in enumerate(after) if i and r.event in until.reset_by), default=0)
    fired = [r for r in after[reset + 1 :] if r.event == until.event]
    if fired:
        return _named(procedure, wait.then, parties, fired[-1].at)
    return _named(procedure, wait.on, parties, after[reset].at)


def _named(
    procedure: Procedure, names: Iterable[str], parties: Parties, since: datetime
) -> tuple[Waited, ...]:
    """Each of ``names``: a party's bodies (or the party itself, none bound yet), or a role."""
    found: list[Waited] = []
    for name in names:
        if procedure.party(name) is None:
            found.append(Waited(None, None, name, since))
            continue
        bodies = sorted(parties.bodies(name))
        found += [Waited(name, body, None, since) for body in bodies] or [
            Waited(name, None, None, since)
        ]
    return tuple(found)


def _unanswered(
    procedure: Procedure,
    parties: Parties,
    party: str,
    event: str,
    records: Sequence[Record],
    entered: int,
) -> tuple[Waited, ...]:
    """The bodies of ``party`` that have not fired ``event`` since they were bound to it,
    each since the record that bound it (a redrawn plan asks every funder again)."""
    pending = []
    for body in sorted(parties.bodies(party)):
        bound = _latest_index(records, _binding_of(procedure, party, body))
        since = entered if bound is None else bound
        answered = any(r.event == event and r.actor.acts_for == body for r in records[since + 1 :])
        if not answered:
            pending.append(Waited(party, body, None, records[since].at))
    return tuple(pending)


def _binding_of(procedure: Procedure, party: str, body: str) -> Callable[[Record], bool]:
    """Whether a record binds ``body`` to ``party``."""
    return lambda record: body in _bodies_bound(procedure, record, party)


def _binds(procedure: Procedure, record: Record, party: str) -> bool:
    return any(p == party for p, _ in procedure.bindings(record.event))


def _bodies_bound(procedure: Procedure, record: Record, party: str) -> set[str]:
    """The bodies ``record`` binds to ``party`` (sets or adds; a removal binds none)."""
    bound: set[str] = set()
    for name, binding in procedure.bindings(record.event):
        if name == party and binding.how != "remove":
            bound.update(_bodies(binding, record))
    return bound


def _bodies(binding: Binding, record: Record) -> list[str]:
    # As ``stechnique.parties`` reads a binding: the actor's body, or the payload's field.
    if binding.field is None:
        return [record.actor.acts_for]
    value = record.payload.get(binding.field)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _latest_index(records: Sequence[Record], test: Callable[[Record], bool]) -> int | None:
    return next((i for i in range(len(records) - 1, -1, -1) if test(records[i])), None)


def _latest(records: Sequence[Record], test: Callable[[Record], bool]) -> datetime | None:
    index = _latest_index(records, test)
    return None if index is None else records[index].at


def _due(wait: Wait, records: Sequence[Record]) -> date | None:
    """The due date the history gives the state (``Wait.due``), if any."""
    due = wait.due
    if due is None:
        return None
    for record in reversed(records):
        value = record.payload.get(due.field) if record.event == due.event else None
        if value is None:
            continue
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            return None  # the schema checked it when recorded: only a foreign value lands here
        return _years_before(day, due.years_before)
    return None


def _years_before(day: date, years: int) -> date:
    # 29 February has no twin in a common year: the 28th is the same « un an avant ».
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# -- how long a case may wait: the deployment's policy ---------------------------------------


def _problem(name: str, fr: str, en: str) -> InvalidArgument:
    return InvalidArgument([ArgumentProblem(name, fr, en)])


def _delay(value: Any) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise _problem(
            "after",
            f"une durée positive ou nulle (timedelta) attendue, reçu {value!r}",
            f"expected a duration of zero or more (timedelta), got {value!r}",
        )
    return value


#: The longest wait a policy file may allow: about 270 years (a duration holds far more).
_MAX_DAYS = 100_000


@attrs.frozen
class Limit:
    """How long a case may wait in ``state`` before it is overdue: of every procedure, or only
    of ``name`` (and ``version``) when given."""

    state: str
    after: timedelta = attrs.field(converter=_delay)
    name: str | None = None
    version: str | None = None

    def matches(self, name: str, version: str, state: str) -> bool:
        """Whether the limit applies to a case of ``name@version`` in ``state``."""
        return (
            self.state == state and self.name in (None, name) and (self.version in (None, version))
        )


def _limits(value: Iterable[Limit]) -> tuple[Limit, ...]:
    limits = tuple(value)
    for limit in limits:
        if not isinstance(limit, Limit):
            raise _problem(
                "limits",
                f"des Limit attendues, reçu {limit!r}",
                f"expected Limit values, got {limit!r}",
            )
    return limits


@attrs.frozen
class Policy:
    """A deployment's waiting limits: per procedure (name, version) and state, how long a case
    may wait before it is overdue. The most specific limit that matches applies; a state no
    limit names is never overdue by the policy (a due date still applies). Firing never
    depends on it.
    """

    limits: tuple[Limit, ...] = attrs.field(default=(), converter=_limits)

    def limit(self, name: str, version: str, state: str) -> timedelta | None:
        """How long a case of ``name@version`` may wait in ``state``; ``None``: no limit."""
        matching = [limit for limit in self.limits if limit.matches(name, version, state)]
        if not matching:
            return None
        best = max(matching, key=lambda lim: (lim.name is not None) + (lim.version is not None))
        return best.after

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Policy:
        """A policy from plain data: ``{"limit": [{"state": ..., "days": 30, "name": ...,
        "version": ...}, ...]}`` (what ``load`` reads from TOML: ``[[limit]]`` tables)."""
        rows = data.get("limit", [])
        unknown = set(data) - {"limit"}
        if unknown or not isinstance(rows, list):
            raise _problem(
                "policy",
                f"une liste [[limit]] attendue, reçu {sorted(unknown) or rows!r}",
                f"expected a [[limit]] list, got {sorted(unknown) or rows!r}",
            )
        return cls(tuple(_limit(row) for row in rows))

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """A policy from a TOML file of ``[[limit]]`` tables (``state``, ``days``, optional
        ``name`` and ``version``)."""
        with Path(path).open("rb") as file:
            try:
                data = tomllib.load(file)
            except tomllib.TOMLDecodeError as error:
                raise _problem(
                    "policy", f"TOML illisible : {error}", f"unreadable TOML: {error}"
                ) from error
        return cls.from_data(data)


def _limit(row: Any) -> Limit:
    keys = {"state", "days", "name", "version"}
    if (
        not isinstance(row, dict)
        or not {"state", "days"} <= set(row) <= keys
        or not isinstance(row["state"], str)
        or isinstance(row["days"], bool)
        or not isinstance(row["days"], int | float)
        or not all(isinstance(row.get(k), str | None) for k in ("name", "version"))
        or not 0 <= row["days"] <= _MAX_DAYS
    ):
        raise _problem(
            "limit",
            f"une limite {{state, days[, name, version]}} attendue, reçu {row!r}",
            f"expected a limit {{state, days[, name, version]}}, got {row!r}",
        )
    return Limit(row["state"], timedelta(days=row["days"]), row.get("name"), row.get("version"))


@attrs.frozen
class Overdue:
    """An open case overdue at a given time: since when, and on whom it waits past its time
    (every one waited on, when the due date passed)."""

    waiting: Waiting
    since: datetime
    on: tuple[Waited, ...]


def overdue(waiting: Waiting, at: datetime, policy: Policy) -> Overdue | None:
    """Whether the case ``waiting`` describes is overdue at ``at``: one it waits on has waited
    longer than ``policy`` allows in its state, or its due date has passed (from the next day,
    midnight UTC). ``None`` when it is not."""
    limit = policy.limit(waiting.name, waiting.version, waiting.state)
    late = [] if limit is None else [w for w in waiting.on if w.since + limit <= at]
    moments = [w.since + limit for w in late] if limit is not None else []
    if waiting.due is not None:
        passed = datetime.combine(waiting.due + timedelta(days=1), time(), tzinfo=UTC)
        if passed <= at:
            moments.append(passed)
            late = list(waiting.on)
    if not moments:
        return None
    return Overdue(waiting, min(moments), tuple(late))
