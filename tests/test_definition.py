"""Building a procedure validates it: each DefinitionError rule, shown on one broken procedure."""

from __future__ import annotations

import pytest
from small import ticket

from stechnique import (
    ANY_ACTIVE,
    CaseRole,
    ConfidentialField,
    DefinitionError,
    Field,
    Procedure,
    Role,
    State,
    Transition,
)

OPEN, APPROVED, DONE, CANCELLED = ticket().states


def broken(**changes: object) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        ticket(**changes)
    return caught.value


def test_the_small_procedure_is_valid() -> None:
    procedure = ticket()
    assert procedure.initial.id == "open"
    assert procedure.events_from("approved") == ("comment", "finish", "cancel")
    assert procedure.sources_of(procedure.transitions[-1]) == ("open", "approved")


def test_unknown_target_state() -> None:
    error = broken(
        transitions=(*ticket().transitions, Transition("lost", "open", "nowhere", "boss"))
    )
    assert "transition 'lost' goes to unknown state 'nowhere'" in error.problems


def test_unknown_source_state() -> None:
    error = broken(transitions=(*ticket().transitions, Transition("lost", "limbo", "done", "boss")))
    assert "transition 'lost' leaves from unknown state 'limbo'" in error.problems


def test_unreachable_state() -> None:
    island = State("island", "Île", "Island")
    error = broken(states=(*ticket().states, island))
    assert "state 'island' is unreachable from the initial state" in error.problems


def test_terminal_state_with_an_exit() -> None:
    error = broken(
        transitions=(*ticket().transitions, Transition("reopen", "done", "open", "boss"))
    )
    assert "terminal state 'done' has an exit: 'reopen'" in error.problems


def test_non_terminal_state_without_a_path_to_an_end() -> None:
    trap = State("trap", "Piège", "Trap")
    # `cancel` leaves from every active state, trap included; narrow it so trap is a dead end.
    *kept, cancel = ticket().transitions
    narrowed = Transition(
        "cancel", ("open", "approved"), "cancelled", "owner", payload=cancel.payload
    )
    transitions = (*kept, narrowed, Transition("fall", "open", "trap", "boss"))
    error = broken(states=(*ticket().states, trap), transitions=transitions)
    assert "state 'trap' has no path to a terminal state" in error.problems


def test_undeclared_role_and_guard() -> None:
    extra = Transition("audit", "approved", "approved", "auditor", guards=("audited",))
    error = broken(transitions=(*ticket().transitions, extra))
    assert "'audit' uses undeclared role 'auditor'" in error.problems
    assert "'audit' uses undeclared guard 'audited'" in error.problems


def test_undeclared_start_role_and_guard() -> None:
    error = broken(start_roles=("stranger",), start_guards=("unknown_guard",))
    assert "'start' uses undeclared role 'stranger'" in error.problems
    assert "'start' uses undeclared guard 'unknown_guard'" in error.problems


def test_ambiguous_event() -> None:
    twin = Transition("approve", "open", "cancelled", "boss")
    error = broken(transitions=(*ticket().transitions, twin))
    assert "event 'approve' is ambiguous from state 'open'" in error.problems


def test_reserved_event() -> None:
    error = broken(transitions=(*ticket().transitions, Transition("start", "open", "done", "boss")))
    assert "event 'start' is reserved by the engine" in error.problems


def test_initial_state_count() -> None:
    error = broken(states=(State("open", "Ouvert", "Open"), APPROVED, DONE, CANCELLED))
    assert any(problem.startswith("exactly one initial state") for problem in error.problems)


def test_case_role_must_map_declared_roles_from_a_choice_fact() -> None:
    error = broken(case_roles=(CaseRole("owner", "title", {"solo": "ghost"}),))
    assert "case role 'owner' reads 'title', not a choice fact" in error.problems
    assert "case role 'owner' maps 'solo' to undeclared role 'ghost'" in error.problems


def test_confidential_field_must_exist() -> None:
    rule = ConfidentialField("comment", "missing", readers=("nobody",), opens_at="nowhere")
    error = broken(confidential=(rule,))
    assert (
        "confidential field comment.missing is not a payload field of a declared event"
        in error.problems
    )
    assert "confidential field comment.missing names undeclared role 'nobody'" in error.problems
    assert "confidential field comment.missing opens at unknown state 'nowhere'" in error.problems


def test_every_problem_is_reported_at_once() -> None:
    extra = (
        Transition("lost", "limbo", "nowhere", "auditor"),
        Transition("reopen", "done", "open", "boss"),
    )
    error = broken(transitions=(*ticket().transitions, *extra), start_roles=("stranger",))
    assert len(error.problems) >= 5
    assert "5 problems" in str(error) or f"{len(error.problems)} problems" in str(error)


def test_any_active_expands_to_every_non_terminal_state() -> None:
    procedure = ticket()
    cancel = procedure.transitions[-1]
    assert cancel.sources == (ANY_ACTIVE,)
    assert {"open", "approved"} == set(procedure.sources_of(cancel))
    assert procedure.transition("done", "cancel") is None


def test_payload_decided_transitions_must_cover_every_option() -> None:
    decision = (Field("decision", "choice", options=("approve", "rework", "abstain")),)
    pair = (
        Transition(
            "decide", "approved", "done", "boss", payload=decision, when=("decision", "approve")
        ),
        Transition(
            "decide", "approved", "approved", "boss", payload=decision, when=("decision", "rework")
        ),
    )
    error = broken(transitions=(*ticket().transitions, *pair))
    assert "event 'decide' is ambiguous from state 'approved'" in error.problems


def test_fingerprint_changes_with_any_canonical_change() -> None:
    base = ticket()
    relabelled = ticket(fr="Ticket modifié")
    assert base.fingerprint == ticket().fingerprint
    assert base.fingerprint != relabelled.fingerprint
    assert len(base.fingerprint) == 64


def test_canonical_form_leaves_guard_code_out() -> None:
    canonical = ticket().canonical()
    guard = canonical["guards"][0]
    assert set(guard) == {"name", "fr", "en", "uses_payload"}
    assert "_tables" not in canonical
    assert "invariants" not in canonical


def test_roles_declared_and_case_roles_resolve() -> None:
    procedure = ticket()
    assert procedure.allowed_roles(("owner", "boss"), {"kind": "group"}) == ("team", "boss")
    assert procedure.allowed_roles(("owner",), {"kind": "unknown"}) == ()
    assert Role("clerk", "Agent", "Clerk") in procedure.roles


def test_procedure_is_frozen() -> None:
    procedure: Procedure = ticket()
    with pytest.raises(AttributeError):
        procedure.name = "other"  # type: ignore[misc]
