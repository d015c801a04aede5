"""The page « Suivi et évaluation du dispositif » and its CSV downloads (``/pages/stats``).

The figures are ``stechnique.stats``'s, over the cases the account may see (the API's rule,
``_routes.list_cases``). An account holding a coordinating role (one that sees every case of
a version) gets them whole; any other gets them with the small counts withheld.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from stechnique.engine import Engine
from stechnique.i18n import current_lang
from stechnique.server._routes import list_cases
from stechnique.server.pages._charts import bar_chart
from stechnique.server.pages._session import Session, read_session
from stechnique.server.pages._texts import text
from stechnique.server.pages._views import _caller, _page, _spoken
from stechnique.stats import TABLES, Figures, figures, to_csv

__all__ = ["router"]

router = APIRouter(prefix="/pages", include_in_schema=False)


def coordinates(engine: Engine, session: Session) -> bool:
    """Whether the account holds, in some procedure version, a role that sees all its cases."""
    for grant in session.account.grants:
        for procedure in engine.registry:
            if (procedure.name, procedure.version) == (grant.name, grant.version) and not (
                grant.roles.isdisjoint(procedure.seen_by_roles)
            ):
                return True
    return False


def _figures(request: Request, session: Session) -> Figures:
    engine: Engine = request.app.state.engine
    cases = [engine.storage.get(out.id) for out in list_cases(request, _caller(session))]
    labels: dict[str, str] = {}
    for procedure in engine.registry:
        for state in procedure.states:
            labels.setdefault(state.id, state.en if current_lang() == "en" else state.fr)
    return figures(
        (case for case in cases if case is not None),
        engine.storage.records,
        suppress=not coordinates(engine, session),
        labels=labels,
    )


@router.get("/stats")
def stats_page(request: Request) -> Response:
    """The figures as tables, each with its CSV download."""
    session = read_session(request)
    if session is None:
        return RedirectResponse("/pages/login", status_code=303)
    with _spoken(request):
        found = _figures(request, session)
        charts = {table: bar_chart(text(table), getattr(found, table)) for table in TABLES[:-1]}
        return _page(request, "stats.html", {"session": session, "f": found, "charts": charts})


@router.get("/stats/{table}.csv")
def stats_csv(request: Request, table: Annotated[str, Path(max_length=40)]) -> Response:
    """One table as CSV."""
    session = read_session(request)
    if session is None:
        return RedirectResponse("/pages/login", status_code=303)
    if table not in TABLES:
        return Response("unknown table", status_code=404, media_type="text/plain")
    with _spoken(request):
        body = to_csv(_figures(request, session), table)
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="stechnique-{table}.csv"'})  # fmt: skip
