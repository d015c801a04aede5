"""``SQLStorage(read_only=True)``: reading a store never creates or changes anything.

Tests may run as root, for whom file permissions stop no write: so every test that a store
was not written compares the file's bytes (and the directory's listing) before and after.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sql_support import SQLBackend, drop_prefix, unique_prefix

from stechnique import Actor, Engine, SchemaOutOfDate, StorageError, StoreNotFound
from stechnique.audit import audit
from stechnique.storage import SQLStorage, upgrade_schema
from stechnique.testing import CaseBuilder

MSTR = "soutien-technique-renforce"
BOARD = Actor("ca-belle-de-mai", {"administrator"})
CAF = Actor("caf-13-coordination", {"caf_coordinator"})
FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["governance"],
}


@pytest.fixture
def fresh(sql_backend: SQLBackend) -> Iterator[SQLBackend]:
    """A backend with a prefix nobody used yet; its tables are dropped afterwards."""
    backend = SQLBackend(sql_backend.kind, sql_backend.url, unique_prefix("r"))
    yield backend
    drop_prefix(backend.url, backend.prefix)


def _tables(backend: SQLBackend) -> set[str]:
    engine = sa.create_engine(backend.url, poolclass=sa.NullPool)
    try:
        return {n for n in sa.inspect(engine).get_table_names() if n.startswith(backend.prefix)}
    finally:
        engine.dispose()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_a_case(storage: SQLStorage) -> None:
    """Case ``kept``, two records, through the engine and the published procedures."""
    engine = Engine(storage)
    engine.start(MSTR, version="2015-2017", actor=BOARD, facts=FACTS, case_id="kept")
    engine.fire("kept", "refer", actor=CAF, payload={"funders": ["caf-13"]})


def _store_with_a_case(path: Path) -> str:
    url = f"sqlite:///{path}"
    with SQLStorage(url) as storage:
        _write_a_case(storage)
    return url


def test_no_tables_is_no_store_and_creates_none(fresh: SQLBackend) -> None:
    with pytest.raises(StoreNotFound) as missing:
        fresh.open(read_only=True)
    assert "no stechnique store at" in missing.value.en
    assert "aucun magasin stechnique à" in str(missing.value)
    assert "aucun magasin stechnique à" in str(missing.value)
    assert missing.value.reason in (f"no stechnique tables with prefix {fresh.prefix!r}",
                                    "no such file")  # fmt: skip
    assert "secret" not in str(missing.value)
    assert _tables(fresh) == set()


def test_an_existing_store_reads_the_same(fresh: SQLBackend) -> None:
    with fresh.open() as writer:
        _write_a_case(writer)
        expected = list(writer.iter_records())
    with fresh.open(read_only=True) as reader:
        assert reader.read_only
        assert list(reader.iter_records()) == expected
        assert [case.id for case in reader.cases()] == ["kept"]
        assert audit(reader).ok


def test_an_older_schema_read_only_says_to_upgrade_and_stays_old(fresh: SQLBackend) -> None:
    upgrade_schema(fresh.url, table_prefix=fresh.prefix, revision="0001")
    with pytest.raises(SchemaOutOfDate) as behind:
        fresh.open(read_only=True)
    assert behind.value.current == "0001"
    assert "stechnique db upgrade" in str(behind.value)
    with pytest.raises(SchemaOutOfDate):  # still at 0001: nothing was upgraded
        fresh.open(upgrade=False)


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    for name in ("typo.db", "folder"):
        if name == "folder":
            (tmp_path / name).mkdir()
        with pytest.raises(StoreNotFound, match=name):
            SQLStorage(f"sqlite:///{tmp_path / name}", read_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    with pytest.raises(StoreNotFound, match="in-memory"):
        SQLStorage("sqlite://", read_only=True)


def test_reading_never_writes_the_sqlite_file(tmp_path: Path) -> None:
    url = _store_with_a_case(tmp_path / "live.db")
    before = _digest(tmp_path / "live.db")
    with SQLStorage(url, read_only=True) as reader:
        assert audit(reader).ok
        with pytest.raises(StorageError, match="readonly"):
            reader.create(*CaseBuilder("intruder").start())
    assert _digest(tmp_path / "live.db") == before


def test_a_rollback_journal_sqlite_file_is_not_switched_to_wal(tmp_path: Path) -> None:
    url = _store_with_a_case(tmp_path / "old.db")
    with sa.create_engine(url).connect() as connection:  # as a copy made by another tool
        connection.exec_driver_sql("PRAGMA journal_mode = DELETE")
    before = _digest(tmp_path / "old.db")
    with SQLStorage(url, read_only=True) as reader:
        assert [case.id for case in reader.cases()] == ["kept"]
    assert _digest(tmp_path / "old.db") == before  # byte 18-19 would say WAL


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Path]:
    """A store in a directory nobody may write to, as auditors receive them."""
    folder = tmp_path / "archive"
    folder.mkdir()
    _store_with_a_case(folder / "cases.db")
    (folder / "cases.db").chmod(0o444)
    folder.chmod(0o555)
    yield folder / "cases.db"
    folder.chmod(0o755)


def test_an_archived_sqlite_store_can_be_read(archive: Path) -> None:
    before, listing = _digest(archive), sorted(os.listdir(archive.parent))
    assert not stat.S_IMODE(archive.parent.stat().st_mode) & 0o222
    with SQLStorage(f"sqlite:///{archive}", read_only=True) as reader:
        report = audit(reader)
    assert (report.ok, report.cases_checked, report.records_checked) == (True, 1, 2)
    assert _digest(archive) == before
    assert sorted(os.listdir(archive.parent)) == listing  # not even a -wal or -shm file
