"""Histories out of the store and back in: JSON Lines to restore, CSV for people.

* ``export_jsonl`` writes one record per line in its canonical form (the library converter's
  plain data, dumped as ``canonical_json``: the very text the record's hash is taken over, plus
  the hash). Cases follow each other by case id, records by seq.
* ``import_jsonl`` restores such an export into an **empty** store, giving back identical
  records and hashes (an actor's ``body`` included, present in the line only when the record
  has one); the case rows are derived from the histories, as the engine writes them, but for
  their ``parties``: reading those needs the procedures, so a restored case row has ``parties``
  None, as a row upgraded from 0.1.0 has, until the engine derives them
  (``Storage.cases_without_parties``, ``Storage.set_parties``).
  The whole file is read and verified first (every line parsed, every hash chain checked), so
  a bad file is refused with the line and the reason and nothing is written.
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
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import IO, Any

import attrs
import cattrs

from stechnique._arguments import MAX_ID, MAX_NAME, Arguments, storable_problem
from stechnique._chain import case_after, facts_after
from stechnique._histories import HistoryFilter, histories, link_problems
from stechnique._labels import (
    CONFIDENTIAL,
    event_fr,
    field_label,
    option_label,
    record_event_label,
    role_label,
    state_fr,
    state_label,
)
from stechnique.clock import Clock, utc_now
from stechnique.definition import Procedure
from stechnique.errors import FieldProblem, HistoryCorrupted, InvalidData
from stechnique.i18n import Label, Lang, both, current_lang, format_datetime
from stechnique.parties import parties_along, parties_of
from stechnique.records import (
    GENESIS_HASH,
    Access,
    Actor,
    Parties,
    Record,
    canonical_json,
    converter,
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
        "event": record_event_label(procedure, record).text(lang),
        "source": state_label(procedure, record.source).text(lang) if record.source else "",
        "target": state_label(procedure, record.target).text(lang),
        "actor": record.actor.id,
        "roles": ", ".join(sorted(role_label(procedure, r).text(lang) for r in record.actor.roles)),
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
        label = field_label(field, key).text(lang)
        if is_redacted(value):
            shown = CONFIDENTIAL.text(lang)
        elif isinstance(value, str):
            shown = option_label(field, value).text(lang) if _is_choice(field) else value
        elif isinstance(value, list) and _is_choice(field):
            shown = ", ".join(option_label(field, str(item)).text(lang) for item in value)
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
    storage: Storage, source: str | Path | IO[str], *, registry: Registry | None = None
) -> ImportReport:
    """Restore a ``export_jsonl`` file into ``storage``, which must be empty.

    Each case row gets the parties its history binds, read by the rules of ``registry``
    (default: the published procedures); a case with a record pinned to a version the
    registry does not know gets none yet (the engine reads them once it knows the version).

    ``source`` is a path or a seekable text stream: it is read twice, once to verify every line
    and every hash chain (refusing the whole file, with the line and the reason, on the first
    problem: ``InvalidData`` for a line that is not a record, ``HistoryCorrupted`` for a broken
    chain or a redacted export), then to write each case with its derived case row. Raises
    ``ValueError`` if the store already holds cases.
    """
    _require_empty(storage)
    with _opened(source, "r") as stream:
        if not stream.seekable():
            raise ValueError("import_jsonl reads its source twice: give a path or a seekable file")
        start = stream.tell()
        cases = records = 0
        for history in _verified_cases(stream):
            cases, records = cases + 1, records + len(history)
        stream.seek(start)
        known = _registry(registry)
        for history in _verified_cases(stream):
            _restore(storage, history, known)
    return ImportReport(cases, records)


def _require_empty(storage: Storage) -> None:
    stream = storage.iter_records()
    try:
        first = next(stream, None)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if first is not None or storage.cases():
        raise ValueError(
            "import_jsonl restores into an empty store only, and this one already holds cases"
        )


def _verified_cases(lines: IO[str]) -> Iterator[list[Record]]:
    """Each case of the file, its chain verified; cases must come by increasing case id."""
    history: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
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


def _parse(line: str, number: int) -> Record:
    try:
        data = json.loads(line)
    except ValueError as error:
        raise InvalidData(f"line {number}", [FieldProblem("", f"not JSON ({error})")]) from error
    if not isinstance(data, dict) or set(data) != _FIELDS:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        problem = f"expected the fields {sorted(_FIELDS)}, found {found}"
        raise InvalidData(f"line {number}", [FieldProblem("", problem)])
    try:
        record = converter.structure(data, Record)
    except (cattrs.BaseValidationError, ValueError, TypeError) as error:
        raise InvalidData(f"line {number}", [FieldProblem("", str(error))]) from error
    problems = _unstorable(record)
    if problems:
        raise InvalidData(f"line {number}", problems)
    return record


def _unstorable(record: Record) -> list[FieldProblem]:
    """What no store can hold: ids too long for their SQL column, text that is not Unicode.

    Only that: what a 0.1.0 command wrote imports as written (the checks of new commands,
    ``_arguments``, are stricter), and the hash chain judges the rest."""
    fields: list[tuple[str, object, int]] = [
        ("case_id", record.case_id, MAX_ID), ("actor.id", record.actor.id, MAX_ID),
        ("event", record.event, MAX_NAME), ("target", record.target, MAX_NAME),
        ("name", record.name, MAX_NAME), ("version", record.version, MAX_NAME),
        *(("actor.roles", role, MAX_NAME) for role in record.actor.roles),
    ]  # fmt: skip
    if record.idempotency_key is not None:
        fields.append(("idempotency_key", record.idempotency_key, MAX_ID))
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


def _check_link(record: Record, history: Sequence[Record], number: int) -> None:
    head = history[-1].hash if history else GENESIS_HASH
    problems = link_problems(record, len(history) + 1, head)
    if problems and _redacted(record.payload):
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


def _restore(storage: Storage, history: Sequence[Record], registry: Registry) -> None:
    """Write one verified history with the case rows the engine would have written."""
    created_at = history[0].at
    facts: dict[str, Any] = {}
    along: Iterable[Parties | None] = repeat(None)
    if all(registry.by_fingerprint(record.fingerprint) for record in history):
        along = parties_along(
            history,
            lambda r: registry.pinned(r.case_id, r.seq, r.name, r.version, r.fingerprint),
        )
    for record, parties in zip(history, along, strict=False):
        facts = facts_after(record, facts)
        case = case_after(record, created_at=created_at, facts=facts, parties=parties)
        if record.seq == 1:
            storage.create(case, record)
        else:
            storage.append(case, record)
