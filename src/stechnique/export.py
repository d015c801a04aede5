"""Histories out of the store and back in: JSON Lines to restore, CSV for people.

* ``export_jsonl`` writes one record per line in its canonical form (the library converter's
  plain data, dumped as ``canonical_json``: the very text the record's hash is taken over, plus
  the hash). Cases follow each other by case id, records by seq. Each line says its record
  format (``records.FORMAT``): a format-2 line has ``"format": 2`` and the ``salts`` of its
  confidential values; a line without ``format`` is format 1, as 0.1.0 wrote every line.
  ``import_jsonl`` reads both.
* ``import_jsonl`` restores such an export into an **empty** store, giving back identical
  records and hashes (an actor's ``body`` included, present in the line only when the record
  has one); the case rows are derived from the histories, as the engine writes them, but for
  their ``parties``: reading those needs the procedures, so a restored case row has ``parties``
  None, as a row upgraded from 0.1.0 has, until the engine derives them
  (``Storage.cases_without_parties``, ``Storage.set_parties``).
  The file is read once and verified as it streams into the store (every line parsed, every
  hash chain checked), all in one atomic step (``Storage.restore``): a bad file, or a value
  the store refuses, is refused with the line and the reason, and nothing is written.
* ``export_csv`` writes one row per record, for a spreadsheet: ISO 8601 times (exact, and a
  plain ``YYYY-MM-DD HH:MM:SS`` UTC column spreadsheets read as a date), the French labels of
  the event and states, the payload as JSON text. Its columns (``CSV_COLUMNS``) are the same
  whatever the language. With ``labelled=True`` it writes instead the variant for people:
  columns named in the reader's language (``LABELLED_COLUMNS``), times in Paris time, labels
  for events, states, roles and fields, and, in French, ``;`` between columns as French
  spreadsheets expect.

Exports take all cases or a selection (one case, or a procedure name and version), and name
who reads: a ``viewer`` gets the cases it may know of, each history as it may read it
(``Engine.history``), confidential fields replaced by redaction markers — for reading only,
it cannot be restored; an ``auditor`` with a reason gets every record as stored, and the
store logs that read (``Engine.accesses``).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import cattrs

from stechnique._arguments import MAX_ID, MAX_NAME, Arguments, storable_problem
from stechnique._chain import case_after, content_hash, facts_after, stored_record
from stechnique._histories import HistoryFilter, histories, link_problems
from stechnique._labels import (
    CONFIDENTIAL,
    event_fr,
    field_label,
    option_label,
    record_event_both,
    role_both,
    state_both,
    state_fr,
)
from stechnique.clock import Clock, utc_now
from stechnique.definition import Procedure
from stechnique.errors import FieldProblem, HistoryCorrupted, InvalidData
from stechnique.i18n import Label, Lang, both, current_lang, format_datetime
from stechnique.parties import parties_of
from stechnique.records import (
    FORMAT,
    GENESIS_HASH,
    Access,
    Actor,
    Case,
    Parties,
    Record,
    canonical_json,
    converter,
    from_iso,
    to_iso,
)
from stechnique.registry import Registry
from stechnique.storage.base import Storage
from stechnique.visibility import is_redacted, redact

__all__ = [
    "CSV_COLUMNS",
    "LABELLED_COLUMNS",
    "Destination",
    "ImportReport",
    "export_csv",
    "export_jsonl",
    "import_jsonl",
]

#: The columns of ``export_csv``, in order.
CSV_COLUMNS = (
    "case_id",
    "seq",
    "at",
    "at_utc",
    "event",
    "event_fr",
    "source",
    "source_fr",
    "target",
    "target_fr",
    "actor_id",
    "actor_roles",
    "payload",
    "name",
    "version",
    "fingerprint",
    "idempotency_key",
    "prev_hash",
    "hash",
)

#: The columns of ``export_csv(labelled=True)``, in order, each with its header in French and
#: English: what a reader is shown, in the reader's language.
LABELLED_COLUMNS: dict[str, Label] = {
    "case_id": both("Case"),
    "seq": both("No."),
    "at": both("Date (Paris time)"),
    "event": both("Step"),
    "source": both("From"),
    "target": both("To"),
    "actor": both("Actor"),
    "roles": both("Roles"),
    "payload": both("Data"),
}

_FIELDS = frozenset(attrs.fields_dict(Record))
#: The fields a line may leave out: a format-1 line (0.1.0) has neither, a format-2 line with
#: no confidential value has no salts.
_OPTIONAL = frozenset({"format", "salts"})

#: Where an export goes: a path (the file is written) or an open text stream.
Destination = str | Path | IO[str]


@attrs.frozen
class ImportReport:
    """What ``import_jsonl`` restored."""

    cases: int
    records: int


@contextlib.contextmanager
def _opened(target: Destination, mode: str, encoding: str = "utf-8") -> Iterator[IO[str]]:
    if isinstance(target, str | Path):
        with open(target, mode, encoding=encoding, newline="") as stream:
            yield stream
    else:
        yield target


def _selected(
    storage: Storage,
    registry: Registry | None,
    reader: _Reader,
    selection: HistoryFilter,
) -> Iterator[list[Record]]:
    """The selected histories: for a viewer, those it may know of, redacted as it may read
    them; for an auditor, all of them as stored, each case logged as read."""
    check = Arguments()
    viewer, auditor, reason = check.reader(reader.viewer, reader.auditor, reader.reason)
    check.done()
    if auditor is not None:
        read: list[str] = []
        try:
            for records in histories(storage, selection):
                read.append(records[0].case_id)
                yield records
        finally:
            storage.log_access(Access(auditor, reader.now(), reason, read))
        return
    assert viewer is not None
    registry = _registry(registry)

    def procedure_of(record: Record) -> Procedure:
        return registry.pinned(
            record.case_id, record.seq, record.name, record.version, record.fingerprint
        )

    for records in histories(storage, selection):
        # The history alone says who takes part (``stechnique.parties``), never the case row.
        parties = parties_of(records, procedure_of)
        if not parties.sees(viewer):
            continue
        facts: dict[str, Any] = {}
        for record in records:
            facts = facts_after(record, facts)
        yield redact(records, viewer, facts, parties, procedure_of)


@attrs.frozen
class _Reader:
    """Who reads an export: a viewer, or an auditor with a reason (``Arguments.reader``)."""

    viewer: Actor | None
    auditor: Actor | None
    reason: str | None
    now: Clock = utc_now


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from stechnique.workflows import default_registry

    return default_registry()


def export_jsonl(
    storage: Storage,
    out: Destination,
    *,
    case_id: str | None = None,
    name: str | None = None,
    version: str | None = None,
    viewer: Actor | None = None,
    auditor: Actor | None = None,
    reason: str | None = None,
    registry: Registry | None = None,
    clock: Clock = utc_now,
) -> int:
    """Write the selected histories to ``out`` (a path or a text stream) as JSON Lines.

    Selection as in ``audit``: all cases, ``case_id``, or the cases with records pinned to
    ``name`` (and ``version``). Name who reads, exactly one of: ``viewer``, whose export holds
    only the cases it may know of, redacted as it may read them (``registry`` resolves the
    reading rules; default: the published procedures), or ``auditor`` with a ``reason``, whose
    export holds every record as stored (what ``import_jsonl`` restores), the read logged in
    the store with ``clock``'s time (``Engine.accesses``). Returns the number of records
    written.
    """
    written = 0
    reader = _Reader(viewer, auditor, reason, clock)
    with _opened(out, "w") as stream:
        for records in _selected(storage, registry, reader, HistoryFilter(case_id, name, version)):
            for record in records:
                stream.write(canonical_json(converter.unstructure(record)) + "\n")
            written += len(records)
    return written


def export_csv(
    storage: Storage,
    out: Destination,
    *,
    case_id: str | None = None,
    name: str | None = None,
    version: str | None = None,
    viewer: Actor | None = None,
    auditor: Actor | None = None,
    reason: str | None = None,
    registry: Registry | None = None,
    clock: Clock = utc_now,
    labelled: bool = False,
    lang: Lang | None = None,
) -> int:
    """Write the selected histories to ``out`` as CSV, one row per record (``CSV_COLUMNS``).

    Selection and who reads (``viewer``, or ``auditor`` with ``reason``) as in
    ``export_jsonl``. A path is written in UTF-8 with a byte
    order mark, so spreadsheets show accents right (read it back with ``encoding="utf-8-sig"``).
    ``labelled`` writes the variant for people in ``lang`` (default: the language in force):
    ``LABELLED_COLUMNS`` headed in that language, separated by ``;`` in French. Returns the
    number of records written.
    """
    labels = _registry(registry)
    lang = lang or current_lang()
    written = 0
    reader = _Reader(viewer, auditor, reason, clock)
    with _opened(out, "w", encoding="utf-8-sig") as stream:
        if labelled:
            writer = csv.DictWriter(
                stream, fieldnames=tuple(LABELLED_COLUMNS), lineterminator="\r\n",
                delimiter=";" if lang == "fr" else ",",
            )  # fmt: skip
            writer.writerow({key: label.text(lang) for key, label in LABELLED_COLUMNS.items()})
        else:
            writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
        for records in _selected(storage, registry, reader, HistoryFilter(case_id, name, version)):
            if labelled:
                writer.writerows(_labelled_row(record, labels, lang) for record in records)
            else:
                writer.writerows(_csv_row(record, labels) for record in records)
            written += len(records)
    return written


def _labelled_row(record: Record, registry: Registry, lang: Lang) -> dict[str, Any]:
    """A record as a reader of ``lang`` is shown it: labels where the procedure has them."""
    procedure = registry.by_fingerprint(record.fingerprint)
    return {
        "case_id": record.case_id,
        "seq": record.seq,
        "at": format_datetime(record.at, lang),
        "event": record_event_both(procedure, record).text(lang),
        "source": state_both(procedure, record.source).text(lang) if record.source else "",
        "target": state_both(procedure, record.target).text(lang),
        "actor": record.actor.id,
        "roles": ", ".join(sorted(role_both(procedure, r).text(lang) for r in record.actor.roles)),
        "payload": "\n".join(_people_payload(procedure, record, lang)),
    }


def _is_choice(field: Any) -> bool:
    return field is not None and field.kind in ("choice", "choices")


def _people_payload(procedure: Procedure | None, record: Record, lang: Lang) -> Iterator[str]:
    """« Field label: value » lines; a withheld value says it is confidential."""
    schema: Sequence[Any] = ()
    if procedure is not None:
        if record.source is None:
            schema = procedure.facts
        else:
            taken = procedure.transition(record.source, record.event, record.payload)
            schema = taken.payload if taken is not None else ()
    fields = {field.name: field for field in schema}
    for key, value in record.payload.items():
        field = fields.get(key)
        label = field_label(procedure, key, lang)
        if is_redacted(value):
            shown = CONFIDENTIAL.text(lang)
        elif isinstance(value, str):
            shown = option_label(procedure, key, value, lang) if _is_choice(field) else value
        elif isinstance(value, list) and _is_choice(field):
            shown = ", ".join(option_label(procedure, key, str(item), lang) for item in value)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            shown = ", ".join(value)
        else:
            shown = json.dumps(value, ensure_ascii=False)
        yield f"{label} : {shown}" if lang == "fr" else f"{label}: {shown}"


def _csv_row(record: Record, registry: Registry) -> dict[str, Any]:
    procedure = registry.by_fingerprint(record.fingerprint)
    return {
        "case_id": record.case_id,
        "seq": record.seq,
        "at": to_iso(record.at),
        "at_utc": to_iso(record.at)[:19].replace("T", " "),
        "event": record.event,
        "event_fr": event_fr(procedure, record),
        "source": record.source or "",
        "source_fr": state_fr(procedure, record.source),
        "target": record.target,
        "target_fr": state_fr(procedure, record.target),
        "actor_id": record.actor.id,
        "actor_roles": " ".join(sorted(record.actor.roles)),
        "payload": canonical_json(record.payload),
        "name": record.name,
        "version": record.version,
        "fingerprint": record.fingerprint,
        "idempotency_key": record.idempotency_key or "",
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def import_jsonl(
    storage: Storage,
    source: str | Path | IO[str],
    *,
    registry: Registry | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Restore a ``export_jsonl`` file into ``storage``, which must be empty: all or nothing.

    Each case row gets the parties its history binds, read by the rules of ``registry``
    (default: the published procedures); a case with a record pinned to a version the
    registry does not know gets none yet (the engine reads them once it knows the version).

    ``source`` (a path or a text stream, read once) is verified as it streams into the store,
    in one atomic step (``Storage.restore``): every line parsed, every hash chain checked.
    The first problem refuses the whole file, with the line and the reason (``InvalidData``
    for a line that is not a record or holds what no store keeps, NaN included;
    ``HistoryCorrupted`` for a broken chain or a redacted export); so does anything the store
    refuses (a ``StorageError``), and ``StoreNotEmpty`` a store that already holds cases. In
    every case nothing is written.

    ``progress``, when given, is called once per case, after its history is read and
    verified, with the number of records read so far (a progress bar's total is the number
    of lines of the file).
    """
    known = _registry(registry)
    tally = _Tally()
    with _opened(source, "r") as stream:
        storage.restore(_restorable(_verified_cases(stream), known, tally, progress))
    return ImportReport(tally.cases, tally.records)


@attrs.define
class _Tally:
    """What an import has read so far."""

    cases: int = 0
    records: int = 0


def _restorable(
    histories: Iterable[list[Record]],
    registry: Registry,
    tally: _Tally,
    progress: Callable[[int], None] | None,
) -> Iterator[tuple[Case, list[Record]]]:
    """Each verified history with the case row the engine would have written after it."""
    for history in histories:
        yield _case_row(history, registry), history
        tally.cases, tally.records = tally.cases + 1, tally.records + len(history)
        if progress is not None:
            progress(tally.records)


def _verified_cases(lines: IO[str]) -> Iterator[list[Record]]:
    """Each case of the file, its chain verified; cases must come by increasing case id."""
    history: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if line[:1].isspace() and not line.strip():  # a record's line starts with "{"
            continue
        record = _parse(line, number)
        if history and record.case_id != history[0].case_id:
            if record.case_id < history[0].case_id:
                raise InvalidData(
                    f"line {number}",
                    [FieldProblem("case_id", "cases must come by increasing case id")],
                )
            yield history
            history = []
        _check_link(record, history, number)
        history.append(record)
    if history:
        yield history


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is a number JSON does not allow")


# ``json.loads`` would read NaN and Infinity, which no JSON column (PostgreSQL's) keeps.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# Its C scanner: what ``decode`` ends up calling, without the Python steps around it.
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]


def _decoded(line: str) -> Any:
    """The JSON value of ``line``: the scanner's when it reads the whole line (but its
    newline), else ``decode``'s, which decides or raises ``ValueError`` saying where."""
    try:
        value, end = _SCAN(line, 0)
    except (StopIteration, ValueError):
        return _DECODER.decode(line)
    if end < len(line) and line[end:].strip():
        return _DECODER.decode(line)
    return value


def _parse(line: str, number: int) -> Record:
    try:
        data = _decoded(line)
    except ValueError as error:
        raise InvalidData(f"line {number}", [FieldProblem("", f"not JSON ({error})")]) from error
    record = None
    if data.__class__ is dict and _FIELDS - _OPTIONAL <= data.keys() <= _FIELDS:
        format_problem = _format_problem(data)
        if format_problem is not None:
            raise InvalidData(f"line {number}", [format_problem])
        record = _exact_record(data)
    if record is None:
        record = _structured(data, number)
    problems = _unstorable(record, line)
    if problems:
        raise InvalidData(f"line {number}", problems)
    return record


def _format_problem(data: Mapping[str, Any]) -> FieldProblem | None:
    """What is wrong with a line's record format and salts, if anything (the converter would
    turn a number into text: a salt must be text as written)."""
    kind = data.get("format", 1)
    if kind.__class__ is not int or kind not in (1, FORMAT):
        return FieldProblem("format", f"not a record format (1 or {FORMAT})")
    salts, payload = data.get("salts", {}), data["payload"]
    if not isinstance(salts, dict) or not all(
        isinstance(salt, str) and isinstance(payload, dict) and field in payload
        for field, salt in salts.items()
    ):
        return FieldProblem("salts", "not a salt (text) for each of some payload fields")
    if salts and kind == 1:
        return FieldProblem("salts", "a format-1 record has no salts")
    return None


def _structured(data: Any, number: int) -> Record:
    """The record of a line by the converter, or ``InvalidData`` saying why it is none."""
    if not isinstance(data, dict) or not _FIELDS - _OPTIONAL <= set(data) <= _FIELDS:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        problem = f"expected the fields {sorted(_FIELDS)}, found {found}"
        raise InvalidData(f"line {number}", [FieldProblem("", problem)])
    try:
        return converter.structure(data, Record)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise InvalidData(f"line {number}", [FieldProblem("", str(error))]) from error


def _exact_record(data: dict[str, Any]) -> Record | None:
    """The record of a line whose every value already has its field's type (what
    ``export_jsonl`` writes), built directly: a sixth of the converter's time. None for
    anything else, which the converter then structures or refuses (``_structured``)."""
    (case_id, seq, event, source, target, actor, at, payload, name, version, fingerprint,
     key, prev_hash, digest) = _IN_ORDER(data)  # fmt: skip
    if (
        actor.__class__ is not dict
        or seq.__class__ is not int
        or at.__class__ is not str
        or payload.__class__ is not dict
        or not (source is None or source.__class__ is str)
        or not (key is None or key.__class__ is str)
        or not all(value.__class__ is str for value in (case_id, event, target, name, version,
                                                        fingerprint, prev_hash, digest))
    ):  # fmt: skip
        return None
    try:
        moment = from_iso(at)
        roles = actor["roles"]
        if roles.__class__ is not list:  # a text would be read as one role per character
            return None
        who = _actor(actor["id"], tuple(roles), actor.get("body"), len(actor))
    except (ValueError, TypeError, KeyError):
        return None
    return stored_record(case_id, seq, event, source, target, who, moment, payload, name,
                         version, fingerprint, key, prev_hash, digest, data.get("format", 1),
                         dict(data.get("salts", {})))  # fmt: skip


# A record's fields as ``Record`` declares them (``stored_record``'s order), but for the
# format and salts that a format-1 line leaves out.
_IN_ORDER = operator.itemgetter(
    *(name for name in attrs.fields_dict(Record) if name not in _OPTIONAL)
)


@functools.lru_cache(maxsize=1024)
def _actor(actor_id: Any, roles: tuple[Any, ...], body: Any, fields: int) -> Actor:
    """The actor of a line, each (id, roles, body) built once (the same few actors sign most
    records; ``Actor`` is frozen, so sharing one is safe); ``TypeError`` unless its values are
    text and it has no field but ``id``, ``roles`` and ``body``."""
    if (
        actor_id.__class__ is not str
        or not all(role.__class__ is str for role in roles)
        or not (body is None or body.__class__ is str)
        or fields != (2 if body is None else 3)
    ):
        raise TypeError("not an actor")
    return Actor(actor_id, roles, body)


def _unstorable(record: Record, line: str = "\\ud") -> list[FieldProblem]:
    """What no store can hold: ids too long for their SQL column, text that is not Unicode.

    Only that: what a 0.1.0 command wrote imports as written (the checks of new commands,
    ``_arguments``, are stricter), and the hash chain judges the rest. ``line`` is the text
    the record was read from: a lone surrogate comes from a ``\\ud...`` escape in it, or is in
    it (a text stream built in Python), which encoding it finds."""
    actor = record.actor
    if (
        "\\ud" not in line
        and "\\uD" not in line
        and (line.isascii() or _encodes(line))
        and len(record.case_id) <= MAX_ID
        and len(actor.id) <= MAX_ID
        and (actor.body is None or len(actor.body) <= MAX_ID)
        and (record.idempotency_key is None or len(record.idempotency_key) <= MAX_ID)
        and max(map(len, (record.event, record.target, record.name, record.version))) <= MAX_NAME
        and len(record.source or "") <= MAX_NAME
        and all(len(role) <= MAX_NAME for role in actor.roles)
    ):
        return []  # the usual line, decided without building the table below
    fields: list[tuple[str, object, int]] = [
        ("case_id", record.case_id, MAX_ID), ("actor.id", record.actor.id, MAX_ID),
        ("event", record.event, MAX_NAME), ("target", record.target, MAX_NAME),
        ("name", record.name, MAX_NAME), ("version", record.version, MAX_NAME),
        *(("actor.roles", role, MAX_NAME) for role in record.actor.roles),
        # The hashed texts too: a lone surrogate there would fail the hashing, not the store.
        ("fingerprint", record.fingerprint, 2**62), ("prev_hash", record.prev_hash, 2**62),
        ("hash", record.hash, 2**62),
    ]  # fmt: skip
    if record.idempotency_key is not None:
        fields.append(("idempotency_key", record.idempotency_key, MAX_ID))
    if record.actor.body is not None:
        fields.append(("actor.body", record.actor.body, MAX_ID))
    if record.source is not None:
        fields.append(("source", record.source, MAX_NAME))
    problems = []
    for name, value, limit in fields:
        problem = storable_problem(value, limit)
        if problem is not None:
            problems.append(FieldProblem(name, problem))
    if storable_problem(canonical_json(record.payload), 2**62) is not None:
        problems.append(FieldProblem("payload", "holds text that is not valid Unicode"))
    return problems


def _encodes(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate): whether it encodes."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_link(record: Record, history: Sequence[Record], number: int) -> None:
    head = history[-1].hash if history else GENESIS_HASH
    expected = len(history) + 1
    sound = (
        record.seq == expected and record.prev_hash == head and content_hash(record) == record.hash
    )
    if sound and record.format == 1:
        return  # a sound link: its problems are worked out (and worded) only otherwise
    problems = [] if sound else link_problems(record, expected, head)
    # A format-2 record redacted for a viewer still proves its chain: refused all the same.
    if (problems or record.format != 1) and _redacted(record.payload):
        raise HistoryCorrupted(
            record.case_id,
            record.seq,
            f"line {number} holds redacted fields: an export made for a viewer cannot be "
            "restored, export without viewer",
        )
    if problems:
        _, seq, message = problems[0]
        raise HistoryCorrupted(record.case_id, seq, f"line {number}: {message}")


def _redacted(payload: Mapping[str, Any]) -> bool:
    return any(is_redacted(value) for value in payload.values())


def _case_row(history: Sequence[Record], registry: Registry) -> Case:
    """The case row the engine would have written after ``history``: its parties read by the
    rules its records are pinned to, None when one of them is not registered here."""
    facts: dict[str, Any] = {}
    for record in history:
        facts = facts_after(record, facts)
    parties: Parties | None = None
    if all(map(registry.by_fingerprint, {record.fingerprint for record in history})):
        pinned: dict[tuple[str, str, str], Procedure] = {}

        def procedure_of(r: Record) -> Procedure:
            # Once per version the history runs under, not once per record.
            key = (r.fingerprint, r.name, r.version)
            if key not in pinned:
                pinned[key] = registry.pinned(r.case_id, r.seq, r.name, r.version, r.fingerprint)
            return pinned[key]

        parties = parties_of(history, procedure_of)
    return case_after(history[-1], created_at=history[0].at, facts=facts, parties=parties)
