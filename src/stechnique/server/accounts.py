"""The service's accounts: who may call it, for which body, with which roles, by which token.

An account is what the operator of the service grants a partner: a body (``caf-13``), the
actor ids that act for it (a person, an application; the body itself by default), the roles
it holds **per procedure version** (funder in ``soutien-technique-renforce@2015-2017`` is
nothing in another procedure or version), and whether it is an auditor's account (allowed to
read unredacted histories, saying why). The service derives every command's ``Actor`` from it.

A token is ``stq_`` and 32 random bytes (``secrets.token_urlsafe``), shown once when the
account is made and kept only as its SHA-256 digest: a copy of the database does not let
anyone call the service. A request finds its account by the digest of the token it carries
(why a plain SHA-256 is enough, and why the lookup leaks nothing: ``docs/decisions.md``).
Revoking sets ``revoked_at``; the token is refused from the next request on, in every process,
since nothing of an account is kept in memory between requests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import URL

from stechnique._arguments import Arguments
from stechnique.errors import ArgumentProblem, InvalidArgument
from stechnique.records import Actor
from stechnique.registry import Registry
from stechnique.storage._sql_engine import Backend, make_backend
from stechnique.storage._sql_schema import ID_LENGTH, SQLSchema, schema_for

__all__ = ["TOKEN_PREFIX", "Account", "AccountStore", "Grant", "check_grants", "token_digest"]

#: What every token starts with, so that secret scanners and people recognise one.
TOKEN_PREFIX = "stq_"


def token_digest(token: str) -> str:
    """The hex SHA-256 of ``token``: what the store keeps and looks accounts up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _roles(roles: Iterable[str]) -> frozenset[str]:
    return frozenset(roles)


@attrs.frozen
class Grant:
    """The roles an account holds in one procedure version (``name@version``)."""

    name: str
    version: str
    roles: frozenset[str] = attrs.field(converter=_roles)

    def to_data(self) -> dict[str, Any]:
        """Plain data, roles sorted (what the store keeps)."""
        return {"name": self.name, "version": self.version, "roles": sorted(self.roles)}


@attrs.frozen
class Account:
    """A partner's account: its body, its actors, its grants, and whether it audits.

    :ivar id: the account's name, chosen by the operator (the body's id by default).
    :ivar body: the body the account acts for.
    :ivar actors: the actor ids that act for the body through it; the first is the default.
    :ivar grants: the roles held, per procedure version.
    :ivar auditor: whether it may read unredacted histories (each read logged with a reason).
    :ivar created_at: when the operator made it.
    :ivar revoked_at: when it was revoked (its token refused since), or None.
    """

    id: str
    body: str
    actors: tuple[str, ...]
    grants: tuple[Grant, ...]
    auditor: bool
    created_at: datetime
    revoked_at: datetime | None = None

    def roles_in(self, name: str, version: str) -> frozenset[str]:
        """The roles the account holds in ``name@version`` (none where nothing was granted)."""
        return frozenset(
            role
            for grant in self.grants
            if (grant.name, grant.version) == (name, version)
            for role in grant.roles
        )

    def actor(self, name: str, version: str, actor_id: str | None = None) -> Actor:
        """The ``Actor`` a command on a case of ``name@version`` runs as: ``actor_id`` (one
        of the account's actors; the first by default), the account's roles there, its body.

        ``actor_id`` not of the account is a ``ValueError``: the caller checks it first
        (``acts_as``).
        """
        chosen = self.actors[0] if actor_id is None else actor_id
        if chosen not in self.actors:
            raise ValueError(f"{chosen!r} is not an actor of account {self.id!r}")
        return Actor(chosen, self.roles_in(name, version), body=self.body)

    def acts_as(self, actor_id: str) -> bool:
        """Whether ``actor_id`` acts for the body through this account."""
        return actor_id in self.actors


def check_grants(registry: Registry, grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """``grants`` if each names a registered procedure version and roles it declares; else
    ``UnknownProcedure`` or ``InvalidArgument`` naming every unknown role."""
    checked = tuple(grants)
    problems: list[ArgumentProblem] = []
    for grant in checked:
        procedure = registry.get(grant.name, grant.version)
        declared = {role.id for role in procedure.roles}
        for role in sorted(grant.roles - declared):
            problems.append(
                ArgumentProblem(
                    "grants",
                    f"{procedure.key} ne déclare pas le rôle {role!r}",
                    f"{procedure.key} declares no role {role!r}",
                )
            )
    if problems:
        raise InvalidArgument(problems)
    return checked


class AccountStore:
    """The accounts of a SQL store (``<prefix>accounts``, made by the store's migrations).

    Open the store first (``SQLStorage``) so that its schema is up to date; the account store
    uses its own connections to the same database.
    """

    def __init__(self, url: str | URL, *, table_prefix: str = "stechnique_") -> None:
        self._schema: SQLSchema = schema_for(table_prefix)
        self._backend: Backend = make_backend(url)

    def close(self) -> None:
        """Release the connections."""
        self._backend.dispose()

    def add(
        self,
        account_id: str,
        *,
        body: str,
        actors: Sequence[str] = (),
        grants: Iterable[Grant] = (),
        auditor: bool = False,
        now: datetime,
    ) -> tuple[Account, str]:
        """Make an account and return it with its token: the only time the token is shown.

        ``actors`` defaults to the body itself. An id already taken, or blank or too long
        values, are refused with ``InvalidArgument``, nothing written.
        """
        check = Arguments()
        account_id = check.identifier("account_id", account_id)
        body = check.identifier("body", body)
        named = [check.identifier("actors", actor) for actor in actors] or [body]
        check.done()
        account = Account(account_id, body, tuple(dict.fromkeys(named)), tuple(grants),
                          bool(auditor), now)  # fmt: skip
        token = _new_token()
        row = {**_row(account), "token_digest": token_digest(token)}
        table = self._schema.accounts
        with self._backend.translated("add an account"), self._backend.writer.begin() as conn:
            taken = conn.execute(sa.select(table.c.id).where(table.c.id == account_id)).first()
            if taken is not None:
                raise InvalidArgument(
                    [
                        ArgumentProblem(
                            "account_id",
                            "un compte porte déjà cet identifiant",
                            "an account already has this id",
                        )
                    ]
                )
            conn.execute(table.insert(), row)
        return account, token

    def by_token(self, token: str) -> Account | None:
        """The account ``token`` belongs to, unless revoked; None for any other token."""
        if not token or len(token) > 2 * ID_LENGTH:
            return None
        digest = token_digest(token)
        table = self._schema.accounts
        query = sa.select(table).where(table.c.token_digest == digest)
        with self._backend.translated("find an account"), self._backend.reader.connect() as c:
            row = c.execute(query).mappings().first()
        # The row was found by the digest; comparing again in constant time costs nothing
        # and keeps the rule visible where the token is judged.
        if row is None or not hmac.compare_digest(row["token_digest"], digest):
            return None
        account = _account(row)
        return None if account.revoked_at is not None else account

    def get(self, account_id: str) -> Account | None:
        """The account of that id, revoked or not."""
        table = self._schema.accounts
        query = sa.select(table).where(table.c.id == account_id)
        with self._backend.translated("read an account"), self._backend.reader.connect() as c:
            row = c.execute(query).mappings().first()
        return None if row is None else _account(row)

    def all(self) -> list[Account]:
        """Every account, revoked ones included, by id."""
        table = self._schema.accounts
        with self._backend.translated("list accounts"), self._backend.reader.connect() as c:
            rows = c.execute(sa.select(table).order_by(table.c.id)).mappings().all()
        return [_account(row) for row in rows]

    def revoke(self, account_id: str, *, now: datetime) -> Account:
        """Revoke the account: its token is refused from now on. Revoking twice keeps the
        first time. An unknown id is refused with ``InvalidArgument``."""
        table = self._schema.accounts
        update = (
            table.update()
            .where(table.c.id == account_id, table.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        with self._backend.translated("revoke an account"), self._backend.writer.begin() as c:
            c.execute(update)
        account = self.get(account_id)
        if account is None:
            raise InvalidArgument(
                [
                    ArgumentProblem(
                        "account_id",
                        "aucun compte ne porte cet identifiant",
                        "no account has this id",
                    )
                ]
            )
        return account


def _row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "body": account.body,
        "actors": list(account.actors),
        "grants": [grant.to_data() for grant in account.grants],
        "auditor": account.auditor,
        "created_at": account.created_at,
        "revoked_at": account.revoked_at,
    }


def _account(row: Any) -> Account:
    grants = tuple(Grant(g["name"], g["version"], g["roles"]) for g in row["grants"])
    return Account(row["id"], row["body"], tuple(row["actors"]), grants, bool(row["auditor"]),
                   row["created_at"], row["revoked_at"])  # fmt: skip
