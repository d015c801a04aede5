"""Clocks for the engine: the system clock by default, a hand-set one for stories and replays.

The engine reads the time from a ``Clock``, a callable returning an aware UTC ``datetime``
(``utc_now`` by default). Tests, example stories, generated state machines and imports of past
events need a calendar they control: ``ManualClock`` shows whatever time it was last set to,
and ``clock_of`` lends one to an engine for a block of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from stechnique.engine import Engine

__all__ = ["Clock", "ManualClock", "clock_of", "utc_now"]

#: A callable returning the current time as an aware UTC datetime.
Clock = Callable[[], datetime]

_Clock = TypeVar("_Clock", bound=Clock)


def utc_now() -> datetime:
    """The default clock: the system time in UTC."""
    return datetime.now(UTC)


def _moment(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    # A text without offset is read as UTC, the time every record is written in.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ManualClock:
    """A clock that shows the time it was last set to (``on``) or moved to (``advance``).

    ``start`` and ``on`` take a datetime or ISO text such as ``2016-02-01 09:30``; a time
    without offset is read as UTC, one with an offset is converted to UTC.
    """

    def __init__(self, start: datetime | str = "2000-01-01 00:00") -> None:
        self.now = _moment(start)

    def __call__(self) -> datetime:
        return self.now

    def on(self, moment: datetime | str) -> None:
        """Set the clock to ``moment`` (a datetime, or ISO text such as ``2016-02-01 09:30``)."""
        self.now = _moment(moment)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back) by ``delta``."""
        self.now += delta


@contextmanager
def clock_of(engine: Engine, clock: _Clock) -> Iterator[_Clock]:
    """Run ``engine`` on ``clock`` inside the block, then give it its own clock back."""
    own, engine.clock = engine.clock, clock
    try:
        yield clock
    finally:
        engine.clock = own
