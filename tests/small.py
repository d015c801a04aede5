"""Small test procedures: just enough states, roles and guards to exercise the engine.

Also the small helpers many test modules share: a clock that ticks on every reading, and the
check that a story fired every step a procedure declares.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from stechnique import (
    ANY_ACTIVE,
    Actor,
    Case,
    CaseRole,
    ConfidentialField,
    Field,
    Guard,
    GuardContext,
    ManualClock,
    Migration,
    Procedure,
    Record,
    Registry,
    Role,
    State,
    Transition,
    UnknownCase,
)
from stechnique.definition import RESERVED_EVENTS
from stechnique.engine import Engine


def _approved(context: GuardContext) -> bool:
    return any(record.event == "approve" for record in context.history())


def _has_note(context: GuardContext) -> bool:
    return bool(context.payload.get("note"))


def _eligible(context: GuardContext) -> bool:
    return context.actor.has_any([context.role_of("owner") or ""])


APPROVED = Guard("approved", "Demande approuvée", "Request approved", _approved)
HAS_NOTE = Guard("has_note", "Note jointe", "Note attached", _has_note, uses_payload=True)
ELIGIBLE = Guard("eligible", "Demandeur éligible", "Eligible requester", _eligible)


def ticket(version: str = "1", **changes: object) -> Procedure:
    """A four-state ticket procedure: open -> approved -> done, or cancelled from anywhere."""
    fields: dict[str, object] = {
        "name": "ticket",
        "version": version,
        "fr": "Ticket",
        "en": "Ticket",
        "roles": (Role("clerk", "Agent", "Clerk"), Role("boss", "Chef", "Boss"),
                  Role("team", "Équipe", "Team")),
        "case_roles": (CaseRole("owner", "kind", {"solo": "clerk", "group": "team"}),),
        "states": (
            State("open", "Ouvert", "Open", initial=True),
            State("approved", "Approuvé", "Approved"),
            State("done", "Terminé", "Done", terminal=True),
            State("cancelled", "Annulé", "Cancelled", terminal=True),
        ),
        "transitions": (
            Transition("approve", "open", "approved", "boss"),
            Transition("comment", "approved", "approved", ("clerk", "boss"),
                       payload=(Field("text"), Field("secret", required=False))),
            Transition("finish", "approved", "done", "owner", guards=("approved", "has_note"),
                       payload=(Field("note", required=False),)),
            Transition("cancel", ANY_ACTIVE, "cancelled", "owner", payload=(Field("reason"),)),
        ),
        "facts": (Field("title"), Field("kind", "choice", options=("solo", "group"))),
        "start_roles": ("clerk", "team"),
        "start_guards": ("eligible",),
        "guards": (APPROVED, HAS_NOTE, ELIGIBLE),
        "confidential": (
            ConfidentialField("comment", "secret", readers=("owner",), opens_to=("boss",),
                              opens_at="done", fr="Secret", en="Secret"),
        ),
    }  # fmt: skip
    fields.update(changes)
    return Procedure(**fields)  # type: ignore[arg-type]


def relay(version: str = "1") -> Procedure:
    """Three states where one event, ``advance``, carries a different payload in each state.

    ``advance`` from ``second`` is declared first, so a lookup by event name alone finds the
    wrong schema for a step taken from ``first``.
    """
    return Procedure(
        name="relay",
        version=version,
        fr="Relais",
        en="Relay",
        roles=(Role("runner", "Coureur", "Runner"),),
        states=(
            State("first", "Premier", "First", initial=True),
            State("second", "Second", "Second"),
            State("arrived", "Arrivé", "Arrived", terminal=True),
        ),
        transitions=(
            Transition("advance", "second", "arrived", "runner",
                       payload=(Field("score", "integer"),)),
            Transition("advance", "first", "second", "runner",
                       payload=(Field("baton", required=False),)),
            Transition("stop", ANY_ACTIVE, "arrived", "runner"),
        ),
        facts=(Field("team"),),
        start_roles=("runner",),
    )  # fmt: skip


class TickingClock(ManualClock):
    """A ``ManualClock`` that also moves ``step`` forward each time it is read.

    Every record of a story then has its own time, later than the one before, without the
    story setting the clock; ``on`` and ``advance`` still move it by hand.
    """

    def __init__(
        self, start: datetime | str = "2016-03-01 09:00", step: timedelta = timedelta(minutes=1)
    ) -> None:
        super().__init__(start)
        self.step = step

    def __call__(self) -> datetime:
        self.advance(self.step)
        return super().__call__()


def assert_every_step_fired(
    procedure: Procedure, records: Iterable[Record], *, and_no_other: bool = False
) -> None:
    """Every step ``procedure`` declares is fired in ``records`` (with ``and_no_other``: no more).

    A step is ``(source, event, target)``, one for each source state of a transition
    (``ANY_ACTIVE`` expanded), so a transition from several states is fired from each, and each
    of the transitions an event's payload decides between (``Transition.when``) is taken.
    ``start`` and ``migrate`` records are the engine's, not steps of the procedure.
    """
    declared = {
        (source, t.event, t.target)
        for t in procedure.transitions
        for source in procedure.sources_of(t)
    }
    fired = {(r.source, r.event, r.target) for r in records if r.event not in RESERVED_EVENTS}
    never = declared - fired
    assert not never, f"{len(never)} declared steps never fired: {sorted(never)}"
    other = fired - declared
    assert not (and_no_other and other), f"steps fired but not declared: {sorted(other)}"


FORM_FACTS = (
    Field("title"),
    Field("kind", "choice", options=("solo", "group")),
    Field("count", "integer", required=False),
    Field("tags", "list", required=False),
    Field("when", "date", required=False),
    Field("detail", "object", required=False,
          fields=(Field("level", "choice", options=("low", "high")), Field("n", "integer"))),
)  # fmt: skip


def form(version: str) -> Procedure:
    """A small procedure whose facts and payloads hold most kinds of field (boundary tests)."""
    return Procedure(
        name="form",
        version=version,
        fr="Formulaire",
        en="Form",
        roles=(Role("clerk", "Agent", "Clerk"), Role("boss", "Chef", "Boss")),
        states=(
            State("open", "Ouvert", "Open", initial=True),
            State("closed", "Clos", "Closed", terminal=True),
        ),
        transitions=(
            Transition("note", "open", "open", ("clerk", "boss"),
                       payload=(Field("text"), Field("score", "integer", required=False),
                                Field("level", "choice", options=("low", "high"), required=False),
                                Field("secret", required=False),
                                Field("items", "objects", required=False,
                                      fields=(Field("n", "integer"),)))),
            Transition("close", ANY_ACTIVE, "closed", "boss"),
        ),
        facts=FORM_FACTS,
        start_roles=("clerk",),
        confidential=(ConfidentialField("note", "secret", readers=("boss",), fr="Secret",
                                        en="Secret"),),
    )  # fmt: skip


#: ``form`` 1 and 2, and the migration between them (by a boss, open cases only).
FORM_REGISTRY = Registry(
    (form("1"), form("2")),
    (Migration("form", "1", "2", states={"open": "open"},
               facts={f.name: f.name for f in FORM_FACTS}, supplied=(), roles=("boss",)),),
)  # fmt: skip


#: Who reads whole histories in tests that check what was written, not who may read it: an
#: auditor's read, logged by the store like any other (``Engine.unredacted_history``).
AUDITOR = Actor("auditor-tests", {"auditor"})
_WHY = "test: check what was written"


def whole(engine: Engine, case_id: str) -> list[Record]:
    """Every record of the case as stored, read as ``AUDITOR``."""
    return engine.unredacted_history(case_id, auditor=AUDITOR, reason=_WHY)


def all_cases(engine: Engine, **filters: str) -> list[Case]:
    """Every stored case matching ``filters``, read as ``AUDITOR``."""
    return engine.unredacted_cases(auditor=AUDITOR, reason=_WHY, **filters)  # type: ignore[arg-type]


def the_case(engine: Engine, case_id: str) -> Case:
    """The stored case, read as ``AUDITOR`` (``UnknownCase`` if there is none)."""
    found = [case for case in all_cases(engine) if case.id == case_id]
    if not found:
        raise UnknownCase(case_id)
    return found[0]


#: What an auditor's export needs: ``export_jsonl(storage, out, **AS_AUDITOR)``.
AS_AUDITOR = {"auditor": AUDITOR, "reason": _WHY}
