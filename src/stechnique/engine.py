"""The ``Engine``: start cases, fire events, explain refusals, read histories.

Firing is one optimistic step: take the case (as the engine remembers it, else loaded), resolve
the event in its procedure version's transition table, check the actor's roles, the payload and
the guards, then append the record and the updated case in one atomic storage call that only
succeeds if the stored case is still where the record follows (seq, state and head). Any
refusal raises before anything is written.
"""

# The step is read from the table rather than by triggering the version's `transitions`
# machine: the engine must resolve the transition anyway (its roles, payload schema and guards
# decide whether it may fire), and a trigger on top repeated that decision for about 9 µs, a
# third of a fire. The machine stays the reference the table is checked against
# (_machine.py, docs/decisions.md).

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import attrs

from stechnique._arguments import MAX_NAME, Arguments
from stechnique._chain import case_after, next_step
from stechnique._histories import case_from_history, link_problems
from stechnique._judge import START, Verdict, judge
from stechnique._known_cases import KnownCases
from stechnique._machine import trigger
from stechnique._openings import links_back, opened_facts, step_taken, with_opened_id
from stechnique._values import copied, replaced
from stechnique.audit import AuditReport, audit
from stechnique.bodies import Bodies
from stechnique.clock import Clock, utc_now
from stechnique.definition import GuardContext, Opening, Procedure, ReadOnlyStore
from stechnique.errors import (
    ArgumentProblem,
    CaseIdTaken,
    ConcurrencyConflict,
    FieldProblem,
    GuardFailed,
    HistoryCorrupted,
    IdempotencyKeyReused,
    InvalidArgument,
    InvalidData,
    InvalidEvent,
    PermissionDenied,
    RevisionSuperseded,
    StechniqueError,
    StorageError,
    UnknownCase,
)
from stechnique.explanation import Explanation, reasons
from stechnique.feed import Changes, FeedReader, follow
from stechnique.i18n import Lang
from stechnique.migration import (
    MigrationPlan,
    MigrationRefusal,
    MigrationReport,
    plan_migration,
)
from stechnique.parties import NO_PARTIES, parties_of
from stechnique.records import GENESIS_HASH, Access, Actor, Case, Parties, Record
from stechnique.registry import Registry
from stechnique.schema import validate
from stechnique.storage.base import Feed, SignalsAppends, Sleeper, Storage
from stechnique.storage.memory import MemoryStorage
from stechnique.visibility import redact
from stechnique.waiting import Overdue, Policy, Waiting, overdue, waiting_on

__all__ = ["Engine"]

# The fields of a case row its history decides (the parties are compared apart: an upgraded
# row has none yet).
_ROW_FIELDS = (
    "name", "version", "fingerprint", "state", "seq", "facts", "created_at", "updated_at", "head",
)  # fmt: skip

# Refusals decided on a remembered case that a fresh read could decide otherwise.
_MAYBE_STALE = (
    ConcurrencyConflict,
    GuardFailed,
    InvalidData,
    InvalidEvent,
    PermissionDenied,
    UnknownCase,
)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _speaking(method: _Method) -> _Method:
    """``method``, whose errors speak the engine's language (``Engine(lang=...)``) if it has
    one: each error keeps both texts, only what ``str()`` shows is chosen."""

    @functools.wraps(method)
    def speaking(self: Engine, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StechniqueError as error:
            if self.lang is not None and error.lang is None:
                error.lang = self.lang
            raise

    return cast(_Method, speaking)


class Engine:
    """Runs procedures over a store: starts cases, fires events, reads and audits histories.

    ``storage`` defaults to a fresh ``MemoryStorage``, ``registry`` to the published procedures,
    ``clock`` to ``utc_now``. ``known_cases`` is how many cases the engine remembers as it last
    read or wrote them (default 1024; 0 to read the case before every fire): a fire on a
    remembered case skips that read, and stays correct when another process moved the case,
    because the append only applies on the exact state it follows (``docs/decisions.md``).
    ``bodies`` is the deployment's directory of body names (``stechnique.bodies.Bodies``), used
    wherever a refusal or a page names a body; by default only the known funders are named.

    ``lang`` (``fr`` or ``en``) is the language of what the engine says: the errors it raises
    show it with ``str()`` (they keep both texts) and its explanations are in it, unless a call
    says otherwise (``explain(lang=...)``). ``None``, the default, speaks the language in force
    (``stechnique.i18n.use_locale``, ``STECHNIQUE_LANG``, else French) when the text is read.
    """

    def __init__(
        self,
        storage: Storage | None = None,
        registry: Registry | None = None,
        clock: Clock | None = None,
        *,
        known_cases: int = 1024,
        bodies: Bodies | None = None,
        lang: Lang | str | None = None,
    ) -> None:
        check = Arguments()
        self.lang: Lang | None = check.lang("lang", lang)
        check.done()
        if registry is None:
            from stechnique.workflows import default_registry

            registry = default_registry()
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self.registry = registry
        self.clock: Clock = clock or utc_now
        self.bodies: Bodies = bodies if bodies is not None else Bodies()
        self._reader = ReadOnlyStore(self.storage)
        self._known = KnownCases(known_cases)
        # Whether every case row has its parties (none upgraded from before them is left):
        # found out by the first listing.
        self._all_indexed = False
        self._feed_reader = FeedReader(self.storage, self._procedure_of_record)

    # -- commands -------------------------------------------------------------------------

    @_speaking
    def start(
        self,
        name: str,
        *,
        actor: Actor,
        facts: Mapping[str, Any],
        version: str | None = None,
        case_id: str | None = None,
        revision: int | None = None,
    ) -> Case:
        """Open a case of ``name`` (latest version unless given) with its start facts.

        The case runs under the latest revision of the version: asking for an older
        ``revision`` is refused with ``RevisionSuperseded`` (an older revision only runs the
        cases already pinned to it).
        """
        check = Arguments()
        name = check.identifier("name", name, MAX_NAME)
        version = check.optional("version", version, MAX_NAME)
        actor = check.actor("actor", actor)
        facts = check.mapping("facts", facts)
        case_id = check.optional("case_id", case_id)
        revision = check.revision("revision", revision)
        check.done()
        procedure = self.registry.get(name, version, revision)
        if revision is not None and not self.registry.is_latest(procedure):
            latest = self.registry.get(name, procedure.version)
            raise RevisionSuperseded(name, procedure.version, revision, latest.revision)
        clock = _Once(self._now)
        verdict = self._judge_start(procedure, actor, facts, clock)
        verdict.raise_first(None)
        clean, now = verdict.payload, clock()
        record, case = next_step(
            None,
            procedure,
            case_id=case_id or str(uuid.uuid4()),
            event=START,
            target=procedure.initial.id,
            actor=actor,
            at=now,
            payload=clean,
        )
        self.storage.create(case, record)
        self._known.remember(case, procedure)
        return _detached(case)

    @_speaking
    def fire(
        self,
        case_id: str,
        event: str,
        *,
        actor: Actor,
        payload: Mapping[str, Any] | None = None,
        expected_seq: int | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Fire ``event`` on the case as ``actor``; return the case after it.

        With ``expected_seq`` the command fails with ``ConcurrencyConflict`` unless the case is
        still at that seq. With ``idempotency_key`` a command already applied returns the case
        as that first application left it, without appending again.

        A step that opens a case of another procedure (``Procedure.opens``: revision 2's
        ``transfer_to_dla``) opens it first, judged as its ``start`` by ``actor``, then appends
        the step naming it; if that second write is lost, the same command again (or
        ``finish_transfers``) finishes it, and the audit reports it until then.
        """
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        event = check.identifier("event", event, MAX_NAME)
        actor = check.actor("actor", actor)
        payload = check.optional_mapping("payload", payload)
        expected_seq = check.seq("expected_seq", expected_seq)
        idempotency_key = check.optional("idempotency_key", idempotency_key)
        check.done()
        known = self._known.get(case_id)
        if known is not None:
            try:
                after = self._fire(known, event, actor, payload, expected_seq, idempotency_key)
            except _MAYBE_STALE:
                # Decided on the remembered case, which another writer may have moved on:
                # nothing was written, so decide again on the stored one.
                self._known.forget(case_id)
            else:
                return _detached(after)
        loaded = self._load(case_id)
        return _detached(self._fire(loaded, event, actor, payload, expected_seq, idempotency_key))

    def _fire(
        self,
        loaded: tuple[Case, Procedure],
        event: str,
        actor: Actor,
        payload: Mapping[str, Any] | None,
        expected_seq: int | None,
        idempotency_key: str | None,
    ) -> Case:
        case, procedure = loaded
        # Most procedures open no other case: the attribute check spares the hot path a search.
        opening = procedure.opening(event) if procedure.opens else None
        if opening is not None:
            payload = with_opened_id(opening, case.id, payload)
        if idempotency_key is not None:
            done = self._replayed(case, procedure, event, actor, payload, idempotency_key)
            if done is not None:
                return done
        if expected_seq is not None and expected_seq != case.seq:
            raise ConcurrencyConflict(case.id, expected_seq, case.seq)
        target, clean, now = self._decide(case, procedure, event, actor, payload)
        record, after = next_step(
            case,
            procedure,
            event=event,
            target=target,
            actor=actor,
            at=now,
            payload=clean,
            idempotency_key=idempotency_key,
        )
        if not self._may_act(case, after, actor):
            # A step its rules allow by role alone (revision 1) is still no business of a body
            # that is not the case's: it acts only on a case it sees, or that its step makes
            # it a party of (a revision-1 provider acknowledging the rules).
            raise UnknownCase(case.id)
        if opening is not None:
            # Written first, so that a step whose own write is lost leaves a case that says so
            # (``_openings``); the step below is then the retry's, or ``finish_transfers``'.
            self._open(opening, case, actor, clean, now)
        try:
            self.storage.append(after, record)
        except ConcurrencyConflict:
            self._known.forget(case.id)
            if idempotency_key is not None:
                done = self._replayed(case, procedure, event, actor, payload, idempotency_key)
                if done is not None:
                    return done
            raise
        self._known.remember(after, procedure)
        return after

    def _may_act(self, case: Case, after: Case, actor: Actor) -> bool:
        """Whether ``actor`` sees ``case``, or will once its step is written (``after``)."""
        if self._parties(case).sees(actor):
            return True
        return after.parties is not None and after.parties.sees(actor)

    def _judge_start(
        self,
        procedure: Procedure,
        actor: Actor,
        facts: Mapping[str, Any],
        clock: Callable[[], datetime],
    ) -> Verdict:
        """Whether ``actor`` may open a case of ``procedure`` with ``facts`` (``start``, or a
        step that opens one), judged at the time ``clock`` gives."""
        return judge(
            procedure,
            state=None,
            event=START,
            actor=actor,
            facts=facts,
            payload=facts,
            context=lambda clean: self._context(
                procedure, None, clean, actor, START, clean, clock()
            ),
        )

    def _open(
        self, opening: Opening, case: Case, actor: Actor, payload: Mapping[str, Any], now: datetime
    ) -> None:
        """Open the case ``opening`` opens from ``case`` (judged as its ``start`` by ``actor``),
        unless an earlier try of the same step already did: then check it is that case."""
        opened_id = str(payload[opening.case_field])
        procedure = self.registry.get(opening.name, opening.version)
        facts = opened_facts(opening, case, self._parties(case), payload)
        verdict = self._judge_start(procedure, actor, facts, lambda: now)
        existing = self.storage.get(opened_id)
        if existing is None:
            verdict.raise_first(None)
            record, opened = next_step(
                None, procedure, case_id=opened_id, event=START, target=procedure.initial.id,
                actor=actor, at=now, payload=verdict.payload,
            )  # fmt: skip
            try:
                self.storage.create(opened, record)
            except CaseIdTaken:
                existing = self.storage.get(opened_id)  # a concurrent try of the same step
                if existing is None:
                    raise
            else:
                self._known.remember(opened, procedure)
                return
        if not links_back(opening, existing, case.id):
            raise CaseIdTaken(opened_id)
        if verdict.allowed and existing.facts != verdict.payload:
            raise InvalidData(
                f"payload of {opening.event}",
                [
                    FieldProblem(
                        "facts",
                        f"an earlier try opened case {opened_id} with other start facts: "
                        "give the same ones, or finish it with Engine.finish_transfers",
                    )
                ],
            )

    @_speaking
    def finish_transfers(self, *, actor: Actor) -> list[Case]:
        """Finish every half-done transfer: a case opened by a step (``transfer_to_dla``)
        whose own write was lost (``stechnique._openings``). The step is fired as ``actor``
        with the payload the opened case's start facts give back; each is judged as a fire
        is, and a refused one is left (the audit keeps reporting it). Returns the cases the
        steps moved (those ``actor`` finished)."""
        check = Arguments()
        actor = check.actor("actor", actor)
        check.done()
        finished = []
        for origin_procedure, opening in self._openings():
            for opened in self.storage.cases(name=opening.name, version=opening.version):
                link = opened.facts.get(opening.link_fact)
                origin = None if link is None else self.storage.get(str(link))
                if origin is None or (origin.name, origin.version) != (
                    origin_procedure.name,
                    origin_procedure.version,
                ):
                    continue
                if not links_back(opening, opened, origin.id) or step_taken(
                    opening, self.storage.records(origin.id), opened.id
                ):
                    continue
                try:
                    finished.append(
                        self.fire(
                            origin.id,
                            opening.event,
                            actor=actor,
                            payload=opening.payload_of(opened.facts),
                        )
                    )
                except StechniqueError:
                    continue
        return finished

    def _openings(self) -> list[tuple[Procedure, Opening]]:
        """Every ``Opening`` the registered procedures declare, with its procedure."""
        return [(procedure, opening) for procedure in self.registry for opening in procedure.opens]

    def _decide(
        self,
        case: Case,
        procedure: Procedure,
        event: str,
        actor: Actor,
        payload: Mapping[str, Any] | None,
    ) -> tuple[str, dict[str, Any], datetime]:
        """Where ``event`` by ``actor`` takes ``case``, with the clean payload and the time of
        the step; or the refusal (event, role, payload, guards), raised.

        The judge decides whether the step may be taken; the version's ``transitions`` machine
        decides where it goes (the payload picks among branches such as the 2013 arbitration).
        """
        clock = _Once(self._now)
        parties = self._parties(case)
        verdict = judge(
            procedure,
            state=case.state,
            event=event,
            actor=actor,
            facts=case.facts,
            payload=payload if payload is not None else {},
            context=self._context_factory(procedure, case, actor, event, clock),
            parties=parties,
            bodies=self.bodies,
        )
        if not verdict.allowed and not parties.sees(actor):
            # Whatever the refusal, it would tell an outsider something of the case.
            raise UnknownCase(case.id)
        verdict.raise_first(case.id)
        target = trigger(procedure, case.state, event, verdict.payload)
        if target is None:  # the table and the machine disagree: tests/test_machine.py forbids it
            raise InvalidEvent(case.id, event, case.state, procedure.events_from(case.state))
        return target, verdict.payload, clock()

    @_speaking
    def migrate(
        self,
        case_id: str,
        to_version: str,
        *,
        actor: Actor,
        facts: Mapping[str, Any] | None = None,
        reason: str,
        dry_run: bool = False,
        to_revision: int | None = None,
    ) -> MigrationPlan:
        """Move an open case to ``to_version`` (at ``to_revision``: its latest revision unless
        given) as declared by that revision's migration.

        ``to_version`` may be the case's own version: the case then moves to a later revision
        of it, and what its history established (consultations, decisions, acknowledgements,
        parties) still counts. A case only lands on the latest revision of a version. Appends
        one ``migrate`` record (earlier records stay as written) and returns what was done;
        with ``dry_run`` checks everything and returns what would be done, writing nothing.
        Refusals: ``MigrationRefused``, ``PermissionDenied``, ``InvalidData``.
        """
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        to_version = check.identifier("to_version", to_version, MAX_NAME)
        actor = check.actor("actor", actor)
        facts = check.optional_mapping("facts", facts)
        reason = check.text("reason", reason)
        dry_run = check.flag("dry_run", dry_run)
        to_revision = check.revision("to_revision", to_revision)
        check.done()
        self._known.forget(case_id)
        loaded = self._load(case_id)
        return self._migrated(loaded, to_version, to_revision, actor, facts, reason, dry_run)

    def _migrated(
        self,
        loaded: tuple[Case, Procedure],
        to_version: str,
        to_revision: int | None,
        actor: Actor,
        facts: Mapping[str, Any] | None,
        reason: str,
        dry_run: bool,
    ) -> MigrationPlan:
        """Plan the migration of a loaded case and, unless ``dry_run``, append it: one atomic
        append, so the case moves whole or not at all."""
        case, procedure = loaded
        try:
            plan = plan_migration(
                self.registry, self._reader, case, procedure, to_version,
                actor=actor, facts=facts, reason=reason, now=self._now(), to_revision=to_revision,
            )  # fmt: skip
        except StechniqueError:
            if not self._parties(case).sees(actor):
                raise UnknownCase(case.id) from None  # a refusal would tell of the case
            raise
        # A migration re-reads the parties with the new version's rules (``parties_of``).
        history = [*self.storage.records(case.id), plan.record]
        plan = attrs.evolve(
            plan,
            case=attrs.evolve(plan.case, parties=parties_of(history, self._procedure_of_record)),
        )
        if dry_run:
            return plan
        self.storage.append(plan.case, plan.record)
        self._known.forget(case.id)
        # The store may keep what it was given: the caller gets copies (see ``_detached``).
        record = replaced(plan.record, "payload", copied(plan.record.payload))
        return attrs.evolve(
            plan,
            applied=True,
            case=_detached(plan.case),
            record=record,
            facts=copied(plan.facts),
            carried=None if plan.carried is None else copied(plan.carried),
        )

    @_speaking
    def migrate_all(
        self,
        name: str,
        version: str,
        to_revision: int,
        *,
        actor: Actor,
        reason: str,
        facts: Mapping[str, Any] | None = None,
        dry_run: bool = True,
        from_revision: int | None = None,
    ) -> MigrationReport:
        """Move every open case of ``name@version`` pinned to an older revision than
        ``to_revision`` (only those of ``from_revision`` when given) to ``to_revision``: a dry
        run unless ``dry_run=False``.

        Each case is migrated as ``migrate`` would (``facts`` supplied to every one), by its
        own atomic append: a case refused (its state has no mapping, a rule not met, a
        concurrent writer...) is listed in the report with why and left as it was, and the
        others go on. Closed cases are not considered. ``UnknownProcedure`` when
        ``name@version`` has no revision ``to_revision``.
        """
        check = Arguments()
        name = check.identifier("name", name, MAX_NAME)
        version = check.identifier("version", version, MAX_NAME)
        wanted = check.revision("to_revision", to_revision, required=True)
        actor = check.actor("actor", actor)
        reason = check.text("reason", reason)
        facts = check.optional_mapping("facts", facts)
        dry_run = check.flag("dry_run", dry_run)
        from_revision = check.revision("from_revision", from_revision)
        check.done()
        target = self.registry.get(name, version, wanted)
        plans: list[MigrationPlan] = []
        refused: list[MigrationRefusal] = []
        for row in list(self.storage.cases(name=name, version=version)):
            try:
                loaded = self._load(row.id)
            except StechniqueError as error:  # pinned to a definition this registry lacks
                refused.append(MigrationRefusal(row.id, row.state, 0, error.label.both(), error))
                continue
            case, procedure = loaded
            if (
                procedure.state(case.state).terminal
                or procedure.revision >= target.revision
                or from_revision not in (None, procedure.revision)
            ):
                continue
            try:
                plan = self._migrated(
                    loaded, version, target.revision, actor, facts, reason, dry_run
                )
            except StechniqueError as error:
                refused.append(
                    MigrationRefusal(
                        case.id, case.state, procedure.revision, error.label.both(), error
                    )
                )
            else:
                plans.append(plan)
        return MigrationReport(
            name, version, target.revision, not dry_run, tuple(plans), tuple(refused)
        )

    # -- queries --------------------------------------------------------------------------

    @_speaking
    def case(self, case_id: str, viewer: Actor) -> Case:
        """The stored case (its fingerprint checked against the registry), as ``viewer`` may
        know it: ``UnknownCase`` unless the viewer is one of its parties or coordinators."""
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        viewer = check.actor("viewer", viewer)
        check.done()
        return _detached(self._seen(case_id, viewer)[0])

    @_speaking
    def procedure(self, name: str, version: str | None = None) -> Procedure:
        """A registered procedure version (the latest when ``version`` is None)."""
        check = Arguments()
        name = check.identifier("name", name, MAX_NAME)
        version = check.optional("version", version, MAX_NAME)
        check.done()
        return self.registry.get(name, version)

    @_speaking
    def available_events(self, case_id: str, actor: Actor) -> list[str]:
        """The events ``actor`` may fire now: roles, parties and guards evaluated.

        Guards that judge the payload cannot be decided without it and are not counted.
        ``UnknownCase`` for an actor who may not know of the case.
        """
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        actor = check.actor("actor", actor)
        check.done()
        case, procedure, parties = self._seen(case_id, actor)
        clock = _Once(self._now)
        return [
            event
            for event in procedure.events_from(case.state)
            if judge(
                procedure,
                state=case.state,
                event=event,
                actor=actor,
                facts=case.facts,
                payload=None,
                context=self._context_factory(procedure, case, actor, event, clock),
                parties=parties,
            ).allowed
        ]

    @_speaking
    def explain(
        self,
        case_id: str,
        event: str,
        actor: Actor,
        payload: Mapping[str, Any] | None = None,
        *,
        lang: Lang | str | None = None,
    ) -> Explanation:
        """Every reason ``event`` would be refused now for ``actor`` (empty when it would fire).

        Payload fields and payload guards are judged only when ``payload`` is given.
        ``UnknownCase`` for an actor who may not know of the case. ``lang`` says the
        explanation in that language (default: the engine's, else the language in force).
        """
        said = self.lang if lang is None else Arguments.one_lang(lang)
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        event = check.identifier("event", event, MAX_NAME)
        actor = check.actor("actor", actor)
        payload = check.optional_mapping("payload", payload)
        check.done()
        case, procedure, parties = self._seen(case_id, actor)
        verdict = judge(
            procedure,
            state=case.state,
            event=event,
            actor=actor,
            facts=case.facts,
            payload=payload,
            context=self._context_factory(procedure, case, actor, event, _Once(self._now)),
            parties=parties,
            exhaustive=True,
            bodies=self.bodies,
        )
        return Explanation(case.id, event, case.state, reasons(verdict.refusals), said)

    @_speaking
    def history(self, case_id: str, viewer: Actor) -> list[Record]:
        """The case's records as ``viewer`` may read them: confidential fields redacted.

        ``UnknownCase`` unless the viewer is one of the case's parties or coordinators. An
        auditor who must read everything says so: ``unredacted_history``.
        """
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        viewer = check.actor("viewer", viewer)
        check.done()
        case, _, parties, records = self._seen_with_history(case_id, viewer)
        return redact(records, viewer, case.facts, parties, self._procedure_of_record)

    @_speaking
    def cases(
        self,
        *,
        viewer: Actor,
        name: str | None = None,
        version: str | None = None,
        state: str | None = None,
    ) -> list[Case]:
        """The cases ``viewer`` may know of (its parties' and coordinators'), matching every
        filter given, oldest first; found by the store's index, never by scanning every case."""
        check = Arguments()
        viewer = check.actor("viewer", viewer)
        name = check.optional("name", name, MAX_NAME)
        version = check.optional("version", version, MAX_NAME)
        state = check.optional("state", state, MAX_NAME)
        check.done()
        found = list(self.storage.cases(name=name, version=version, state=state, seen_by=viewer))
        found += [
            case
            for case in self._unindexed(name, version, state)
            if case.parties is not None and case.parties.sees(viewer)
        ]
        return sorted(found, key=lambda case: (case.created_at, case.id))

    @_speaking
    def group_members(
        self,
        group: str,
        viewer: Actor,
        *,
        name: str = "soutien-technique-renforce",
        version: str = "2019",
    ) -> list[Case]:
        """The open cases of ``name@version`` whose latest plan names the collective ``group``
        (compared trimmed and case-folded: « Fin » is « fin  »), oldest first: the members of
        the group, each case's structure in its parties.

        « The members of a group are listed to the DLA officers only »: ``viewer`` must hold a
        coordinating role of the version's latest revision (the ESIA and France Active
        officers), else ``PermissionDenied``, whatever the group. The cases are found through
        the store's readers index (those the officer may see, ``cases``); only the open ones
        have their history read, for their latest plan.
        """
        check = Arguments()
        group = check.text("group", group)
        viewer = check.actor("viewer", viewer)
        name = check.identifier("name", name, MAX_NAME)
        version = check.identifier("version", version, MAX_NAME)
        check.done()
        officers = self.registry.get(name, version).coordinators
        if not set(viewer.roles) & set(officers):
            raise PermissionDenied(None, "group_members", viewer.id, viewer.roles, officers)
        from stechnique.workflows._rules_dla_r2 import group_key, plan_groups

        wanted = group_key(group)
        members = []
        for case in self.cases(viewer=viewer, name=name, version=version):
            pinned = self.registry.pinned(
                case.id, case.seq, case.name, case.version, case.fingerprint
            )
            if pinned.state(case.state).terminal:
                continue
            if wanted in plan_groups(self.storage.records(case.id)):
                members.append(case)
        return members

    @_speaking
    def unredacted_history(self, case_id: str, *, auditor: Actor, reason: str) -> list[Record]:
        """Every record of the case as stored, confidential fields included: the one read past
        the reading rules, for an auditor who says why. The store logs it (``accesses``)."""
        check = Arguments()
        case_id = check.identifier("case_id", case_id)
        auditor = check.actor("auditor", auditor)
        reason = check.reason("reason", reason)
        check.done()
        _, _, records = self._loaded(case_id)
        self.storage.log_access(Access(auditor, self._now(), reason, (case_id,)))
        return list(records)

    @_speaking
    def unredacted_cases(
        self,
        *,
        auditor: Actor,
        reason: str,
        name: str | None = None,
        version: str | None = None,
        state: str | None = None,
    ) -> list[Case]:
        """Every stored case matching the filters, whoever takes part in it: an auditor's read,
        logged by the store with the cases it returned (``accesses``)."""
        check = Arguments()
        auditor = check.actor("auditor", auditor)
        reason = check.reason("reason", reason)
        name = check.optional("name", name, MAX_NAME)
        version = check.optional("version", version, MAX_NAME)
        state = check.optional("state", state, MAX_NAME)
        check.done()
        found = list(self.storage.cases(name=name, version=version, state=state))
        self.storage.log_access(
            Access(auditor, self._now(), reason, tuple(case.id for case in found))
        )
        return found

    @_speaking
    def changes(self, after: int = 0, limit: int = 100, *, viewer: Actor) -> Changes:
        """What happened after position ``after`` to the cases ``viewer`` may see, in the
        order it happened: the entries of at most ``limit`` records (``stechnique.feed``).

        Each record comes redacted as ``viewer`` could read it once appended, and a
        ``disclosure`` entry tells of earlier records a record made readable. Pass the
        returned ``position`` as ``after`` to read on: no record is ever skipped, even while
        other processes append (``storage.base.Feed``).
        """
        check = Arguments()
        after = check.position("after", after)
        limit = check.count("limit", limit)
        viewer = check.actor("viewer", viewer)
        check.done()
        return self._feed_reader.changes(self._feed(), after, limit, viewer)

    def follow(
        self,
        consumer: str | None = None,
        *,
        viewer: Actor,
        after: int = 0,
        limit: int = 100,
        idle: float | None = None,
    ) -> Iterator[Changes]:
        """The feed of ``viewer`` for the durable consumer ``consumer``, batch by batch, from
        the position it last acknowledged; blocks while nothing is new (waking on an append
        on PostgreSQL, polling with a backoff elsewhere), and ends once nothing has come for
        ``idle`` seconds (None: never).

        A batch is acknowledged, in the store, when the loop asks for the next one: a consumer
        that crashes while handling a batch is given it again when it restarts (at least
        once; ``Change.key`` de-duplicates). One that leaves the loop after handling a batch
        acknowledges it itself (``acknowledge``). Without a ``consumer`` the feed is followed
        from ``after`` and nothing is stored.
        """
        check = Arguments()
        consumer = check.optional("consumer", consumer)
        viewer = check.actor("viewer", viewer)
        after = check.position("after", after)
        limit = check.count("limit", limit)
        idle = check.seconds("idle", idle)
        check.done()
        return self._following(self._feed(), consumer, viewer, after, limit, idle)

    def _following(
        self,
        feed: Feed,
        consumer: str | None,
        viewer: Actor,
        after: int,
        limit: int,
        idle: float | None,
    ) -> Iterator[Changes]:
        listener = self.storage.listen() if isinstance(self.storage, SignalsAppends) else Sleeper()
        try:
            yield from follow(self._feed_reader, feed, listener, consumer, viewer, after=after,
                              limit=limit, idle=idle)  # fmt: skip
        finally:
            listener.close()

    @_speaking
    def acknowledge(self, consumer: str, position: int) -> None:
        """Store that ``consumer`` has handled the feed up to ``position`` (never moving it
        back); ``follow`` starts after it."""
        check = Arguments()
        consumer = check.identifier("consumer", consumer)
        position = check.position("position", position)
        check.done()
        self._feed().acknowledge(consumer, position)

    @_speaking
    def acknowledged(self, consumer: str) -> int:
        """The last position ``consumer`` acknowledged (0 if it never did)."""
        check = Arguments()
        consumer = check.identifier("consumer", consumer)
        check.done()
        return self._feed().acknowledged(consumer)

    def _feed(self) -> Feed:
        if not isinstance(self.storage, Feed):
            raise StorageError(
                "ce stockage ne tient pas de flux de changements (positions) / this storage "
                "keeps no change feed (positions): see stechnique.storage.base.Feed"
            )
        return self.storage

    @_speaking
    def accesses(self) -> list[Access]:
        """Every unredacted read logged by the store, oldest first: who, when, why, which."""
        return list(self.storage.accesses())

    @_speaking
    def audit(
        self,
        case_id: str | None = None,
        *,
        name: str | None = None,
        version: str | None = None,
        since: datetime | None = None,
        progress: Callable[[int], None] | None = None,
        appended_after: int | None = None,
    ) -> AuditReport:
        """Verify stored histories against their pinned procedure versions.

        See ``stechnique.audit.audit`` for the selection (``appended_after``: the records the
        store appended after that position of the change feed) and ``progress``.
        """
        check = Arguments()
        if appended_after is not None:
            appended_after = check.position("appended_after", appended_after)
        case_id = check.optional("case_id", case_id)
        name = check.optional("name", name, MAX_NAME)
        version = check.optional("version", version, MAX_NAME)
        since = check.moment("since", since)
        progress = check.callback("progress", progress)
        check.done()
        return audit(
            self.storage,
            self.registry,
            case_id,
            name=name,
            version=version,
            since=since,
            progress=progress,
            appended_after=appended_after,
        )

    @_speaking
    def waiting(
        self,
        viewer: Actor,
        *,
        on: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> list[Waiting]:
        """Whom each open case ``viewer`` may see waits on, and since when (oldest case
        first); with ``on``, only the cases waiting on that body or coordinating role.

        The cases are found by the store's index (``cases``): a case the viewer may not see
        is never read, nor counted. A case in a state its version declares no wait for is
        left out. See ``stechnique.waiting``.
        """
        check = Arguments()
        viewer = check.actor("viewer", viewer)
        on = check.optional("on", on)
        name = check.optional("name", name, MAX_NAME)
        version = check.optional("version", version, MAX_NAME)
        check.done()
        found: list[Waiting] = []
        for case in self.cases(viewer=viewer, name=name, version=version):
            procedure = self.registry.pinned(
                case.id, case.seq, case.name, case.version, case.fingerprint
            )
            if procedure.state(case.state).terminal or procedure.wait(case.state) is None:
                continue  # nothing to wait for: its history is not read
            waiting = waiting_on(procedure, case, self.storage.records(case.id))
            if (waiting.on or waiting.due is not None) and (on is None or waiting.waits_on(on)):
                found.append(waiting)
        return found

    @_speaking
    def overdue(
        self,
        viewer: Actor,
        at: datetime,
        policy: Policy,
        *,
        on: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> list[Overdue]:
        """The open cases ``viewer`` may see that are overdue at ``at`` under ``policy`` (a
        deployment's limits per state) or past their due date, each with since when and on
        whom; the filters as ``waiting``. Firing never depends on the policy."""
        check = Arguments()
        viewer = check.actor("viewer", viewer)
        moment = check.moment("at", at)
        check.done()
        if not isinstance(policy, Policy):
            raise InvalidArgument(
                [
                    ArgumentProblem(
                        "policy",
                        f"une Policy attendue, reçu {type(policy).__name__}",
                        f"expected a Policy, got {type(policy).__name__}",
                    )
                ]
            )
        if moment is None:
            raise InvalidArgument(
                [ArgumentProblem("at", "une date et heure attendue", "expected a datetime")]
            )
        late = (
            overdue(waiting, moment, policy)
            for waiting in self.waiting(viewer, on=on, name=name, version=version)
        )
        return [item for item in late if item is not None]

    # -- internals ------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is UTC:
            return now
        if now.tzinfo is None:
            raise ValueError(
                f"the engine clock returned a naive datetime {now!r}; return aware UTC"
            )
        return now.astimezone(UTC)

    def _load(self, case_id: str) -> tuple[Case, Procedure]:
        case, procedure, _ = self._loaded(case_id)
        return case, procedure

    def _loaded(self, case_id: str) -> tuple[Case, Procedure, Sequence[Record]]:
        """The stored case, its procedure version and its history, the case row checked
        against the history it must derive from (see ``_checked``)."""
        case = self.storage.get(case_id)
        if case is None:
            raise UnknownCase(case_id)
        procedure = self.registry.pinned(
            case_id, case.seq, case.name, case.version, case.fingerprint
        )
        # The row was read first: records a concurrent writer appended since are not its.
        records = self.storage.records(case_id)[: max(case.seq, 0)]
        case = self._checked(case, records)
        self._known.remember(case, procedure)
        return case, procedure, records

    def _checked(self, case: Case, records: Sequence[Record]) -> Case:
        """``case`` if it is exactly what ``records`` lead to, else ``HistoryCorrupted``.

        The engine decides from the history, never from the case row alone: a row edited
        behind its back (a state moved on, a fact or a party changed, a head no record has)
        would otherwise be extended with records signed by real actors. Every link of the
        chain is checked (seq, prev_hash, each record's own hash), then the row is compared
        with the case the history replays to. The parties of a row upgraded from before
        parties existed are read from the history here, and kept when the store can write.
        """
        head = GENESIS_HASH
        for expected, record in enumerate(records, start=1):
            problems = link_problems(record, expected, head)
            if problems:
                _, seq, problem = problems[0]
                raise HistoryCorrupted(case.id, seq, problem)
            head = record.hash
        if not records:
            raise HistoryCorrupted(case.id, 1, "the case row has no history")
        replayed = case_from_history(records)
        for field in _ROW_FIELDS:
            if getattr(case, field) != getattr(replayed, field):
                raise HistoryCorrupted(
                    case.id, case.seq, f"the case row's {field} is not what its history gives"
                )
        return self._with_parties(case, records)[0]

    def _with_parties(self, case: Case, records: Sequence[Record]) -> tuple[Case, bool]:
        """``case`` with the parties ``records`` bind, and whether the store holds them.

        A row upgraded from before parties has none: they are read here and kept when the
        store can write. A row whose parties are not those its history binds was edited.
        """
        parties = parties_of(records, self._procedure_of_record)
        if case.parties is None:
            wrote = self.storage.set_parties(case.id, case.seq, parties)
            return attrs.evolve(case, parties=parties), wrote
        if case.parties != parties:
            raise HistoryCorrupted(
                case.id, case.seq, "the case row's parties are not those its history binds"
            )
        return case, True

    def _seen(self, case_id: str, viewer: Actor) -> tuple[Case, Procedure, Parties]:
        """The case, its procedure and its parties, if ``viewer`` may know of it; otherwise
        ``UnknownCase``, exactly as if there were no such case."""
        case, procedure, parties, _ = self._seen_with_history(case_id, viewer)
        return case, procedure, parties

    def _seen_with_history(
        self, case_id: str, viewer: Actor
    ) -> tuple[Case, Procedure, Parties, Sequence[Record]]:
        case, procedure, records = self._loaded(case_id)
        parties = self._parties(case)
        if not parties.sees(viewer):
            raise UnknownCase(case_id)
        return case, procedure, parties, records

    def _parties(self, case: Case) -> Parties:
        """The case's parties (a loaded case always has them: ``_checked``)."""
        if case.parties is not None:
            return case.parties
        return self._checked(case, self.storage.records(case.id)).parties or NO_PARTIES

    def _unindexed(self, name: str | None, version: str | None, state: str | None) -> list[Case]:
        """The cases of an upgraded store whose parties were never read, read now and written
        when the store can (a read-only store is read again at the next listing)."""
        if self._all_indexed:
            return []
        found, wrote_all, filters = [], True, (name, version, state)
        for case_id in list(self.storage.cases_without_parties()):
            case = self.storage.get(case_id)
            if case is None:
                continue
            if case.parties is None:
                case, wrote = self._with_parties(case, self.storage.records(case.id))
                wrote_all &= wrote
            stored = (case.name, case.version, case.state)
            if all(want in (None, have) for want, have in zip(filters, stored, strict=True)):
                found.append(case)
        self._all_indexed = wrote_all
        return found

    def _procedure_of_record(self, record: Record) -> Procedure:
        return self.registry.pinned(
            record.case_id, record.seq, record.name, record.version, record.fingerprint
        )

    def _context(
        self,
        procedure: Procedure,
        case: Case | None,
        facts: Mapping[str, Any],
        actor: Actor,
        event: str,
        payload: Mapping[str, Any],
        now: datetime,
    ) -> GuardContext:
        return GuardContext(
            procedure, case, facts, actor, event, payload, now, self._reader, bodies=self.bodies
        )

    def _context_factory(
        self, procedure: Procedure, case: Case, actor: Actor, event: str, now: _Once
    ) -> Callable[[Mapping[str, Any]], GuardContext]:
        return lambda payload: self._context(
            procedure, case, case.facts, actor, event, payload, now()
        )

    def _replayed(
        self,
        case: Case,
        procedure: Procedure,
        event: str,
        actor: Actor,
        payload: Mapping[str, Any] | None,
        key: str,
    ) -> Case | None:
        """The case as the first use of ``key`` left it, or None if the key is new."""
        first = self.storage.record_by_key(case.id, key)
        if first is None:
            return None
        if (
            first.event != event
            or first.actor.id != actor.id
            or not _same_payload(self._procedure_of_record(first), first, payload)
        ):
            raise IdempotencyKeyReused(case.id, key, first.event, event)
        upto = [r for r in self.storage.records(case.id) if r.seq <= first.seq]
        parties = parties_of(upto, self._procedure_of_record)
        return case_after(first, created_at=case.created_at, facts=case.facts, parties=parties)


def _detached(case: Case) -> Case:
    """``case`` with facts of its own: what the engine returns is the caller's to change, and
    changing it must not reach the case the engine remembers, nor the store, which may keep
    what it was given (``Storage``, "Values apart")."""
    return replaced(case, "facts", copied(case.facts))


class _Once:
    """The engine's clock read once, when first needed: a refused step does not read it, and
    the guards and the record of one step see the same time."""

    __slots__ = ("_clock", "_now")

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._now: datetime | None = None

    def __call__(self) -> datetime:
        if self._now is None:
            self._now = self._clock()
        return self._now


def _same_payload(procedure: Procedure, first: Record, payload: Mapping[str, Any] | None) -> bool:
    """Whether ``payload`` is the one ``first`` recorded, as the engine would have cleaned it.

    The schema is that of the step ``first`` took (its source state, under the version it was
    written with): one event may carry different payloads from different states.
    """
    taken = procedure.candidates(first.source or "", first.event)
    try:
        clean = validate(taken[0].payload, payload, "payload") if taken else dict(payload or {})
    except InvalidData:
        return False
    return clean == first.payload
