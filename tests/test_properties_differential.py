"""Differential test: every command runs on the SQL store and on ``MemoryStorage`` alike.

The generated state machine applies each command to both stores and, after every step, reads
both whole: every case and every record must be identical, field for field and hash for hash,
and every command must end the same way on both (same result, or same error and message).
``MemoryStorage`` is the reference model; the SQL store is the one under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis.stateful import run_state_machine_as_test
from small import parties_procedure
from sql_support import drop_prefix, empty_tables, unique_prefix
from strategies import machine_settings

from stechnique.storage import MemoryStorage, SQLStorage
from stechnique.testing import procedure_machine
from stechnique.workflows import default_registry

pytestmark = pytest.mark.slow  # long state machines; test_properties_machine keeps quick ones

PUBLISHED = {procedure.key: procedure for procedure in default_registry()}
# The small procedure whose steps are bound to parties (revision 2's model) too.
PUBLISHED["dossier@1"] = parties_procedure()
#: Share of the profile's examples per procedure: each step reads the whole SQL store, and a
#: server answers slower than an embedded file.
SQLITE_FRACTION = 1 / 6
SERVER_FRACTION = 1 / 12


def run_against(key: str, storage_factory: Callable[[], SQLStorage], fraction: float) -> None:
    registry = default_registry()
    registry.register(PUBLISHED["dossier@1"])
    machine = procedure_machine(
        PUBLISHED[key],
        storage_factory=storage_factory,
        registry=registry,
        reference_factory=MemoryStorage,
    )
    run_state_machine_as_test(machine, settings=machine_settings(fraction))


@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_sqlite_holds_what_memory_holds(key: str) -> None:
    run_against(key, lambda: SQLStorage("sqlite://"), SQLITE_FRACTION)


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[Callable[[], SQLStorage]]:
    """Opens a PostgreSQL store on tables of its own, emptied before each run."""
    prefix = unique_prefix("d")

    def fresh() -> SQLStorage:
        empty_tables(postgres_url, prefix)
        return SQLStorage(postgres_url, table_prefix=prefix)

    yield fresh
    drop_prefix(postgres_url, prefix)


@pytest.mark.postgres
@pytest.mark.parametrize("key", sorted(PUBLISHED))
def test_postgres_holds_what_memory_holds(
    key: str, fresh_postgres: Callable[[], SQLStorage]
) -> None:
    run_against(key, fresh_postgres, SERVER_FRACTION)


@pytest.fixture
def fresh_mysql(mysql_url: str) -> Iterator[Callable[[], SQLStorage]]:
    """Opens a MariaDB/MySQL store on tables of its own, emptied before each run."""
    prefix = unique_prefix("d")

    def fresh() -> SQLStorage:
        empty_tables(mysql_url, prefix)
        return SQLStorage(mysql_url, table_prefix=prefix)

    yield fresh
    drop_prefix(mysql_url, prefix)


@pytest.mark.mysql
@pytest.mark.parametrize("key", ["dossier@1"])
def test_mariadb_holds_what_memory_holds(key: str, fresh_mysql: Callable[[], SQLStorage]) -> None:
    # The procedure whose steps are bound to parties: the readers index and the parties of
    # each case row, on the third backend (the published ones run on the other two).
    run_against(key, fresh_mysql, SERVER_FRACTION)
