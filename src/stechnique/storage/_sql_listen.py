"""PostgreSQL's ``LISTEN`` for the followers of a store's feed (``SignalsAppends``).

Every append notifies the store's channel (``<prefix>feed``) in its own transaction, so the
notification is delivered when, and only if, the append commits. A listener holds one
connection of its own, outside the pool's reuse, that has run ``LISTEN``; waiting is a
``select`` on its socket, and what arrived is consumed by a trivial query. A notification is a
hint: a follower reads the feed again whether or not one came, so one lost (a connection
dropped, a notification that arrived with a query's answer) only delays it.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy.engine import Engine

__all__ = ["PostgresListener"]


class PostgresListener:
    """A connection listening on ``channel`` (a ``storage.base.Listener``)."""

    def __init__(self, engine: Engine, channel: str) -> None:
        self._pooled: Any = engine.pool.connect()
        connection: Any = self._pooled.driver_connection
        connection.autocommit = True
        # The channel comes from a checked table prefix; quoted, it keeps its case.
        connection.execute(f'LISTEN "{channel}"')
        self._connection = connection

    def wait(self, timeout: float) -> bool:
        """Whether something arrived on the connection within ``timeout`` seconds."""
        ready, _, _ = select.select([self._connection.fileno()], [], [], timeout)
        if not ready:
            return False
        self._connection.execute("SELECT 1")  # takes in the notifications that arrived
        return True

    def close(self) -> None:
        """Drop the connection (never handed back to the pool while listening)."""
        self._pooled.invalidate()
