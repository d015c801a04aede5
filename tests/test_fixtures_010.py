"""Histories written by stechnique 0.1.0 must verify forever.

``tests/fixtures/0.1.0/`` holds what 0.1.0 (commit 6650e42) wrote when it ran ``stechnique
demo``: its JSONL export and its SQLite store (copied from ``shared/fixtures``), and dumps of the
same demo store written into PostgreSQL and MariaDB. They are never regenerated: each test
restores one, lets the current code open (and upgrade) it, and requires a clean audit with every
record hash and every fingerprint exactly as 0.1.0 wrote them.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sql_support import schema_differences

from stechnique import Engine, UnknownCase, default_registry, is_redacted, parties_of
from stechnique.audit import audit
from stechnique.definition import Procedure
from stechnique.export import import_jsonl
from stechnique.records import Actor, Record
from stechnique.storage import MemoryStorage, SQLStorage
from stechnique.storage.base import Feed, Storage

FIXTURES = Path(__file__).parent / "fixtures" / "0.1.0"
JSONL = FIXTURES / "demo-0.1.0.jsonl"

#: What the 0.1.0 demo wrote: 6 cases, 70 records, and the head hash of each case.
HEADS = {
    "convention-acacias-nanterre": (
        "4250aeecfb8e9b44e2325e7da2350e1417fb9e3a41204b5d26247cd8f6caa06b"
    ),
    "dla-flamants-iris": "2e841a0bc3cd9150b4c647743c8be2a64b93469e210a16496ed04d1990cbd664",
    "dla-saint-gabriel": "a287d076008ec4ceb76d92e2b809e2b6f96a42dc728ae79721244e4fbf69c6ab",
    "mstr-abeille-la-ciotat": "f237dcde291f54975481ecb528d314b7248078b9552344a992b43d0188f4a474",
    "mstr-air-bel": "0a834010bac60d413fbcb975a43732e998cd94b08a2777a136c8c279561aad9e",
    "mstr-belle-de-mai": "0d562249b2f6096f3301fcbe4c2262fe8c42404bfb216c3b707f1f8c7a0340b9",
}
#: The revision-1 fingerprints 0.1.0 published, by (name, version).
FINGERPRINTS = {
    ("soutien-technique-renforce", "2015-2017"): (
        "ed104c01ffc32040798793afc3c7495e7dc1b79efb3d5864ebaaf82ff76c26a5"
    ),
    ("soutien-technique-renforce", "2019"): (
        "3826de394bc8375bdbe7898c83fc4ce59c8f0870f3d0344de4d98af3d496370a"
    ),
    ("convention-pluripartenariale", "2013"): (
        "74265c1e99e1f45d8851eb161137da3c50c07ae280bef1dec71ea76e4956d174"
    ),
}


def _exported() -> dict[tuple[str, int], dict[str, object]]:
    """Every record of the 0.1.0 export, by (case id, seq)."""
    lines = [json.loads(line) for line in JSONL.read_text(encoding="utf-8").splitlines()]
    return {(line["case_id"], line["seq"]): line for line in lines if "seq" in line}


def _verify(storage: Storage, *, imported: bool = False) -> None:
    """A clean audit, and every hash, head and fingerprint exactly as 0.1.0 wrote them; no
    actor has a body (0.1.0 knew none); an upgraded store's cases have no parties yet (the
    engine reads them from the histories when it first needs them), an imported one's have
    those their histories bind."""
    report = audit(storage)
    assert report.ok, report.violations
    assert (report.cases_checked, report.records_checked) == (6, 70)
    exported = _exported()
    assert len(exported) == 70
    for case_id, head in HEADS.items():
        case = storage.get(case_id)
        assert case is not None
        assert case.head == head
        records = list(storage.records(case_id))
        assert records[-1].hash == head
        for record in records:
            line = exported[(record.case_id, record.seq)]
            assert record.hash == line["hash"]
            assert record.prev_hash == line["prev_hash"]
            assert record.fingerprint == line["fingerprint"]
            assert FINGERPRINTS[(record.name, record.version)] == record.fingerprint
            assert record.actor.body is None
        if imported:
            assert case.parties == parties_of(records, _published)
        else:
            assert case.parties is None
    assert list(storage.cases_without_parties()) == ([] if imported else sorted(HEADS))
    assert list(storage.accesses()) == []
    _numbered(storage, upgraded=not imported)
    if not imported:
        assert storage.cases(seen_by=Actor("anyone", {"administrator", "coordinator"})) == []


def _numbered(storage: Storage, *, upgraded: bool) -> None:
    """Every record has a position in the change feed, 1 to 70 with no gap, each case's in
    seq order; an upgraded store numbered them as migration 0005 documents: by the time each
    record claims (never earlier than its case's records before it), then case id, then seq."""
    assert isinstance(storage, Feed)
    read = list(storage.changes(0, 1000))
    assert [position for position, _ in read] == list(range(1, 71))
    assert storage.last_position() == 70
    by_case: dict[str, list[int]] = {}
    for _, record in read:
        by_case.setdefault(record.case_id, []).append(record.seq)
    assert all(seqs == sorted(seqs) for seqs in by_case.values())
    if upgraded:
        claimed, latest = [], {}
        for record in sorted((r for _, r in read), key=lambda r: (r.case_id, r.seq)):
            latest[record.case_id] = max(record.at, latest.get(record.case_id, record.at))
            claimed.append((latest[record.case_id], record.case_id, record.seq))
        assert [(r.case_id, r.seq) for _, r in read] == [(c, s) for _, c, s in sorted(claimed)]


def _published(record: Record) -> Procedure:
    procedure = default_registry().by_fingerprint(record.fingerprint)
    assert procedure is not None
    return procedure


def test_the_engine_reads_the_parties_of_an_upgraded_010_store(tmp_path: Path) -> None:
    copy = tmp_path / "store.db"
    copy.write_bytes((FIXTURES / "demo-0.1.0.sqlite").read_bytes())
    with _upgraded(f"sqlite:///{copy}") as storage:
        engine = Engine(storage)
        # The first listing reads every case's parties from its history, and keeps them.
        caf = Actor("caf-coordination", {"caf_coordinator"})
        seen = {case.id for case in engine.cases(viewer=caf)}
        # The CAF coordinates every case that was ever an MSTR one, the migrated one too.
        assert seen == {"mstr-belle-de-mai", "mstr-abeille-la-ciotat", "mstr-air-bel"}
        esia = Actor("esia", {"esia_officer"})
        dla = {case.id for case in engine.cases(viewer=esia)}
        assert dla == {"dla-saint-gabriel", "dla-flamants-iris", "mstr-air-bel"}
        assert list(storage.cases_without_parties()) == []
        assert {case.id for case in storage.cases(seen_by=caf)} == seen
        assert audit(storage).ok


def _upgraded(url: str) -> SQLStorage:
    """The store at ``url`` opened (so upgraded in place), its schema now the adapter's."""
    storage = SQLStorage(url)
    assert schema_differences(url, storage.schema.prefix) == []
    return storage


def test_the_published_fingerprints_of_revision_1_are_unchanged() -> None:
    from stechnique.workflows import default_registry

    registry = default_registry()
    for (name, version), fingerprint in FINGERPRINTS.items():
        assert registry.by_fingerprint(fingerprint) is not None, (name, version)


def test_the_010_jsonl_export_imports_and_audits_clean() -> None:
    storage = MemoryStorage()
    import_jsonl(storage, JSONL)
    _verify(storage, imported=True)


def test_the_010_jsonl_export_imports_into_sqlite(tmp_path: Path) -> None:
    storage = SQLStorage(f"sqlite:///{tmp_path / 'imported.db'}")
    try:
        import_jsonl(storage, JSONL)
        _verify(storage, imported=True)
    finally:
        storage.close()


def test_the_010_sqlite_store_upgrades_and_audits_clean(tmp_path: Path) -> None:
    copy = tmp_path / "demo-0.1.0.sqlite"
    shutil.copyfile(FIXTURES / "demo-0.1.0.sqlite", copy)
    copy.chmod(0o644)
    storage = _upgraded(f"sqlite:///{copy}")
    try:
        _verify(storage)
    finally:
        storage.close()


# -- PostgreSQL and MariaDB: each dump is restored into a database of its own ----------------


def _scratch_database(server: str, dump: Path) -> Iterator[str]:
    """A new database on ``server`` holding ``dump``; dropped afterwards. Yields its URL."""
    base = sa.make_url(server)
    name = f"stechnique_fx_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = base.set(database=name)
    try:
        _restore(url, dump)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if base.get_backend_name() == "postgresql":
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def _restore(url: sa.URL, dump: Path) -> None:
    """Run a plain SQL dump (pg_dump --inserts / mysqldump) through the driver."""
    script = dump.read_text(encoding="utf-8")
    if url.get_backend_name() == "postgresql":
        import psycopg

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(script)  # type: ignore[call-overload]  # no parameters: many statements
    else:
        import pymysql
        from pymysql.constants import CLIENT

        connection = pymysql.connect(
            host=url.host,
            port=url.port or 3306,
            user=url.username,
            password=url.password or "",
            database=url.database,
            client_flag=CLIENT.MULTI_STATEMENTS,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(script)
                while cursor.nextset():
                    pass
            connection.commit()
        finally:
            connection.close()


@pytest.fixture
def postgres_010(postgres_url: str) -> Iterator[str]:
    """The 0.1.0 demo store, restored on the PostgreSQL test server."""
    yield from _scratch_database(postgres_url, FIXTURES / "demo-0.1.0.postgres.sql")


@pytest.fixture
def mysql_010(mysql_url: str) -> Iterator[str]:
    """The 0.1.0 demo store, restored on the MariaDB test server."""
    yield from _scratch_database(mysql_url, FIXTURES / "demo-0.1.0.mariadb.sql")


@pytest.mark.postgres
def test_the_010_postgres_store_upgrades_and_audits_clean(postgres_010: str) -> None:
    storage = _upgraded(postgres_010)
    try:
        _verify(storage)
    finally:
        storage.close()


@pytest.mark.mysql
def test_the_010_mariadb_store_upgrades_and_audits_clean(mysql_010: str) -> None:
    storage = _upgraded(mysql_010)
    try:
        _verify(storage)
    finally:
        storage.close()


def test_a_010_case_fires_as_in_010_and_reads_follow_its_parties(tmp_path: Path) -> None:
    copy = tmp_path / "store.db"
    copy.write_bytes((FIXTURES / "demo-0.1.0.sqlite").read_bytes())
    with _upgraded(f"sqlite:///{copy}") as storage:
        engine = Engine(storage)
        # Migrated from the MSTR: its DLA structure is the body that started the MSTR case.
        structure = Actor("ca-air-bel", {"structure"})
        assert "accept_recommendations" in engine.available_events("mstr-air-bel", structure)
        after = engine.fire("mstr-air-bel", "accept_recommendations", actor=structure)
        assert after.state == "recommendations_accepted"
        # The first record written after the upgrade follows the 70 numbered by it.
        ((position, record),) = storage.changes(70, 10)
        assert (position, record.case_id, record.seq) == (71, "mstr-air-bel", after.seq)
        # The officer who coordinates reads the diagnosis; the CAF, consulted on the MSTR
        # chapter, still sees the case but not the diagnosis (no DLA plan names it yet).
        officer = Actor("france-active-paca", {"france_active_officer"})
        (identified,) = [r for r in engine.history("mstr-air-bel", officer) if r.seq == 7]
        assert not is_redacted(identified.payload["diagnosis"])
        funder = Actor("caf-13", {"funder"})
        (seen,) = [r for r in engine.history("mstr-air-bel", funder) if r.seq == 7]
        assert is_redacted(seen.payload["diagnosis"])
        with pytest.raises(UnknownCase):
            engine.history("mstr-air-bel", Actor("ville-marseille", {"funder"}))
        assert audit(storage).ok
