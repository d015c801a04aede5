"""Small test procedures: just enough states, roles and guards to exercise the engine."""

from __future__ import annotations

from stechnique import (
    ANY_ACTIVE,
    CaseRole,
    ConfidentialField,
    Field,
    Guard,
    GuardContext,
    Procedure,
    Role,
    State,
    Transition,
)


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
