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
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from stechnique._chain import roles_json, stored_record
from stechnique._labels import Label
from stechnique.errors import HistoryCorrupted
from stechnique.records import Actor, Case, Parties, Record
from stechnique.storage._sql_schema import CaseRow, RecordRow, SQLSchema

__all__ = ["Codec", "Compiled", "Statements", "codec_for", "unreadable_case", "unreadable_record"]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# What ``_ENCODER.encode`` builds on every call for a dict or a list, built once, without the
# cycle check (its shared memo would make one encoder unsafe across threads): a cycle ends in
# RecursionError, turned into the ValueError the check would have raised.
_C_ENCODER: Any = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, True)
    if c_make_encoder is not None
    else None
)


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is: what the stores keep in their JSON columns."""
    if value.__class__ is dict and not value:
        return "{}"  # most cases have no facts and most events no payload
    if _C_ENCODER is None or value.__class__ is str:
        return _ENCODER.encode(value)
    try:
        return "".join(_C_ENCODER(value, 0))
    except RecursionError:
        raise ValueError("a value nested too deeply, or holding itself, is not JSON") from None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:  # the engine's times: nothing to convert
        return moment
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: stechnique only stores aware UTC times")
    return moment.astimezone(UTC)


# A fire writes the same moment twice (the record's time is the case's ``updated_at``) and the
# case's ``created_at`` again: each backend's form of a time is kept for the last few.
@functools.lru_cache(maxsize=64)
def _sqlite_time(moment: datetime) -> str:
    return _utc(moment).replace(tzinfo=None).isoformat(" ", "microseconds")


@functools.lru_cache(maxsize=64)
def _mysql_time(moment: datetime) -> datetime:
    return _utc(moment).replace(tzinfo=None)


@functools.lru_cache(maxsize=64)
def _postgres_time(moment: datetime) -> datetime:
    return _utc(moment)


def _from_sqlite_time(text: str) -> datetime:
    # Parsing the offset is five times faster than ``replace(tzinfo=UTC)`` after parsing.
    return datetime.fromisoformat(text + "+00:00")


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
        return Codec(_postgres_time, lambda value: value.astimezone(UTC), _identity)
    if kind == "mysql":
        return Codec(_mysql_time, lambda value: value.replace(tzinfo=UTC), _loads)
    return Codec(_sqlite_time, _from_sqlite_time, _loads)


# The C scanner of a default decoder: what ``json.loads`` ends up calling, three Python calls
# deeper (an audit decodes one payload per record).
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: Any) -> Any:
    """``json.loads(text)``: the scanner's value when it reads the whole text, else (spaces
    around it, bad JSON, not text) ``json.loads`` itself, which decides or raises."""
    if text.__class__ is str:
        try:
            value, end = _SCAN(text, 0)
        except (StopIteration, ValueError):
            return json.loads(text)
        if end == len(text):
            return value
    return json.loads(text)


#: The bind names of a case row and of a record row, in ``CaseRow`` and ``RecordRow`` order.
CASE_ROW = tuple(f"c_{name}" for name in CaseRow._fields)
RECORD_ROW = tuple(f"r_{name}" for name in RecordRow._fields)

#: The bind names of where an appended record follows: the seq, state and head it chains to.
FOLLOWS = ("b_prev", "b_source", "b_prev_hash")
#: ... and the parties the stored case must still have for the readers to stay as they are.
SAME_PARTIES = (*FOLLOWS, "b_parties")


@attrs.frozen
class Compiled:
    """One statement as the driver runs it: its SQL, the order of its positional values
    (None for named styles), and ``layout``, the names of the values ``bind`` is given."""

    sql: str
    order: tuple[str, ...] | None
    layout: tuple[str, ...]
    _pick: Callable[[Sequence[Any]], Any] | None = attrs.field(init=False, eq=False)

    @_pick.default
    def _picker(self) -> Callable[[Sequence[Any]], Any] | None:
        layout = self.layout
        if self.order is None:
            return lambda values: dict(zip(layout, values, strict=True))
        if self.order == layout:
            return None
        if not self.order:
            return lambda values: ()
        missing = set(self.order) - set(layout)
        if missing:
            raise ValueError(f"{sorted(missing)} not among the values given: {layout}")
        pick = operator.itemgetter(*(layout.index(name) for name in self.order))
        # itemgetter of one index returns the value itself, not a 1-tuple.
        return pick if len(self.order) > 1 else lambda values: (pick(values),)

    def bind(self, values: Sequence[Any]) -> Sequence[Any] | Mapping[str, Any]:
        """The parameters for the driver from ``values`` (laid out as ``layout``): a tuple
        for positional styles, a mapping for named ones."""
        return values if self._pick is None else self._pick(values)


def compile_for(statement: sa.ClauseElement, dialect: Dialect, layout: Sequence[str]) -> Compiled:
    """Compile ``statement`` for ``dialect`` once; ``bind`` takes values laid out as ``layout``."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    order = tuple(compiled.positiontup or ()) if dialect.positional else None
    return Compiled(compiled.string, order, tuple(layout))


class Statements:
    """Every statement of one store, compiled for its dialect, and the row conversions."""

    def __init__(self, schema: SQLSchema, dialect: Dialect) -> None:
        self.codec = codec_for(dialect.name)
        cases, records = schema.cases, schema.records
        case_id: sa.BindParameter[str] = sa.bindparam("c_id")

        def compiled(statement: sa.ClauseElement, *layout: str) -> Compiled:
            return compile_for(statement, dialect, layout or ("c_id",))

        def binds(table: sa.Table, prefix: str) -> dict[str, Any]:
            return {name: sa.bindparam(f"{prefix}{name}") for name in table.c.keys()}  # noqa: SIM118

        # The case must still be exactly where the record follows (see ``Storage.append``).
        update = cases.update().where(
            cases.c.id == case_id,
            cases.c.seq == sa.bindparam("b_prev"),
            cases.c.state == sa.bindparam("b_source"),
            cases.c.head == sa.bindparam("b_prev_hash"),
        )
        update = update.values({k: v for k, v in binds(cases, "c_").items() if k != "id"})
        # The fast append: the case also still has the parties it will have, so its readers
        # stay as they are. Compared as the JSON text the store wrote (PostgreSQL's ``json``
        # keeps it verbatim but has no ``=``): a text that differs for equal parties (a row
        # written by hand, MySQL's own JSON type) only sends the append down the slower path.
        stored_parties: sa.ColumnElement[Any] = cases.c.parties
        if dialect.name == "postgresql":
            stored_parties = sa.cast(cases.c.parties, sa.Text)
        same = update.where(
            stored_parties.is_not_distinct_from(sa.bindparam("b_parties", type_=sa.Text))
        )
        insert_case = cases.insert().values(binds(cases, "c_"))
        # The record takes the position its transaction has just counted (``tick``): the row of
        # ``positions`` stays locked until the commit, so positions commit in order.
        positions = schema.positions
        # Literals, not binds: these statements take no value.
        one: sa.ColumnElement[int] = sa.literal_column("1", sa.Integer)
        counted = sa.select(positions.c.position).where(positions.c.id == one).scalar_subquery()
        record_values = {k: v for k, v in binds(records, "r_").items() if k != "position"}
        insert_record = records.insert().values({**record_values, "position": counted})
        self.tick = compile_for(
            positions.update()
            .where(positions.c.id == one)
            .values(position=positions.c.position + one),
            dialect,
            (),
        )
        select_case = sa.select(*schema.case_columns)
        select_records = sa.select(*schema.record_columns)
        self.get_case = compiled(select_case.where(cases.c.id == case_id))
        self.update_case = compiled(update, *CASE_ROW, *FOLLOWS)
        self.update_same_parties = compiled(same, *CASE_ROW, *SAME_PARTIES)
        self.insert_case = compiled(insert_case, *CASE_ROW)
        # Where a case is and which parties it has, its row locked until the transaction ends
        # (SQLite: the transaction's write lock already holds the whole store).
        self.lock_case = compiled(
            sa.select(cases.c.seq, cases.c.state, cases.c.head, cases.c.parties)
            .where(cases.c.id == case_id)
            .with_for_update()
        )
        self.set_parties = compiled(
            cases.update()
            .where(cases.c.id == case_id, cases.c.seq == sa.bindparam("b_seq"))
            .values(parties=sa.bindparam("c_parties")),
            "c_id",
            "b_seq",
            "c_parties",
        )
        readers = schema.case_readers
        reader: sa.BindParameter[str] = sa.bindparam("b_reader")
        self.insert_reader = compiled(
            readers.insert().values(case_id=case_id, reader=reader), "c_id", "b_reader"
        )
        self.delete_reader = compiled(
            readers.delete().where(readers.c.case_id == case_id, readers.c.reader == reader),
            "c_id",
            "b_reader",
        )
        self.insert_record = compiled(insert_record, *RECORD_ROW)
        # ``restore`` (into an empty store) numbers the records itself, in one transaction,
        # then sets the counter to the last position it gave.
        self.insert_record_at = compiled(
            records.insert().values({**record_values, "position": sa.bindparam("r_position")}),
            *RECORD_ROW,
            "r_position",
        )
        self.set_position = compile_for(
            positions.update()
            .where(positions.c.id == one)
            .values(position=sa.bindparam("b_position", type_=sa.BigInteger)),
            dialect,
            ("b_position",),
        )
        self.case_records = compiled(
            select_records.where(
                records.c.case_id == case_id, records.c.seq > sa.bindparam("b_after")
            ).order_by(records.c.seq),
            "c_id",
            "b_after",
        )
        self.record_by_key = compiled(
            select_records.where(
                records.c.case_id == case_id, records.c.idempotency_key == sa.bindparam("b_key")
            ),
            "c_id",
            "b_key",
        )
        # Streamed reads (``iter_records``): every record, or one case's, by (case_id, seq).
        self.all_records = compiled(select_records.order_by(records.c.case_id, records.c.seq))
        self.one_case_records = compiled(
            select_records.where(records.c.case_id == case_id).order_by(records.c.seq)
        )
        # Whether the store holds any case, any record (``restore`` needs it empty): no value
        # to bind, the limit written into the SQL.
        self.any_case, self.any_record = (
            _literal(sa.select(sa.literal_column("1")).select_from(table).limit(1), dialect)
            for table in (cases, records)
        )
        # The change feed: records after a position, in position order, the position first.
        self.changes = compiled(
            sa.select(records.c.position, *schema.record_columns)
            .where(records.c.position > sa.bindparam("b_after"))
            .order_by(records.c.position)
            .limit(sa.bindparam("b_limit", type_=sa.Integer))
            .offset(sa.literal_column("0")),  # SQLite would bind an OFFSET of its own
            "b_after",
            "b_limit",
        )
        self.last_position = compile_for(
            sa.select(positions.c.position).where(positions.c.id == one), dialect, ()
        )
        self.one_statement = dialect.name == "postgresql"
        #: PostgreSQL: the channel told of each append, in the appending transaction.
        self.channel = f"{schema.prefix}feed" if self.one_statement else None
        self.notify = compiled(
            sa.select(sa.func.pg_notify(sa.bindparam("b_channel"), sa.bindparam("b_payload"))),
            "b_channel",
            "b_payload",
        ) if self.one_statement else None  # fmt: skip
        if self.one_statement:
            both = (*CASE_ROW, *RECORD_ROW)
            chained = functools.partial(_chained, positions=positions, channel=self.channel)
            self.append = compiled(chained(same, records, "moved"), *both, *SAME_PARTIES)
            self.create = compiled(chained(insert_case, records, "created"), *both)
            self.create_read = compiled(
                chained(insert_case, records, "created", readers), *both, "b_readers"
            )

    # -- values in ------------------------------------------------------------------------

    def case_row(self, case: Case) -> tuple[Any, ...]:
        """The values of a case row, in ``CaseRow`` order (a plain tuple: building the named
        one by keyword costs a microsecond a fire)."""
        time_in = self.codec.time_in
        return (case.id, case.name, case.version, case.fingerprint, case.state, case.seq,
                self.codec.json_in(case.facts), time_in(case.created_at),
                time_in(case.updated_at), case.head, parties_json(case.parties))  # fmt: skip

    def parties(self, value: Any, codec: Codec | None = None) -> Parties | None:
        """The parties of a case from its ``parties`` column (None: NULL, not derived yet)."""
        if value is None:
            return None
        if value.__class__ is str:
            return _parties(value)
        data = (codec or self.codec).json_out(value)
        return None if data is None else Parties.from_data(data)

    def record_row(self, record: Record) -> tuple[Any, ...]:
        """The values of a record row, in ``RecordRow`` order (a plain tuple, as ``case_row``)."""
        json_in = self.codec.json_in
        actor = record.actor
        roles = roles_json(actor.roles) if json_in is dumps else json_in(sorted(actor.roles))
        return (record.case_id, record.seq, record.event, record.source, record.target,
                actor.id, roles, actor.body, self.codec.time_in(record.at),
                json_in(record.payload),
                record.name, record.version, record.fingerprint, record.idempotency_key,
                record.prev_hash, record.hash, record.format,
                json_in(dict(record.salts)) if record.salts else None)  # fmt: skip

    # -- values out -----------------------------------------------------------------------

    def case(self, row: Sequence[Any], codec: Codec | None = None) -> Case:
        """A case from a row selected as ``CaseRow`` (``codec``: DECODED for SQLAlchemy rows).

        A row that cannot be a case (a cell edited behind the library's back) raises
        ``HistoryCorrupted`` naming the case and the column (``unreadable_case``)."""
        codec = codec or self.codec
        # Unpacked in ``CaseRow`` order (``CaseRow._make`` and its fields cost ten times more;
        # ``tests/test_sql_statements.py`` reads every column back).
        (case_id, name, version, fingerprint, state, seq, facts, created_at, updated_at, head,
         parties) = row  # fmt: skip
        try:
            # Most cases have no facts; json.loads of "{}" costs as much as the rest of the row.
            facts = {} if facts == "{}" else codec.json_out(facts)
            if facts.__class__ is not dict or seq.__class__ is not int:
                raise TypeError  # what a conversion cannot see: a good JSON, the wrong kind
            case = Case(
                id=case_id,
                name=name,
                version=version,
                fingerprint=fingerprint,
                state=state,
                seq=seq,
                facts=facts,
                created_at=codec.time_out(created_at),
                updated_at=codec.time_out(updated_at),
                head=head,
                parties=None if parties is None else self.parties(parties, codec),
            )
        except (TypeError, ValueError, AttributeError):  # a JSONDecodeError is a ValueError
            # Only now is the row looked at cell by cell, to name what is wrong.
            raise unreadable_case(row, codec) from None
        return case

    def record(self, row: Sequence[Any], codec: Codec | None = None) -> Record:
        """A record from a row selected as ``RecordRow`` (``codec``: DECODED for SQLAlchemy
        rows).

        A row that cannot be a record raises ``HistoryCorrupted`` naming the case, the seq and
        the column (``unreadable_record``); ``record_or_problem`` returns that error instead."""
        codec = codec or self.codec
        json_out = codec.json_out
        # Unpacked in ``RecordRow`` order (see ``case``).
        (case_id, seq, event, source, target, actor_id, actor_roles, actor_body, at, payload,
         name, version, fingerprint, idempotency_key, prev_hash, digest, kind,
         salts) = row  # fmt: skip
        try:
            if actor_roles.__class__ is str and json_out is _loads:
                actor = _actor(actor_id, actor_roles, actor_body)
            else:
                actor = _decoded_actor(actor_id, json_out(actor_roles), actor_body)
            # Most events carry no payload: "{}" needs no decoder.
            payload = {} if payload == "{}" else json_out(payload)
            if payload.__class__ is not dict or seq.__class__ is not int:
                raise TypeError  # what a conversion cannot see: a good JSON, the wrong kind
            moment = codec.time_out(at)
            if salts is not None:
                salts = _salts(json_out(salts))
            if kind.__class__ is not int:
                raise TypeError
        except (TypeError, ValueError, AttributeError):  # a JSONDecodeError is a ValueError
            # Only now is the row looked at cell by cell, to name what is wrong.
            raise unreadable_record(row, codec) from None
        return stored_record(case_id, seq, event, source, target, actor, moment, payload, name,
                             version, fingerprint, idempotency_key, prev_hash,
                             digest, kind, salts or {})  # fmt: skip

    def record_or_problem(self, row: Sequence[Any]) -> Record | HistoryCorrupted:
        """``record(row)``, or the ``HistoryCorrupted`` it would raise: what an audit reads, so
        that one unreadable row is reported and the stream goes on."""
        try:
            return self.record(row)
        except HistoryCorrupted as problem:
            return problem


def _salts(data: Any) -> dict[str, str]:
    """The salts of a ``salts`` cell's JSON: text by field, else ``TypeError``."""
    if data.__class__ is not dict or any(salt.__class__ is not str for salt in data.values()):
        raise TypeError
    return data


@functools.lru_cache(maxsize=1024)
def _actor(actor_id: str, roles: str, body: str | None) -> Actor:
    """The actor of a row whose roles are JSON text: the same few actors sign most records,
    so each (id, roles, body) is decoded and checked once (``Actor`` is frozen: sharing it is
    safe). ``TypeError`` or ``ValueError`` if the cells cannot be an actor."""
    return _checked_actor(actor_id, json.loads(roles), body)


def _decoded_actor(actor_id: str, roles: Any, body: str | None) -> Actor:
    """The actor of a row whose roles the driver decoded (PostgreSQL: a list), through the
    same cache as ``_actor`` (a tuple of the roles is its key)."""
    if roles.__class__ is not list:
        raise TypeError("actor roles are not a list")
    return _cached_actor(actor_id, tuple(roles), body)


@functools.lru_cache(maxsize=1024)
def _cached_actor(actor_id: str, roles: tuple[Any, ...], body: str | None) -> Actor:
    return _checked_actor(actor_id, list(roles), body)


def _checked_actor(actor_id: Any, roles: Any, body: Any) -> Actor:
    """An actor from decoded cells, or ``TypeError``: roles must be a list of text (a bare
    text would be one role, a number or a list no role at all), id and body text."""
    if (
        roles.__class__ is not list
        or any(role.__class__ is not str for role in roles)
        or actor_id.__class__ is not str
        or not (body is None or body.__class__ is str)
    ):
        raise TypeError("not an actor")
    return Actor(actor_id, roles, body)


def parties_json(parties: Parties | None) -> str | None:
    """The ``parties`` column of a case: ``Parties.to_data`` as compact JSON, or NULL.

    One text for equal parties (``to_data`` is sorted), which the fast append compares."""
    return None if parties is None else _parties_text(parties)


@functools.lru_cache(maxsize=1024)
def _parties_text(parties: Parties) -> str:
    # A fire that binds nobody keeps the case's parties: the same value, encoded once.
    return dumps(parties.to_data())


@functools.lru_cache(maxsize=1024)
def _parties(text: str) -> Parties:
    """Parties from their JSON text, each text decoded once (``Parties`` is frozen)."""
    return Parties.from_data(json.loads(text))


# -- rows that cannot be values ----------------------------------------------------------
#
# Worked out only once a conversion has failed: the hot paths never look at a cell twice.


def unreadable_record(row: Sequence[Any], codec: Codec) -> HistoryCorrupted:
    """Why a records row (in ``RecordRow`` order) cannot be a record: ``HistoryCorrupted``
    naming its case, its seq and the first bad column, saying what kind of value the column
    holds (never the value: it may be confidential)."""
    case_id, seq = row[0], row[1]
    cells = zip(RecordRow._fields, row, _RECORD_CHECKS, strict=True)
    return _unreadable(case_id, seq, cells, codec, Label("de l'enregistrement", "the record's"))


def unreadable_case(row: Sequence[Any], codec: Codec) -> HistoryCorrupted:
    """Why a cases row (in ``CaseRow`` order) cannot be a case (see ``unreadable_record``)."""
    case_id, seq = row[0], row[5]
    cells = zip(CaseRow._fields, row, _CASE_CHECKS, strict=True)
    return _unreadable(
        case_id, seq, cells, codec, Label("de la ligne du dossier", "the case row's")
    )


_Check = Callable[[Any, Codec], "Label | None"]


def _unreadable(
    case_id: Any,
    seq: Any,
    cells: Iterable[tuple[str, Any, _Check]],
    codec: Codec,
    whose: Label,
) -> HistoryCorrupted:
    for column, value, check in cells:
        wrong = check(value, codec)
        if wrong is not None:
            reason = (
                f"la colonne {column} {whose.fr} contient {wrong.fr} / "
                f"{whose.en} {column} column holds {wrong.en}"
            )
            break
    else:  # a failure no check foresees: still a row the library did not write
        reason = (
            f"une cellule {whose.fr} n'est pas lisible / a cell of {whose.en[:-2]} is unreadable"
        )
    shown_id = case_id if case_id.__class__ is str else "(illisible / unreadable)"
    return HistoryCorrupted(shown_id, seq if seq.__class__ is int else None, reason)


def _kind(value: Any) -> Label:
    """What kind of value ``value`` is, for people (never the value itself)."""
    if value is None:
        return Label("NULL", "NULL")
    if value.__class__ is bool:
        return Label("un booléen", "a boolean")
    if isinstance(value, int | float):
        return Label("un nombre", "a number")
    if isinstance(value, str):
        return Label("du texte", "text")
    if isinstance(value, list | tuple):
        return Label("une liste", "a list")
    if isinstance(value, dict):
        return Label("un objet", "an object")
    if isinstance(value, bytes | bytearray | memoryview):
        return Label("des octets", "binary data")
    name = type(value).__name__
    return Label(f"une valeur de type {name}", f"a value of type {name}")


def _instead(value: Any, fr: str, en: str) -> Label:
    kind = _kind(value)
    return Label(f"{kind.fr} au lieu {fr}", f"{kind.en} where {en} is expected")


def _text(value: Any, _codec: Codec) -> Label | None:
    return None if value.__class__ is str else _instead(value, "de texte", "text")


def _optional_text(value: Any, codec: Codec) -> Label | None:
    return None if value is None else _text(value, codec)


def _integer(value: Any, _codec: Codec) -> Label | None:
    return None if value.__class__ is int else _instead(value, "d'un entier", "an integer")


def _time(value: Any, codec: Codec) -> Label | None:
    try:
        codec.time_out(value)
    except (TypeError, ValueError, AttributeError, OverflowError):
        if isinstance(value, str):
            return Label("un texte qui n'est pas une heure", "text that is not a time")
        return _instead(value, "d'une heure", "a time")
    return None


def _decoded(value: Any, codec: Codec) -> tuple[Any, Label | None]:
    """``value`` decoded from JSON, or why it cannot be."""
    try:
        return codec.json_out(value), None
    except (TypeError, ValueError):
        if value.__class__ in (int, float):  # SQLite keeps the JSON text '5' as a number
            return value, None
        if isinstance(value, str):
            return None, Label("un texte qui n'est pas du JSON", "text that is not JSON")
        return None, _instead(value, "de JSON", "JSON")


def _json_object(value: Any, codec: Codec) -> Label | None:
    data, wrong = _decoded(value, codec)
    if wrong is not None or data.__class__ is dict:
        return wrong
    return _instead(data, "d'un objet JSON", "a JSON object")


def _roles(value: Any, codec: Codec) -> Label | None:
    data, wrong = _decoded(value, codec)
    if wrong is not None:
        return wrong
    if data.__class__ is not list:
        return _instead(data, "d'une liste de rôles", "a list of roles")
    for role in data:
        if role.__class__ is not str:
            kind = _kind(role)
            return Label(
                f"une liste où {kind.fr} tient la place d'un rôle (du texte)",
                f"a list holding {kind.en} where a role (text) is expected",
            )
    return None


def _parties_cell(value: Any, codec: Codec) -> Label | None:
    if value is None:
        return None
    if value.__class__ is not str:
        data, wrong = _decoded(value, codec)
    else:
        data, wrong = _decoded(value, codec if codec.json_out is _loads else codec_for("sqlite"))
    if wrong is not None or data is None:
        return wrong
    try:
        Parties.from_data(data)
    except (TypeError, ValueError):
        kind = _kind(data)
        return Label(
            f"{kind.fr} qui n'est pas les parties d'un dossier",
            f"{kind.en} that is not the parties of a case",
        )
    return None


def _salts_cell(value: Any, codec: Codec) -> Label | None:
    if value is None:
        return None
    data, wrong = _decoded(value, codec)
    if wrong is not None:
        return wrong
    try:
        _salts(data)
    except TypeError:
        kind = _kind(data)
        return Label(
            f"{kind.fr} qui n'est pas les sels d'un enregistrement",
            f"{kind.en} that is not the salts of a record",
        )
    return None


# What each column must hold, in ``RecordRow`` and ``CaseRow`` order.
_RECORD_CHECKS: tuple[_Check, ...] = (
    _text, _integer, _text, _optional_text, _text,  # case_id, seq, event, source, target
    _text, _roles, _optional_text, _time, _json_object,  # actor_id, roles, body, at, payload
    _text, _text, _text, _optional_text,  # name, version, fingerprint, idempotency_key
    _text, _text,  # prev_hash, hash
    _integer, _salts_cell,  # format, salts
)  # fmt: skip
_CASE_CHECKS: tuple[_Check, ...] = (
    _text, _text, _text, _text, _text,  # id, name, version, fingerprint, state
    _integer, _json_object, _time, _time,  # seq, facts, created_at, updated_at
    _text, _parties_cell,  # head, parties
)  # fmt: skip


def _literal(statement: sa.ClauseElement, dialect: Dialect) -> Compiled:
    """``statement`` compiled for ``dialect`` with its values written into the SQL."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return Compiled(compiled.string, (), ())


def _chained(
    first: sa.Insert | sa.Update,
    records: sa.Table,
    name: str,
    readers: sa.Table | None = None,
    *,
    positions: sa.Table,
    channel: str | None,
) -> sa.Insert:
    """PostgreSQL: ``first`` and the record insert as one statement (one round trip, atomic).

    The record takes its case id from ``first``'s ``RETURNING``: when ``first`` touches no row
    (the case moved on), no record is inserted and the statement returns no row. Only then is
    the ``positions`` row counted (and locked until the statement commits) for the record's
    position, and ``channel`` notified (a hint for the feed's followers, sent on commit). With
    ``readers``, the statement also indexes the case under each reader of the JSON list bound
    as ``b_readers`` (PostgreSQL runs every data-modifying ``WITH`` to completion).
    """
    step = first.returning(first.table.c.id).cte(name)
    tick = (
        positions.update()
        .where(positions.c.id == sa.literal_column("1"), sa.exists(sa.select(step.c.id)))
        .values(position=positions.c.position + sa.literal_column("1"))
        .returning(positions.c.position)
        .cte(f"{name}_position")
    )
    keys = [key for key in records.c.keys() if key not in ("case_id", "position")]  # noqa: SIM118
    values = [sa.cast(sa.bindparam(f"r_{key}", type_=records.c[key].type), records.c[key].type)
              for key in keys]  # fmt: skip
    row = sa.select(step.c.id, *values, tick.c.position).select_from(step).join(tick, sa.true())
    columns = ["case_id", *keys, "position"]
    insert = records.insert().from_select(columns, row).add_cte(step).add_cte(tick)
    # The channel comes from a checked table prefix (letters, digits, underscores).
    told = sa.func.pg_notify(sa.literal_column(f"'{channel}'"), sa.literal_column("''"))
    if readers is None:
        return insert.returning(records.c.seq, told)
    recorded = insert.returning(records.c.seq, told).cte(f"{name}_record")
    listed = sa.func.json_array_elements_text(
        sa.cast(sa.bindparam("b_readers", type_=sa.Text), sa.JSON)
    ).table_valued("value")
    chosen = sa.select(step.c.id, listed.c.value).select_from(step).join(listed, sa.true())
    index = readers.insert().from_select(["case_id", "reader"], chosen)
    return index.add_cte(step).add_cte(recorded).returning(readers.c.case_id)
