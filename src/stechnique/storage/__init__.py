"""Storage adapters: the ``Storage`` protocol and the in-memory reference adapter."""

from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage

__all__ = ["MemoryStorage", "Storage"]
