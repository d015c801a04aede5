"""The resources of the service: procedures, cases, start, fire, history, explain, events.

Every route is a plain ``def``: FastAPI runs it in its thread pool, so the database calls of
the engine never block the event loop. Every route needs a caller (``_auth``); the actor of a
command or a read on a case is derived from the account and the case's procedure version.
``ETag`` is the case's seq; ``If-Match`` on a fire is the seq it must still be at.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from stechnique._arguments import Arguments
from stechnique.definition import Procedure
from stechnique.engine import Engine
from stechnique.errors import CaseIdTaken, IdempotencyKeyReused, UnknownCase
from stechnique.records import Actor, Case
from stechnique.schema import validate
from stechnique.server._auth import Caller, CallerDep
from stechnique.server._models import (
    IDENTIFIER,
    MAX_ID,
    MAX_NAME,
    AccountOut,
    AvailableOut,
    CaseOut,
    ExplainIn,
    ExplanationOut,
    FireIn,
    ProblemOut,
    ProcedureDetail,
    ProcedureOut,
    RecordOut,
    StartIn,
)
from stechnique.server._problems import MEDIA_TYPE, Problem

__all__ = ["router"]


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    # 400: a body that is not JSON; 401: no account; 422: a request the schema refuses.
    return {
        code: {"model": ProblemOut, "content": {MEDIA_TYPE: {}}, "description": "A problem."}
        for code in sorted({400, 401, 422, *codes})
    }


CaseId = Annotated[str, Path(max_length=MAX_ID, pattern=IDENTIFIER)]
Event = Annotated[str, Path(max_length=MAX_NAME, pattern=IDENTIFIER)]
NamePath = Annotated[str, Path(max_length=MAX_NAME, pattern=IDENTIFIER)]
NameQuery = Annotated[str | None, Query(max_length=MAX_NAME, pattern=IDENTIFIER)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=MAX_ID, pattern=IDENTIFIER,
        description="Sent again, the command applies once.",
    ),
]  # fmt: skip
#: The namespace of the case ids a start with an idempotency key gets (with the account's id).
_START_KEYS = uuid.UUID("5b0c4d1e-2f57-4a7c-9e55-3c7d3f0a9b21")
#: ``"3"``, ``W/"3"``, ``3`` or ``*``.
_ETAG = r'^(\*|(W/)?"?[0-9]{1,12}"?)$'


router = APIRouter()


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _case_actor(engine: Engine, caller: Caller, case_id: str) -> Actor:
    """The actor ``caller`` acts as on the case: its roles in the case's procedure version.

    An id the store does not hold is ``UnknownCase``, exactly as a case the account may not
    see is (the engine decides that with the actor returned here).
    """
    return _seen_case(engine, caller, case_id)[1]


def _seen_case(engine: Engine, caller: Caller, case_id: str) -> tuple[Case, Actor]:
    check = Arguments()
    case_id = check.identifier("case_id", case_id)
    check.done()
    stored = engine.storage.get(case_id)
    if stored is None:
        raise UnknownCase(case_id)
    return stored, caller.actor(stored.name, stored.version)


def _commanding_actor(engine: Engine, caller: Caller, case_id: str) -> Actor:
    """The actor of a command on the case, if the account may see the case; else
    ``UnknownCase``.

    The engine lets a step the procedure allows by role alone be fired by an actor who is no
    party of the case (in MSTR 2015-2017, any centre's administrator may ``withdraw``: the
    published rule names a role); it hides the case only when it refuses. The service promises
    every account that a case it may not see does not exist for it, commands included.
    """
    stored, actor = _seen_case(engine, caller, case_id)
    if stored.parties is None:  # a row upgraded from before parties: the engine reads them
        engine.case(case_id, actor)
    elif not stored.parties.sees(actor):
        raise UnknownCase(case_id)
    return actor


def _tagged(response: Response, case: Case) -> CaseOut:
    response.headers["ETag"] = f'"{case.seq}"'
    return CaseOut.of(case)


def _expected_seq(if_match: str | None) -> int | None:
    """The seq ``If-Match`` names (``"3"``, ``W/"3"``, ``3``); None for none or ``*``."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 12:
        raise Problem(
            412, "precondition_failed", "Précondition non satisfaite / Precondition failed",
            "If-Match doit nommer l'ETag du dossier, son seq : \"3\"",
            "If-Match must name the case's ETag, its seq: \"3\"",
        )  # fmt: skip
    return int(tag)


@router.get("/account", response_model=AccountOut, responses=_problems(403), tags=["account"])
def read_account(caller: CallerDep) -> AccountOut:
    """The calling account: its body, actors and grants."""
    return AccountOut.of(caller.account)


@router.get(
    "/procedures", response_model=list[ProcedureOut], responses=_problems(403),
    tags=["procedures"],
)  # fmt: skip
def list_procedures(request: Request, caller: CallerDep) -> list[ProcedureOut]:
    """Every registered procedure version (its latest revision), with the account's roles."""
    registry = _engine(request).registry
    latest = {(p.name, p.version): p for p in registry}  # iterated oldest revision first
    return [ProcedureOut.of(p, caller.account.roles_in(p.name, p.version)) for p in latest.values()]


@router.get(
    "/procedures/{name}/{version}", response_model=ProcedureDetail,
    responses=_problems(403, 404, 422), tags=["procedures"],
)  # fmt: skip
def read_procedure(
    request: Request, caller: CallerDep, name: NamePath, version: NamePath
) -> ProcedureDetail:
    """A procedure version: states, roles, JSON Schemas of its facts and of each payload."""
    procedure = _engine(request).procedure(name, version)
    return ProcedureDetail.detail(procedure, caller.account.roles_in(name, procedure.version))


@router.get("/cases", response_model=list[CaseOut], responses=_problems(403, 422), tags=["cases"])
def list_cases(
    request: Request,
    caller: CallerDep,
    name: NameQuery = None,
    version: NameQuery = None,
    state: NameQuery = None,
) -> list[CaseOut]:
    """The cases the account may know of (its body's, and those of the procedure versions it
    coordinates), oldest first; found by the store's index."""
    engine = _engine(request)
    account = caller.account
    # As its body alone (no role): the cases it is a party of, in every procedure...
    viewers = [(Actor(caller.actor_id, body=account.body), name, version)]
    # ...and, with the roles of each grant, those of that version it coordinates.
    viewers += [
        (caller.actor(g.name, g.version), g.name, g.version)
        for g in account.grants
        if name in (None, g.name) and version in (None, g.version)
    ]
    found: dict[str, Case] = {}
    for viewer, wanted_name, wanted_version in viewers:
        for case in engine.cases(viewer=viewer, name=wanted_name, version=wanted_version,
                                 state=state):  # fmt: skip
            found[case.id] = case
    ordered = sorted(found.values(), key=lambda case: (case.created_at, case.id))
    return [CaseOut.of(case) for case in ordered]


@router.post(
    "/cases", response_model=CaseOut, status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": CaseOut, "description": "Started before, with this Idempotency-Key."},
        **_problems(403, 404, 409, 422),
    },
    tags=["cases"],
)  # fmt: skip
def start_case(
    request: Request,
    response: Response,
    caller: CallerDep,
    body: StartIn,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Open a case (its id chosen by the service) as the account's actor.

    With ``Idempotency-Key``, the same start sent again by the same account opens nothing
    more: it answers 200 with the case the first one opened (as it is now).
    """
    engine = _engine(request)
    procedure = engine.procedure(body.procedure, body.version)
    actor = caller.actor(procedure.name, procedure.version)
    case_id = None
    if idempotency_key is not None:
        # One id per account and key: a retry finds the case, another account never does.
        case_id = str(uuid.uuid5(_START_KEYS, f"{caller.account.id}\n{idempotency_key}"))
    try:
        case = engine.start(procedure.name, version=procedure.version, actor=actor,
                            facts=body.facts, case_id=case_id)  # fmt: skip
    except CaseIdTaken:
        if case_id is None or idempotency_key is None:
            raise
        case = _started_before(engine, procedure, actor, case_id, body, idempotency_key)
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/cases/{case.id}"
    return _tagged(response, case)


def _started_before(
    engine: Engine, procedure: Procedure, actor: Actor, case_id: str, body: StartIn, key: str
) -> Case:
    """The case a start with the same key opened, if it was this very start."""
    first = engine.history(case_id, actor)[0]
    same = (
        first.actor.id == actor.id
        and (first.name, first.version) == (procedure.name, procedure.version)
        and first.payload == validate(procedure.facts, body.facts, "facts")
    )
    if not same:
        raise IdempotencyKeyReused(case_id, key, first.event, "start")
    return engine.case(case_id, actor)


@router.get(
    "/cases/{case_id}", response_model=CaseOut, responses=_problems(403, 404, 422),
    tags=["cases"],
)  # fmt: skip
def read_case(request: Request, response: Response, caller: CallerDep, case_id: CaseId) -> CaseOut:
    """A case the account may see (404 otherwise, as for a case that does not exist)."""
    engine = _engine(request)
    return _tagged(response, engine.case(case_id, _case_actor(engine, caller, case_id)))


@router.post(
    "/cases/{case_id}/events/{event}", response_model=CaseOut,
    responses=_problems(403, 404, 409, 412, 422), tags=["cases"],
)  # fmt: skip
def fire_event(
    request: Request,
    response: Response,
    caller: CallerDep,
    case_id: CaseId,
    event: Event,
    body: FireIn | None = None,
    if_match: Annotated[
        str | None,
        Header(pattern=_ETAG, description="The ETag (seq) the case must still be at."),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Fire ``event`` on the case as the account's actor; the case after it."""
    engine = _engine(request)
    actor = _commanding_actor(engine, caller, case_id)
    case = engine.fire(
        case_id, event, actor=actor, payload=None if body is None else body.payload,
        expected_seq=_expected_seq(if_match), idempotency_key=idempotency_key,
    )  # fmt: skip
    return _tagged(response, case)


@router.get(
    "/cases/{case_id}/history", response_model=list[RecordOut],
    responses=_problems(403, 404, 422), tags=["cases"],
)  # fmt: skip
def read_history(request: Request, caller: CallerDep, case_id: CaseId) -> list[RecordOut]:
    """The case's records as the account may read them: confidential fields redacted."""
    engine = _engine(request)
    records = engine.history(case_id, _case_actor(engine, caller, case_id))
    return [RecordOut.of(record) for record in records]


@router.get(
    "/cases/{case_id}/unredacted-history", response_model=list[RecordOut],
    responses=_problems(403, 404, 422), tags=["audit"],
)  # fmt: skip
def read_unredacted_history(
    request: Request,
    caller: CallerDep,
    case_id: CaseId,
    reason: Annotated[str, Query(min_length=1, max_length=2000, description="Why (logged).")],
) -> list[RecordOut]:
    """Every record as stored, for an auditor account saying why; the read is logged."""
    if not caller.account.auditor:
        raise Problem(
            403, "not_an_auditor", "Réservé aux auditeurs / Auditors only",
            "seul un compte d'auditeur lit les historiques non expurgés",
            "only an auditor account reads unredacted histories",
        )  # fmt: skip
    engine = _engine(request)
    auditor = Actor(caller.actor_id, body=caller.account.body)
    records = engine.unredacted_history(case_id, auditor=auditor, reason=reason)
    return [RecordOut.of(record) for record in records]


@router.get(
    "/cases/{case_id}/events", response_model=AvailableOut,
    responses=_problems(403, 404, 422), tags=["cases"],
)  # fmt: skip
def available_events(request: Request, caller: CallerDep, case_id: CaseId) -> AvailableOut:
    """The events the account may fire now (guards on the payload not counted)."""
    engine = _engine(request)
    events = engine.available_events(case_id, _case_actor(engine, caller, case_id))
    return AvailableOut(case_id=case_id, events=events)


@router.post(
    "/cases/{case_id}/explain", response_model=ExplanationOut,
    responses=_problems(403, 404, 422), tags=["cases"],
)  # fmt: skip
def explain(
    request: Request, caller: CallerDep, case_id: CaseId, body: ExplainIn
) -> ExplanationOut:
    """Every reason the event would be refused now for the account (none: it would fire).
    Writes nothing."""
    engine = _engine(request)
    actor = _case_actor(engine, caller, case_id)
    return ExplanationOut.of(engine.explain(case_id, body.event, actor, body.payload))
