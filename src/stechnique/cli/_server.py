"""``stechnique serve`` and ``stechnique accounts add|list|revoke``: the HTTP service.

``serve`` runs ``stechnique.server`` on uvicorn (the ``server`` extra); ``accounts`` manages,
in the same store, who may call it. The commands are a thin layer: the service is in
``stechnique.server``, the accounts in ``stechnique.server.accounts``.
"""

from __future__ import annotations

import importlib
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from stechnique.cli._commands import Db, _Group, _line, _say, app
from stechnique.cli._support import (
    DEFAULT_DB,
    CommandLineError,
    command_registry,
    open_storage,
    parse_procedure_ref,
    procedure_sources,
    table_prefix,
)

if TYPE_CHECKING:  # imported when a command needs it: SQLAlchemy loads only then
    from stechnique.server.accounts import AccountStore

__all__ = ["accounts_app"]

accounts_app = typer.Typer(
    cls=_Group,
    help="The accounts of the HTTP service: a body, its actors, its roles per procedure version.",
    no_args_is_help=True,
)
app.add_typer(accounts_app, name="accounts")


def _need_server_extra() -> None:
    missing = []
    for name in ("fastapi", "uvicorn"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise CommandLineError(
            f"le service HTTP demande l'extra « server » ({', '.join(missing)} absent) : "
            "pip install 'stechnique[server]' / the HTTP service needs the 'server' extra "
            f"({', '.join(missing)} missing): pip install 'stechnique[server]'"
        )


@app.command("serve")
def serve(
    db: Db = DEFAULT_DB,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (on one store).")
    ] = 1,
    jwks_url: Annotated[
        str | None,
        typer.Option("--jwks-url", metavar="URL", help="JWT mode: the identity provider's JWKS."),
    ] = None,
    jwt_issuer: Annotated[
        str | None, typer.Option("--jwt-issuer", metavar="ISS", help="JWT mode: its issuer.")
    ] = None,
    jwt_audience: Annotated[
        str | None,
        typer.Option("--jwt-audience", metavar="AUD", help="JWT mode: the audience expected."),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json) over the store, until interrupted."""
    _need_server_extra()
    import uvicorn

    from stechnique.server.app import (
        DB_VARIABLE,
        JWT_VARIABLES,
        PREFIX_VARIABLE,
        PROCEDURES_VARIABLE,
    )

    settings = (jwks_url, jwt_issuer, jwt_audience)
    if any(settings) and not all(settings):
        raise CommandLineError(
            "le mode JWT demande --jwks-url, --jwt-issuer et --jwt-audience ensemble / the JWT "
            "mode needs --jwks-url, --jwt-issuer and --jwt-audience together"
        )
    for name, value in zip(JWT_VARIABLES, settings, strict=True):
        os.environ[name] = value or ""

    open_storage(db).close()  # create or upgrade the store once, before any worker starts
    os.environ[DB_VARIABLE] = db
    os.environ[PREFIX_VARIABLE] = table_prefix()
    command_registry()  # the procedure sources are checked here, not in each worker
    # Each worker builds its registry from the same sources (``--procedures`` included).
    os.environ[PROCEDURES_VARIABLE] = os.pathsep.join(procedure_sources())
    _say(f"stechnique serve: http://{host}:{port} (OpenAPI: /openapi.json, docs: /docs)")
    uvicorn.run(
        "stechnique.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _grants(texts: list[str] | None) -> list[tuple[str, str, frozenset[str]]]:
    grants = []
    for text in texts or []:
        reference, sep, roles = text.partition("=")
        name, version = parse_procedure_ref(reference)
        named = frozenset(role.strip() for role in roles.split(",") if role.strip())
        if not sep or version is None or not named:
            raise CommandLineError(
                f"--grant {text!r} : attendu NOM@VERSION=RÔLE,... / --grant {text!r}: "
                "expected NAME@VERSION=ROLE,..."
            )
        grants.append((name, version, named))
    return grants


def _store(db: str) -> AccountStore:
    from stechnique.server.accounts import AccountStore

    open_storage(db).close()  # the accounts table comes with the store's schema
    return AccountStore(db, table_prefix=table_prefix())


@accounts_app.command("add")
def accounts_add(
    account_id: Annotated[str, typer.Argument(metavar="ID", help="The account's name.")],
    body: Annotated[str, typer.Option("--body", help="The body the account acts for.")],
    actor: Annotated[
        list[str] | None,
        typer.Option(
            "--actor", help="An actor id acting for the body (repeat; default: the body)."
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            metavar="NAME@VERSION=ROLE,...",
            help="Roles granted in one procedure version (repeat).",
        ),
    ] = None,
    auditor: Annotated[
        bool, typer.Option("--auditor", help="May read unredacted histories, with a reason.")
    ] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Make an account and print its token: it is shown this once, never stored."""
    from stechnique.server.accounts import Grant, check_grants

    grants = check_grants(
        command_registry(), [Grant(name, version, roles) for name, version, roles in _grants(grant)]
    )
    store = _store(db)
    try:
        account, token = store.add(account_id, body=body, actors=actor or (), grants=grants,
                                   auditor=auditor, now=datetime.now(UTC))  # fmt: skip
    finally:
        store.close()
    _say(
        f"compte {account.id!r} créé pour {account.body!r} ; son jeton, affiché cette seule fois "
        f"/ account {account.id!r} made for {account.body!r}; its token, shown this once:"
    )
    _line(token)


@accounts_app.command("list")
def accounts_list(db: Db = DEFAULT_DB) -> None:
    """Every account: id, body, actors, grants, auditor, revoked (never a token)."""
    store = _store(db)
    try:
        accounts = store.all()
    finally:
        store.close()
    for account in accounts:
        grants = "; ".join(
            f"{g.name}@{g.version}={','.join(sorted(g.roles))}" for g in account.grants
        )
        flags = (" auditor" if account.auditor else "") + (
            f" revoked {account.revoked_at.isoformat(timespec='seconds')}"
            if account.revoked_at
            else ""
        )
        _line(f"{account.id}\tbody={account.body}\tactors={','.join(account.actors)}"
              f"\tgrants={grants or '-'}{flags}")  # fmt: skip


@accounts_app.command("revoke")
def accounts_revoke(
    account_id: Annotated[str, typer.Argument(metavar="ID", help="The account to revoke.")],
    db: Db = DEFAULT_DB,
) -> None:
    """Revoke the account: its token is refused from the next request on."""
    store = _store(db)
    try:
        account = store.revoke(account_id, now=datetime.now(UTC))
    finally:
        store.close()
    _say(f"compte {account.id!r} révoqué / account {account.id!r} revoked")
