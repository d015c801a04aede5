"""``stechnique serve``: the HTTP service partners outside Python call (the ``server`` extra).

A shared procedure needs a shared service that knows who is calling: partners (a CAF, the
État's services, a federation, a consulting firm...) do not each embed the library and claim
the roles they like. The service's operator creates **accounts** (``accounts``): a body, the
actor ids that act for it and the roles granted to it per procedure version. Every request
carries an account's bearer token, and the actor of every command is derived from the account
and the procedure version of the case: the caller never states its roles.

``stechnique.server.app.create_app`` builds the FastAPI application; ``accounts`` keeps the
accounts in the store's database. The routes, the authentication and the problem documents
(RFC 9457) are in the private modules ``_routes``, ``_auth`` and ``_problems``.
Only ``accounts`` is importable without the ``server`` extra (the ``stechnique accounts``
commands use it).
"""

__all__: list[str] = []
