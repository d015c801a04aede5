"""Issue #16, item 3: a periodic audit selects records by the order they were appended, not by
the time they claim.

A case inserted after the periodic check's T0, backdated to 2016 and validated without any
funder decision (a forged record, sealed and chained like a real one), escapes
``audit(since=T0)``, which by its definition trusts each record's own ``at``. The periodic audit
goes by position instead (``audit(appended_after=P)``, P the last position the previous audit
read: the change feed's global positions), and the checkpoint lists the case as new, with the
time it claims.
"""

from __future__ import annotations

from datetime import UTC, datetime

from audit_stories import ADMIN, CAF, CENTRE_FACTS, MSTR, engine_on, every_story, forge

from stechnique import export_checkpoint, verify_checkpoint
from stechnique.audit import audit
from stechnique.storage import Storage
from stechnique.storage.base import Feed

BACKDATED = datetime(2016, 5, 2, 9, tzinfo=UTC)


def forged_after(storage: Storage) -> tuple[datetime, int]:
    """Every story, then T0, then case « antidate » written as of 2016 and validated by a forged
    record (no funder ever decided); returns T0 and the last position at T0."""
    every_story(engine_on(storage))
    t0 = max(record.at for record in storage.iter_records())
    t0 = max(t0, datetime.now(UTC))
    assert isinstance(storage, Feed)
    p0 = storage.last_position()
    forger = engine_on(storage, BACKDATED)
    forger.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id="antidate")
    forger.fire("antidate", "refer", actor=CAF, payload={"funders": ["etat"]})
    forge(storage, "antidate", "validate", CAF, target="validated")
    return t0, p0


def test_the_forgery_is_real(any_storage: Storage) -> None:
    """The whole audit sees the forged validation: only the periodic selection misses it."""
    forged_after(any_storage)
    assert ("antidate", 3, "guard") in {
        (v.case_id, v.seq, v.code) for v in audit(any_storage).violations
    }


def test_the_checkpoint_lists_the_backdated_case(any_storage: Storage) -> None:
    every_story(engine_on(any_storage))
    checkpoint = export_checkpoint(any_storage, "Jeanne Martin, auditrice")
    forger = engine_on(any_storage, BACKDATED)
    forger.start(MSTR, version="2015-2017", actor=ADMIN, facts=CENTRE_FACTS, case_id="antidate")
    forge(any_storage, "antidate", "validate", CAF, target="validated")
    claimed = dict(verify_checkpoint(any_storage, checkpoint).new_cases)
    assert claimed["antidate"] is not None
    assert claimed["antidate"].year == 2016


def test_a_periodic_audit_by_position_sees_a_case_appended_after_t0_whatever_it_claims(
    any_storage: Storage,
) -> None:
    t0, p0 = forged_after(any_storage)
    # What the claimed times select misses the backdated case: that is why periodic audits go
    # by position.
    assert audit(any_storage, since=t0).records_checked == 0
    periodic = audit(any_storage, appended_after=p0)
    assert ("antidate", 3, "guard") in {(v.case_id, v.seq, v.code) for v in periodic.violations}
