"""Storage adapters: the ``Storage`` protocol, the in-memory reference adapter and SQL storage.

``StreamsCaseIds`` declares an optional capability an adapter may add to ``Storage``.

``SQLStorage`` and ``upgrade_schema`` load SQLAlchemy and Alembic on first use, so code that
keeps its cases in memory never pays for them. The PostgreSQL and MariaDB/MySQL drivers are
extras (``stechnique[postgres]``, ``stechnique[mysql]``), loaded when such a store opens.
"""

from typing import TYPE_CHECKING, Any

from stechnique.storage.base import Feed, Storage, StreamsCaseIds
from stechnique.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from stechnique.storage.sql import SQLStorage, upgrade_schema

__all__ = ["Feed", "MemoryStorage", "SQLStorage", "Storage", "StreamsCaseIds", "upgrade_schema"]


def __getattr__(name: str) -> Any:
    """Load the SQL adapter on first use."""
    if name in ("SQLStorage", "upgrade_schema"):
        from stechnique.storage import sql

        return getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
