"""Kept connections: one the server closed is never handed to the next command."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from small import ticket
from sql_support import SQLBackend, open_empty

from stechnique import Actor, Engine, Registry, StorageError
from stechnique.storage import SQLStorage

CLERK, BOSS = Actor("agent-1", {"clerk"}), Actor("chef-1", {"boss"})


def _max_allowed_packet(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one())
    finally:
        engine.dispose()


@pytest.fixture
def mysql_storage(mysql_url: str, table_prefix: str) -> Iterator[SQLStorage]:
    yield from open_empty(SQLBackend("mysql", mysql_url, table_prefix))


@pytest.mark.mysql
def test_a_connection_the_server_closed_is_not_reused(
    mysql_storage: SQLStorage, mysql_url: str
) -> None:
    # Issue 16, item 10: after error 1153 (a packet over max_allowed_packet) MariaDB closes the
    # connection; put back on the free list, it failed the next, valid fire with « (0, '') ».
    engine = Engine(mysql_storage, Registry((ticket(),)))
    case = engine.start("ticket", actor=CLERK, facts={"title": "t", "kind": "solo"})
    engine.fire(case.id, "approve", actor=BOSS)
    limit = _max_allowed_packet(mysql_url)
    with pytest.raises(StorageError, match="1153"):
        engine.fire(case.id, "comment", actor=CLERK, payload={"text": "x" * (limit + 1024)})
    after = engine.fire(case.id, "comment", actor=CLERK, payload={"text": "vu"})
    assert after.seq == 3
