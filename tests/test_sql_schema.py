"""SQL schema: the shipped migrations, automatic and refused upgrades, prefixes, bad input."""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from sql_support import SQLBackend, drop_prefix, empty_tables, schema_differences, unique_prefix
from sql_workers import CONTEXT, open_store, run_processes

import stechnique
from stechnique import Actor, Case, ConcurrencyConflict, SchemaOutOfDate, StorageError
from stechnique.storage import SQLStorage, upgrade_schema
from stechnique.storage._sql_schema import ID_LENGTH, NAME_LENGTH, schema_for
from stechnique.storage._sql_upgrade import MIGRATIONS, head_revision
from stechnique.testing import CaseBuilder

HEAD = "0005"


@pytest.fixture
def fresh(sql_backend: SQLBackend) -> Iterator[SQLBackend]:
    """A backend with a prefix nobody used yet; its tables are dropped afterwards."""
    backend = SQLBackend(sql_backend.kind, sql_backend.url, unique_prefix("s"))
    yield backend
    drop_prefix(backend.url, backend.prefix)


def _engine(backend: SQLBackend) -> sa.Engine:
    return sa.create_engine(backend.url, poolclass=sa.NullPool)


def _tables(backend: SQLBackend) -> set[str]:
    names = set(sa.inspect(_engine(backend)).get_table_names())
    return {name for name in names if name.startswith(backend.prefix)}


def _versions(backend: SQLBackend) -> list[str]:
    table = schema_for(backend.prefix).version_table
    with _engine(backend).connect() as connection:
        return list(connection.execute(sa.text(f"SELECT version_num FROM {table}")).scalars())


def test_head_is_the_newest_shipped_revision() -> None:
    assert head_revision() == HEAD
    assert (MIGRATIONS / "script.py.mako").is_file()


def test_migrations_build_exactly_the_tables_the_adapter_queries(fresh: SQLBackend) -> None:
    """Autogenerate finds no difference between the migrated database and ``_sql_schema``."""
    fresh.open().close()
    schema = schema_for(fresh.prefix)
    assert schema_differences(fresh.url, fresh.prefix) == []
    assert _tables(fresh) == set(schema.table_names)
    assert _versions(fresh) == [HEAD]


def test_refused_upgrade_says_what_to_run_and_writes_nothing(fresh: SQLBackend) -> None:
    with pytest.raises(SchemaOutOfDate) as refused:
        fresh.open(upgrade=False)
    assert (refused.value.current, refused.value.head) == (None, HEAD)
    assert _tables(fresh) == set()
    call = re.search(r"stechnique\.storage\.upgrade_schema\([^)]*\)", str(refused.value))
    assert call is not None, str(refused.value)
    assert fresh.prefix in call.group()
    assert f"stechnique db upgrade --db {fresh.url} --table-prefix {fresh.prefix}" in str(
        refused.value
    )
    eval(call.group(), {"stechnique": stechnique})
    assert _versions(fresh) == [HEAD]
    fresh.open(upgrade=False).close()


def test_an_older_schema_is_upgraded_and_keeps_its_data(fresh: SQLBackend) -> None:
    upgrade_schema(fresh.url, table_prefix=fresh.prefix, revision="0001")
    schema = schema_for(fresh.prefix)
    case, _ = CaseBuilder("old").start(facts={"title": "kept é"})
    with _engine(fresh).begin() as connection:
        # The columns of revision 0001 only (``parties`` came with 0004).
        columns = [c for c in schema.cases.c.keys() if c != "parties"]  # noqa: SIM118
        connection.execute(schema.cases.insert().values({c: getattr(case, c) for c in columns}))
    with pytest.raises(SchemaOutOfDate) as refused:
        fresh.open(upgrade=False)
    assert refused.value.current == "0001"
    with fresh.open() as storage:
        assert storage.get("old") == case
        assert case.parties is None
        assert list(storage.cases_without_parties()) == ["old"]
    indexes = {i["name"] for i in sa.inspect(_engine(fresh)).get_indexes(schema.cases.name)}
    assert f"{fresh.prefix}cases_name_version_state" in indexes
    assert _versions(fresh) == [HEAD]


def test_a_schema_from_a_newer_release_is_refused(fresh: SQLBackend) -> None:
    fresh.open().close()
    table = schema_for(fresh.prefix).version_table
    with _engine(fresh).begin() as connection:
        connection.execute(sa.text(f"UPDATE {table} SET version_num = '9999'"))
    with pytest.raises(StorageError, match=r"9999.*newer version"):
        fresh.open()


def test_prefixes_sharing_a_database_never_mix(sql_backend: SQLBackend) -> None:
    one = sql_backend
    two = SQLBackend(one.kind, one.url, unique_prefix("p"))
    try:
        with one.open() as first, two.open() as second:
            first.create(*CaseBuilder("same-id").start(facts={"title": "one"}))
            second.create(*CaseBuilder("same-id").start(facts={"title": "two"}))
            a, b = first.get("same-id"), second.get("same-id")
            assert a is not None
            assert b is not None
            assert (a.facts, b.facts) == ({"title": "one"}, {"title": "two"})
            empty_tables(two.url, two.prefix)
            assert first.get("same-id") == a
            assert list(second.iter_records()) == []
        assert _versions(two) == [HEAD]
    finally:
        drop_prefix(two.url, two.prefix)
    assert _tables(two) == set()
    assert set(schema_for(one.prefix).table_names) <= _tables(one)


@pytest.mark.slow
def test_concurrent_openers_of_a_fresh_database_do_not_race(fresh: SQLBackend) -> None:
    openers = 4
    barrier = CONTEXT.Barrier(openers)
    args = [(fresh.url, fresh.prefix, barrier)] * openers
    assert run_processes(open_store, args) == ["opened"] * openers
    assert _versions(fresh) == [HEAD]
    assert _tables(fresh) == set(schema_for(fresh.prefix).table_names)


def test_a_failed_insert_leaves_the_case_row_untouched(sql_storage: SQLStorage) -> None:
    """The case update and the record insert are one transaction: no half-written fire."""
    builder = CaseBuilder("half")
    sql_storage.create(*builder.start())
    before = sql_storage.get("half")
    case, record = builder.step("submit")
    schema = sql_storage.schema
    blocker = {c.name: getattr(record, c.name, None) for c in schema.records.c}
    blocker.update(actor_id="someone else", actor_roles=[], payload={})
    with _engine_of(sql_storage).begin() as connection:
        connection.execute(schema.records.insert(), blocker)
    with pytest.raises(ConcurrencyConflict):
        sql_storage.append(case, record)
    assert sql_storage.get("half") == before


def _engine_of(storage: SQLStorage) -> sa.Engine:
    return sa.create_engine(storage.url, poolclass=sa.NullPool)


def test_values_too_long_for_sql_are_refused_before_writing(sql_storage: SQLStorage) -> None:
    with pytest.raises(StorageError, match=r"case id .* 256 characters long"):
        sql_storage.create(*CaseBuilder("x" * 256).start())
    builder = CaseBuilder("ok")
    sql_storage.create(*builder.start())
    with pytest.raises(StorageError, match="idempotency key"):
        sql_storage.append(*builder.step(idempotency_key="k" * 256))
    too_long: dict[str, dict[str, Any]] = {
        "actor id": {"actor": Actor("a" * (ID_LENGTH + 1), {"applicant"})},
        "procedure name": {"name": "n" * (NAME_LENGTH + 1)},
        "procedure version": {"version": "v" * (NAME_LENGTH + 1)},
        "state": {"target": "s" * (NAME_LENGTH + 1)},
        "event": {"event": "e" * (NAME_LENGTH + 1)},
    }
    for what, fields in too_long.items():
        again = CaseBuilder("ok")
        again.start()
        with pytest.raises(StorageError, match=f"^{what} .* characters long"):
            sql_storage.append(*again.step(**fields))
    assert len(sql_storage.records("ok")) == 1
    assert [c.id for c in sql_storage.cases()] == ["ok"]


def test_driver_errors_become_storage_errors(sql_storage: SQLStorage) -> None:
    """A store whose tables vanished fails with ``StorageError``, the driver error chained."""
    drop_prefix(str(sql_storage.url), sql_storage.schema.prefix)
    for read in (lambda: sql_storage.get("a"), lambda: list(sql_storage.iter_records())):
        with pytest.raises(StorageError, match="SQL storage could not read") as failed:
            read()
        assert not isinstance(failed.value, sa.exc.SQLAlchemyError)
        assert failed.value.__cause__ is not None
    with pytest.raises(StorageError, match="could not create case a"):
        sql_storage.create(*CaseBuilder("a").start())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "could not read the database URL"),
        ("oracle://scott@localhost/db", "supports sqlite, postgresql and mysql"),
        ("mysql+mysqldb://root@127.0.0.1/test", r"pip install 'stechnique\[mysql\]'"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "could not read the schema revision"),
    ],
)
def test_unusable_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        SQLStorage(url)


def test_bad_options_are_refused() -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        SQLStorage("sqlite://", engine_options={"no_such_option": 1})
    with pytest.raises(StorageError, match="Invalid value 'NO SUCH LEVEL'"):
        SQLStorage("sqlite://", engine_options={"isolation_level": "NO SUCH LEVEL"})
    with pytest.raises(ValueError, match="table prefix 'bad-prefix'"):
        SQLStorage("sqlite://", table_prefix="bad-prefix")
    with pytest.raises(ValueError, match="synchronous='OFF'"):
        SQLStorage("sqlite://", synchronous="OFF")
    with pytest.raises(ValueError, match="SQLite only"):
        SQLStorage("postgresql+psycopg://u@h/db", synchronous="NORMAL")


def test_sqlite_runs_in_wal_mode_durable_by_default(tmp_path: Path) -> None:
    def pragmas(synchronous: str | None = None) -> list[object]:
        url = f"sqlite:///{tmp_path}/p.db"
        storage = SQLStorage(url, busy_timeout=7.5, synchronous=synchronous)
        with storage._backend.cursor() as cursor:
            names = ("journal_mode", "synchronous", "busy_timeout")
            found = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in names]
        storage.close()
        return found

    assert pragmas() == ["wal", 2, 7500]
    assert pragmas("NORMAL") == ["wal", 1, 7500]


def test_importing_storage_needs_no_server_driver() -> None:
    """``stechnique.storage`` (and a SQLite store) work with psycopg and pymysql unimportable."""
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None\n"
        "sys.modules['pymysql'] = None\n"
        "from stechnique.storage import SQLStorage\n"
        "SQLStorage('sqlite://').close()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr


def test_storage_page_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of docs/storage.md runs, in order, in one namespace."""
    page = Path(__file__).resolve().parent.parent / "docs" / "storage.md"
    blocks = re.findall(r"^```python\n(.*?)^```", page.read_text("utf-8"), re.DOTALL | re.M)
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_storage"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/storage.md block {number}", "exec"), namespace)
    assert (tmp_path / "managed.db").exists()


def test_iter_records_streams_in_constant_memory(sql_storage: SQLStorage) -> None:
    """Streaming every record holds a batch at a time, far less than the whole history."""
    builder = CaseBuilder("long")
    _, first = builder.start()
    steps = [builder.step(payload={"text": f"{n} " + "é" * 200}) for n in range(1, 4000)]
    schema = sql_storage.schema
    actor = {"actor_id": first.actor.id, "actor_roles": sorted(first.actor.roles)}
    rows = [
        {**{c.name: getattr(r, c.name) for c in schema.records.c if hasattr(r, c.name)}, **actor}
        for r in [first] + [record for _, record in steps]
    ]
    with _engine_of(sql_storage).begin() as connection:
        connection.execute(schema.cases.insert(), {n: getattr(steps[-1][0], n) for n in _CASE})
        connection.execute(schema.records.insert(), rows)

    def peak(read: Callable[[], object]) -> int:
        tracemalloc.start()
        try:
            read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def count_streamed() -> int:
        return sum(1 for _ in sql_storage.iter_records())

    assert count_streamed() == 4000
    assert peak(count_streamed) * 4 < peak(lambda: list(sql_storage.iter_records()))
    if sql_storage.kind == "postgresql":
        # libpq buffers outside tracemalloc's sight: check for a server-side cursor instead.
        name = unique_prefix("stream")
        options = {"connect_args": {"application_name": name}}
        with SQLStorage(sql_storage.url, table_prefix=sql_storage.schema.prefix,
                        engine_options=options) as named:  # fmt: skip
            stream = named.iter_records()
            next(stream)
            with _engine_of(sql_storage).connect() as connection:
                sql = "SELECT query FROM pg_stat_activity WHERE application_name = :n"
                queries = connection.execute(sa.text(sql), {"n": name}).scalars().all()
            stream.close()
        assert any(query.lstrip().startswith(("DECLARE", "FETCH")) for query in queries)


_CASE = [field.name for field in attrs.fields(Case)]


@pytest.mark.postgres
@pytest.mark.parametrize("pre_ping", [False, True])
def test_a_connection_the_server_dropped_is_replaced(
    postgres_url: str, table_prefix: str, pre_ping: bool
) -> None:
    """A dropped connection fails one call at most (none with ``pool_pre_ping``), then heals."""
    name = unique_prefix("app")
    options = {"pool_pre_ping": pre_ping, "connect_args": {"application_name": name}}
    storage = SQLStorage(postgres_url, table_prefix=table_prefix, engine_options=options)
    try:
        storage.create(*CaseBuilder("healed").start())
        with _engine_of(storage).connect() as admin:
            sql = (
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n"
            )
            assert admin.execute(sa.text(sql), {"n": name}).scalars().all()
        if not pre_ping:
            with pytest.raises(StorageError, match="could not read case healed"):
                storage.get("healed")
        assert storage.get("healed") is not None
    finally:
        storage.close()
        empty_tables(postgres_url, table_prefix)
