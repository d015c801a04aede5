"""The statements of ``SQLStorage``, compiled once per store, and the values they carry.

The hot paths (``create``, ``append``, ``get``, ``records``, ``record_by_key``) run these
statements on the driver connection itself: SQLAlchemy builds and compiles the SQL once for the
dialect, and each call only binds values, which costs a few microseconds instead of a full
SQLAlchemy execution. Values therefore cross the driver boundary here, through a ``Codec``:
JSON as compact text, times as UTC in the form each backend stores (SQLite text in SQLAlchemy's
own format, so both read each other's rows).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from stechnique.records import Actor, Case, Record
from stechnique.storage._sql_schema import SQLSchema

__all__ = ["Codec", "Compiled", "Statements", "codec_for"]

# One encoder for every call (json.dumps with options builds a new one each time).
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: stechnique only stores aware UTC times")
    return moment.astimezone(UTC)


def _identity(value: Any) -> Any:
    return value


@attrs.frozen
class Codec:
    """How times and JSON go into and come out of one backend's driver."""

    time_in: Callable[[datetime], Any]
    time_out: Callable[[Any], datetime]
    json_out: Callable[[Any], Any]
    json_in: Callable[[Any], Any] = dumps


#: For rows SQLAlchemy already decoded through the column types.
DECODED = Codec(_identity, _identity, _identity, _identity)


def codec_for(kind: str) -> Codec:
    """The codec of ``kind`` (``sqlite``, ``postgresql`` or ``mysql``)."""
    if kind == "postgresql":
        return Codec(_utc, lambda value: value.astimezone(UTC), _identity)
    if kind == "mysql":
        return Codec(
            lambda moment: _utc(moment).replace(tzinfo=None),
            lambda value: value.replace(tzinfo=UTC),
            json.loads,
        )
    return Codec(
        lambda moment: _utc(moment).replace(tzinfo=None).isoformat(" ", "microseconds"),
        lambda value: datetime.fromisoformat(value).replace(tzinfo=UTC),
        json.loads,
    )


@attrs.frozen
class Compiled:
    """One statement as the driver runs it: its SQL, and the order of positional values."""

    sql: str
    order: tuple[str, ...] | None
    _pick: Callable[[Mapping[str, Any]], Any] | None = attrs.field(init=False, eq=False)

    @_pick.default
    def _picker(self) -> Callable[[Mapping[str, Any]], Any] | None:
        if self.order is None:
            return None
        if len(self.order) < 2:
            # itemgetter of one name returns the value itself, not a 1-tuple.
            return lambda values: tuple(values[name] for name in self.order or ())
        return operator.itemgetter(*self.order)

    def bind(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        """The parameters for the driver: a tuple for positional styles, else the mapping."""
        return values if self._pick is None else self._pick(values)


def compile_for(statement: sa.ClauseElement, dialect: Dialect) -> Compiled:
    """Compile ``statement`` for ``dialect`` once."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    order = tuple(compiled.positiontup or ()) if dialect.positional else None
    return Compiled(compiled.string, order)


class Statements:
    """Every statement of one store, compiled for its dialect, and the row conversions."""

    def __init__(self, schema: SQLSchema, dialect: Dialect) -> None:
        self.codec = codec_for(dialect.name)
        cases, records = schema.cases, schema.records
        case_id: sa.BindParameter[str] = sa.bindparam("c_id")

        def compiled(statement: sa.ClauseElement) -> Compiled:
            return compile_for(statement, dialect)

        def binds(table: sa.Table, prefix: str) -> dict[str, Any]:
            return {name: sa.bindparam(f"{prefix}{name}") for name in table.c.keys()}  # noqa: SIM118

        update = cases.update().where(cases.c.id == case_id, cases.c.seq == sa.bindparam("b_prev"))
        update = update.values({k: v for k, v in binds(cases, "c_").items() if k != "id"})
        insert_case = cases.insert().values(binds(cases, "c_"))
        insert_record = records.insert().values(binds(records, "r_"))
        self.get_case = compiled(sa.select(cases).where(cases.c.id == case_id))
        self.case_seq = compiled(sa.select(cases.c.seq).where(cases.c.id == case_id))
        self.update_case = compiled(update)
        self.insert_case = compiled(insert_case)
        self.insert_record = compiled(insert_record)
        self.case_records = compiled(
            sa.select(records)
            .where(records.c.case_id == case_id, records.c.seq > sa.bindparam("b_after"))
            .order_by(records.c.seq)
        )
        self.record_by_key = compiled(
            sa.select(records).where(
                records.c.case_id == case_id, records.c.idempotency_key == sa.bindparam("b_key")
            )
        )
        # Streamed reads (``iter_records``): every record, or one case's, by (case_id, seq).
        self.all_records = compiled(sa.select(records).order_by(records.c.case_id, records.c.seq))
        self.one_case_records = compiled(
            sa.select(records).where(records.c.case_id == case_id).order_by(records.c.seq)
        )
        self.one_statement = dialect.name == "postgresql"
        if self.one_statement:
            self.append = compiled(_chained(update, records, "moved"))
            self.create = compiled(_chained(insert_case, records, "created"))

    # -- values in ------------------------------------------------------------------------

    def case_values(self, case: Case, expected_seq: int | None = None) -> dict[str, Any]:
        """Bind values of a case row (``b_prev``: the seq the stored case must still have)."""
        codec = self.codec
        return {
            "c_id": case.id,
            "c_name": case.name,
            "c_version": case.version,
            "c_fingerprint": case.fingerprint,
            "c_state": case.state,
            "c_seq": case.seq,
            "c_facts": codec.json_in(case.facts),
            "c_created_at": codec.time_in(case.created_at),
            "c_updated_at": codec.time_in(case.updated_at),
            "c_head": case.head,
            "b_prev": expected_seq,
        }

    def record_values(self, record: Record) -> dict[str, Any]:
        """Bind values of a record row."""
        codec = self.codec
        return {
            "r_case_id": record.case_id,
            "r_seq": record.seq,
            "r_event": record.event,
            "r_source": record.source,
            "r_target": record.target,
            "r_actor_id": record.actor.id,
            "r_actor_roles": codec.json_in(sorted(record.actor.roles)),
            "r_at": codec.time_in(record.at),
            "r_payload": codec.json_in(record.payload),
            "r_name": record.name,
            "r_version": record.version,
            "r_fingerprint": record.fingerprint,
            "r_idempotency_key": record.idempotency_key,
            "r_prev_hash": record.prev_hash,
            "r_hash": record.hash,
        }

    # -- values out -----------------------------------------------------------------------

    def case(self, row: Sequence[Any], codec: Codec | None = None) -> Case:
        """A case from a row of the cases table (``codec``: DECODED for SQLAlchemy rows)."""
        codec = codec or self.codec
        time_out = codec.time_out
        return Case(row[0], row[1], row[2], row[3], row[4], row[5], codec.json_out(row[6]),
                    time_out(row[7]), time_out(row[8]), row[9])  # fmt: skip

    def record(self, row: Sequence[Any], codec: Codec | None = None) -> Record:
        """A record from a row of the records table (``codec``: DECODED for SQLAlchemy rows)."""
        codec = codec or self.codec
        json_out = codec.json_out
        roles = row[6]
        if roles.__class__ is str and json_out is json.loads:
            actor = _actor(row[5], roles)
        else:
            actor = Actor(row[5], json_out(roles))
        at, payload = codec.time_out(row[7]), json_out(row[8])
        return Record(row[0], row[1], row[2], row[3], row[4], actor, at, payload, row[9], row[10],
                      row[11], row[12], row[13], row[14])  # fmt: skip


@functools.lru_cache(maxsize=1024)
def _actor(actor_id: str, roles: str) -> Actor:
    """The actor of a row whose roles are JSON text: the same few actors sign most records,
    so each (id, roles) is decoded once (``Actor`` is frozen: sharing it is safe)."""
    return Actor(actor_id, json.loads(roles))


def _chained(first: sa.Insert | sa.Update, records: sa.Table, name: str) -> sa.Insert:
    """PostgreSQL: ``first`` and the record insert as one statement (one round trip, atomic).

    The record takes its case id from ``first``'s ``RETURNING``: when ``first`` touches no row
    (the case moved on), no record is inserted and the statement returns no row.
    """
    step = first.returning(first.table.c.id).cte(name)
    values = [
        sa.cast(sa.bindparam(f"r_{key}", type_=column.type), column.type)
        for key, column in records.c.items()
        if key != "case_id"
    ]
    row = sa.select(step.c.id, *values)
    insert = records.insert().from_select(list(records.c.keys()), row).add_cte(step)
    return insert.returning(records.c.seq)
