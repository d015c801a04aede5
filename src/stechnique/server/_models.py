"""The JSON bodies of the service, as pydantic models: what the OpenAPI document describes.

Built from the library's values (``Case``, ``Record``, ``Explanation``...) by the ``of``
class methods, so the routes never assemble JSON by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from stechnique.definition import Procedure
from stechnique.explanation import Explanation
from stechnique.records import Actor, Case, Record
from stechnique.server._json_schema import object_schema
from stechnique.server.accounts import Account

__all__ = [
    "IDENTIFIER",
    "MAX_ID",
    "MAX_NAME",
    "AccountOut",
    "ActorOut",
    "AvailableOut",
    "CaseOut",
    "EventOut",
    "ExplainIn",
    "ExplanationOut",
    "FireIn",
    "GrantOut",
    "ProblemOut",
    "ProcedureDetail",
    "ProcedureOut",
    "ReasonOut",
    "RecordOut",
    "StartIn",
    "StateOut",
]


#: What the engine takes as an identifier (``stechnique._arguments``), said to partners' tools:
#: text without control characters, not blank. (Lone surrogates, which no URL and no UTF-8
#: JSON can carry, are refused by the engine.)
IDENTIFIER = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
#: The longest case id, actor id or idempotency key.
MAX_ID = 255
#: The longest procedure name, version, state or event.
MAX_NAME = 200
_Name = Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=IDENTIFIER)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GrantOut(_Model):
    """The roles an account holds in one procedure version."""

    name: str
    version: str
    roles: list[str]


class AccountOut(_Model):
    """The calling account: its body, actors, grants; never its token."""

    id: str
    body: str
    actors: list[str]
    grants: list[GrantOut]
    auditor: bool

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        """The account as the service shows it to itself."""
        grants = [GrantOut(**grant.to_data()) for grant in account.grants]
        return cls(id=account.id, body=account.body, actors=list(account.actors),
                   grants=grants, auditor=account.auditor)  # fmt: skip


class ProcedureOut(_Model):
    """A registered procedure version (its latest revision)."""

    name: str
    version: str
    revision: int
    fingerprint: str
    fr: str
    en: str
    roles_granted: list[str] = Field(description="The calling account's roles in it.")

    @classmethod
    def of(cls, procedure: Procedure, granted: frozenset[str]) -> ProcedureOut:
        """The summary of ``procedure`` for an account holding ``granted`` there."""
        return cls(name=procedure.name, version=procedure.version, revision=procedure.revision,
                   fingerprint=procedure.fingerprint, fr=procedure.fr, en=procedure.en,
                   roles_granted=sorted(granted))  # fmt: skip


class StateOut(_Model):
    """A state of a procedure version."""

    id: str
    fr: str
    en: str
    initial: bool
    terminal: bool


class EventOut(_Model):
    """A transition: the event, where it goes from and to, who fires it, its payload schema."""

    event: str
    sources: list[str]
    target: str
    roles: list[str]
    fr: str
    en: str
    payload_schema: dict[str, Any]


class ProcedureDetail(ProcedureOut):
    """A procedure version with its states, roles, facts schema and events."""

    states: list[StateOut]
    roles: list[dict[str, str]]
    start_roles: list[str]
    facts_schema: dict[str, Any]
    events: list[EventOut]

    @classmethod
    def detail(cls, procedure: Procedure, granted: frozenset[str]) -> ProcedureDetail:
        """Everything a partner's program needs to start and fire cases of ``procedure``."""
        summary = ProcedureOut.of(procedure, granted).model_dump()
        events = [
            EventOut(
                event=t.event,
                sources=list(procedure.sources_of(t)),
                target=t.target,
                roles=list(t.roles),
                fr=t.fr,
                en=t.en,
                payload_schema=object_schema(t.payload, title=t.event),
            )
            for t in procedure.transitions
        ]
        return cls(
            **summary,
            states=[
                StateOut(id=s.id, fr=s.fr, en=s.en, initial=s.initial, terminal=s.terminal)
                for s in procedure.states
            ],
            roles=[{"id": r.id, "fr": r.fr, "en": r.en} for r in procedure.roles],
            start_roles=list(procedure.start_roles),
            facts_schema=object_schema(procedure.facts, title="facts"),
            events=events,
        )


class ActorOut(_Model):
    """Who fired a step: an actor id, the roles it held, the body it acted for."""

    id: str
    roles: list[str]
    body: str | None

    @classmethod
    def of(cls, actor: Actor) -> ActorOut:
        """``actor`` as JSON."""
        return cls(id=actor.id, roles=sorted(actor.roles), body=actor.body)


class CaseOut(_Model):
    """A case as the calling account may know it; ``seq`` is also its ``ETag``."""

    id: str
    name: str
    version: str
    fingerprint: str
    state: str
    seq: int
    facts: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        """``case`` as JSON."""
        return cls(id=case.id, name=case.name, version=case.version,
                   fingerprint=case.fingerprint, state=case.state, seq=case.seq,
                   facts=dict(case.facts), created_at=case.created_at,
                   updated_at=case.updated_at)  # fmt: skip


class RecordOut(_Model):
    """One step of a history, confidential fields redacted for the account (their hash
    withheld too: ``withheld``)."""

    seq: int
    event: str
    source: str | None
    target: str
    actor: ActorOut
    at: datetime
    payload: dict[str, Any]
    name: str
    version: str
    fingerprint: str
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, record: Record) -> RecordOut:
        """``record`` as JSON (its idempotency key, the caller's own business, left out)."""
        return cls(seq=record.seq, event=record.event, source=record.source,
                   target=record.target, actor=ActorOut.of(record.actor), at=record.at,
                   payload=dict(record.payload), name=record.name, version=record.version,
                   fingerprint=record.fingerprint, prev_hash=record.prev_hash,
                   hash=record.hash)  # fmt: skip


class AvailableOut(_Model):
    """The events the calling account may fire now on a case."""

    case_id: str
    events: list[str]


class ReasonOut(_Model):
    """One reason an event would be refused now, in French and English."""

    kind: str
    code: str
    fr: str
    en: str


class ExplanationOut(_Model):
    """Why an event would or would not fire now for the calling account."""

    case_id: str
    event: str
    state: str
    allowed: bool
    reasons: list[ReasonOut]

    @classmethod
    def of(cls, explanation: Explanation) -> ExplanationOut:
        """``explanation`` as JSON."""
        reasons = [ReasonOut(kind=r.kind, code=r.code, fr=r.fr, en=r.en)
                   for r in explanation.reasons]  # fmt: skip
        return cls(case_id=explanation.case_id, event=explanation.event,
                   state=explanation.state, allowed=explanation.allowed,
                   reasons=reasons)  # fmt: skip


class StartIn(_Model):
    """Open a case: the procedure, its version (latest by default) and the start facts."""

    procedure: _Name
    version: _Name | None = None
    facts: dict[str, Any]


class FireIn(_Model):
    """The payload of the event fired (none for most events)."""

    payload: dict[str, Any] | None = None


class ExplainIn(_Model):
    """The event to explain, with the payload it would carry (payload rules judged only when
    given)."""

    event: _Name
    payload: dict[str, Any] | None = None


class ProblemOut(BaseModel):
    """An RFC 9457 problem document, with stechnique's extensions."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str = Field(description="Stable: what a program branches on.")
    fr: str
    en: str
    details: dict[str, Any]
