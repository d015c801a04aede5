"""Small test procedures: just enough states, roles and guards to exercise the engine.

Also the small helpers many test modules share: a clock that ticks on every reading, and the
check that a story fired every step a procedure declares.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from stechnique import (
    ANY_ACTIVE,
    Actor,
    Binding,
    Case,
    CaseRole,
    ConfidentialField,
    Field,
    Guard,
    GuardContext,
    ManualClock,
    Migration,
    Party,
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
from stechnique.workflows import _rules


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

#: What a CLI read needs to read everything: ``stechnique history CASE *AS_AUDITOR_CLI``.
AS_AUDITOR_CLI = ("--auditor", AUDITOR.id, "--reason", _WHY)


def parties_procedure(version: str = "1") -> Procedure:
    """A small procedure whose steps are bound to parties of the case (revision 2's model).

    The applicant started the case; the coordinator consults funders (and releases one) and
    assigns a reviewer to each part (``a``, ``b``); a part's review is by that part's reviewer
    only, read by the applicant and that reviewer until the applicant accepts, then by the
    funders and the coordinator too (the accepted review only: an earlier one never opens);
    revision requests stay between applicant and reviewers.
    """
    text = Field("text", fr="Texte", en="Text")
    part = Field("part", "choice", options=("a", "b"), fr="Partie", en="Part")
    return Procedure(
        name="dossier",
        version=version,
        fr="Dossier à parties",
        en="Case with parties",
        roles=(
            Role("applicant", "Demandeur", "Applicant"),
            Role("coordinator", "Coordination", "Coordinator"),
            Role("reviewer", "Relecteur", "Reviewer"),
            Role("funder", "Financeur", "Funder"),
        ),
        states=(
            State("open", "Ouvert", "Open", initial=True),
            State("reviewing", "En relecture", "Under review"),
            State("accepted", "Accepté", "Accepted", terminal=True),
            State("withdrawn", "Retiré", "Withdrawn", terminal=True),
        ),
        transitions=(
            Transition(
                "consult",
                "open",
                "open",
                "coordinator",
                payload=(Field("funders", "list", fr="Financeurs", en="Funders"),),
            ),
            Transition(
                "release",
                "open",
                "open",
                "coordinator",
                payload=(Field("funder", fr="Financeur", en="Funder"),),
            ),
            Transition(
                "assign",
                ("open", "reviewing"),
                "open",
                "coordinator",
                payload=(part, Field("reviewer", fr="Relecteur", en="Reviewer")),
            ),
            Transition(
                "review",
                ("open", "reviewing"),
                "reviewing",
                "reviewer",
                payload=(part, Field("report", fr="Relecture", en="Review")),
                party="reviewer",
            ),
            Transition(
                "decide",
                "reviewing",
                "reviewing",
                "funder",
                party="funder",
                payload=(
                    Field(
                        "decision",
                        "choice",
                        options=("approve", "refuse"),
                        fr="Décision",
                        en="Decision",
                    ),
                ),
            ),
            Transition(
                "revise",
                "reviewing",
                "reviewing",
                "applicant",
                party="applicant",
                payload=(Field("reason", fr="Motif", en="Reason"),),
            ),
            Transition("accept", "reviewing", "accepted", "applicant", party="applicant"),
            Transition(
                "withdraw",
                ANY_ACTIVE,
                "withdrawn",
                "applicant",
                party="applicant",
                payload=(Field("note", fr="Note", en="Note"),),
            ),
        ),
        facts=(text,),
        start_roles=("applicant",),
        parties=(
            Party("applicant", "le demandeur", "the applicant", bound_by=(Binding("start"),)),
            Party(
                "funder",
                "les financeurs consultés",
                "the consulted funders",
                bound_by=(
                    Binding("consult", "funders"),
                    Binding("release", "funder", how="remove"),
                ),
            ),
            Party(
                "reviewer",
                "le relecteur de la partie",
                "the part's reviewer",
                bound_by=(Binding("assign", "reviewer", per="part"),),
            ),
        ),
        coordinators=("coordinator",),
        confidential=(
            ConfidentialField(
                "review",
                "report",
                readers=("applicant", "reviewer"),
                opens_to=("funder", "coordinator"),
                opens_on="accept",
                per="part",
            ),
            ConfidentialField("revise", "reason", readers=("applicant", "reviewer")),
        ),
        revision=2,
    )


# -- a procedure with two revisions (issue 13: revisions) ------------------------------------


def _consulted(context: GuardContext) -> bool:
    return context.actor.id in _rules.consulted_funders(context.history())


def _approved_by_funders(context: GuardContext) -> bool:
    history = context.history()
    decided = dict(_rules.decisions(history))
    funders = _rules.consulted_funders(history)
    return bool(funders) and all(decided.get(funder) == "approve" for funder in funders)


def _acknowledged(context: GuardContext) -> bool:
    return _rules.acknowledged_by(context.history(), context.actor.id)


CONSULTED = Guard("consulted", "Financeur consulté", "Consulted funder", _consulted)
APPROVED_BY_FUNDERS = Guard(
    "approved_by_funders", "Validée par chaque financeur", "Approved by every funder",
    _approved_by_funders,
)  # fmt: skip
ACKNOWLEDGED = Guard(
    "acknowledged", "Confidentialité reconnue", "Confidentiality acknowledged", _acknowledged
)


def grant(revision: int = 1) -> Procedure:
    """A grant request in two revisions of version ``1``, read with ``_rules`` as the published
    procedures are: a coordinator refers it to funders (a consultation), each decides, the
    coordinator validates once all approved, a provider acknowledges confidentiality before
    working.

    Revision 1 can put a validated request « on hold »; revision 2 drops that state (a case
    on hold has no mapping), names its coordinating role and asks for a reason to finish.
    """
    states = [
        State("requested", "Demandée", "Requested", initial=True),
        State("referred", "Transmise", "Referred"),
        State("validated", "Validée", "Validated"),
        State("working", "En cours", "Working"),
        State("on_hold", "Suspendue", "On hold"),
        State("done", "Terminée", "Done", terminal=True),
        State("withdrawn", "Retirée", "Withdrawn", terminal=True),
    ]
    transitions = [
        Transition("refer", "requested", "referred", "coordinator",
                   payload=(Field("funders", "list"),)),
        Transition("record_funder_decision", "referred", "referred", "funder",
                   guards=("consulted",),
                   payload=(Field("decision", "choice", options=("approve", "refuse")),)),
        Transition("validate", "referred", "validated", "coordinator",
                   guards=("approved_by_funders",)),
        Transition("acknowledge_confidentiality", "validated", "validated", "provider"),
        Transition("start_work", "validated", "working", "provider", guards=("acknowledged",)),
        Transition("hold", "validated", "on_hold", "coordinator"),
        Transition("resume", "on_hold", "validated", "coordinator"),
        Transition("finish", "working", "done", "provider"),
        Transition("withdraw", ANY_ACTIVE, "withdrawn", "coordinator",
                   payload=(Field("reason"),)),
    ]  # fmt: skip
    changes: dict[str, object] = {}
    if revision >= 2:
        states = [s for s in states if s.id != "on_hold"]
        transitions = [t for t in transitions if t.event not in ("hold", "resume")]
        transitions = [
            attrs.evolve(t, payload=(Field("reason"),)) if t.event == "finish" else t
            for t in transitions
        ]
        changes = {"revision": revision, "coordinators": ("coordinator",)}
    return Procedure(
        name="grant",
        version="1",
        fr="Subvention",
        en="Grant",
        roles=(Role("clerk", "Agent", "Clerk"), Role("coordinator", "Coordination", "Coordinator"),
               Role("funder", "Financeur", "Funder"), Role("provider", "Prestataire", "Provider")),
        states=tuple(states),
        transitions=tuple(transitions),
        facts=(Field("title"),),
        start_roles=("clerk",),
        guards=(CONSULTED, APPROVED_BY_FUNDERS, ACKNOWLEDGED),
        **changes,  # type: ignore[arg-type]
    )  # fmt: skip


#: Revision 1 to 2 of ``grant@1``: every open state but « on hold » keeps its name; ordered by
#: the coordinating role revision 2 names (``roles`` here only stand in when it names none).
GRANT_MIGRATION = Migration(
    "grant", "1", "1",
    states={s: s for s in ("requested", "referred", "validated", "working")},
    facts={"title": "title"}, roles=("clerk",), from_revision=1, to_revision=2,
)  # fmt: skip

#: What a partner's module gives ``--procedures small:GRANT``: both revisions, the migration.
GRANT = (grant(1), grant(2), GRANT_MIGRATION)


def grant_registry() -> Registry:
    """A registry holding both revisions of ``grant@1`` (revision 2 first: any order does) and
    the migration between them."""
    return Registry((grant(2), grant(1)), (GRANT_MIGRATION,))
