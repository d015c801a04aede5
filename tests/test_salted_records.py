"""Confidential values are committed with per-value salts: a viewer cannot confirm a guess.

The attack of issue #16, item 4: a funder who may not read a ``request_revision.reason`` tries
a small dictionary of guesses against everything it receives: ``Engine.history(viewer=)``, the
JSONL export and the CSV export made for it. For each guess it rebuilds the redacted record
with the guess in place (as format 1, and as format 2 with every salt it knows, and none) and
looks for the record's hash, the next record's hash or a marker's digest among what it got.

On a format-1 record (0.1.0, plain hashing) the attack confirms the hidden value (so the
attack is real); on a format-2 record it confirms nothing. Also here: what a chain of format
1 then 2 looks like, and what the audit reports of a forged format.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from small import AS_AUDITOR, whole

from stechnique import Engine, default_registry
from stechnique._chain import content_hash, next_step
from stechnique.audit import audit
from stechnique.errors import HistoryCorrupted
from stechnique.export import export_csv, export_jsonl, import_jsonl
from stechnique.records import (
    FORMAT,
    REDACTED,
    Actor,
    Record,
    converter,
    from_iso,
    seal,
    value_digest,
)
from stechnique.storage import MemoryStorage
from stechnique.visibility import WITHHELD_HASH, is_redacted

MSTR = "soutien-technique-renforce"
MANAGER = Actor("ca-belle-de-mai", {"administrator"})
CAF = Actor("caf-coordination", {"caf_coordinator"})
FUNDER = Actor("etat", {"funder"})
OTHER_FUNDER = Actor("caf-13", {"funder"})
PROVIDER = Actor("cabinet-conseil", {"provider"})
REASON = "incomplet"
DRAFT = "trésorerie négative"
#: The funder's dictionary: the hidden reason is one of four words, and so is the draft
#: report it follows (withheld from the funder too).
GUESSES = {
    "reason": ("complet", REASON, "hors délai", "refusé"),
    "report": ("bon", DRAFT, "mauvais", "à revoir"),
}
FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["financial_management", "governance"],
}
FIXTURE = Path(__file__).parent / "fixtures" / "0.1.0" / "demo-0.1.0.jsonl"
#: The 0.1.0 demo's hidden reason, and a funder of that case who may not read it.
REASON_010 = "Préciser le plan de trésorerie et le calendrier des recrutements."
FUNDER_010 = Actor("etat-ddcs-13", {"funder"})
DRAFT_010 = (
    "Trésorerie inférieure à un mois de charges ; deux postes de coordination vacants ; "
    "bureau renouvelé aux deux tiers, délégations de signature à clarifier."
)


def story(engine: Engine) -> str:
    """An MSTR case whose report is sent back (« incomplet ») then validated: the funder reads
    the validated report (its value and salt) but never the reason."""
    case = engine.start(MSTR, version="2015-2017", actor=MANAGER, facts=FACTS).id
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("refer", CAF, {"funders": ["etat", "caf-13"]}),
        ("record_funder_decision", FUNDER, {"decision": "approve"}),
        ("record_funder_decision", OTHER_FUNDER, {"decision": "approve"}),
        ("validate", CAF, {}),
        ("acknowledge_confidentiality", PROVIDER, {}),
        ("start_diagnosis", PROVIDER, {}),
        ("submit_report", PROVIDER, {"report": DRAFT}),
        ("request_revision", MANAGER, {"reason": REASON}),
        ("submit_report", PROVIDER, {"report": "plan de retour à l'équilibre"}),
        ("validate_report", MANAGER, {}),
    ]
    for event, actor, payload in steps:
        engine.fire(case, event, actor=actor, payload=payload)
    return case


# -- what the viewer receives, read back as records --------------------------------------


def from_history(engine: Engine, case: str, viewer: Actor) -> list[Record]:
    return engine.history(case, viewer)


def from_jsonl(engine: Engine, case: str, viewer: Actor) -> list[Record]:
    out = io.StringIO()
    export_jsonl(engine.storage, out, case_id=case, viewer=viewer)
    return [converter.structure(json.loads(line), Record) for line in out.getvalue().splitlines()]


def from_csv(engine: Engine, case: str, viewer: Actor) -> list[Record]:
    """The CSV rows rebuilt as records (no salts column: a CSV is for people)."""
    out = io.StringIO()
    export_csv(engine.storage, out, case_id=case, viewer=viewer)
    rows = csv.DictReader(io.StringIO(out.getvalue()))
    return [_csv_record(row) for row in rows]


def _csv_record(row: dict[str, str]) -> Record:
    actor = Actor(row["actor_id"], frozenset(row["actor_roles"].split()))
    return Record(
        row["case_id"], int(row["seq"]), row["event"], row["source"] or None, row["target"],
        actor, from_iso(row["at"]), json.loads(row["payload"]), row["name"], row["version"],
        row["fingerprint"], row["idempotency_key"] or None, row["prev_hash"], row["hash"],
    )  # fmt: skip


CHANNELS = (from_history, from_jsonl, from_csv)


# -- the attack --------------------------------------------------------------------------


def confirmed(
    seen: Sequence[Record],
    guesses: Mapping[str, Sequence[str]],
    also: Sequence[Record] = (),
) -> set[str]:
    """The guesses of the withheld ``reason`` that what the viewer ``seen`` confirms.

    ``guesses`` lists candidate values of each field the viewer may find withheld. Records
    with withheld fields that follow each other are guessed together (a format-1 record's
    hash, and the next one's ``prev_hash``, are withheld: only the first visible record after
    them can confirm), every way they could have been hashed: as format 1, and as format 2
    with each salt the viewer knows (from ``seen`` and from what else it received, ``also``),
    or none."""
    known = {record.hash for record in seen} | {record.prev_hash for record in seen}
    known |= set(_marker_digests(seen))
    salts = {""} | {salt for record in [*seen, *also] for salt in record.salts.values()}
    hits: set[str] = set()
    for start, stop in _runs(seen):
        run, after = seen[start:stop], seen[stop] if stop < len(seen) else None
        hidden = [(i, f) for i, r in enumerate(run) for f, v in r.payload.items() if is_redacted(v)]
        for values in itertools.product(*(guesses[field] for _, field in hidden)):
            by_record: dict[int, dict[str, str]] = {}
            for (index, field), value in zip(hidden, values, strict=True):
                by_record.setdefault(index, {})[field] = value
                if field == "reason" and any(
                    value_digest(salt, field, value) in known for salt in salts
                ):
                    hits.add(value)
            for way in [None, UNSALTED, *salts]:
                if _chain_matches(run, after, by_record, way, known):
                    hits.add(_reason(hidden, values))
    return hits - {""}


#: A way of hashing a guess: format 2, the guessed value not salted.
UNSALTED = "\x00unsalted"


def _runs(seen: Sequence[Record]) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of each run of consecutive records with a withheld field."""
    start = None
    for index, record in enumerate([*seen, None]):
        withheld = record is not None and any(map(is_redacted, record.payload.values()))
        if withheld and start is None:
            start = index
        elif not withheld and start is not None:
            yield start, index
            start = None


def _reason(hidden: Sequence[tuple[int, str]], values: Sequence[str]) -> str:
    return next((v for (_, f), v in zip(hidden, values, strict=True) if f == "reason"), "")


def _chain_matches(
    run: Sequence[Record],
    after: Record | None,
    by_record: Mapping[int, Mapping[str, str]],
    salt: str | None,
    known: set[str],
) -> bool:
    """Whether the run rebuilt with the guessed values (as format 1 when ``salt`` is None,
    as format 2 with the guessed values unsalted for ``UNSALTED``, else as format 2 with that
    salt) gives a hash the viewer holds that depends on the guessed reason (a match that
    does not would confirm another field only)."""
    head, derived = run[0].prev_hash, False  # derived: the head depends on the reason's guess
    for index, record in enumerate(run):
        guessed = by_record.get(index, {})
        payload = {**record.payload, **guessed}
        if salt is None:
            candidate = attrs.evolve(record, payload=payload, format=1, salts={}, prev_hash=head)
        elif salt is UNSALTED:
            candidate = attrs.evolve(record, payload=payload, format=FORMAT, prev_hash=head)
        else:
            salts = {**record.salts, **dict.fromkeys(guessed, salt)}
            candidate = attrs.evolve(
                record, payload=payload, format=FORMAT, salts=salts, prev_hash=head
            )
        uses = derived or "reason" in guessed
        guessed_hash = content_hash(candidate)
        if uses and guessed_hash in known:
            return True
        # A record whose hash the viewer holds chains the next one, whatever was guessed.
        if record.hash == WITHHELD_HASH:
            head, derived = guessed_hash, uses
        else:
            head, derived = record.hash, False
    return (
        derived
        and after is not None
        and (content_hash(attrs.evolve(after, prev_hash=head)) in known)
    )


def _marker_digests(seen: Sequence[Record]) -> Iterator[str]:
    for record in seen:
        for value in record.payload.values():
            if is_redacted(value) and "digest" in value[REDACTED]:
                yield value[REDACTED]["digest"]


# -- format 2: nothing to confirm --------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.__name__)
def test_no_guess_of_a_withheld_format_2_value_can_be_confirmed(channel: Any) -> None:
    engine = Engine()
    case = story(engine)
    stored = whole(engine, case)
    revision = next(record for record in stored if record.event == "request_revision")
    assert (revision.format, revision.payload) == (FORMAT, {"reason": REASON})
    seen = channel(engine, case, FUNDER)
    shown = next(record for record in seen if record.event == "request_revision")
    assert is_redacted(shown.payload["reason"])
    # The viewer does know a salt (that of the validated report it reads), so a salt that
    # were not random per value would be tried (the attack's bite).
    assert any(record.salts for record in seen) or channel is from_csv
    # The viewer receives every channel: the salts it reads anywhere are tried on this one.
    assert confirmed(seen, GUESSES, also=engine.history(case, FUNDER)) == set()
    # Neither the value nor its salt reaches the viewer, whatever the channel.
    received = repr(seen)
    assert REASON not in received
    assert revision.salts["reason"] not in received


def test_the_viewer_can_check_the_chain_of_a_redacted_format_2_history() -> None:
    """The redacted record keeps its real hash, and the next record its real ``prev_hash``."""
    engine = Engine()
    case = story(engine)
    for channel in (from_history, from_jsonl):
        seen = channel(engine, case, FUNDER)
        assert [record.hash for record in seen] == [record.hash for record in whole(engine, case)]
        head = "0" * 64
        for record in seen:
            assert (record.prev_hash, content_hash(record)) == (head, record.hash)
            head = record.hash


def test_the_manager_reads_the_value_and_its_salt_and_the_hash_holds() -> None:
    engine = Engine()
    case = story(engine)
    shown = next(r for r in engine.history(case, MANAGER) if r.event == "request_revision")
    assert shown.payload == {"reason": REASON}
    assert len(shown.salts["reason"]) == 32  # 128 bits, as hex
    assert content_hash(shown) == shown.hash


def test_two_equal_values_get_different_salts_and_digests() -> None:
    engine = Engine()
    first, second = story(engine), story(engine)
    salts = [
        next(r for r in whole(engine, case) if r.event == "request_revision").salts["reason"]
        for case in (first, second)
    ]
    assert salts[0] != salts[1]


# -- format 1: the same attack succeeds (so it is a real attack) -------------------------


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda channel: channel.__name__)
def test_the_same_attack_confirms_a_format_1_value(channel: Any) -> None:
    storage = MemoryStorage()
    import_jsonl(storage, FIXTURE)
    engine = Engine(storage)
    seen = channel(engine, "mstr-belle-de-mai", FUNDER_010)
    shown = next(record for record in seen if record.event == "request_revision")
    assert shown.format == 1
    assert is_redacted(shown.payload["reason"])
    guesses = {
        "reason": ("Rapport incomplet.", REASON_010, "Hors délai.", "Refusé."),
        "report": ("Rien à signaler.", DRAFT_010, "Trésorerie saine."),
    }
    assert confirmed(seen, guesses, also=engine.history("mstr-belle-de-mai", FUNDER_010)) == {
        REASON_010
    }


# -- one chain, one switch ---------------------------------------------------------------


def test_a_010_case_goes_on_in_format_2_and_its_export_says_so(tmp_path: Path) -> None:
    storage = MemoryStorage()
    import_jsonl(storage, FIXTURE)
    engine = Engine(storage)
    before = whole(engine, "mstr-air-bel")
    assert {record.format for record in before} == {1}
    # Every record appended after the upgrade is format 2: the chain switches once.
    engine.fire("mstr-air-bel", "accept_recommendations", actor=AIR_BEL)
    after = whole(engine, "mstr-air-bel")
    assert [record.format for record in after] == [1] * len(before) + [FORMAT]
    assert after[:-1] == before
    assert audit(storage).ok
    # The export says each line's format: none on the 0.1.0 lines, as 0.1.0 wrote them.
    path = tmp_path / "out.jsonl"
    export_jsonl(storage, path, case_id="mstr-air-bel", **AS_AUDITOR)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line).get("format", 1) for line in lines] == [1] * len(before) + [2]
    written_010 = [
        line
        for line in FIXTURE.read_text(encoding="utf-8").splitlines()
        if '"case_id":"mstr-air-bel"' in line
    ]
    assert lines[:-1] == written_010
    restored = MemoryStorage()
    import_jsonl(restored, path)
    assert list(restored.records("mstr-air-bel")) == after
    assert audit(restored).ok


def test_an_upgraded_010_sqlite_store_keeps_format_2_records(tmp_path: Path) -> None:
    from stechnique.storage import SQLStorage

    copy = tmp_path / "store.db"
    copy.write_bytes((FIXTURE.parent / "demo-0.1.0.sqlite").read_bytes())
    with SQLStorage(f"sqlite:///{copy}") as storage:
        Engine(storage).fire("mstr-air-bel", "accept_recommendations", actor=AIR_BEL)
    with SQLStorage(f"sqlite:///{copy}") as storage:
        records = list(storage.records("mstr-air-bel"))
        assert [record.format for record in records] == [1] * 7 + [FORMAT]
        assert audit(storage).ok


#: The structure of the 0.1.0 demo's open case (migrated from the MSTR to the DLA).
AIR_BEL = Actor("ca-air-bel", {"structure"})


# -- what the audit reports of a forged format -------------------------------------------


def _forge(engine: Engine, case: str, event: str, actor: Actor, payload: dict[str, Any],
           **changes: Any) -> None:  # fmt: skip
    """Append the step ``event`` as the engine would, but with ``changes`` to the record,
    resealed: a record that proves its own hash, forged by someone who holds the store."""
    stored = engine.storage.get(case)
    assert stored is not None
    procedure = default_registry().by_fingerprint(stored.fingerprint)
    assert procedure is not None
    target = next(t.target for t in procedure.transitions if t.event == event)
    record, _ = next_step(stored, procedure, event=event, target=target, actor=actor,
                          at=stored.updated_at, payload=payload)  # fmt: skip
    forged = seal(attrs.evolve(record, **changes))
    after = attrs.evolve(stored, seq=forged.seq, state=target, head=forged.hash,
                         updated_at=forged.at)  # fmt: skip
    engine.storage.append(after, forged)


def _until_report(engine: Engine) -> str:
    case = story(engine)
    # Back to a state where the reason can be asked again: a fresh case up to the report.
    del case
    case = engine.start(MSTR, version="2015-2017", actor=MANAGER, facts=FACTS).id
    for event, actor, payload in [
        ("refer", CAF, {"funders": ["etat"]}),
        ("record_funder_decision", FUNDER, {"decision": "approve"}),
        ("validate", CAF, {}),
        ("acknowledge_confidentiality", PROVIDER, {}),
        ("start_diagnosis", PROVIDER, {}),
        ("submit_report", PROVIDER, {"report": "trésorerie négative"}),
    ]:
        engine.fire(case, event, actor=actor, payload=payload)
    return case


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": 1, "salts": {}}, "format-1 record after a format-2 one"),
        ({"salts": {}}, "confidential field 'reason' committed without a salt"),
        ({"format": 3}, "unknown record format 3"),
    ],
)
def test_the_audit_reports_a_forged_format(changes: dict[str, Any], message: str) -> None:
    engine = Engine()
    case = _until_report(engine)
    _forge(engine, case, "request_revision", MANAGER, {"reason": REASON}, **changes)
    report = audit(engine.storage)
    assert [(v.case_id, v.seq, v.code) for v in report.violations] == [(case, 8, "format")]
    assert message in report.violations[0].message


def test_a_format_1_record_with_salts_is_reported() -> None:
    engine = Engine()
    case = engine.start(MSTR, version="2015-2017", actor=MANAGER, facts=FACTS).id
    storage = engine.storage
    assert isinstance(storage, MemoryStorage)
    stored = storage.get(case)
    assert stored is not None
    # A new store holds only format-2 records: rewrite record 1 as format 1 with a salt.
    first = seal(attrs.evolve(whole(engine, case)[0], format=1, salts={"centre": "00"}))
    forged = MemoryStorage()
    forged.create(attrs.evolve(stored, head=first.hash), first)
    report = audit(forged)
    assert [(v.seq, v.code) for v in report.violations] == [(1, "format")]
    assert "a format-1 record has no salts" in report.violations[0].message


def test_a_redacted_format_2_export_cannot_be_imported(tmp_path: Path) -> None:
    engine = Engine()
    case = story(engine)
    path = tmp_path / "redacted.jsonl"
    export_jsonl(engine.storage, path, case_id=case, viewer=FUNDER)
    with pytest.raises(HistoryCorrupted, match="redacted"):
        import_jsonl(MemoryStorage(), path)


def test_a_format_2_record_that_failed_to_salt_shows_no_hash() -> None:
    """A confidential value committed unsalted (a forged or foreign record, which the audit
    reports) is as guessable as on format 1: the viewer gets its hash withheld, as on format
    1, and, as on format 1, the next record's hash still confirms a guess."""
    engine = Engine()
    case = _until_report(engine)
    _forge(engine, case, "request_revision", MANAGER, {"reason": REASON}, salts={})
    engine.fire(case, "submit_report", actor=PROVIDER, payload={"report": "revu"})
    engine.fire(case, "validate_report", actor=MANAGER)
    seen = engine.history(case, FUNDER)
    assert (seen[7].hash, seen[8].prev_hash) == (WITHHELD_HASH, WITHHELD_HASH)
    assert seen[8].hash != WITHHELD_HASH  # the validated report, open to the funder
    assert confirmed(seen, GUESSES) == {REASON}
    assert [v.code for v in audit(engine.storage).violations] == ["format"]
