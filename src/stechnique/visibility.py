"""Who may read which payload field, at which point of a history (« règles de confidentialité »).

A procedure declares its confidential fields (``ConfidentialField``). Reading a history as a
viewer replaces every field that viewer may not see *now* by a redaction marker saying why; the
field is never dropped, so the reader knows something is withheld.

Readers are named three ways: a party of the case (``manager``: the bodies the history bound to
it read, for the record's own key when the rule is ``per`` action), a coordinating role of the
procedure (``caf_coordinator``), or, in a procedure that declares no parties, a role or a case
role as 0.1.0 did. A rule opens to its ``opens_to`` readers once the case has reached
``opens_at``, or, with ``opens_on``, for the one record that event validated: the last record of
the rule's event before it (« le rapport, une fois validé »); earlier drafts never open.

Each record is judged by the reading rules of the procedure version it was written under (its
``Procedure.reading_rules``: for revision 1, the rules attached to it), so a migrated case keeps
the confidentiality its older records were written with.

A format-2 record (``records.FORMAT``) committed each confidential value with a salt: a field
withheld loses its value and its salt, and its marker keeps the value's salted digest, which
the record's hash covers. The record keeps its real ``hash`` and ``prev_hash``, so the viewer
can check the chain, and no guess of the value can be confirmed without the salt's 128 random
bits. A format-1 record (0.1.0) hashed its payload as it was: a record with a redacted field
then has its ``hash`` withheld, and so does the ``prev_hash`` of the record after it, for a
viewer holding them could confirm a guess of the withheld value (invariant 9). That is not
enough (the next record's own hash covers the withheld ``prev_hash``): what 0.1.0 wrote cannot
be made unguessable after the fact, only what is written since.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from stechnique import records as _records
from stechnique._labels import CONFIDENTIAL_FIELD
from stechnique.definition import ConfidentialField, Procedure
from stechnique.records import Actor, Parties, Record, value_digest, withheld_digest

__all__ = [
    "REDACTED",
    "WITHHELD_HASH",
    "can_read",
    "is_redacted",
    "redact",
    "redact_next",
    "redaction",
]

#: The key of a redaction marker: ``{"__redacted__": {"fr": ..., "en": ..., "readers": [...]}}``,
#: and, for a format-2 value, ``"digest"``: its salted digest. Defined with the record format
#: (``records.REDACTED``), whose hash covers a withheld format-2 value by that digest.
REDACTED = _records.REDACTED

#: What stands for a hash withheld from a viewer (see the module docstring).
WITHHELD_HASH = "withheld"


def redaction(rule: ConfidentialField, readers: Sequence[str]) -> dict[str, Any]:
    """The marker that replaces a field the viewer may not see."""
    fr = rule.fr or CONFIDENTIAL_FIELD.fr
    en = rule.en or CONFIDENTIAL_FIELD.en
    return {REDACTED: {"fr": fr, "en": en, "readers": sorted(readers)}}


def is_redacted(value: Any) -> bool:
    """Whether a payload value is a redaction marker."""
    return isinstance(value, Mapping) and set(value) == {REDACTED}


def can_read(
    rule: ConfidentialField,
    procedure: Procedure,
    viewer: Actor,
    *,
    facts: Mapping[str, Any],
    parties: Parties,
    key: str | None,
    opened: bool,
) -> tuple[bool, tuple[str, ...]]:
    """Whether ``viewer`` may read the field of a record now, and who may (by name).

    ``key`` is the record's value of ``rule.per`` (whose action it is), ``opened`` whether the
    rule has opened to its ``opens_to`` readers for this record.
    """
    names = rule.readers + (rule.opens_to if opened else ())
    readers = tuple(_reader(name, procedure, facts) for name in names)
    allowed = any(_reads(name, procedure, viewer, facts, parties, key) for name in names)
    return allowed, tuple(reader for reader in readers if reader is not None)


def _reader(name: str, procedure: Procedure, facts: Mapping[str, Any]) -> str | None:
    """What a reader name is called in a redaction marker: a party or coordinating role as
    declared, a case role as the concrete role it means on this case."""
    rules = procedure.reading_rules
    if name in rules.coordinators or any(party.id == name for party in rules.parties):
        return name
    return procedure.resolve_role(name, facts)


def _reads(
    name: str,
    procedure: Procedure,
    viewer: Actor,
    facts: Mapping[str, Any],
    parties: Parties,
    key: str | None,
) -> bool:
    rules = procedure.reading_rules
    if any(party.id == name for party in rules.parties):
        return viewer.acts_for in parties.bodies(name, key)
    if name in rules.coordinators:
        return name in viewer.roles
    role = procedure.resolve_role(name, facts)
    return role is not None and role in viewer.roles


def redact(
    records: Sequence[Record],
    viewer: Actor,
    facts: Mapping[str, Any],
    parties: Parties,
    procedure_of: Callable[[Record], Procedure],
) -> list[Record]:
    """The records as ``viewer`` may see them (all of them, fields redacted where needed).

    ``parties`` are the case's parties now. Case roles are resolved with the facts in force
    when each record was written (those of ``start``, then of each ``migrate``), falling back
    on ``facts`` for a partial history.
    """
    reached = frozenset(record.target for record in records)
    seen: list[Record] = []
    withheld = False
    for index, record in enumerate(records):
        if record.event == "start":
            facts = record.payload
        elif record.event == "migrate":
            facts = record.payload.get("facts", facts)
        procedure = procedure_of(record)
        shown = _redact_one(records, index, viewer, facts, parties, procedure, reached)
        shown, withheld = _hashes_shown(record, shown, previous_withheld=withheld)
        seen.append(shown)
    return seen


def redact_next(
    records: Sequence[Record],
    viewer: Actor,
    facts: Mapping[str, Any],
    parties: Parties,
    procedure: Procedure,
    previous: Record | None,
    reached: frozenset[str],
) -> Record:
    """The last of ``records`` as ``redact(records, ...)`` shows it, given ``previous``, the
    record before it as ``redact`` showed it: for a reader that extends a history one record at
    a time (the change feed) when that record changes nothing of how the earlier ones show
    (it binds nobody, opens no rule). ``facts`` are those in force, ``procedure`` the
    record's, ``reached`` the targets of ``records``."""
    record = records[-1]
    previous_withheld = previous is not None and previous.hash == WITHHELD_HASH
    rules = procedure.reading_rules.confidential
    if not previous_withheld and not any(rule.event == record.event for rule in rules):
        return record  # no rule reads this event: the record as it is
    shown = _redact_one(records, len(records) - 1, viewer, facts, parties, procedure, reached)
    return _hashes_shown(record, shown, previous_withheld=previous_withheld)[0]


def _hashes_shown(record: Record, shown: Record, *, previous_withheld: bool) -> tuple[Record, bool]:
    """``shown`` (``record`` as redacted) with the hashes a viewer may see, and whether its
    own hash is withheld: only a hash covering a withheld value unsalted could confirm a guess
    (a format-1 record's, see the module docstring, or a format-2 one's that failed to salt
    it); it reads ``withheld``, as does the next record's ``prev_hash``."""
    withheld = shown is not record and not _provable(shown)
    if not (previous_withheld or withheld):
        return shown, withheld
    hashes = attrs.evolve(
        shown,
        prev_hash=WITHHELD_HASH if previous_withheld else shown.prev_hash,
        hash=WITHHELD_HASH if withheld else shown.hash,
    )
    return hashes, withheld


def _redact_one(
    records: Sequence[Record],
    index: int,
    viewer: Actor,
    facts: Mapping[str, Any],
    parties: Parties,
    procedure: Procedure,
    reached: frozenset[str],
) -> Record:
    record = records[index]
    payload = record.payload
    for rule in procedure.reading_rules.confidential:
        if rule.event != record.event or rule.field not in payload:
            continue
        key = None if rule.per is None else str(payload.get(rule.per, ""))
        opened = _opened(rule, records, index, reached)
        allowed, readers = can_read(
            rule, procedure, viewer, facts=facts, parties=parties, key=key, opened=opened
        )
        if not allowed:
            payload = {**payload, rule.field: _withheld(record, rule, readers)}
    if payload is record.payload:
        return record
    salts = {field: salt for field, salt in record.salts.items() if not _hidden(payload, field)}
    return attrs.evolve(record, payload=payload, salts=salts)


def _withheld(record: Record, rule: ConfidentialField, readers: Sequence[str]) -> dict[str, Any]:
    """The marker of a withheld field: for a salted value, with the digest its hash covers."""
    marker = redaction(rule, readers)
    salt = record.salts.get(rule.field)
    if salt is not None:
        digest = value_digest(salt, rule.field, record.payload[rule.field])
        marker[REDACTED] = {**marker[REDACTED], "digest": digest}
    return marker


def _provable(shown: Record) -> bool:
    """Whether a redacted record's hash reveals nothing: format 2, and every withheld value
    committed by a salted digest (an unsalted one the audit reports, code ``format``)."""
    return shown.format != 1 and all(
        withheld_digest(value) is not None for value in shown.payload.values() if is_redacted(value)
    )


def _hidden(payload: Mapping[str, Any], field: str) -> bool:
    return is_redacted(payload.get(field))


def _opened(
    rule: ConfidentialField, records: Sequence[Record], index: int, reached: frozenset[str]
) -> bool:
    """Whether the rule has opened to its ``opens_to`` readers for record ``index``."""
    if rule.opens_at is not None and rule.opens_at in reached:
        return True
    if rule.opens_on is None:
        return False
    # Opened by the first ``opens_on`` after it, provided no other record of the rule's event
    # came in between: only the record that event validated opens, never an earlier draft.
    for later in records[index + 1 :]:
        if later.event == rule.opens_on:
            return True
        if later.event == rule.event:
            return False
    return False
