"""Storage adapters: the ``Storage`` protocol, the in-memory reference adapter and SQL storage.

``SQLStorage`` needs only SQLAlchemy and Alembic to import; the PostgreSQL and MariaDB/MySQL
drivers are extras (``stechnique[postgres]``, ``stechnique[mysql]``) loaded when a store opens.
"""

from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage
from stechnique.storage.sql import SQLStorage, upgrade_schema

__all__ = ["MemoryStorage", "SQLStorage", "Storage", "upgrade_schema"]
