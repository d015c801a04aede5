"""The storage contract (``stechnique.testing.StorageContract``), unchanged, on every adapter."""

from __future__ import annotations

import pytest

from stechnique.storage import Storage
from stechnique.testing.contract import StorageContract


class TestStorageContract(StorageContract):
    """Memory (the reference), SQLite in a file, and the PostgreSQL and MariaDB servers.

    Wired as a partner wires its own adapter (see ``StorageContract``): a ``storage`` fixture
    yielding an empty store, here each adapter in turn from ``any_storage``.
    """

    @pytest.fixture
    def storage(self, any_storage: Storage) -> Storage:
        return any_storage
