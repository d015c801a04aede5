"""Building a procedure validates it: each DefinitionError rule, shown on one broken procedure."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from small import ticket

from stechnique import (
    ANY_ACTIVE,
    Answered,
    Binding,
    Bound,
    CaseRole,
    ConfidentialField,
    DefinitionError,
    DefinitionProblem,
    Due,
    Field,
    Fired,
    GuardLabel,
    Labels,
    OptionLabel,
    Party,
    Procedure,
    Relabel,
    Role,
    State,
    Transition,
    Wait,
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
    assert f"({len(error.problems)} problèmes)" in str(error)
    assert f"({len(error.problems)} problems)" in error.en


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


# -- each problem as a value: kind, subject and location ------------------------------------

OWNER = ticket().case_roles[0]
SECRET = ticket().confidential[0]
CHOICE = (Field("decision", "choice", options=("approve", "rework")),)


#: The ticket's owner as a party: bound by the body that opened it.
OWNER_PARTY = Party("owner", "Demandeur", "Owner", bound_by=(Binding("start"),))


def _parties(*parties: Party, **changes: object) -> dict[str, object]:
    """Changes that give the ticket parties (the owner first) and a coordinating role."""
    return {"parties": (OWNER_PARTY, *parties), "coordinators": ("boss",), **changes}


def _with(*extra: Transition) -> dict[str, object]:
    """Changes that add transitions after the ticket's four (so the first is number 4)."""
    return {"transitions": (*ticket().transitions, *extra)}


#: A change that breaks the ticket, and the problem it must cause: kind, subject, location.
KINDS: list[tuple[dict[str, object], str, str, tuple[str | int, ...]]] = [
    ({"states": (OPEN, APPROVED, DONE, CANCELLED, OPEN)},
     "duplicate_state", "open", ("states", "open")),
    ({"states": (OPEN, attrs.evolve(APPROVED, initial=True), DONE, CANCELLED)},
     "initial_state", "approved", ("states", "approved", "initial")),
    ({"states": (attrs.evolve(OPEN, initial=False), APPROVED, DONE, CANCELLED)},
     "initial_state", "", ("states",)),
    ({"states": (attrs.evolve(OPEN, terminal=True), APPROVED, DONE, CANCELLED)},
     "initial_terminal", "open", ("states", "open", "terminal")),
    ({"states": (OPEN, APPROVED, attrs.evolve(DONE, terminal=False),
                 attrs.evolve(CANCELLED, terminal=False))},
     "no_terminal", "", ("states",)),
    (_with(Transition("start", "open", "done", "boss")),
     "reserved_event", "start", ("transitions", 4)),
    (_with(Transition("lost", "open", "nowhere", "boss")),
     "unknown_state", "nowhere", ("transitions", 4, "target")),
    (_with(Transition("lost", "limbo", "done", "boss")),
     "unknown_state", "limbo", ("transitions", 4, "sources")),
    (_with(Transition("rush", (ANY_ACTIVE, "open"), "done", "boss")),
     "mixed_any_active", "rush", ("transitions", 4, "sources")),
    (_with(Transition("reopen", "done", "open", "boss")),
     "terminal_exit", "done", ("states", "done")),
    (_with(Transition("rush", "open", "done", ())), "no_role", "rush", ("transitions", 4, "roles")),
    ({"start_roles": ()}, "no_role", "start", ("start_roles",)),
    (_with(Transition("rush", "open", "done", "boss", when=("decision", "approve"))),
     "not_a_choice", "decision", ("transitions", 4, "when")),
    (_with(Transition("rush", "open", "done", "boss", payload=CHOICE, when=("decision", "no"))),
     "not_an_option", "no", ("transitions", 4, "when")),
    (_with(Transition("approve", "open", "cancelled", "boss")),
     "ambiguous_event", "approve", ("transitions", 4)),
    ({"facts": (*ticket().facts, Field("title"))}, "duplicate_fact", "title", ("facts", "title")),
    (_with(Transition("rush", "open", "done", "boss", payload=(Field("note"), Field("note")))),
     "duplicate_field", "rush.note", ("transitions", 4, "payload", "note")),
    ({"guards": (*ticket().guards, ticket().guards[0])},
     "duplicate_guard", "approved", ("guards", "approved")),
    ({"start_roles": ("stranger",)}, "undeclared_role", "stranger", ("start_roles",)),
    (_with(Transition("audit", "approved", "approved", "auditor")),
     "undeclared_role", "auditor", ("transitions", 4, "roles")),
    ({"case_roles": (attrs.evolve(OWNER, roles={"solo": "ghost", "group": "team"}),)},
     "undeclared_role", "ghost", ("case_roles", "owner", "roles", "solo")),
    ({"confidential": (attrs.evolve(SECRET, opens_to=("nobody",)),)},
     "undeclared_role", "nobody", ("confidential", 0, "opens_to")),
    ({"start_guards": ("unknown_guard",)}, "undeclared_guard", "unknown_guard", ("start_guards",)),
    (_with(Transition("audit", "approved", "approved", "boss", guards=("audited",))),
     "undeclared_guard", "audited", ("transitions", 4, "guards")),
    ({"case_roles": (attrs.evolve(OWNER, id="clerk"),)},
     "role_clash", "clerk", ("case_roles", "clerk")),
    ({"case_roles": (attrs.evolve(OWNER, fact="title"),)},
     "not_a_choice", "title", ("case_roles", "owner", "fact")),
    ({"case_roles": (attrs.evolve(OWNER, roles={"solo": "clerk", "duo": "team"}),)},
     "not_an_option", "duo", ("case_roles", "owner", "roles", "duo")),
    ({"confidential": (attrs.evolve(SECRET, field="hidden"),)},
     "unknown_field", "comment.hidden", ("confidential", 0, "field")),
    ({"confidential": (attrs.evolve(SECRET, opens_at="nowhere"),)},
     "unknown_state", "nowhere", ("confidential", 0, "opens_at")),
    ({"revision": 0}, "bad_revision", "0", ("revision",)),
    (_parties(OWNER_PARTY), "duplicate_party", "owner", ("parties", "owner")),
    ({**_with(Transition("audit", "approved", "approved", "boss", party="auditor")),
      **_parties()},
     "undeclared_party", "auditor", ("transitions", 4, "party")),
    (_parties(Party("helper", "Aide", "Helper", bound_by=(Binding("help", "who"),))),
     "unknown_event", "help", ("parties", "helper", "bound_by", 0, "event")),
    (_parties(Party("helper", "Aide", "Helper", bound_by=(Binding("comment", "who"),))),
     "unknown_field", "comment.who", ("parties", "helper", "bound_by", 0, "field")),
    (_parties(Party("helper", "Aide", "Helper", bound_by=(Binding("start", "helper"),))),
     "unknown_field", "start.helper", ("parties", "helper", "bound_by", 0, "field")),
    (_parties(Party("helper", "Aide", "Helper",
                    bound_by=(Binding("comment", "text", per="topic"),))),
     "unknown_field", "comment.topic", ("parties", "helper", "bound_by", 0, "per")),
    (_parties(Party("helper", "Aide", "Helper", bound_by=(Binding("comment", "text", "drop"),))),
     "bad_binding", "drop", ("parties", "helper", "bound_by", 0, "how")),
    (_parties(coordinators=("overseer",)),
     "undeclared_role", "overseer", ("coordinators",)),
    (_parties(confidential=(attrs.evolve(SECRET, opens_to=("clerk",)),)),
     "undeclared_reader", "clerk", ("confidential", 0, "opens_to")),
    (_parties(confidential=(attrs.evolve(SECRET, readers=("team",)),)),
     "undeclared_reader", "team", ("confidential", 0, "readers")),
    ({"confidential": (attrs.evolve(SECRET, opens_at=None, opens_on="sign"),)},
     "unknown_event", "sign", ("confidential", 0, "opens_on")),
    ({"confidential": (attrs.evolve(SECRET, per="topic"),)},
     "unknown_field", "comment.topic", ("confidential", 0, "per")),
    ({"waits": (Wait("done", on="boss"),)}, "unknown_state", "done", ("waits", 0, "states")),
    ({"waits": (Wait("open", on="boss"), Wait(("approved", "open"), on="clerk"))},
     "duplicate_wait", "open", ("waits", 1, "states")),
    ({"waits": (Wait("open", on="nobody"),)}, "undeclared_party", "nobody", ("waits", 0, "on")),
    ({"waits": (Wait("open", on="boss", until=Bound("owner"), then="clerk"),)},
     "undeclared_party", "owner", ("waits", 0, "until")),
    ({"waits": (Wait("open", on="boss", until=Fired("sign"), then="clerk"),)},
     "unknown_event", "sign", ("waits", 0, "until")),
    ({"waits": (Wait("open", on="boss", until=Fired("approve")),)},
     "bad_wait", "open", ("waits", 0, "then")),
    ({"waits": (Wait("open", on="boss", until=Answered("approve"), then="clerk"),)},
     "bad_wait", "boss", ("waits", 0, "on")),
    ({"waits": (Wait("approved", on="boss", due=Due("comment", "when")),)},
     "unknown_field", "comment.when", ("waits", 0, "due")),
    ({"labels": Labels(options=(OptionLabel("kind", "duo", "Duo", "Duo"),))},
     "unknown_option", "duo", ("labels", "options", 0)),
    ({"labels": Labels(guards=(GuardLabel("signed", "Non signé", "Unsigned", "Signé", "Signed"),))},
     "unknown_guard", "signed", ("labels", "guards", 0)),
    ({"labels": Labels(relabels=(Relabel("state", "lost", "Perdu", "Lost"),))},
     "unknown_label", "lost", ("labels", "relabels", 0)),
    ({"states": (*ticket().states, State("island", "Île", "Island"))},
     "unreachable_state", "island", ("states", "island")),
    ({"states": (*ticket().states, State("trap", "Piège", "Trap")),
      "transitions": (*ticket().transitions[:3],
                      attrs.evolve(ticket().transitions[3], sources=("open", "approved")),
                      Transition("fall", "open", "trap", "boss"))},
     "dead_end", "trap", ("states", "trap")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "kind", "subject", "location"), KINDS, ids=[f"{k[1]}-{k[2]}" for k in KINDS]
)
def test_each_problem_names_its_kind_subject_and_location(
    changes: dict[str, object], kind: str, subject: str, location: tuple[str | int, ...]
) -> None:
    error = broken(**changes)
    found = [(p.kind, p.subject, p.location) for p in error.definition_problems]
    assert (kind, subject, location) in found
    assert error.problems == tuple(p.message for p in error.definition_problems)


def test_every_kind_of_problem_is_shown_above_and_documented() -> None:
    shown = {kind for _, kind, _, _ in KINDS}
    documented = (Path(__file__).parent.parent / "docs" / "embedding.md").read_text("utf-8")
    assert all(f"`{kind}`" in documented for kind in shown)
    assert shown == set(re.findall(r'_problem\(\s*"(\w+)"', _validation_source()))


def _validation_source() -> str:
    return (Path(__file__).parent.parent / "src" / "stechnique" / "_validation.py").read_text()


def test_a_problem_reads_as_its_message() -> None:
    error = broken(states=(*ticket().states, State("island", "Île", "Island")))
    (problem,) = error.definition_problems
    assert problem == DefinitionProblem(
        "unreachable_state",
        "island",
        "state 'island' is unreachable from the initial state",
        ("states", "island"),
    )
    assert str(problem) == problem.message
    assert f"  - {problem.message}" in str(error)


def test_the_graph_is_judged_unless_a_transition_leaves_the_declared_states() -> None:
    island = State("island", "Île", "Island")
    lost = Transition("lost", "open", "nowhere", "boss")
    error = broken(states=(*ticket().states, island), transitions=(*ticket().transitions, lost))
    assert [p.kind for p in error.definition_problems] == ["unknown_state"]
    # A confidential rule opening at an unknown state leaves the graph whole: both are reported.
    rule = attrs.evolve(SECRET, opens_at="nowhere")
    error = broken(states=(*ticket().states, island), confidential=(rule,))
    assert [p.kind for p in error.definition_problems] == ["unknown_state", "unreachable_state"]


# -- parties: a valid declaration, and the payload-decided steps agree on their party ------


def test_a_ticket_with_parties_readers_and_coordinators_is_valid() -> None:
    helper = Party("helper", "Aide", "Helper", bound_by=(
        Binding("comment", "text", "add"), Binding("start", "title", "remove"),
    ))  # fmt: skip
    procedure = ticket(
        revision=2,
        **_parties(
            helper,
            confidential=(
                attrs.evolve(SECRET, readers=("owner",), opens_to=("helper", "boss"),
                             opens_at=None, opens_on="finish"),
            ),
        ),
    )  # fmt: skip
    assert [p.id for p in procedure.parties] == ["owner", "helper"]
    assert procedure.revision_key == "ticket@1/r2"


def test_payload_decided_transitions_must_agree_on_their_party() -> None:
    approve = Transition(
        "decide",
        "open",
        "approved",
        "boss",
        payload=CHOICE,
        when=("decision", "approve"),
        party="owner",
    )
    rework = attrs.evolve(approve, target="open", when=("decision", "rework"))
    ticket(**_with(approve, rework), **_parties())
    error = broken(**_with(approve, attrs.evolve(rework, party=None)), **_parties())
    assert [p.kind for p in error.definition_problems] == ["ambiguous_event"]
