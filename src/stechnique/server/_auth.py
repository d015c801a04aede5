"""Who is calling: the account of the request's bearer token, and the actor it acts as.

401 when the request carries no token, or one no account holds (wrong, or revoked), or, in the
JWT mode (``_jwt``), a JWT that does not verify or names no account: the caller is not known.
403 when the account is known but may not do what it asks (act as an actor not of the
account, read unredacted without being an auditor). A refusal the engine decides (a role
missing on a case the account may see) is 403 too; a case it may not see is 404.
"""

from __future__ import annotations

from typing import Annotated

import attrs
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stechnique.records import Actor
from stechnique.server._jwt import JwtVerifier, looks_like_jwt
from stechnique.server._problems import Problem
from stechnique.server.accounts import Account, AccountStore

__all__ = ["Caller", "CallerDep", "caller"]

_bearer = HTTPBearer(auto_error=False, description="An account's token (stq_...).")


@attrs.frozen
class Caller:
    """The authenticated account of a request and the actor id it acts as."""

    account: Account
    actor_id: str

    def actor(self, name: str, version: str) -> Actor:
        """The actor of a command on a case of ``name@version``: never the caller's word."""
        return self.account.actor(name, version, self.actor_id)


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    acting: Annotated[
        str | None,
        Header(
            alias="Stechnique-Actor",
            description="Which of the account's actors acts (default: its first).",
        ),
    ] = None,
) -> Caller:
    """The caller of ``request``, or a 401 / 403 problem."""
    account = None if credentials is None else _account(request, credentials.credentials)
    if account is None:
        raise Problem(
            401, "unauthenticated", "Non authentifié / Unauthenticated",
            "jeton absent, inconnu ou révoqué : envoyez « Authorization: Bearer <jeton> »",
            "missing, unknown or revoked token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="stechnique"'},
        )  # fmt: skip
    actor_id = account.actors[0] if acting is None else acting
    if not account.acts_as(actor_id):
        raise Problem(
            403, "not_an_actor_of_the_account", "Acteur refusé / Actor refused",
            f"{actor_id!r} n'agit pas pour le compte {account.id!r}",
            f"{actor_id!r} does not act through account {account.id!r}",
            {"actors": list(account.actors)},
        )  # fmt: skip
    return Caller(account, actor_id)


def _account(request: Request, token: str) -> Account | None:
    """The account a bearer token names: an account token, or, in the JWT mode, a verified
    JWT whose subject is the account's id."""
    accounts: AccountStore = request.app.state.accounts
    verifier: JwtVerifier | None = request.app.state.jwt
    if verifier is None or not looks_like_jwt(token):
        return accounts.by_token(token)
    subject = verifier.subject(token)
    account = None if subject is None else accounts.get(subject)
    return None if account is None or account.revoked_at is not None else account


#: The authenticated caller, as a route parameter.
CallerDep = Annotated[Caller, Depends(caller)]
