"""The members of a collective group, listed to the DLA officers only (revision 2, a draft).

PROCEDURES.md, « Collective groups »: « a collective action names a ``group`` (compared trimmed
and case-folded) [...]. The members of a group are listed to the DLA officers only. »
"""

from __future__ import annotations

import pytest
from test_drafts_dla import (
    CASTELLANE,
    ESIA,
    FRANCE_ACTIVE,
    GROUP,
    PLAN,
    RH,
    SAINT_LOUIS,
    engine,
    planned,
)

from stechnique import Actor, PermissionDenied

OTHER = Actor("cs-air-bel", {"structure"})
GONE = Actor("cs-la-busserine", {"structure"})


def _plan(group: str) -> list[dict[str, str]]:
    return [{"id": "c1", "kind": "collective", "domain": "steering_governance", "group": group}]


def test_the_officers_list_the_open_cases_naming_the_group_however_it_is_spelt() -> None:
    engine_ = engine()
    castellane = planned(engine_, CASTELLANE, PLAN)
    saint_louis = planned(engine_, SAINT_LOUIS, _plan("  gouvernance PARTAGÉE "))
    planned(engine_, OTHER, _plan("Trésorerie"))
    gone = planned(engine_, GONE, _plan(GROUP))
    engine_.fire(gone.id, "withdraw", actor=GONE, payload={"reason": "Fusion."})
    for officer in (ESIA, FRANCE_ACTIVE):
        members = engine_.group_members("gouvernance partagée", officer)
        assert [case.id for case in members] == [castellane.id, saint_louis.id]
        assert [case.parties.bodies("structure") for case in members if case.parties] == [
            {CASTELLANE.acts_for}, {SAINT_LOUIS.id}]  # fmt: skip
    assert engine_.group_members("Personne", ESIA) == []


@pytest.mark.parametrize(
    "viewer",
    [
        CASTELLANE,  # a member itself
        RH,
        Actor("agent-caf", {"funder"}, body="caf-13"),
        Actor("caf-coordination", {"caf_coordinator"}),
    ],
    ids=lambda actor: sorted(actor.roles)[0],
)
def test_no_one_else_learns_who_is_in_a_group(viewer: Actor) -> None:
    engine_ = engine()
    planned(engine_, CASTELLANE, PLAN)
    with pytest.raises(PermissionDenied) as refused:
        engine_.group_members(GROUP, viewer)
    error = refused.value
    # Both texts, French shown by default; neither names the group's members.
    assert "ne peut pas" in str(error)
    assert "may not" in error.en
    for message in (error.fr, error.en):
        assert "ESIA" in message or "esia_officer" in message
        assert CASTELLANE.acts_for not in message
