"""The pages' session: a signed cookie naming the account, and the CSRF token of its forms.

A person logs in with the account's token once; the service answers with a cookie that holds
the account's id and a random CSRF token, signed by ``itsdangerous`` (a kept library: the same
signer Flask and Starlette's sessions use) and dated, so that it expires. The cookie never
holds the token itself. Each request reads the account again from the store: a revoked
account's session ends at its next request, in every worker. The cookie is ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` when the request came over https (or the operator says the
service is behind TLS: ``SECURE_VARIABLE``).

Every form carries the session's CSRF token; a POST whose token differs is refused
(``csrf_ok``). Why not a CSRF library: docs/decisions.md, « Web pages: sessions and CSRF ».
"""

from __future__ import annotations

import hmac
import os
import secrets

import attrs
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from stechnique.server.accounts import Account, AccountStore

__all__ = [
    "COOKIE",
    "MAX_AGE",
    "SECRET_VARIABLE",
    "SECURE_VARIABLE",
    "Session",
    "csrf_ok",
    "end_session",
    "read_session",
    "start_session",
]

#: The cookie's name.
COOKIE = "stechnique_session"
#: How long a session lasts without logging in again (seconds): a working day.
MAX_AGE = 10 * 3600
#: The secret the cookies are signed with; set it when several workers serve one store.
SECRET_VARIABLE = "STECHNIQUE_SESSION_SECRET"
#: ``1`` when a TLS reverse proxy stands in front (cookies then always ``Secure``).
SECURE_VARIABLE = "STECHNIQUE_SECURE_COOKIES"
# Without a configured secret, one per process: sessions then end when it restarts.
_PROCESS_SECRET = secrets.token_urlsafe(32)


@attrs.frozen
class Session:
    """The logged-in account and the CSRF token its forms carry."""

    account: Account
    csrf: str


def _serializer() -> URLSafeTimedSerializer:
    secret = os.environ.get(SECRET_VARIABLE) or _PROCESS_SECRET
    return URLSafeTimedSerializer(secret, salt="stechnique-pages-session")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or os.environ.get(SECURE_VARIABLE) == "1"


def start_session(request: Request, response: Response, account: Account) -> None:
    """Set the session cookie of ``account`` (a fresh CSRF token with it)."""
    value = _serializer().dumps({"account": account.id, "csrf": secrets.token_urlsafe(32)})
    response.set_cookie(
        COOKIE, value, max_age=MAX_AGE, httponly=True, samesite="lax",
        secure=_secure(request), path="/",
    )  # fmt: skip


def end_session(request: Request, response: Response) -> None:
    """Clear the session cookie."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_secure(request))  # fmt: skip


def read_session(request: Request) -> Session | None:
    """The session of ``request``: None without a cookie, with one badly signed or expired,
    or for an account revoked (or removed) since."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        data = _serializer().loads(value, max_age=MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("account"), str):
        return None
    accounts: AccountStore = request.app.state.accounts
    account = accounts.get(data["account"])
    if account is None or account.revoked_at is not None:
        return None
    return Session(account, str(data.get("csrf", "")))


def csrf_ok(session: Session, sent: object) -> bool:
    """Whether a form's ``csrf`` field is the session's token (compared in constant time)."""
    return isinstance(sent, str) and bool(sent) and hmac.compare_digest(sent, session.csrf)
