"""The storage contract (``stechnique.testing.StorageContract``), unchanged, on every adapter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sql_support import SQLBackend, open_empty

from stechnique.storage import MemoryStorage, SQLStorage, Storage
from stechnique.testing.contract import StorageContract


class TestMemoryStorage(StorageContract):
    """The in-memory reference adapter."""

    @pytest.fixture
    def storage(self) -> Iterator[Storage]:
        store = MemoryStorage()
        yield store
        store.close()


class TestSQLiteStorage(StorageContract):
    """SQLite in a file, as an application embeds it."""

    @pytest.fixture
    def storage(self, sqlite_url: str, table_prefix: str) -> Iterator[SQLStorage]:
        yield from open_empty(SQLBackend("sqlite", sqlite_url, table_prefix))


@pytest.mark.postgres
class TestPostgresStorage(StorageContract):
    """The PostgreSQL server."""

    @pytest.fixture
    def storage(self, postgres_url: str, table_prefix: str) -> Iterator[SQLStorage]:
        yield from open_empty(SQLBackend("postgres", postgres_url, table_prefix))


@pytest.mark.mysql
class TestMySQLStorage(StorageContract):
    """The MariaDB/MySQL server."""

    @pytest.fixture
    def storage(self, mysql_url: str, table_prefix: str) -> Iterator[SQLStorage]:
        yield from open_empty(SQLBackend("mysql", mysql_url, table_prefix))
