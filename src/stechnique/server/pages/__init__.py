"""The web pages of ``stechnique serve``: for coordinators, partners and auditors, in French.

Server-rendered (Jinja2) pages in the same service and over the same accounts as the API: a
login turns an account's token into a session cookie (``_session``), and every page shows what
that account may see through the API's own rules (``_views``). The style sheet ships in the
package (``static/``): no asset comes from elsewhere. ``install(app)`` adds them to an
application.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the pages (``/pages``) and their static files (``/pages/static``) to ``app``."""
    from stechnique.server.pages._audit_view import router as audit_router
    from stechnique.server.pages._stats_view import router as stats_router
    from stechnique.server.pages._views import router

    app.include_router(audit_router)
    app.include_router(stats_router)
    app.include_router(router)
    static = StaticFiles(directory=str(Path(__file__).parent / "static"))
    app.mount("/pages/static", static, name="pages-static")
