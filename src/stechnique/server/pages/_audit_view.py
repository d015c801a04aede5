"""The audit page (``/pages/audit``), for auditor accounts only: run an audit of the store's
histories, read the violations by case and seq, download the report as JSON.

The audit is the engine's (``Engine.audit``), the JSON report the one ``stechnique audit
--json`` prints (``cli._render.audit_json``): one home for each. It runs while the request
waits (in the thread pool); following a long audit's progress is not offered yet.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from stechnique.cli._render import audit_json
from stechnique.engine import Engine
from stechnique.errors import StechniqueError
from stechnique.server.pages._session import Session, csrf_ok, read_session
from stechnique.server.pages._texts import text
from stechnique.server.pages._views import _page, _refusal_page, _spoken

__all__ = ["router"]

router = APIRouter(prefix="/pages", include_in_schema=False)


def _versions(engine: Engine) -> list[str]:
    return sorted({f"{p.name}@{p.version}" for p in engine.registry})


def _denied(request: Request, session: Session) -> Response:
    return _page(request, "error.html", {"session": session, "title": text("refused"),
                                         "message": text("auditors_only")}, 403)  # fmt: skip


@router.get("/audit")
def audit_form(request: Request) -> Response:
    """The audit form: which procedure version (or every one)."""
    session = read_session(request)
    if session is None:
        return RedirectResponse("/pages/login", status_code=303)
    with _spoken(request):
        if not session.account.auditor:
            return _denied(request, session)
        engine: Engine = request.app.state.engine
        return _page(request, "audit.html", {"session": session, "versions": _versions(engine),
                                             "report": None})  # fmt: skip


@router.post("/audit")
async def run_audit(request: Request) -> Response:
    """Run the audit and show its report (CSRF-checked: an audit reads every history)."""
    form = await request.form()
    session = read_session(request)
    if session is None:
        return RedirectResponse("/pages/login", status_code=303)
    with _spoken(request):
        if not session.account.auditor:
            return _denied(request, session)
        if not csrf_ok(session, form.get("csrf")):
            return _page(request, "error.html", {"session": session, "title": text("refused"),
                                                 "message": text("bad_csrf")}, 400)  # fmt: skip
        chosen = str(form.get("procedure") or "")
        engine: Engine = request.app.state.engine
        name, _, version = chosen.partition("@")
        try:
            report = await run_in_threadpool(
                engine.audit, name=name or None, version=version or None
            )
        except StechniqueError as error:
            return _refusal_page(request, session, error)
        document = audit_json(report, {"procedure": chosen or None})
        context: dict[str, Any] = {
            "session": session, "versions": _versions(engine), "report": report,
            "chosen": chosen,
            "download": "data:application/json;base64,"
            + base64.b64encode(document.encode("utf-8")).decode("ascii"),
        }  # fmt: skip
        return _page(request, "audit.html", context)
