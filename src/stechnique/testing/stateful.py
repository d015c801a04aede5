"""A hypothesis state machine generated from any ``Procedure``: the same checks for every one.

``procedure_machine(procedure)`` returns a ``RuleBasedStateMachine`` whose rules start cases and
fire events on several cases at once, legal or not: any event, by any actor holding any roles,
with payloads valid or broken, stale ``expected_seq``, reused idempotency keys, while a clock
moves forward by arbitrary steps. Half of the steps are steered towards progress (an event the
case's state allows, an actor with an allowed role, a valid payload the engine would accept), so
deep states are reached. After every step it checks invariants 1–7 against what the store holds
(see ``stechnique.testing.store_problems``); a refused command must leave the store byte for byte
unchanged. With ``reference_factory`` every command also runs on a second store and both must
hold the same records, hash for hash::

    Machine = procedure_machine(my_procedure, storage_factory=lambda: MyStorage(...))
    TestMyProcedure = Machine.TestCase  # settings: Machine.TestCase.settings = settings(...)
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import attrs
from hypothesis import HealthCheck, Phase, event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from stechnique.clock import ManualClock
from stechnique.definition import (
    ANY_ACTIVE,
    GuardContext,
    Invariant,
    Procedure,
    ReadOnlyStore,
    Transition,
)
from stechnique.engine import Engine
from stechnique.errors import InvalidData, StechniqueError, UnknownCase
from stechnique.records import SALT_SOURCE, Actor, Case, Record, canonical_json, converter
from stechnique.registry import Registry
from stechnique.schema import Field, validate
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage
from stechnique.testing._checks import Withheld, snapshot, store_problems
from stechnique.testing.strategies import (
    DEFAULT_ACTOR_IDS,
    actors,
    actors_with,
    clock_steps,
    data,
    invalid_data,
)

__all__ = [
    "EPOCH",
    "HEAD_START",
    "Fire",
    "MachineConfig",
    "ProcedureMachine",
    "Read",
    "Start",
    "procedure_machine",
]

#: The most progress steps a run makes before its rules start (see ``open_first_case``).
HEAD_START = 40
#: Where the machine's clock starts: aware UTC, with microseconds.
EPOCH = datetime(2015, 1, 5, 9, 0, 0, 250_000, tzinfo=UTC)


@attrs.frozen
class Start:
    """Open case ``case`` as ``actor`` with ``facts`` (``valid`` says what was generated)."""

    case: str
    actor: Actor
    facts: Any
    valid: bool = True


@attrs.frozen
class Fire:
    """Fire ``event`` on ``case`` as ``actor`` with ``payload``.

    ``valid`` says whether the payload was drawn valid for one of the event's schemas; an
    accepted fire is checked against the schema of the step it actually took.
    """

    case: str
    event: str
    actor: Actor
    payload: Any
    valid: bool = True
    expected_seq: int | None = None
    idempotency_key: str | None = None


@attrs.frozen
class Read:
    """Read the history of ``case`` as ``viewer``."""

    case: str
    viewer: Actor


class MachineConfig:
    """What a generated machine runs: the procedure, its stores, its actors and cases.

    A plain class with a short ``repr``: hypothesis prints the strategies built from it.
    """

    def __init__(
        self,
        procedure: Procedure,
        registry: Registry,
        storage_factory: Callable[[], Storage],
        reference_factory: Callable[[], Storage] | None,
        invariants: tuple[Invariant, ...],
        withheld: tuple[Withheld, ...],
        actor_ids: tuple[str, ...],
        case_ids: tuple[str, ...],
        words: tuple[str, ...],
    ) -> None:
        self.procedure = procedure
        self.registry = registry
        self.storage_factory = storage_factory
        self.reference_factory = reference_factory
        self.invariants = invariants
        self.withheld = withheld
        self.actor_ids = actor_ids
        self.case_ids = case_ids
        self.words = words

    def __repr__(self) -> str:
        return f"MachineConfig({self.procedure.key})"


_Outcome = tuple[str, str]


class ProcedureMachine(RuleBasedStateMachine):
    """The generic machine; ``procedure_machine`` makes one subclass per procedure."""

    config: ClassVar[MachineConfig]
    #: For each state, in how many runs a case reached it (coverage across the whole test).
    reached: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        config = self.config
        self.clock = ManualClock(EPOCH)
        self.engine = Engine(config.storage_factory(), config.registry, self.clock)
        self.reference: Engine | None = None
        if config.reference_factory is not None:
            self.reference = Engine(config.reference_factory(), config.registry, self.clock)
        self.states_reached: set[str] = set()
        self.deepest = 0
        self.sound: set[str] = set()
        # Each command salts its confidential values alike in both stores (``_salted``).
        self._commands = 0

    def teardown(self) -> None:
        """Close the stores and report which states this run reached."""
        for engine in (self.engine, self.reference):
            if engine is not None:
                engine.storage.close()
        for state in sorted(self.states_reached):
            event(f"reached {state}")
        type(self).reached.update(self.states_reached)
        event(f"longest history: {self.deepest // 5 * 5}+ records")

    # -- commands -------------------------------------------------------------------------

    def start(self, command: Start) -> None:
        """Apply a ``Start`` command to every store."""
        procedure = self.config.procedure
        self._apply(
            command,
            lambda engine: engine.start(
                procedure.name,
                version=procedure.version,
                actor=command.actor,
                facts=command.facts,
                case_id=command.case,
            ),
        )

    def fire(self, command: Fire) -> None:
        """Apply a ``Fire`` command to every store."""
        self._apply(
            command,
            lambda engine: engine.fire(
                command.case,
                command.event,
                actor=command.actor,
                payload=command.payload,
                expected_seq=command.expected_seq,
                idempotency_key=command.idempotency_key,
            ),
        )

    def tick(self, step: timedelta) -> None:
        """Move the clock forward."""
        self.clock.advance(step)

    def read(self, command: Read) -> None:
        """Read a history as a viewer: every store shows the same thing."""

        def call(engine: Engine) -> object:
            return engine.history(command.case, command.viewer)

        seen = [_outcome(call, self.engine)]
        if self.reference is not None:
            seen.append(self._reference_call(call))
        assert all(one == seen[0] for one in seen), f"stores disagree on {command}: {seen}"

    def _reference_call(self, call: Callable[[Engine], object]) -> _Outcome:
        assert self.reference is not None
        return _outcome(call, self.reference)

    def open_first_case(self, data_: st.DataObject) -> None:
        """Every run opens a case, then makes a few steps of progress (checked one by one).

        Hypothesis may switch the progress rules off for a whole run (swarm testing); this
        head start, which no switch reaches, still takes such runs to deep states.
        """
        self.start(self._good_start(self.config.case_ids[0], data_))
        for _ in range(data_.draw(st.integers(0, HEAD_START), label="head start")):
            self.check_store()
            self.make_progress(data_)

    def make_progress(self, data_: st.DataObject) -> None:
        """Make progress: a new case, or an event the case's state allows, as it would pass."""
        stored = {case.id: case for case in self._steering.storage.cases()}
        live = [c for c in stored.values() if not self.config.procedure.state(c.state).terminal]
        free = [case_id for case_id in self.config.case_ids if case_id not in stored]
        # One step in six opens another case: the middle value, so that shrinking (towards 0)
        # opens no more cases than the failure needs.
        if free and (not live or data_.draw(st.integers(0, 5), label="open another (3)") == 3):
            self.start(self._good_start(free[0], data_))
            return
        if live:
            # Longest history first: hypothesis favours the head of a list, so cases go deep.
            ids = [c.id for c in sorted(live, key=lambda c: (-c.seq, c.id))]
            case = stored[data_.draw(st.sampled_from(ids), label="case")]
            command = self._good_fire(case, data_)
            if command is None:
                # Nothing moves this case now: let time pass (guards may wait for a date).
                self.tick(data_.draw(clock_steps(), label="nothing to do, time passes"))
            else:
                self.fire(command)

    def _good_fire(self, case: Case, data_: st.DataObject) -> Fire | None:
        moves = self._moves(case)
        procedure = self.config.procedure
        records = self._steering.storage.records(case.id)
        visited = {record.target for record in records}
        # One step in forty may end the case; the middle value, which hypothesis draws least.
        end = data_.draw(st.integers(0, 39), label="may end the case (20)") == 20
        weighted = _weighted(procedure, case.state, sorted(moves), visited, end)
        if not weighted:
            return None
        name = data_.draw(st.sampled_from(weighted), label="event")
        actor = data_.draw(st.sampled_from(moves[name]), label="actor")
        transition = procedure.transition(case.state, name)
        assert transition is not None
        payloads = data(transition.payload, self.config.words)
        for _ in range(3):
            payload = data_.draw(payloads, label="payload")
            if self._steering.explain(case.id, name, actor, payload).allowed:
                break
        # Now and then the command names the seq it expects (current or stale) or carries an
        # idempotency key (new, replayed, or reused for another command).
        expected = data_.draw(st.sampled_from(_EXPECTED), label="expected seq")
        key = data_.draw(st.sampled_from(_KEYS), label="idempotency key")
        expected_seq = None if expected is None else case.seq - expected
        return Fire(case.id, name, actor, payload, True, expected_seq, key)

    def _good_start(self, case_id: str, data_: st.DataObject) -> Start:
        """A start with valid facts by an allowed role, that the start guards accept if they can."""
        procedure = self.config.procedure
        starts = _good_starts(self.config, case_id)
        for _ in range(4):
            command = data_.draw(starts, label="start")
            context = GuardContext(
                procedure,
                None,
                command.facts,
                command.actor,
                "start",
                command.facts,
                self.clock(),
                ReadOnlyStore(self._steering.storage),
            )
            if all(procedure.guard(name).check(context) for name in procedure.start_guards):
                break
        return command

    def _moves(self, case: Case) -> dict[str, list[Actor]]:
        """The events the engine would accept now, each with the actors it would accept.

        Actors are each id with each role the state's events allow; payload guards are not
        judged yet (the payload is drawn afterwards). An event that stays in the state and was
        already fired by that actor since the case entered it is left out: steering would
        otherwise go round in circles.
        """
        procedure = self.config.procedure
        roles: set[str] = set()
        for name in procedure.events_from(case.state):
            transition = procedure.transition(case.state, name)
            assert transition is not None
            roles.update(procedure.allowed_roles(transition.roles, case.facts))
        done = _loops_done(self._steering.storage.records(case.id), case.state)
        moves: dict[str, list[Actor]] = {}
        for actor_id in self.config.actor_ids:
            for role in sorted(roles):
                actor = Actor(actor_id, frozenset([role]))
                try:
                    allowed = self._steering.available_events(case.id, actor)
                except UnknownCase:
                    continue  # not a party of this case: it may do nothing here
                for name in allowed:
                    if (name, actor_id) not in done:
                        moves.setdefault(name, []).append(actor)
        return moves

    @property
    def _steering(self) -> Engine:
        # Steering and checks only read: the reference store (in memory) answers fastest, and
        # the store under test is compared with it after every step.
        return self.reference if self.reference is not None else self.engine

    def _apply(self, command: Start | Fire, call: Callable[[Engine], object]) -> None:
        # With a reference store, invariant 6 is judged on it, and the stores are compared
        # after every step: one full read of the store under test per step, not two.
        judged = self._steering
        before = snapshot(judged.storage)
        self._commands += 1
        outcome = _salted(self._commands, lambda: _outcome(call, self.engine))
        if self.reference is not None:
            other = _salted(self._commands, lambda: self._reference_call(call))
            assert outcome == other, f"stores disagree on {command}: {outcome} != {other}"
        note(f"{command!r} -> {outcome[0]}: {outcome[1]}")
        if outcome[0] == "refused":
            after = snapshot(judged.storage)
            assert after == before, f"refused {command!r} changed the store (invariant 6)"
            return
        case = judged.storage.get(command.case)
        assert case is not None
        assert _accepts(self.config.procedure, command, judged.storage), (
            f"{command!r} was accepted although its data is invalid"
        )
        self.states_reached.add(case.state)
        self.deepest = max(self.deepest, case.seq)

    # -- invariants -----------------------------------------------------------------------

    def check_store(self) -> None:
        """Invariants 1–7 on the whole store; the reference store holds the very same."""
        config = self.config
        problems = store_problems(self._steering, config.invariants, self.sound, config.withheld)
        assert not problems, "\n".join(problems)
        if self.reference is not None:
            ours, theirs = snapshot(self.engine.storage), snapshot(self.reference.storage)
            assert ours == theirs, "the two stores hold different cases or records"


def _salted(command: int, run: Callable[[], _Outcome]) -> _Outcome:
    """``run()`` drawing its salts from a sequence fixed by the command's number: the store
    under test and the reference store salt the same command alike, and hold the same bytes."""
    drawn = iter(range(1, 1_000_000))
    token = SALT_SOURCE.set(lambda: f"{command:016x}{next(drawn):016x}")
    try:
        return run()
    finally:
        SALT_SOURCE.reset(token)


def _outcome(call: Callable[[Engine], object], engine: Engine) -> _Outcome:
    """What a command did, comparable across stores: its result, or the error it raised."""
    try:
        result = call(engine)
    except StechniqueError as error:
        return ("refused", f"{type(error).__name__}: {error}")
    if isinstance(result, Case):
        return ("done", f"{result.state} seq {result.seq} head {result.head[:12]}")
    # The canonical form, not the repr: a frozenset of roles prints in an order that depends on
    # how the set was built, and a store may rebuild it another way.
    return ("done", canonical_json(converter.unstructure(result)))


def _loops_done(records: Sequence[Record], state: str) -> set[tuple[str, str]]:
    """(event, actor id) of the records that stayed in ``state`` since the case entered it."""
    done: set[tuple[str, str]] = set()
    for record in reversed(records):
        if record.source != state or record.target != state:
            break
        done.add((record.event, record.actor.id))
    return done


def _weighted(
    procedure: Procedure, state: str, names: Sequence[str], visited: set[str], end: bool
) -> list[str]:
    """The events steering draws from: to a new state 4 times, back to a visited one once.

    Events to new states come first, the farthest from an end first.

    Exits open from every state (``withdraw``, ``abandon``) end the case, and steering is
    there to go deep: they are offered only when ``end`` (one step in forty), and then alone.
    Hypothesis draws the head of a list most: it holds an event to a new state if there is one.
    """
    new, back, exits = [], [], []
    for name in names:
        transitions = procedure.candidates(state, name)
        if all(
            t.sources == (ANY_ACTIVE,) and procedure.state(t.target).terminal for t in transitions
        ):
            exits.append(name)
        elif all(t.target in visited for t in transitions):
            back.append(name)
        else:
            new.append(name)
    if end and exits:
        return exits
    # Farthest from an end first: closing straight away would skip the states in between.
    distance = _distance_to_end(procedure)
    new.sort(key=lambda name: -max(distance[t.target] for t in procedure.candidates(state, name)))
    return [name for name in new for _ in range(4)] + back


@functools.cache
def _distance_to_end(procedure: Procedure) -> dict[str, int]:
    """For each state, the fewest transitions to a terminal state."""
    distance = {state.id: 0 for state in procedure.states if state.terminal}
    changed = True
    while changed:
        changed = False
        for transition in procedure.transitions:
            if transition.target not in distance:
                continue
            for source in procedure.sources_of(transition):
                if distance.get(source, len(procedure.states)) > distance[transition.target] + 1:
                    distance[source] = distance[transition.target] + 1
                    changed = True
    return distance


def _payload_schemas(procedure: Procedure, name: str) -> list[tuple[Field, ...]]:
    """The distinct payload schemas of ``name``: one event may carry different payloads from
    different states."""
    schemas = {t.payload: None for t in procedure.transitions if t.event == name}
    return list(schemas) or [()]


def _accepts(procedure: Procedure, command: Start | Fire, storage: Storage) -> bool:
    """Whether accepted data was valid: start facts as drawn, a payload for the step taken."""
    if isinstance(command, Start):
        return command.valid
    last = storage.records(command.case)[-1]  # the step this fire took, or a later one
    if command.idempotency_key is not None and last.idempotency_key != command.idempotency_key:
        return True  # a replayed key returns the first result: this payload was not applied
    taken = procedure.candidates(last.source or "", last.event)
    try:
        validate(taken[0].payload if taken else (), command.payload, "payload")
    except InvalidData:
        return False
    return True


@functools.cache
def _good_starts(config: MachineConfig, case_id: str) -> st.SearchStrategy[Start]:
    # Cached: strategies built anew at every step cost more to validate than to draw.
    return _draw_good_start(config, case_id)


@st.composite
def _draw_good_start(draw: st.DrawFn, config: MachineConfig, case_id: str) -> Start:
    procedure = config.procedure
    facts = draw(data(procedure.facts, config.words))
    roles = sorted(procedure.allowed_roles(procedure.start_roles, facts))
    return Start(case_id, draw(actors_with(roles, config.actor_ids)), facts)


@st.composite
def _any_starts(draw: st.DrawFn, config: MachineConfig) -> Start:
    procedure = config.procedure
    valid = draw(st.booleans())
    facts = draw((data if valid else invalid_data)(procedure.facts, config.words))
    roles = [role.id for role in procedure.roles]
    actor = draw(actors(roles, config.actor_ids))
    return Start(draw(st.sampled_from(config.case_ids)), actor, facts, valid)


@st.composite
def _any_fires(draw: st.DrawFn, config: MachineConfig) -> Fire:
    procedure = config.procedure
    name = draw(st.sampled_from(_any_events(procedure)))
    schema = draw(st.sampled_from(_payload_schemas(procedure, name)))
    valid = draw(st.booleans())
    payload = draw((data if valid else invalid_data)(schema, config.words))
    actor = draw(actors([role.id for role in procedure.roles], config.actor_ids))
    return Fire(
        draw(st.sampled_from(config.case_ids)),
        name,
        actor,
        payload,
        valid,
        draw(st.none() | st.integers(0, 30)),
        draw(st.none() | st.sampled_from(("k1", "k2"))),
    )


def _any_events(procedure: Procedure) -> list[str]:
    """Every event name, plus two no procedure allows; exits in the middle (drawn least)."""
    terminal = {state.id for state in procedure.states if state.terminal}
    names = sorted({t.event for t in procedure.transitions})
    exits = [name for name in names if all(t.target in terminal for t in _all(procedure, name))]
    others = [name for name in names if name not in exits]
    middle = len(others) // 2
    return ["no_such_event", *others[:middle], *exits, *others[middle:], "start"]


def _all(procedure: Procedure, name: str) -> list[Transition]:
    return [t for t in procedure.transitions if t.event == name]


def _viewers(config: MachineConfig) -> st.SearchStrategy[Read]:
    roles = [role.id for role in config.procedure.roles]
    return st.builds(Read, st.sampled_from(config.case_ids), actors(roles, config.actor_ids))


def procedure_machine(
    procedure: Procedure,
    storage_factory: Callable[[], Storage] = MemoryStorage,
    registry: Registry | None = None,
    *,
    reference_factory: Callable[[], Storage] | None = None,
    invariants: Sequence[Invariant] = (),
    withheld: Sequence[Withheld] = (),
    actor_ids: Sequence[str] = DEFAULT_ACTOR_IDS,
    cases: int = 4,
    words: Sequence[str] | None = None,
) -> type[ProcedureMachine]:
    """A state machine for ``procedure``, each run on a fresh store from ``storage_factory``.

    ``registry`` must hold ``procedure`` (it is added to a new registry when ``None``).
    ``reference_factory`` adds a second store every command also runs on (a differential test).
    ``invariants`` are checked on top of those the procedure declares, and ``withheld``
    confidentiality claims on top of its confidentiality rules. Actors are drawn from
    ``actor_ids``, cases are ``case-0`` ... ``case-{cases - 1}``, and text fields mostly from
    ``words`` (default: the actor ids).
    """
    if registry is None:
        registry = Registry((procedure,))
    if registry.by_fingerprint(procedure.fingerprint) is None:
        raise ValueError(f"the registry does not hold {procedure.key} as given")
    ids = tuple(actor_ids)
    config = MachineConfig(
        procedure,
        registry,
        storage_factory,
        reference_factory,
        tuple(invariants),
        tuple(withheld),
        ids,
        tuple(f"case-{n}" for n in range(cases)),
        tuple(words) if words is not None else ids,
    )
    namespace = {
        "config": config,
        "reached": Counter(),
        "start": rule(command=_any_starts(config))(ProcedureMachine.start),
        "fire": rule(command=_any_fires(config))(ProcedureMachine.fire),
        # Eight rules for progress against four for everything else: most steps move on.
        # Hypothesis switches rules off by name for whole runs (swarm testing); with eight
        # names, a run without progress is rare (one in nine) instead of common.
        **{name: _progress_rule(name) for name in _PROGRESS},
        "tick": rule(step=clock_steps())(ProcedureMachine.tick),
        "read": rule(command=_viewers(config))(ProcedureMachine.read),
        "open_first_case": initialize(data_=st.data())(ProcedureMachine.open_first_case),
        "check_store": invariant()(ProcedureMachine.check_store),
    }
    title = "".join(part.capitalize() for part in f"{procedure.name} {procedure.version}".split())
    machine: type[ProcedureMachine] = type(
        f"{_identifier(title)}Machine", (ProcedureMachine,), namespace
    )
    # For ``Machine.TestCase``: a run's smallest input is large by nature (health checks), and
    # the explain phase would trace hundreds of replays of a long run after a failure.
    machine.TestCase.settings = settings(
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[phase for phase in Phase if phase is not Phase.explain],
    )
    return machine


#: ``expected_seq`` of steered commands, as an offset back from the case's seq (None: unset).
_EXPECTED = (None, None, None, 0, 1)
_KEYS = (None, None, None, "k1", "k2")
_PROGRESS = (
    "advance",
    "carry_on",
    "continue_case",
    "go_ahead",
    "go_on",
    "move_on",
    "proceed",
    "progress",
)


def _progress_rule(name: str) -> Any:
    def step(self: ProcedureMachine, data_: st.DataObject) -> None:
        self.make_progress(data_)

    step.__name__ = step.__qualname__ = name
    step.__doc__ = ProcedureMachine.make_progress.__doc__
    return rule(data_=st.data())(step)


def _identifier(text: str) -> str:
    return "".join(char if char.isalnum() else "_" for char in text)
