"""The storage contract as a test-suite, written once and run against every adapter.

A partner who writes its own adapter proves it by subclassing ``StorageContract`` in a pytest
module, with a ``storage`` fixture that yields an empty store and closes it afterwards::

    import pytest
    from stechnique.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage(self):
            store = MyStorage(...)
            yield store
            store.close()

The suite builds its own values (sealed, hash-chained records of a small ``permit`` procedure
declared here), so it depends on no application procedure. It needs pytest.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from types import EllipsisType
from typing import Any

import attrs
import pytest

from stechnique._chain import next_step
from stechnique.definition import Procedure, Role, State, Transition
from stechnique.engine import Engine
from stechnique.errors import (
    CaseIdTaken,
    ConcurrencyConflict,
    StechniqueError,
    StoreNotEmpty,
    UnknownCase,
)
from stechnique.records import FORMAT, Access, Actor, Case, Parties, Record, seal
from stechnique.registry import Registry
from stechnique.schema import Field
from stechnique.storage.base import Feed, Storage, StreamsCaseIds

__all__ = [
    "APPLICANT",
    "AWKWARD",
    "OFFICER",
    "PERMIT",
    "T0",
    "WORDS",
    "CaseBuilder",
    "StorageContract",
    "parties",
    "seen",
    "stored",
]

#: The small procedure the engine-level contract tests run.
PERMIT = Procedure(
    name="permit",
    version="1",
    fr="Permis",
    en="Permit",
    roles=(Role("applicant", "Demandeur", "Applicant"), Role("officer", "Agent", "Officer")),
    states=(
        State("draft", "Brouillon", "Draft", initial=True),
        State("submitted", "Déposé", "Submitted"),
        State("granted", "Accordé", "Granted", terminal=True),
    ),
    transitions=(
        Transition("submit", "draft", "submitted", "applicant"),
        Transition("note", "submitted", "submitted", ("applicant", "officer"),
                   payload=(Field("text"),)),
        Transition("grant", "submitted", "granted", "officer"),
    ),
    facts=(Field("title"),),
    start_roles=("applicant",),
)  # fmt: skip

#: The time of the suite's records: aware UTC, with microseconds.
T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
#: The actors of ``PERMIT``: one applicant, one officer.
APPLICANT = Actor("applicant-1", {"applicant"})
OFFICER = Actor("officer-1", {"officer"})

#: Text that trips encodings, collations and escaping: accents, emoji, CJK, right-to-left,
#: quotes, backslash, control characters and a NUL.
AWKWARD = "Été 🌞 中文 עברית 'q' \"dq\" \\ \n\t\x00 end"
#: ``AWKWARD`` without its NUL: the text of a person's words (the reason of an ``Access``).
WORDS = AWKWARD.replace("\x00", "")


@attrs.frozen
class _Pin:
    """The procedure version a builder's records are pinned to (a ``_chain.Pinned``)."""

    name: str
    version: str
    fingerprint: str


class CaseBuilder:
    """Sealed, chained records of one case, each with the case row it leaves behind.

    The case rows carry the ``parties`` given to ``start`` or ``step`` (a step given none keeps
    the case's parties; ``start`` given none leaves them ``None``, as in a 0.1.0 row).
    """

    def __init__(self, case_id: str, *, name: str = "permit", version: str = "1") -> None:
        self.case_id = case_id
        self.name = name
        self.version = version
        self.fingerprint = "f" * 64
        self.case: Case | None = None

    def start(
        self, facts: Mapping[str, Any] | None = None, at: datetime = T0, **fields: Any
    ) -> tuple[Case, Record]:
        """Record 1 (``start``) and the new case."""
        facts = dict(facts if facts is not None else {"title": "Permis"})
        return self._next(None, "start", "draft", facts, at, **fields)

    def step(
        self,
        event: str = "note",
        target: str = "submitted",
        payload: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> tuple[Case, Record]:
        """The next record and the case after it (not stored: the test decides)."""
        assert self.case is not None, "start() first"
        at = at or self.case.updated_at + timedelta(seconds=1, microseconds=7)
        return self._next(self.case, event, target, dict(payload or {}), at, **fields)

    def _next(
        self,
        case: Case | None,
        event: str,
        target: str,
        payload: dict[str, Any],
        at: datetime,
        *,
        actor: Actor = APPLICANT,
        idempotency_key: str | None = None,
        parties: Parties | EllipsisType | None = ...,
        **pin: str,
    ) -> tuple[Case, Record]:
        """``next_step`` of ``case``; ``pin`` overrides the builder's name, version or
        fingerprint for this record (and the case after it); ``parties`` are the case's
        after it (``...``: the case's before it)."""
        pinned = {"name": self.name, "version": self.version, "fingerprint": self.fingerprint}
        if parties is ...:
            parties = None if case is None else case.parties
        record, after = next_step(
            case,
            _Pin(**{**pinned, **pin}),
            case_id=self.case_id,
            event=event,
            target=target,
            actor=actor,
            at=at,
            payload=payload,
            idempotency_key=idempotency_key,
        )
        self.case = attrs.evolve(after, parties=parties)
        return self.case, record


def stored(storage: Storage) -> tuple[list[Case], list[Record]]:
    """Everything the store holds: every case and every record."""
    return list(storage.cases()), list(storage.iter_records())


def parties(*bound: tuple[str, str], coordinators: Iterable[str] = ()) -> Parties:
    """Parties binding each ``(party, body)`` given (for any key), coordinated by roles."""
    return Parties(frozenset((party, "", body) for party, body in bound), coordinators)


def seen(storage: Storage, viewer: Actor, **filters: str) -> list[str]:
    """The ids of the cases ``viewer`` sees, as the store lists them."""
    return [case.id for case in storage.cases(seen_by=viewer, **filters)]


def _sees(cases: Iterable[Case], viewer: Actor) -> list[str]:
    """The ids of ``cases`` that ``viewer`` sees by the rule itself (``Parties.sees``)."""
    return [c.id for c in cases if c.parties is not None and c.parties.sees(viewer)]


def _same(got: Any, want: Any) -> None:
    """Field-by-field equality, naming the first field that differs."""
    assert type(got) is type(want)
    for field in attrs.fields(type(want)):
        assert getattr(got, field.name) == getattr(want, field.name), field.name
    assert got == want


def _matches(case: Case | None, **filters: str | None) -> bool:
    return case is not None and all(v in (None, getattr(case, k)) for k, v in filters.items())


def _feed(storage: Storage) -> Feed:
    assert isinstance(storage, Feed), "the adapter does not keep the change feed (Feed)"
    return storage


def _utc(moment: datetime) -> None:
    assert moment.utcoffset() == timedelta(0), f"{moment!r} is not UTC"


def _histories(count: int) -> list[tuple[Case, list[Record]]]:
    """``count`` cases of three records each (the second keyed), bound to a body each."""
    histories = []
    for number in range(count):
        builder = CaseBuilder(f"r-{number:03d}")
        first = builder.start(parties=parties(("manager", f"asso-{number}")))[1]
        second = builder.step("submit", idempotency_key=f"key-r-{number:03d}")[1]
        case, third = builder.step(payload={"text": AWKWARD.replace("\x00", "")})
        histories.append((case, [first, second, third]))
    return histories


class _Refused(Exception):
    """What ``_then_fail`` raises: a verification refusing the rest of an import."""


def _then_fail(
    histories: Iterable[tuple[Case, Sequence[Record]]],
) -> Iterator[tuple[Case, Sequence[Record]]]:
    yield from histories
    raise _Refused


class StorageContract:
    """Every rule of ``stechnique.storage.base``; subclass it with a ``storage`` fixture."""

    # -- create and read ------------------------------------------------------------------

    def test_create_then_read_back(self, storage: Storage) -> None:
        """A created case and its first record come back equal."""
        case, first = CaseBuilder("case-1").start()
        storage.create(case, first)
        _same(storage.get("case-1"), case)
        assert list(storage.records("case-1")) == [first]
        assert list(storage.iter_records()) == [first]
        assert list(storage.cases()) == [case]

    def test_unknown_case_reads_empty(self, storage: Storage) -> None:
        """Reading an absent case gives None or nothing, never an error."""
        assert storage.get("nope") is None
        assert list(storage.records("nope")) == []
        assert storage.record_by_key("nope", "key") is None
        assert list(storage.iter_records("nope")) == []
        assert list(storage.cases()) == []

    def test_round_trip_field_by_field(self, storage: Storage) -> None:
        """Unicode, nested JSON, roles, nulls and microseconds come back exactly."""
        facts = {"title": AWKWARD, "nested": {"list": [1, -2, 3.25, True, None, "é"], "": {}},
                 "big": 2**62, "empty": [], "zero": 0.0}  # fmt: skip
        builder = CaseBuilder(f"dossier-{AWKWARD[:12].strip()}")
        case, first = builder.start(facts, at=T0)
        actor = Actor("agent-Émilie 🌞", {"officer", "applicant", "rôle-ü"})
        after, second = builder.step(
            "note",
            payload={"text": AWKWARD, "n": [{"a": [[]]}]},
            at=T0 + timedelta(microseconds=1),
            actor=actor,
            idempotency_key=f"clé-{AWKWARD[:8]}",
        )
        storage.create(case, first)
        storage.append(after, second)
        for got, want in zip(storage.records(case.id), [first, second], strict=True):
            _same(got, want)
            _utc(got.at)
        got_case = storage.get(case.id)
        _same(got_case, after)
        assert got_case is not None
        _utc(got_case.created_at)
        _utc(got_case.updated_at)
        assert isinstance(storage.records(case.id)[1].actor.roles, frozenset)
        _same(storage.record_by_key(case.id, f"clé-{AWKWARD[:8]}"), second)

    def test_record_format_and_salts_round_trip(self, storage: Storage) -> None:
        """A record's format (1 as 0.1.0 wrote, 2 since) and the salts of its confidential
        values come back exactly, and a change to a returned record's salts stores nothing."""
        builder = CaseBuilder("salted")
        case, first = builder.start()
        first = seal(attrs.evolve(first, format=1))
        storage.create(attrs.evolve(case, head=first.hash), first)
        builder.case = attrs.evolve(case, head=first.hash)
        case, record = builder.step("note", payload={"text": "secret", "plain": 1})
        salt = "0f" * 16
        salted = seal(attrs.evolve(record, salts={"text": salt}))
        storage.append(attrs.evolve(case, head=salted.hash), salted)
        got = list(storage.records("salted"))
        _same(got[0], first)
        _same(got[1], salted)
        assert [(r.format, r.salts) for r in got] == [(1, {}), (FORMAT, {"text": salt})]
        got[1].salts["text"] = "changed"
        assert storage.records("salted")[1].salts == {"text": salt}

    def test_times_keep_the_instant_to_the_microsecond(self, storage: Storage) -> None:
        """An aware time in another zone comes back as the same instant, microseconds kept."""
        paris = timezone(timedelta(hours=2))
        at = datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=paris)
        case, first = CaseBuilder("times").start(at=at)
        storage.create(case, first)
        stored_case = storage.get("times")
        assert stored_case is not None
        for got in (storage.records("times")[0].at, stored_case.created_at):
            assert got == at
            assert got.utcoffset() is not None
            assert got.astimezone(UTC).microsecond == 999999

    def test_large_payload(self, storage: Storage) -> None:
        """A payload of about 1 MB (long unicode text, many items) round-trips."""
        payload = {
            "text": "é🌞x" * 200_000,
            "items": [{"i": i, "s": str(i)} for i in range(10_000)],
        }
        builder = CaseBuilder("large")
        storage.create(*builder.start())
        case, record = builder.step(payload=payload)
        storage.append(case, record)
        assert list(storage.records("large", after_seq=1)) == [record]

    def test_case_ids_compare_exactly(self, storage: Storage) -> None:
        """Ids differing only by case or a trailing space are different cases."""
        ids = ["Case", "case", "case ", "cäse"]
        for case_id in ids:
            storage.create(*CaseBuilder(case_id).start(facts={"title": case_id}))
        for case_id in ids:
            got = storage.get(case_id)
            assert got is not None
            assert (got.id, got.facts) == (case_id, {"title": case_id})
        assert storage.get("CASE") is None

    def test_returned_values_are_the_callers(self, storage: Storage) -> None:
        """Changing the facts or payload of a returned case or record changes nothing stored."""
        builder = CaseBuilder("apart")
        storage.create(*builder.start(facts={"title": "t", "tags": ["a"]}))
        storage.append(*builder.step("note", payload={"text": "x", "n": {"list": [1]}},
                                     idempotency_key="k"))  # fmt: skip
        before = stored(storage)
        returned = [storage.get("apart"), *storage.cases()]
        for case in returned:
            assert case is not None
            case.facts["title"] = "changed"
            case.facts["tags"].append("b")
        records = [*storage.records("apart"), *storage.iter_records(),
                   storage.record_by_key("apart", "k")]  # fmt: skip
        for record in records:
            assert record is not None
            record.payload["text"] = "changed"
            record.payload.setdefault("n", {"list": []})["list"].append(2)
        assert stored(storage) == before

    # -- ordering and filters -------------------------------------------------------------

    def test_records_in_seq_order_and_after_seq(self, storage: Storage) -> None:
        """``records`` gives seq order; ``after_seq`` skips the first ones."""
        builder = CaseBuilder("ordered")
        steps = [builder.start(), builder.step("submit"), builder.step(), builder.step()]
        storage.create(*steps[0])
        for case, record in steps[1:]:
            storage.append(case, record)
        records = [record for _, record in steps]
        assert list(storage.records("ordered")) == records
        assert list(storage.records("ordered", after_seq=2)) == records[2:]
        assert list(storage.records("ordered", after_seq=4)) == []
        assert list(storage.records("ordered", after_seq=-1)) == records  # every seq is > 0
        assert list(storage.iter_records("ordered")) == records

    def test_iter_records_by_case_id_then_seq(self, storage: Storage) -> None:
        """Records stream by ``(case_id, seq)``, ids in code-point order as in Python."""
        ids = ["b", "B", "a", "é", "Z", "a-1", "a_1", "ab", "a", "_"]
        expected = []
        for case_id in dict.fromkeys(ids):
            builder = CaseBuilder(case_id)
            start = builder.start()
            storage.create(*start)
            step = builder.step("submit")
            storage.append(*step)
            expected += [start[1], step[1]]
        got = list(storage.iter_records())
        assert [(r.case_id, r.seq) for r in got] == sorted((r.case_id, r.seq) for r in expected)
        assert sorted(got, key=lambda r: (r.case_id, r.seq)) == got

    def test_iter_records_lets_writers_in(self, storage: Storage) -> None:
        """While a stream is open, another case can still be written."""
        for case_id in ("s1", "s2", "s3"):
            storage.create(*CaseBuilder(case_id).start())
        stream = storage.iter_records()
        first = next(stream)
        builder = CaseBuilder("s0")
        storage.create(*builder.start())
        storage.append(*builder.step("submit"))
        rest = list(stream)
        assert first.case_id == "s1"
        assert [(r.case_id, r.seq) for r in rest][:2] == [("s2", 1), ("s3", 1)]
        assert storage.records("s0")[-1].seq == 2

    def test_streamed_case_ids_by_id(self, storage: Storage) -> None:
        """The optional ``iter_case_ids`` (``StreamsCaseIds``) gives every case id, by id."""
        if not isinstance(storage, StreamsCaseIds):
            pytest.skip("this adapter does not offer the optional StreamsCaseIds")
        assert list(storage.iter_case_ids()) == []
        ids = ["b", "B", "é", "a-1", "a_1", "_"]
        for case_id in ids:
            storage.create(*CaseBuilder(case_id).start())
        assert list(storage.iter_case_ids()) == sorted(ids)

    def test_cases_filters_and_order(self, storage: Storage) -> None:
        """``cases`` applies every filter given and orders by ``(created_at, id)``."""
        specs = [("c3", "permit", "1", T0), ("c1", "permit", "2", T0),
                 ("c2", "permit", "1", T0 - timedelta(microseconds=1)),
                 ("c4", "other", "1", T0 + timedelta(days=1))]  # fmt: skip
        made = {}
        for case_id, procedure, version, at in specs:
            made[case_id] = CaseBuilder(case_id, name=procedure, version=version)
            storage.create(*made[case_id].start(at=at))
        storage.append(*made["c1"].step("submit"))
        ordered = [made[i].case for i in ("c2", "c1", "c3", "c4")]
        assert list(storage.cases()) == ordered
        for name in (None, "permit", "other", "none"):
            for ver in (None, "1", "2"):
                for state in (None, "draft", "submitted"):
                    want = [c for c in ordered if _matches(c, name=name, version=ver, state=state)]
                    assert list(storage.cases(name=name, version=ver, state=state)) == want

    # -- conflicts and refusals -----------------------------------------------------------

    def test_create_existing_case_id_is_taken(self, storage: Storage) -> None:
        """Creating an id that exists raises ``CaseIdTaken``, naming only the id, and keeps the
        original."""
        builder = CaseBuilder("dup")
        storage.create(*builder.start(facts={"title": "first"}))
        storage.append(*builder.step())
        before = stored(storage)
        with pytest.raises(CaseIdTaken) as taken:
            storage.create(*CaseBuilder("dup").start(facts={"title": "second"}))
        assert taken.value.case_id == "dup"
        # Naming only the id, in both languages.
        assert taken.value.en == "case id 'dup' is already taken; choose another id"
        assert taken.value.fr == (
            "l'identifiant de dossier 'dup' est déjà pris ; choisissez-en un autre"
        )
        assert stored(storage) == before

    def test_stale_or_skipping_append_conflicts(self, storage: Storage) -> None:
        """Only the record right after the stored seq is accepted; others write nothing."""
        builder, rival = CaseBuilder("race"), CaseBuilder("race")
        storage.create(*builder.start())
        rival.start()
        storage.append(*builder.step("submit"))
        before = stored(storage)
        stale = rival.step("submit", payload={"text": "late"})
        builder.step()
        skipping = builder.step()
        assert (stale[1].seq, skipping[1].seq) == (2, 4)
        for case, record in (stale, skipping):
            with pytest.raises(ConcurrencyConflict):
                storage.append(case, record)
            assert stored(storage) == before

    def test_append_with_mismatched_case_seq_conflicts(self, storage: Storage) -> None:
        """A case row whose seq is not the record's is refused and writes nothing."""
        builder = CaseBuilder("mismatch")
        storage.create(*builder.start())
        case, record = builder.step("submit")
        before = stored(storage)
        with pytest.raises(ConcurrencyConflict):
            storage.append(attrs.evolve(case, seq=3), record)
        assert stored(storage) == before

    def test_append_must_follow_the_stored_state_and_head(self, storage: Storage) -> None:
        """A record at the right seq that follows another state or head writes nothing."""
        builder = CaseBuilder("follows")
        storage.create(*builder.start())
        case, record = builder.step("submit")
        before = stored(storage)
        elsewhere = seal(attrs.evolve(record, source="submitted"))
        other_head = seal(attrs.evolve(record, prev_hash="0" * 64))
        for wrong in (elsewhere, other_head):
            with pytest.raises(ConcurrencyConflict, match="follows") as refused:
                storage.append(attrs.evolve(case, head=wrong.hash), wrong)
            assert (refused.value.expected_seq, refused.value.actual_seq) == (1, 1)
            assert stored(storage) == before
        storage.append(case, record)
        assert list(storage.records("follows"))[-1] == record

    def test_append_to_unknown_case(self, storage: Storage) -> None:
        """Appending to an absent case raises ``UnknownCase`` and leaves no orphan record."""
        builder = CaseBuilder("ghost")
        builder.start()
        with pytest.raises(UnknownCase):
            storage.append(*builder.step("submit"))
        assert stored(storage) == ([], [])

    def test_idempotency_keys_unique_per_case(self, storage: Storage) -> None:
        """A key is found by ``record_by_key``; reusing it on the case conflicts."""
        builder, other = CaseBuilder("k1"), CaseBuilder("k2")
        storage.create(*builder.start())
        storage.create(*other.start())
        keyed = builder.step("submit", idempotency_key="key-1")
        storage.append(*keyed)
        assert storage.record_by_key("k1", "key-1") == keyed[1]
        assert storage.record_by_key("k1", "KEY-1") is None
        assert storage.record_by_key("k2", "key-1") is None
        before = stored(storage)
        with pytest.raises(ConcurrencyConflict):
            storage.append(*builder.step(idempotency_key="key-1"))
        assert stored(storage) == before
        storage.append(*other.step("submit", idempotency_key="key-1"))
        builder.case = keyed[0]
        storage.append(*builder.step(idempotency_key="KEY-1"))
        assert [r.idempotency_key for r in storage.records("k1")] == [None, "key-1", "KEY-1"]

    def test_an_empty_idempotency_key_is_a_key(self, storage: Storage) -> None:
        """``""`` is a key like any other (only ``None`` is no key): found, and unique."""
        builder = CaseBuilder("empty-key")
        storage.create(*builder.start())
        keyed = builder.step("submit", idempotency_key="")
        storage.append(*keyed)
        assert storage.record_by_key("empty-key", "") == keyed[1]
        before = stored(storage)
        with pytest.raises(ConcurrencyConflict):
            storage.append(*builder.step(idempotency_key=""))
        assert stored(storage) == before

    def test_append_replaces_the_case_row(self, storage: Storage) -> None:
        """Every field of the appended case is what ``get`` returns next."""
        builder = CaseBuilder("moving")
        storage.create(*builder.start())
        case, record = builder.step("submit", version="2")
        case = attrs.evolve(case, version="2", fingerprint="e" * 64, facts={"title": "new"})
        storage.append(case, record)
        _same(storage.get("moving"), case)

    def test_racing_threads_lose_nothing(self, storage: Storage) -> None:
        """Threads appending to one case: every success stored once, seqs contiguous."""
        builder = CaseBuilder("threads")
        storage.create(*builder.start())
        wins: list[str] = []
        lock = threading.Lock()

        def work(worker: int) -> None:
            for attempt in range(15):
                current = storage.get("threads")
                assert current is not None
                mine = CaseBuilder("threads")
                mine.case = current
                label = f"{worker}-{attempt}"
                try:
                    storage.append(*mine.step(payload={"text": label}))
                except ConcurrencyConflict:
                    continue
                with lock:
                    wins.append(label)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        records = list(storage.records("threads"))
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert sorted(r.payload["text"] for r in records[1:]) == sorted(wins)
        assert all(r.prev_hash == p.hash for p, r in itertools.pairwise(records))

    # -- parties, who sees a case, the access log -----------------------------------------

    def test_actor_body_and_parties_round_trip(self, storage: Storage) -> None:
        """An actor's body and a case's parties come back equal; absent ones come back None."""
        acting = Actor("agent-1", {"applicant"}, body=f"asso-{AWKWARD[:10]}")
        known = parties(("manager", acting.acts_for), ("funder", "ville-é"),
                        coordinators={"coordinator", "rôle-ü"})  # fmt: skip
        builder = CaseBuilder("bodied")
        first = builder.start(actor=acting, parties=known)
        second = builder.step("submit", actor=acting, idempotency_key="k")
        plain = CaseBuilder("plain")
        unknown = plain.start()
        for case, record in (first, unknown):
            storage.create(case, record)
        storage.append(*second)
        assert unknown[0].parties is None
        assert unknown[1].actor.body is None
        _same(storage.get("bodied"), second[0])
        _same(storage.get("plain"), unknown[0])
        assert list(storage.cases()) == [second[0], unknown[0]]
        for got, want in zip(storage.records("bodied"), [first[1], second[1]], strict=True):
            _same(got, want)
            _same(got.actor, acting)
        _same(storage.record_by_key("bodied", "k"), second[1])
        assert list(storage.iter_records()) == [first[1], second[1], unknown[1]]

    def test_seen_by_a_party_body_or_a_coordinating_role(self, storage: Storage) -> None:
        """``cases(seen_by=...)`` lists the cases whose parties bind the viewer's body or
        whose coordinating roles it holds, by ``(created_at, id)``; never a case without
        parties, and a role named like a body, or an id acting for another body, sees nothing
        of that body's cases."""
        specs = [
            ("c-asso", parties(("manager", "asso-a")), T0),
            ("c-ville", parties(("funder", "ville"), ("manager", "asso-b")), T0),
            ("c-both", parties(("manager", "asso-a"), ("funder", "ville"),
                               coordinators={"coordinator"}), T0 - timedelta(seconds=1)),
            ("c-coord", parties(coordinators={"coordinator", "dla"}), T0 + timedelta(days=1)),
            ("c-none", None, T0),
            ("c-empty", Parties(), T0),
        ]  # fmt: skip
        for case_id, bound, at in specs:
            storage.create(*CaseBuilder(case_id).start(at=at, parties=bound))
        viewers = {
            Actor("p-1", {"applicant"}, body="asso-a"): ["c-both", "c-asso"],
            Actor("asso-a"): ["c-both", "c-asso"],
            Actor("ville", body="asso-b"): ["c-ville"],
            Actor("agent", {"coordinator"}): ["c-both", "c-coord"],
            Actor("agent", {"dla", "other"}, body="ville"): ["c-both", "c-ville", "c-coord"],
            Actor("x", {"asso-a", "body:asso-a"}): [],
            Actor("coordinator"): [],
            Actor("nobody", {"applicant", "officer"}): [],
        }
        everything = list(storage.cases())
        for viewer, want in viewers.items():
            assert seen(storage, viewer) == want, viewer
            assert _sees(everything, viewer) == want, viewer
        assert seen(storage, Actor("a", {"coordinator"}), state="draft") == ["c-both", "c-coord"]
        assert seen(storage, Actor("a", {"coordinator"}), name="other") == []

    def test_parties_changes_reach_the_index(self, storage: Storage) -> None:
        """A party added, removed or rebound by an append is seen (or no longer) right after;
        a case whose parties become None is seen by nobody."""
        asso, ville, caf = Actor("u", body="asso"), Actor("v", body="ville"), Actor("caf")
        builder = CaseBuilder("moving")
        storage.create(*builder.start(parties=parties(("manager", "asso"))))
        other = CaseBuilder("other")
        storage.create(*other.start(parties=parties(("manager", "asso"))))
        assert (seen(storage, asso), seen(storage, ville)) == (["moving", "other"], [])
        storage.append(*builder.step("submit"))  # the parties stay
        assert (seen(storage, asso), seen(storage, ville)) == (["moving", "other"], [])
        storage.append(*builder.step(parties=parties(("manager", "asso"), ("funder", "ville"))))
        assert (seen(storage, asso), seen(storage, ville)) == (["moving", "other"], ["moving"])
        storage.append(*builder.step(parties=parties(("funder", "ville"), ("funder", "caf"))))
        assert (seen(storage, asso), seen(storage, ville)) == (["other"], ["moving"])
        assert seen(storage, caf) == ["moving"]
        rebound = Parties({("funder", "2024", "ville"), ("funder", "", "caf")})
        storage.append(*builder.step(parties=rebound))  # same bodies, another key
        assert [seen(storage, v) for v in (asso, ville, caf)] == [["other"], ["moving"], ["moving"]]
        case = storage.get("moving")
        assert case is not None
        assert case.parties == rebound
        storage.append(*builder.step(parties=None))
        assert [seen(storage, v) for v in (asso, ville, caf)] == [["other"], [], []]
        assert list(storage.cases_without_parties()) == ["moving"]

    def test_a_refused_write_leaves_parties_and_index_unchanged(self, storage: Storage) -> None:
        """A ``ConcurrencyConflict`` (lost race, reused key) or ``CaseIdTaken`` that would
        have changed the parties changes neither them nor who sees the case."""
        asso, ville = Actor("u", body="asso"), Actor("v", body="ville")
        builder, rival = CaseBuilder("race"), CaseBuilder("race")
        storage.create(*builder.start(parties=parties(("manager", "asso"))))
        rival.case = builder.case
        storage.append(*builder.step("submit", idempotency_key="once"))
        before = stored(storage)
        widened = parties(("manager", "asso"), ("funder", "ville"))
        narrowed = parties(("funder", "ville"))
        attempts = [
            rival.step("submit", parties=widened),  # lost race: stale seq
            rival.step("submit", parties=narrowed),  # skipping a seq
            builder.step(idempotency_key="once", parties=narrowed),  # key already used
        ]
        for case, record in attempts:
            with pytest.raises(ConcurrencyConflict):
                storage.append(case, record)
            assert stored(storage) == before
            assert (seen(storage, asso), seen(storage, ville)) == (["race"], [])
        with pytest.raises(CaseIdTaken):
            storage.create(*CaseBuilder("race").start(parties=narrowed))
        assert stored(storage) == before
        assert (seen(storage, asso), seen(storage, ville)) == (["race"], [])

    def test_parties_set_on_cases_without_them(self, storage: Storage) -> None:
        """``cases_without_parties`` lists the cases whose parties are None, by id;
        ``set_parties`` fills them in (and indexes them) only while the case is at ``seq``."""
        builders = {case_id: CaseBuilder(case_id) for case_id in ("b", "a", "c", "A")}
        for case_id, builder in builders.items():
            storage.create(*builder.start(parties=parties(("m", "x")) if case_id == "c" else None))
        storage.append(*builders["a"].step("submit"))
        assert list(storage.cases_without_parties()) == ["A", "a", "b"]
        viewer = Actor("v", body="asso")
        found = parties(("manager", "asso"))
        before = stored(storage)
        assert storage.set_parties("a", 1, found) is False  # "a" is at seq 2
        assert storage.set_parties("ghost", 1, found) is False
        assert stored(storage) == before
        assert seen(storage, viewer) == []
        assert storage.set_parties("a", 2, found) is True
        assert storage.set_parties("b", 1, found) is True
        assert list(storage.cases_without_parties()) == ["A"]
        assert seen(storage, viewer) == ["a", "b"]
        assert builders["a"].case is not None
        want = attrs.evolve(builders["a"].case, parties=found)
        _same(storage.get("a"), want)
        assert list(storage.iter_records()) == before[1]
        assert storage.set_parties("c", 1, found) is True  # replaces, index included
        assert seen(storage, viewer) == ["a", "b", "c"]
        assert seen(storage, Actor("x")) == []
        builders["a"].case = want
        storage.append(*builders["a"].step(parties=parties(("funder", "ville"))))
        assert seen(storage, viewer) == ["b", "c"]

    def test_parties_set_while_listing_the_cases_without(self, storage: Storage) -> None:
        """The engine's pass over an upgraded store: while ``cases_without_parties`` streams,
        ``set_parties`` writes each case's parties."""
        ids = [f"old-{n:02d}" for n in range(12)]
        for case_id in ids:
            storage.create(*CaseBuilder(case_id).start())
        listed = []
        for case_id in storage.cases_without_parties():
            listed.append(case_id)
            assert storage.set_parties(case_id, 1, parties(("manager", case_id)))
        assert listed == ids
        assert list(storage.cases_without_parties()) == []
        assert seen(storage, Actor("x", body="old-07")) == ["old-07"]

    def test_racing_party_changes_keep_the_index_true(self, storage: Storage) -> None:
        """Threads each rebinding the case's parties: afterwards exactly the final parties'
        bodies see it, whoever won each race."""
        builder = CaseBuilder("rebound")
        storage.create(*builder.start(parties=parties(("manager", "start"))))
        bodies = ["start"]

        def work(worker: int) -> None:
            for attempt in range(8):
                current = storage.get("rebound")
                assert current is not None
                mine = CaseBuilder("rebound")
                mine.case = current
                body = f"w{worker}-{attempt}"
                kept = [t[2] for t in sorted(current.parties.bound)][-1:] if current.parties else []
                bound = [("funder", b) for b in kept] + [("manager", body)]
                try:
                    storage.append(*mine.step(parties=parties(*bound)))
                except ConcurrencyConflict:
                    continue

        for worker in range(4):
            bodies += [f"w{worker}-{attempt}" for attempt in range(8)]
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = storage.get("rebound")
        assert final is not None
        assert final.parties is not None
        assert final.seq > 1
        for body in bodies:
            want = ["rebound"] if body in final.parties.bodies() else []
            assert seen(storage, Actor("p", body=body)) == want, body

    def test_many_readers(self, storage: Storage) -> None:
        """A case bound to many bodies, awkward ones included, is seen by each of them."""
        bodies = [f"{AWKWARD[:6]}-{n}" for n in range(60)] + ["body:x", "role:y", "a" * 255]
        builder = CaseBuilder("crowd")
        crowd = parties(*(("consulted", body) for body in bodies), coordinators={"r" * 200})
        storage.create(*builder.start(parties=crowd))
        for body in bodies:
            assert seen(storage, Actor("p", body=body)) == ["crowd"], body
        assert seen(storage, Actor("p", {"r" * 200})) == ["crowd"]
        assert seen(storage, Actor("x")) == seen(storage, Actor("p", body="y")) == []

    def test_the_access_log_round_trip(self, storage: Storage) -> None:
        """Every logged access comes back equal, in the order logged."""
        assert list(storage.accesses()) == []
        paris = timezone(timedelta(hours=2))
        logged = [
            Access(Actor("auditor-1", {"auditor"}), T0 + timedelta(days=1), "contrôle", ("b",)),
            Access(Actor("Émilie 🌞", {"auditor", "cour-des-comptes"}, body="cour"),
                   datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=paris), WORDS,
                   tuple(f"case-{n}" for n in range(300))),
            Access(Actor("auditor-1", {"auditor"}), T0, "", ()),
        ]  # fmt: skip
        for access in logged:
            storage.log_access(access)
        got = list(storage.accesses())
        assert got == logged
        for access in got:
            _utc(access.at.astimezone(UTC))
            assert isinstance(access.actor.roles, frozenset)
            assert isinstance(access.case_ids, tuple)
        assert stored(storage) == ([], [])

    # -- restore (an import) --------------------------------------------------------------

    def test_restore_writes_every_history(self, storage: Storage) -> None:
        """``restore`` writes each case row and its whole history, indexed, keys findable."""
        histories = _histories(30)
        assert storage.restore(iter(histories)) == sum(len(h) for _, h in histories)
        assert stored(storage) == (
            sorted((case for case, _ in histories), key=lambda c: (c.created_at, c.id)),
            [record for _, history in histories for record in history],
        )
        assert seen(storage, Actor("p", body="asso-7")) == ["r-007"]
        keyed = histories[3][1][1]
        assert storage.record_by_key("r-003", "key-r-003") == keyed
        # The feed numbers every restored record, in the order the import gave them.
        fed = [record for _, record in _feed(storage).changes(0, 10**6)]
        assert fed == [record for _, history in histories for record in history]
        assert _feed(storage).last_position() == len(fed)

    @pytest.mark.parametrize("failure", ["reading", "key-reused", "id-twice", "key-reused-first"])
    def test_a_failed_restore_writes_nothing(self, storage: Storage, failure: str) -> None:
        """Whatever fails in the last case (the histories given raise while read, the store
        refuses a reused idempotency key or a case id given twice), after earlier cases were
        given, or in the first case with many after it: nothing is written, and the store
        still restores a good import afterwards.
        (2,100 records come before the failure: more than an adapter would send at once.)"""
        histories = _histories(700)
        given: Iterator[tuple[Case, Sequence[Record]]]
        if failure == "reading":
            given = _then_fail(histories)
        elif failure.startswith("key-reused"):
            builder = CaseBuilder("r-999" if failure == "key-reused" else "a-000")
            first = builder.start()[1]
            second = builder.step("submit", idempotency_key="twice")[1]
            case, third = builder.step(idempotency_key="twice")
            reused = (case, [first, second, third])
            given = iter([*histories, reused] if failure == "key-reused" else [reused, *histories])
        else:
            given = iter([*histories, histories[0]])
        with pytest.raises(StechniqueError if failure != "reading" else _Refused):
            storage.restore(given)
        assert stored(storage) == ([], [])
        assert seen(storage, Actor("p", body="asso-7")) == []
        assert storage.record_by_key("r-003", "key-r-003") is None
        assert storage.restore(iter(histories)) > 0

    def test_restore_refuses_a_store_that_is_not_empty(self, storage: Storage) -> None:
        """A store holding a case is refused with ``StoreNotEmpty``, nothing written."""
        storage.create(*CaseBuilder("here").start())
        before = stored(storage)
        with pytest.raises(StoreNotEmpty):
            storage.restore(iter(_histories(2)))
        assert stored(storage) == before

    # -- the change feed (``Feed``) -------------------------------------------------------

    def test_feed_numbers_every_record_in_append_order(self, storage: Storage) -> None:
        """Each record created or appended takes the next position: consecutive, in the order
        written, across cases; read back whole, with its position."""
        feed = _feed(storage)
        base = feed.last_position()
        one, two = CaseBuilder("feed-1"), CaseBuilder("feed-2")
        written = []
        for case, record in (one.start(), two.start(), one.step("submit"),
                             two.step("submit"), two.step(payload={"text": AWKWARD}),
                             one.step(payload={"text": "n"})):  # fmt: skip
            if record.seq == 1:
                storage.create(case, record)
            else:
                storage.append(case, record)
            written.append(record)
        read = list(feed.changes(base, 100))
        assert [position for position, _ in read] == list(range(base + 1, base + 7))
        for (_, got), want in zip(read, written, strict=True):
            _same(got, want)
        assert feed.last_position() == base + 6
        assert list(feed.changes(base + 6, 100)) == []

    def test_feed_resumes_after_any_position(self, storage: Storage) -> None:
        """Reading page by page (``limit``) from any position gives the same records as one
        read: nothing repeated, nothing skipped."""
        feed = _feed(storage)
        base = feed.last_position()
        builder = CaseBuilder("pages")
        storage.create(*builder.start())
        for n in range(6):
            storage.append(*builder.step(payload={"text": str(n)}))
        whole = [(p, r.seq) for p, r in feed.changes(base, 100)]
        for size in (1, 2, 3, 7):
            paged, after = [], base
            while batch := feed.changes(after, size):
                assert len(batch) <= size
                paged += [(p, r.seq) for p, r in batch]
                after = batch[-1][0]
            assert paged == whole
        assert [(p, r.seq) for p, r in feed.changes(base + 3, 2)] == whole[3:5]

    def test_a_refused_write_takes_no_position(self, storage: Storage) -> None:
        """A write that fails (a lost race, a case id taken) leaves no hole: the next record
        takes the very next position."""
        feed = _feed(storage)
        builder = CaseBuilder("holes")
        storage.create(*builder.start())
        stale = CaseBuilder("holes")
        stale.case = builder.case
        storage.append(*builder.step("submit"))
        base = feed.last_position()
        with pytest.raises(ConcurrencyConflict):
            storage.append(*stale.step("submit"))
        with pytest.raises(CaseIdTaken):
            storage.create(*CaseBuilder("holes").start())
        storage.append(*builder.step(payload={"text": "next"}))
        assert [(p, r.seq) for p, r in feed.changes(base - 1, 100)] == [(base - 1 + 1, 2),
                                                                         (base + 1, 3)]  # fmt: skip

    def test_feed_never_skips_a_record_under_racing_writers(self, storage: Storage) -> None:
        """Writers on several threads while a reader moves past what it read: the reader sees
        every position once, each right after the one before (a record committed at a
        position below one already read would be skipped for ever)."""
        feed = _feed(storage)
        base = feed.last_position()
        done = threading.Event()
        seen: list[int] = []
        problems: list[str] = []

        def write(worker: int) -> None:
            builder = CaseBuilder(f"race-{worker}")
            storage.create(*builder.start())
            for n in range(12):
                storage.append(*builder.step(payload={"text": str(n)}))

        def read() -> None:
            after = base
            while True:
                finished = done.is_set()
                for position, _ in feed.changes(after, 7):
                    if position != after + 1:
                        problems.append(f"position {position} read right after {after}")
                    seen.append(position)
                    after = position
                if finished and after == feed.last_position():
                    return

        reader = threading.Thread(target=read)
        reader.start()
        writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        done.set()
        reader.join()
        assert problems == []
        assert seen == list(range(base + 1, base + 4 * 13 + 1))
        by_case: dict[str, list[int]] = {}
        for _, record in feed.changes(base, 1000):
            by_case.setdefault(record.case_id, []).append(record.seq)
        assert all(seqs == list(range(1, 14)) for seqs in by_case.values())

    def test_consumers_acknowledge_forward_only(self, storage: Storage) -> None:
        """A consumer's acknowledged position is stored, independent of other consumers',
        and never goes back."""
        feed = _feed(storage)
        assert feed.acknowledged("nobody-yet") == 0
        feed.acknowledge("dashboard", 5)
        feed.acknowledge("dashboard", 3)
        feed.acknowledge("statistics", 2)
        assert (feed.acknowledged("dashboard"), feed.acknowledged("statistics")) == (5, 2)
        feed.acknowledge("dashboard", 9)
        assert feed.acknowledged("dashboard") == 9

    # -- through the engine ---------------------------------------------------------------

    def test_engine_runs_on_the_store(self, storage: Storage) -> None:
        """Start, fire, history and audit through the engine on this store."""
        engine = Engine(storage, registry=Registry((PERMIT,)), clock=lambda: T0)
        case = engine.start("permit", actor=APPLICANT, facts={"title": AWKWARD})
        engine.fire(case.id, "submit", actor=APPLICANT)
        again = engine.fire(case.id, "note", actor=OFFICER, payload={"text": "ok"},
                            idempotency_key="once")  # fmt: skip
        same = engine.fire(case.id, "note", actor=OFFICER, payload={"text": "ok"},
                           idempotency_key="once")  # fmt: skip
        assert same == again
        with pytest.raises(ConcurrencyConflict):
            engine.fire(case.id, "grant", actor=OFFICER, expected_seq=2)
        final = engine.fire(case.id, "grant", actor=OFFICER, expected_seq=3)
        history = engine.history(case.id, OFFICER)
        assert [r.event for r in history] == ["start", "submit", "note", "grant"]
        assert storage.get(case.id) == final
        report = engine.audit()
        assert report.ok, report.violations
        assert (report.cases_checked, report.records_checked) == (1, 4)
