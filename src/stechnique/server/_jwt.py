"""The optional OIDC/JWT mode: a bearer JWT from a partner's identity provider, verified
against the provider's published keys (JWKS), names its account by its subject.

PyJWT verifies: the signature with a key of the configured JWKS (fetched and cached by
``PyJWKClient``, refreshed when a token names a key it does not know), the algorithm among the
asymmetric ones configured (never the token's own choice), the issuer, the audience, and the
expiry, which is required. The account is the one whose id is the token's ``sub`` (the operator
names the account after the subject the provider issues, e.g. its client id in a
client-credentials flow); it must not be revoked. Anything else is no account (401).
"""

from __future__ import annotations

from typing import Any

import attrs
import jwt

__all__ = ["ALGORITHMS", "JwtVerifier", "looks_like_jwt"]

#: Asymmetric algorithms only: a symmetric one would let the JWKS's public data sign tokens.
ALGORITHMS = ("RS256", "ES256")


@attrs.frozen
class JwtVerifier:
    """Verifies partners' JWTs against one identity provider's JWKS."""

    jwks_url: str
    issuer: str
    audience: str
    _keys: Any = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_keys", jwt.PyJWKClient(self.jwks_url, cache_keys=True))

    def subject(self, token: str) -> str | None:
        """The verified ``sub`` of ``token``, or None when it does not verify."""
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=list(ALGORITHMS), audience=self.audience,
                issuer=self.issuer, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.PyJWTError:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) and subject else None


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has a JWT's shape (three dot-separated parts), not an account token."""
    return token.count(".") == 2
