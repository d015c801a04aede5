"""The revision-2 drafts, judged from their definitions alone.

They are drafts: not in the default registry, fingerprints computed and printed here but not
pinned (``tests/test_fingerprints.py`` pins published revisions only). They keep every static
property the published versions keep, rename nothing of revision 1, and bind to a party every
step revision 1 let a manager, provider, funder, centre or committee fire.
"""

from __future__ import annotations

import pytest
from test_fingerprints import PINNED

from stechnique import Procedure, default_registry
from stechnique.testing import definition_problems
from stechnique.workflows.drafts import draft_registry, drafts
from stechnique.workflows.known_funders import KNOWN_FUNDERS

DRAFTS = drafts()
PUBLISHED = {p.key: p for p in default_registry()}
#: The exits from every non-terminal state: a beneficiary's and a coordinator's (or
#: committee's) own, each without guards.
EXITS = {
    "soutien-technique-renforce": ("withdraw", "abandon"),
    "convention-pluripartenariale": ("withdraw", "abandon"),
}
#: Revision 1's roles that act for a party of the case, and the party each stands for.
PARTY_OF_ROLE = {
    "soutien-technique-renforce@2015-2017": {
        "manager": "manager", "provider": "provider", "funder": "consulted_funder",
    },
    "soutien-technique-renforce@2019": {
        "structure": "structure", "consultant": "consultant", "funder": "funder",
    },
    "convention-pluripartenariale@2013": {
        "steering_committee": "steering_committee", "partner": "partner", "centre": "centre",
    },
}  # fmt: skip
#: What PROCEDURES.md says revision 2 drops (« Revision 2 of the DLA drops
#: individual_accompaniment, collective_accompaniment, their two start events and the
#: plan_validated acknowledgement »), and the guards whose rule moved to the payload schema or
#: to a party of the case.
DROPPED = {
    "soutien-technique-renforce@2019": {
        "individual_accompaniment", "collective_accompaniment",
        "start_individual_accompaniment", "start_collective_accompaniment",
        ("plan_validated", "acknowledge_confidentiality"),
        # The two accompaniments' exit: follow-up now starts from ``accompaniment``.
        ("individual_accompaniment", "start_follow_up"),
        ("collective_accompaniment", "start_follow_up"),
    },
}  # fmt: skip


def _id(procedure: Procedure) -> str:
    return procedure.revision_key


def test_the_drafts_are_revision_2_and_not_published() -> None:
    assert [p.revision_key for p in DRAFTS] == [
        "soutien-technique-renforce@2015-2017/r2",
        "convention-pluripartenariale@2013/r2",
        "soutien-technique-renforce@2019/r2",
    ]
    for draft in DRAFTS:
        assert draft.revision == 2
        assert draft.fingerprint not in {p.fingerprint for p in PUBLISHED.values()}
        assert draft.fingerprint not in PINNED.values()
        assert all(p.revision == 1 for p in PUBLISHED.values())


@pytest.mark.parametrize("draft", DRAFTS, ids=_id)
def test_the_fingerprint_of_a_draft_is_computed_not_pinned(
    draft: Procedure, capsys: pytest.CaptureFixture[str]
) -> None:
    print(f"{draft.revision_key} {draft.fingerprint}")
    assert len(draft.fingerprint) == 64
    assert draft.revision_key in capsys.readouterr().out


@pytest.mark.parametrize("draft", DRAFTS, ids=_id)
def test_a_draft_has_every_static_property(draft: Procedure) -> None:
    # Every state reachable, a terminal state reachable from each, no way out of an end.
    assert definition_problems(draft.states, draft.transitions) == []


@pytest.mark.parametrize("draft", DRAFTS, ids=_id)
def test_a_drafts_exits_leave_every_non_terminal_state_unguarded(draft: Procedure) -> None:
    for state in draft.states:
        for exit_event in EXITS[draft.name]:
            transition = draft.transition(state.id, exit_event)
            if state.terminal:
                assert draft.events_from(state.id) == ()
                continue
            assert transition is not None, f"no {exit_event} from {state.id}"
            assert draft.state(transition.target).terminal
            assert transition.guards == ()


@pytest.mark.parametrize("draft", DRAFTS, ids=_id)
def test_a_draft_renames_nothing_of_revision_1(draft: Procedure) -> None:
    published, dropped = PUBLISHED[draft.key], DROPPED.get(draft.key, set())
    assert set(published.roles) <= set(draft.roles)
    assert {s for s in published.states if s.id not in dropped} <= set(draft.states)
    assert {f.name for f in published.facts} <= {f.name for f in draft.facts}
    for transition in published.transitions:
        if transition.event in dropped or (transition.sources[0], transition.event) in dropped:
            continue
        assert draft.candidates(transition.sources[0], transition.event) or (
            transition.sources == ("*",) and draft.transition(draft.initial.id, transition.event)
        ), f"{transition.event} from {transition.sources} is gone"
    guards = {g.name: g for g in draft.guards}
    for guard in published.guards:
        # A guard keeps its name only with its rule (same text); else the draft drops it.
        assert guard.name not in guards or guards[guard.name] == guard


@pytest.mark.parametrize("draft", DRAFTS, ids=_id)
def test_every_step_of_a_beneficiary_provider_funder_or_committee_is_bound_to_its_party(
    draft: Procedure,
) -> None:
    parties = PARTY_OF_ROLE[draft.key]
    for transition in draft.transitions:
        bound = [parties[role] for role in transition.roles if role in parties]
        if transition.event == "submit_step":
            # The centre or its federation: a guard, not one party (docs/decisions.md).
            assert "for_the_centre_or_its_federation" in transition.guards
            continue
        assert transition.party == (bound[0] if bound else None), transition.event


def test_the_mstr_draft_names_only_known_funders() -> None:
    mstr = DRAFTS[0]
    (refer,) = mstr.candidates("requested", "refer")
    (funders,) = refer.payload
    assert (funders.kind, funders.options) == ("choices", tuple(KNOWN_FUNDERS))
    assert KNOWN_FUNDERS["departement-13"] == "Département des Bouches-du-Rhône"
    assert len(KNOWN_FUNDERS) == 13


def test_the_2013_draft_drops_the_date_gate() -> None:
    convention = DRAFTS[1]
    assert "one_year_before_expiry" not in {g.name for g in convention.guards}
    approve = convention.transition(
        "objectives_convention", "arbitrate", {"decision": "approve", "com_end": "2017-06-30"}
    )
    assert approve is not None
    assert approve.guards == ("step_submitted", "com_end_within_agreement")


def test_the_draft_registry_holds_the_published_revisions_and_the_drafts() -> None:
    registry = draft_registry()
    fingerprints = {p.fingerprint for p in PUBLISHED.values()} | {d.fingerprint for d in DRAFTS}
    for fingerprint in fingerprints:
        assert registry.by_fingerprint(fingerprint) is not None
    assert default_registry().by_fingerprint(DRAFTS[0].fingerprint) is None
