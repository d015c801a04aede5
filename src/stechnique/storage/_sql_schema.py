"""The SQL tables of ``SQLStorage``, named from a table prefix.

These ``Table`` objects are what the adapter queries. They are never used to create the schema:
the Alembic migrations in ``storage/migrations`` do that, and a test checks that the two agree.

Column choices that hold on every backend:

* identifiers are bounded ``VARCHAR`` compared byte for byte (``COLLATE "C"`` on PostgreSQL, a
  binary no-pad collation on MariaDB/MySQL, SQLite's default ``BINARY``), so ``"A"`` and ``"a"``
  are different case ids and ordering is by code point, as in Python;
* times are ``UTCDateTime``: ``timestamptz`` on PostgreSQL, ``DATETIME(6)`` holding UTC on
  MariaDB/MySQL, ISO text on SQLite; always returned as aware UTC with microseconds;
* payloads and facts are ``JSON`` (text preserved on PostgreSQL, which ``jsonb`` would not do);
  so are a case's parties (``Parties.to_data``, ``NULL`` for a row upgraded from before them);
* a record's ``format`` (``Record.format``: 1 for every row written before it existed) and the
  ``salts`` of its confidential values (JSON, ``NULL`` when it has none).

Besides cases and records, ``<prefix>case_readers`` indexes each case under its
``Parties.readers()`` (``Storage.cases(seen_by=...)`` looks them up by reader) and
``<prefix>accesses`` logs the auditors' unredacted reads; ``<prefix>accounts`` holds the HTTP
service's accounts (``stechnique.server``). For the change feed, each record
has a ``position`` (its place in the append order, not part of its hash), ``<prefix>positions``
holds the last position handed out (one row, locked by each append until it commits) and
``<prefix>consumers`` the position each durable consumer acknowledged.

``CaseRow`` and ``RecordRow`` declare the columns of a row in the one order every statement
binds and selects them, whatever the order of the table's columns.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

__all__ = [
    "HASH_LENGTH",
    "ID_LENGTH",
    "NAME_LENGTH",
    "READER_LENGTH",
    "CaseRow",
    "RecordRow",
    "SQLSchema",
    "UTCDateTime",
    "check_prefix",
    "schema_for",
]

#: Longest case id, actor id and idempotency key a SQL store keeps.
ID_LENGTH = 255
#: Longest procedure name, version, state or event a SQL store keeps.
NAME_LENGTH = 200
#: Hex SHA-256.
HASH_LENGTH = 64
#: Longest reader of a case (``body:`` and a body id, or ``role:`` and a role).
READER_LENGTH = ID_LENGTH + len("body:")

_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start SQL table names on every backend, else ``ValueError``."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(
            f"table prefix {prefix!r} is not usable: it must be 1 to 32 ASCII letters, digits "
            "or underscores, not starting with a digit (for example 'stechnique_')"
        )
    return prefix


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware datetime stored in UTC with microseconds and returned as aware UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """``DATETIME(6)`` on MariaDB/MySQL, whose plain ``DATETIME`` drops microseconds."""
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive times; store UTC (without tzinfo where the column has no zone)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: stechnique only stores aware UTC times")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC whatever the driver gave."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CaseRow(NamedTuple):
    """A row of the cases table as the driver carries it (JSON and times in the backend's form)."""

    id: str
    name: str
    version: str
    fingerprint: str
    state: str
    seq: int
    facts: Any
    created_at: Any
    updated_at: Any
    head: str
    parties: Any


class RecordRow(NamedTuple):
    """A row of the records table as the driver carries it (JSON and times in the backend's
    form); the actor is three columns, its id, its roles as a JSON list and its body."""

    case_id: str
    seq: int
    event: str
    source: str | None
    target: str
    actor_id: str
    actor_roles: Any
    actor_body: str | None
    at: Any
    payload: Any
    name: str
    version: str
    fingerprint: str
    idempotency_key: str | None
    prev_hash: str
    hash: str
    format: int
    salts: Any


def _ident(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


@attrs.frozen
class SQLSchema:
    """The tables of one prefix and the name of its Alembic version table."""

    prefix: str
    metadata: sa.MetaData
    cases: sa.Table
    records: sa.Table
    case_readers: sa.Table
    accesses: sa.Table
    positions: sa.Table
    consumers: sa.Table
    accounts: sa.Table

    @property
    def version_table(self) -> str:
        """The Alembic version table of this prefix (one per prefix, so prefixes never mix)."""
        return f"{self.prefix}alembic_version"

    @property
    def case_columns(self) -> list[sa.Column[Any]]:
        """The columns of the cases table in ``CaseRow`` order: what a case select reads."""
        return [self.cases.c[name] for name in CaseRow._fields]

    @property
    def record_columns(self) -> list[sa.Column[Any]]:
        """The columns of the records table in ``RecordRow`` order: what a record select reads."""
        return [self.records.c[name] for name in RecordRow._fields]

    @property
    def table_names(self) -> tuple[str, ...]:
        """Every table this prefix owns, the version table last."""
        tables = (self.cases, self.records, self.case_readers, self.accesses, self.positions,
                  self.consumers, self.accounts)  # fmt: skip
        return (*(table.name for table in tables), self.version_table)


@functools.cache
def schema_for(prefix: str) -> SQLSchema:
    """The tables of ``prefix`` (built once per prefix)."""
    check_prefix(prefix)
    metadata = sa.MetaData()
    cases = sa.Table(
        f"{prefix}cases",
        metadata,
        sa.Column("id", _ident(ID_LENGTH), primary_key=True),
        sa.Column("name", _ident(NAME_LENGTH), nullable=False),
        sa.Column("version", _ident(NAME_LENGTH), nullable=False),
        sa.Column("fingerprint", sa.String(HASH_LENGTH), nullable=False),
        sa.Column("state", _ident(NAME_LENGTH), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("head", sa.String(HASH_LENGTH), nullable=False),
        # Written by the driver as JSON text or NULL; ``none_as_null`` keeps a None given
        # through SQLAlchemy a SQL NULL too (not the JSON text 'null').
        sa.Column("parties", sa.JSON(none_as_null=True), nullable=True),
        sa.Index(f"{prefix}cases_name_version_state", "name", "version", "state"),
        sa.Index(f"{prefix}cases_created_at_id", "created_at", "id"),
        sa.Index(f"{prefix}cases_state_created_at_id", "state", "created_at", "id"),
    )
    records = sa.Table(
        f"{prefix}records",
        metadata,
        sa.Column("case_id", _ident(ID_LENGTH), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event", _ident(NAME_LENGTH), nullable=False),
        sa.Column("source", _ident(NAME_LENGTH), nullable=True),
        sa.Column("target", _ident(NAME_LENGTH), nullable=False),
        sa.Column("actor_id", _ident(ID_LENGTH), nullable=False),
        sa.Column("actor_roles", sa.JSON, nullable=False),
        sa.Column("actor_body", _ident(ID_LENGTH), nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("name", _ident(NAME_LENGTH), nullable=False),
        sa.Column("version", _ident(NAME_LENGTH), nullable=False),
        sa.Column("fingerprint", sa.String(HASH_LENGTH), nullable=False),
        sa.Column("idempotency_key", _ident(ID_LENGTH), nullable=True),
        sa.Column("prev_hash", sa.String(HASH_LENGTH), nullable=False),
        sa.Column("hash", sa.String(HASH_LENGTH), nullable=False),
        sa.Column("format", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("salts", sa.JSON(none_as_null=True), nullable=True),
        sa.UniqueConstraint("case_id", "idempotency_key", name=f"{prefix}records_case_key"),
        # The change feed's order: given under the ``positions`` row lock (NULL never written
        # since 0005, which numbered every record before it).
        sa.Column("position", sa.BigInteger, nullable=True),
        sa.Index(f"{prefix}records_position", "position", unique=True),
    )
    case_readers = sa.Table(
        f"{prefix}case_readers",
        metadata,
        sa.Column("case_id", _ident(ID_LENGTH), primary_key=True),
        sa.Column("reader", _ident(READER_LENGTH), primary_key=True),
        # Serves ``cases(seen_by=...)``: the cases of a reader, without reading any other.
        sa.Index(f"{prefix}case_readers_reader_case_id", "reader", "case_id"),
    )
    accesses = sa.Table(
        f"{prefix}accesses",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor_id", _ident(ID_LENGTH), nullable=False),
        sa.Column("actor_body", _ident(ID_LENGTH), nullable=True),
        sa.Column("actor_roles", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("case_ids", sa.JSON, nullable=False),
    )
    positions = sa.Table(
        f"{prefix}positions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    consumers = sa.Table(
        f"{prefix}consumers",
        metadata,
        sa.Column("name", _ident(ID_LENGTH), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    # The HTTP service's accounts (``stechnique.server.accounts``): a token is kept only as
    # its SHA-256 digest, unique, by which a request finds its account.
    accounts = sa.Table(
        f"{prefix}accounts",
        metadata,
        sa.Column("id", _ident(ID_LENGTH), primary_key=True),
        sa.Column("body", _ident(ID_LENGTH), nullable=False),
        sa.Column("actors", sa.JSON, nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        sa.Column("auditor", sa.Boolean, nullable=False),
        sa.Column("token_digest", sa.String(HASH_LENGTH), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("token_digest", name=f"{prefix}accounts_token_digest"),
    )
    return SQLSchema(
        prefix, metadata, cases, records, case_readers, accesses, positions, consumers, accounts
    )
