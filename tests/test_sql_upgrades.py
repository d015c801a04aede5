"""Schema upgrades between releases: one upgrade among racing openers, and a store a newer
stechnique upgraded refused by an older one (issue #16).

A "newer stechnique" is played for real: the shipped migrations plus one more revision on top of
whatever the head is (read from the scripts, never written here), applied by Alembic to the
store; this version of stechnique then opens it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sql_support import SQLBackend, drop_prefix, unique_prefix
from sql_workers import CONTEXT, open_and_tell, run_processes

from stechnique import SchemaTooNew
from stechnique.storage import upgrade_schema
from stechnique.storage._sql_schema import schema_for
from stechnique.storage._sql_upgrade import MIGRATIONS, head_revision
from stechnique.testing import CaseBuilder

NEWER = "9000"
_CASE_COLUMNS_0001 = ("id", "name", "version", "fingerprint", "state", "seq", "facts",
                      "created_at", "updated_at", "head")  # fmt: skip

_NEWER_SCRIPT = '''"""A revision of a later stechnique: one more column.

Revision ID: {revision}
Revises: {head}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade(table_prefix: str) -> None:
    op.add_column(f"{{table_prefix}}cases", sa.Column("later", sa.Integer, nullable=True))


def downgrade(table_prefix: str) -> None:
    op.drop_column(f"{{table_prefix}}cases", "later")
'''


@pytest.fixture
def fresh(sql_backend: SQLBackend) -> Iterator[SQLBackend]:
    """A backend with a prefix nobody used yet; its tables are dropped afterwards."""
    backend = SQLBackend(sql_backend.kind, sql_backend.url, unique_prefix("u"))
    yield backend
    drop_prefix(backend.url, backend.prefix)


def _engine(backend: SQLBackend) -> sa.Engine:
    return sa.create_engine(backend.url, poolclass=sa.NullPool)


def _versions(backend: SQLBackend) -> list[str]:
    table = schema_for(backend.prefix).version_table
    with _engine(backend).connect() as connection:
        return list(connection.execute(sa.text(f"SELECT version_num FROM {table}")).scalars())


def _rows(backend: SQLBackend) -> list[tuple[object, ...]]:
    schema = schema_for(backend.prefix)
    with _engine(backend).connect() as connection:
        cases = connection.execute(sa.select(schema.cases.c.id, schema.cases.c.seq)).all()
        records = connection.execute(sa.select(schema.records.c.case_id)).all()
    return [tuple(row) for row in [*cases, *records]]


def _upgraded_by_a_newer_release(backend: SQLBackend, scripts: Path) -> None:
    """Apply the shipped migrations plus one newer revision, as a later release would."""
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    newer = _NEWER_SCRIPT.format(revision=NEWER, head=head_revision())
    (scripts / "versions" / f"{NEWER}_later.py").write_text(newer, encoding="utf-8")
    engine = _engine(backend)
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(scripts))
        config.attributes["connection"] = connection
        config.attributes["table_prefix"] = backend.prefix
        command.upgrade(config, "head")
    engine.dispose()


def test_a_store_a_newer_release_upgraded_is_refused(fresh: SQLBackend, tmp_path: Path) -> None:
    """Opened for writing or for reading, or upgraded: ``SchemaTooNew``, in French and
    English, and nothing written."""
    with fresh.open() as storage:
        storage.create(*CaseBuilder("before").start())
    _upgraded_by_a_newer_release(fresh, tmp_path / "migrations")
    assert _versions(fresh) == [NEWER]
    rows = _rows(fresh)
    for opening in ({}, {"read_only": True}, {"upgrade": False}):
        with pytest.raises(SchemaTooNew) as refused:
            fresh.open(**opening)
        assert (refused.value.current, refused.value.head) == (NEWER, head_revision())
        message = str(refused.value)
        assert "inconnue de cette version de stechnique" in message
        assert "mettez stechnique à jour" in message
        assert message.endswith("upgrade stechnique")
        assert fresh.prefix in message
    # ``upgrade_schema`` reads the revision under the upgraders' lock: the same refusal there
    # (a newer process that upgraded while this one waited for the lock).
    with pytest.raises(SchemaTooNew):
        upgrade_schema(fresh.url, table_prefix=fresh.prefix)
    assert _versions(fresh) == [NEWER]
    assert _rows(fresh) == rows


def test_an_older_store_is_still_upgraded(fresh: SQLBackend) -> None:
    """The refusal is for revisions no shipped migration has, not for older ones: an opening
    that upgrades says so (``SQLStorage.upgraded``), one that finds the schema at head does
    not."""
    upgrade_schema(fresh.url, table_prefix=fresh.prefix, revision="0001")
    with fresh.open() as storage:
        assert storage.upgraded is not None
        assert (storage.upgraded.before, storage.upgraded.after) == ("0001", head_revision())
    with fresh.open() as storage:
        assert storage.upgraded is None
    assert _versions(fresh) == [head_revision()]


def test_a_fresh_store_is_created_by_its_first_opening(fresh: SQLBackend) -> None:
    with fresh.open() as storage:
        assert storage.upgraded is not None
        assert (storage.upgraded.before, storage.upgraded.after) == (None, head_revision())


@pytest.mark.slow
def test_racing_openers_of_an_old_store_upgrade_it_once(fresh: SQLBackend) -> None:
    """Processes opening a store of revision 0001 at the same moment: exactly one upgrades
    it, the others find it upgraded; none fails, and the data is kept."""
    upgrade_schema(fresh.url, table_prefix=fresh.prefix, revision="0001")
    schema = schema_for(fresh.prefix)
    case, first = CaseBuilder("old").start()
    with _engine(fresh).begin() as connection:
        # The columns of revision 0001 only (later revisions add others).
        old_case = {column: getattr(case, column) for column in _CASE_COLUMNS_0001}
        connection.execute(schema.cases.insert().values(old_case))
    openers = 4
    barrier = CONTEXT.Barrier(openers)
    results = run_processes(open_and_tell, [(fresh.url, fresh.prefix, barrier)] * openers)
    assert results.count(None) == openers - 1
    assert [one for one in results if one is not None] == [("0001", head_revision())]
    assert _versions(fresh) == [head_revision()]
    with fresh.open() as storage:
        stored = storage.get("old")
    assert stored is not None
    assert (stored.id, stored.head, stored.parties) == ("old", first.hash, None)
