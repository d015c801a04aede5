"""ManualClock and clock_of: stories and replays run on a calendar they control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from small import ticket

from stechnique import Actor, Engine, ManualClock, Registry, clock_of


def test_manual_clock_reads_text_as_utc_and_normalises_offsets() -> None:
    clock = ManualClock("2016-02-01 09:30")
    assert clock() == datetime(2016, 2, 1, 9, 30, tzinfo=UTC)
    clock.on(datetime(2016, 2, 1, 12, 0, tzinfo=timezone(timedelta(hours=1))))
    assert clock() == datetime(2016, 2, 1, 11, 0, tzinfo=UTC)
    clock.advance(timedelta(days=1))
    assert clock() == datetime(2016, 2, 2, 11, 0, tzinfo=UTC)


def test_clock_of_lends_a_clock_and_gives_the_engine_its_own_back() -> None:
    engine = Engine(registry=Registry((ticket(),)))
    own = engine.clock
    with clock_of(engine, ManualClock("2013-06-01 10:00")) as clock:
        case = engine.start(
            "ticket", actor=Actor("c", {"clerk"}), facts={"title": "t", "kind": "solo"}
        )
        clock.on("2013-06-02 10:00")
    assert case.created_at == datetime(2013, 6, 1, 10, 0, tzinfo=UTC)
    assert engine.clock is own
