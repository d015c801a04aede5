"""The routes of the pages (under ``/pages``): login, cases, a case, its forms.

Every route is a plain ``def`` (run in the thread pool, as the API's: the engine's database
calls never block the event loop). The rules of who sees and fires what are the API's own
(``_routes``): the pages call them with the session's account, and add only HTML. Every POST
checks the session's CSRF token first; a command that succeeds answers 303 to the case page
(Post/Redirect/Get), one refused shows the refusal's text and changes nothing.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from stechnique.diagram import dot
from stechnique.engine import Engine
from stechnique.errors import StechniqueError, UnknownCase
from stechnique.i18n import current_lang, format_datetime, use_locale
from stechnique.records import Case, Record
from stechnique.server._auth import Caller
from stechnique.server._problems import problem_of
from stechnique.server._routes import _commanding_actor, _seen_case, list_cases
from stechnique.server.accounts import AccountStore
from stechnique.server.pages._forms import controls, payload_of
from stechnique.server.pages._session import (
    Session,
    csrf_ok,
    end_session,
    read_session,
    start_session,
)
from stechnique.server.pages._texts import LANG_COOKIE, lang_of, text
from stechnique.timeline import timeline
from stechnique.waiting import waiting_on

__all__ = ["PAGE_SIZE", "router"]

#: Cases per page of the cases list.
PAGE_SIZE = 50
_HERE = Path(__file__).parent
_LOGIN_CSRF = "stechnique_login_csrf"

# Every template escapes what it prints (autoescape on for all of them, not only by extension):
# case facts and payloads are what partners typed.
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"), autoescape=True, auto_reload=False
    )
)
templates.env.globals.update(t=text, when=format_datetime)
router = APIRouter(prefix="/pages", include_in_schema=False)


@contextmanager
def _spoken(request: Request) -> Iterator[None]:
    with use_locale(lang_of(request)):
        yield


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    context = {"lang": current_lang(), "here": request.url.path, **context}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if request.query_params.get("lang"):
        response.set_cookie(LANG_COOKIE, current_lang(), max_age=365 * 86400, samesite="lax")
    return response


def _to_login() -> RedirectResponse:
    return RedirectResponse("/pages/login", status_code=303)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _caller(session: Session) -> Caller:
    return Caller(session.account, session.account.actors[0])


# -- login and logout -----------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request) -> Response:
    """The login form: the account's token, and a CSRF token for the form itself."""
    with _spoken(request):
        return _login_page(request, None, 200)


def _login_page(request: Request, error: str | None, status: int) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _page(request, "login.html", {"csrf": token, "error": error}, status)
    response.set_cookie(_LOGIN_CSRF, token, max_age=3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/pages/login")  # fmt: skip
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    """Turn an account's token into a session cookie (303 to the cases), or say why not."""
    form = await request.form()
    with _spoken(request):
        sent, expected = form.get("csrf"), request.cookies.get(_LOGIN_CSRF, "")
        if not (isinstance(sent, str) and expected and secrets.compare_digest(sent, expected)):
            return _login_page(request, text("bad_csrf"), 400)
        token = form.get("token")
        accounts: AccountStore = request.app.state.accounts
        account = accounts.by_token(token.strip()) if isinstance(token, str) else None
        if account is None:
            return _login_page(request, text("bad_token"), 401)
        response = RedirectResponse("/pages/cases", status_code=303)
        start_session(request, response, account)
        response.delete_cookie(_LOGIN_CSRF, path="/pages/login")
        return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (a POST with the session's CSRF token)."""
    form = await request.form()
    session = read_session(request)
    if session is not None and not csrf_ok(session, form.get("csrf")):
        with _spoken(request):
            return _page(request, "error.html", {"session": session, "title": text("refused"),
                                                 "message": text("bad_csrf")}, 400)  # fmt: skip
    response = _to_login()
    end_session(request, response)
    return response


@router.get("")
@router.get("/")
def home() -> Response:
    """The cases list is the home page."""
    return RedirectResponse("/pages/cases", status_code=303)


# -- cases ----------------------------------------------------------------------------------

Filter = Annotated[str | None, Query(max_length=100)]


@router.get("/cases")
def cases_page(
    request: Request,
    procedure: Filter = None,
    version: Filter = None,
    state: Filter = None,
    year: Filter = None,
    waiting: Filter = None,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
) -> Response:
    """The cases the account may see, filtered, a page at a time."""
    session = read_session(request)
    if session is None:
        return _to_login()
    with _spoken(request):
        engine = _engine(request)
        try:
            found = list_cases(request, _caller(session), name=procedure or None,
                               version=version or None, state=state or None)  # fmt: skip
        except StechniqueError as error:
            return _refusal_page(request, session, error)
        choices = _choices(engine)
        choices["year"] = [(y, y) for y in sorted({str(c.created_at.year) for c in found})]
        if year:
            found = [case for case in found if str(case.created_at.year) == year]
        if waiting:
            found = [case for case in found if _waits_on(engine, case.id, waiting.strip())]
        pages = max(1, -(-len(found) // PAGE_SIZE))
        page = min(page, pages)
        shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        kept = {"procedure": procedure or "", "version": version or "", "state": state or "",
                "year": year or "", "waiting": waiting or ""}  # fmt: skip
        return _page(request, "cases.html", {
            "session": session, "cases": shown, "total": len(found), "page": page,
            "pages": pages, "filters": kept, "choices": choices,
            "state_label": lambda case: _state_label(engine, case.fingerprint, case.state),
            "link": lambda number: "?" + urlencode({**kept, "page": number}),
        })  # fmt: skip


def _waits_on(engine: Engine, case_id: str, who: str) -> bool:
    """Whether the case waits on the body or coordinating role ``who`` (its history read:
    this filter costs a read per case listed)."""
    case = engine.storage.get(case_id)
    if case is None:
        return False
    procedure = engine.registry.pinned(case.id, case.seq, case.name, case.version,
                                       case.fingerprint)  # fmt: skip
    if procedure.state(case.state).terminal or procedure.wait(case.state) is None:
        return False
    return waiting_on(procedure, case, engine.storage.records(case.id)).waits_on(who)


def _choices(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """The values each filter offers: the registered procedures, versions and states."""
    procedures = {p.name: (p.en if current_lang() == "en" else p.fr) for p in engine.registry}
    versions = sorted({p.version for p in engine.registry})
    states: dict[str, str] = {}
    for p in engine.registry:
        for s in p.states:
            states.setdefault(s.id, s.en if current_lang() == "en" else s.fr)
    return {
        "procedure": sorted(procedures.items()),
        "version": [(v, v) for v in versions],
        "state": sorted(states.items(), key=lambda item: item[1]),
    }


def _state_label(engine: Engine, fingerprint: str, state: str) -> str:
    procedure = engine.registry.by_fingerprint(fingerprint)
    if procedure is None:
        return state
    chosen = procedure.state(state)
    return chosen.en if current_lang() == "en" else chosen.fr


# -- a case ---------------------------------------------------------------------------------


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str) -> Response:
    """A case: its facts, parties, wait, the events open to the account, timeline, diagram."""
    session = read_session(request)
    if session is None:
        return _to_login()
    with _spoken(request):
        return _case_view(request, session, case_id, None, None, 200)


def _case_view(
    request: Request, session: Session, case_id: str, refusal: str | None,
    refused_event: str | None, status: int,
) -> HTMLResponse:  # fmt: skip
    engine = _engine(request)
    try:
        _, actor = _seen_case(engine, _caller(session), case_id)
        case = engine.case(case_id, actor)
        records = engine.history(case_id, actor)
        events = engine.available_events(case_id, actor)
    except StechniqueError as error:
        return _refusal_page(request, session, error)
    procedure = engine.registry.pinned(case.id, case.seq, case.name, case.version,
                                       case.fingerprint)  # fmt: skip
    forms = []
    for event in events:
        transition = procedure.candidates(case.state, event)[0]
        label = (transition.en if current_lang() == "en" else transition.fr) or event
        forms.append({"event": event, "label": label, "controls": controls(transition.payload)})
    waiting = waiting_on(procedure, case, records)
    return _page(request, "case.html", {
        "session": session, "case": case, "procedure": procedure,
        "state_label": _state_label(engine, case.fingerprint, case.state),
        "timeline": timeline(records, engine.registry), "forms": forms,
        "waiting": waiting, "parties": sorted(case.parties.bound) if case.parties else [],
        "coordinators": sorted(case.parties.coordinators) if case.parties else [],
        "svg": _svg(dot(procedure, records)), "path": _path(engine, records),
        "refusal": refusal, "refused_event": refused_event,
        "done": request.query_params.get("done") == "1",
    }, status)  # fmt: skip


def _svg(graph: str) -> str | None:
    """The diagram drawn by Graphviz as inline SVG, or None where ``dot`` is not installed."""
    program = shutil.which("dot")
    if program is None:
        return None
    drawn = subprocess.run([program, "-Tsvg"], input=graph.encode(), capture_output=True,
                           timeout=30, check=False)  # fmt: skip
    if drawn.returncode != 0:
        return None
    svg = drawn.stdout.decode("utf-8")
    return svg[svg.find("<svg") :]  # the XML prolog and DOCTYPE do not belong inside HTML


def _path(engine: Engine, records: list[Record]) -> list[str]:
    return [_state_label(engine, record.fingerprint, record.target) for record in records]


@router.post("/cases/{case_id}/events/{event}")
async def fire_page(request: Request, case_id: str, event: str) -> Response:
    """Fire ``event`` through its form: 303 back to the case when it fired, else the case
    page with the refusal's text (nothing written)."""
    form = await request.form()
    session = read_session(request)
    if session is None:
        return _to_login()
    values = {name: [str(v) for v in form.getlist(name)] for name in form}
    with _spoken(request):
        if not csrf_ok(session, form.get("csrf")):
            return _case_view(request, session, case_id, text("bad_csrf"), event, 400)
        return await run_in_threadpool(_fire, request, session, case_id, event, values)


def _fire(
    request: Request, session: Session, case_id: str, event: str, values: dict[str, list[str]]
) -> Response:
    engine = _engine(request)
    with _spoken(request):
        try:
            actor = _commanding_actor(engine, _caller(session), case_id)
            case = engine.case(case_id, actor)
            procedure = engine.procedure(case.name, case.version)
            candidates = procedure.candidates(case.state, event)
            # No transition from here: the engine refuses the event and says why.
            fields = candidates[0].payload if candidates else ()
            engine.fire(case_id, event, actor=actor, payload=payload_of(fields, values),
                        expected_seq=_seq(values))  # fmt: skip
        except UnknownCase as error:
            return _refusal_page(request, session, error)
        except StechniqueError as error:
            problem = problem_of(error)
            message = problem.en if current_lang() == "en" else problem.fr
            return _case_view(request, session, case_id, message, event, problem.status)
        return RedirectResponse(f"/pages/cases/{case_id}?done=1", status_code=303)


def _seq(values: dict[str, list[str]]) -> int | None:
    """The seq the form was drawn at: a fire on a case that moved on since is refused."""
    sent = values.get("seq", [""])[0]
    return int(sent) if sent.isdigit() and len(sent) <= 12 else None


def _refusal_page(request: Request, session: Session, error: StechniqueError) -> HTMLResponse:
    problem = problem_of(error)
    title = text("not_found") if isinstance(error, UnknownCase) else text("refused")
    message = problem.en if current_lang() == "en" else problem.fr
    return _page(request, "error.html", {"session": session, "title": title,
                                         "message": message}, problem.status)  # fmt: skip


def case_of(case: Case) -> str:
    """The link to a case's page."""
    return f"/pages/cases/{case.id}"


templates.env.globals["case_link"] = case_of
