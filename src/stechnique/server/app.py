"""The FastAPI application of ``stechnique serve``: ``create_app(url)``.

The application holds an ``Engine`` over the SQL store at ``url`` and the store's
``AccountStore``; nothing else lives in its memory (the engine's remembered cases are a cache
every append checks: ``stechnique._known_cases``), so several workers or machines on one
database behave as one. Every error leaves as an RFC 9457 problem document (``_problems``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from stechnique._metadata import installed_version
from stechnique.engine import Engine
from stechnique.errors import StechniqueError
from stechnique.plugins import load_registry, split_sources
from stechnique.registry import Registry
from stechnique.server._jwt import JwtVerifier
from stechnique.server._problems import MEDIA_TYPE, Problem, problem_of
from stechnique.server._routes import router
from stechnique.server.accounts import AccountStore
from stechnique.server.pages import install as install_pages
from stechnique.storage.sql import SQLStorage

__all__ = [
    "DB_VARIABLE",
    "JWT_VARIABLES",
    "PREFIX_VARIABLE",
    "PROCEDURES_VARIABLE",
    "app_from_environment",
    "create_app",
]

_DESCRIPTION = """\
Les procédures d'appui de stechnique pour les partenaires hors Python. / stechnique's support
procedures for partners outside Python.

Every request carries an account's token (`Authorization: Bearer stq_...`). The actor of every
command is derived from the account and the case's procedure version: the caller never states
its roles. Errors are RFC 9457 problem documents with a stable `code`, French and English
texts (`fr`, `en`) and the structured `details` of the refusal.
"""


def create_app(
    url: str,
    *,
    table_prefix: str = "stechnique_",
    registry: Registry | None = None,
    jwt: JwtVerifier | None = None,
) -> FastAPI:
    """The service over the SQL store at ``url`` (created or upgraded when it opens); with
    ``jwt``, partners may also send a JWT of their identity provider (``_jwt``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        storage = SQLStorage(url, table_prefix=table_prefix)
        app.state.engine = Engine(storage, registry)
        app.state.accounts = AccountStore(url, table_prefix=table_prefix)
        app.state.jwt = jwt
        try:
            yield
        finally:
            app.state.accounts.close()
            storage.close()

    app = FastAPI(
        title="stechnique",
        version=installed_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(router)
    install_pages(app)
    app.add_exception_handler(Problem, _problem_response)
    app.add_exception_handler(StechniqueError, _error_response)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    return app


def _answer(request: Request, problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.to_data(request.url.path),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=problem.headers or None,
    )


async def _problem_response(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return _answer(request, error)


async def _error_response(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StechniqueError)
    return _answer(request, problem_of(error))


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    places = sorted({".".join(str(part) for part in e["loc"]) for e in error.errors()})
    listed = ", ".join(places)
    problem = Problem(
        422, "invalid_request", "Requête invalide / Invalid request",
        f"requête invalide : {listed}", f"invalid request: {listed}",
        {"errors": [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]}
                    for e in error.errors()]},
    )  # fmt: skip
    return _answer(request, problem)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    problem = Problem(
        error.status_code, f"http_{error.status_code}", str(error.detail),
        str(error.detail), str(error.detail), headers=dict(error.headers or {}),
    )  # fmt: skip
    return _answer(request, problem)


#: The variables ``app_from_environment`` reads (``stechnique serve`` sets them for its workers).
DB_VARIABLE = "STECHNIQUE_DB"
PREFIX_VARIABLE = "STECHNIQUE_TABLE_PREFIX"
PROCEDURES_VARIABLE = "STECHNIQUE_PROCEDURES"
#: The JWT mode: the identity provider's JWKS URL, its issuer, the audience (all or none).
JWT_VARIABLES = ("STECHNIQUE_JWKS_URL", "STECHNIQUE_JWT_ISSUER", "STECHNIQUE_JWT_AUDIENCE")


def app_from_environment() -> FastAPI:
    """The service as ``stechnique serve`` configured it through the environment: the store
    ``STECHNIQUE_DB``, the tables ``STECHNIQUE_TABLE_PREFIX``, the partner procedures
    ``STECHNIQUE_PROCEDURES``, the JWT mode ``JWT_VARIABLES`` (a factory for ``uvicorn
    --factory``: each worker builds its own)."""
    url = os.environ.get(DB_VARIABLE)
    if not url:
        raise RuntimeError(f"{DB_VARIABLE} is not set: the service needs a store URL")
    sources = split_sources(os.environ.get(PROCEDURES_VARIABLE, ""))
    prefix = os.environ.get(PREFIX_VARIABLE) or "stechnique_"
    settings = [os.environ.get(name, "") for name in JWT_VARIABLES]
    verifier = JwtVerifier(*settings) if all(settings) else None
    return create_app(url, table_prefix=prefix, registry=load_registry(sources), jwt=verifier)
