"""The data-file loader reads revision 2's model: revision, parties, coordinators, the party of
a transition, ``opens_on`` / ``per`` of a confidential field; bad input is named and located."""

from __future__ import annotations

import attrs
import pytest
from small import ticket
from test_loader import TICKET, TICKET_GUARDS, _edit, at, errors_of, line_of_text

from stechnique import Binding, ConfidentialField, Party, load_procedure
from stechnique.workflows.drafts import CONVENTION_2013_R2_FILE
from stechnique.workflows.guards_r2 import GUARDS_R2

#: The ticket of ``small.py`` as revision 2: an owner party bound by who opened it, helpers
#: added by comments, the boss coordinating; the secret read by the owner, opened by finish.
PARTIES = """
revision = 2
coordinators = ["boss"]

[parties.owner]
fr = "Demandeur"
en = "Owner"
bound_by = [{ event = "start" }]

[parties.helper]
fr = "Aide"
en = "Helper"
bound_by = [
  { event = "comment", field = "text", how = "add" },
  { event = "cancel", field = "reason", how = "remove" },
]
"""
TICKET_R2 = _edit(
    TICKET,
    ('guards = ["approved", "has_note", "eligible"]\n',
     'guards = ["approved", "has_note", "eligible"]\n' + PARTIES),
    ('roles = "owner"\nguards', 'roles = "owner"\nparty = "owner"\nguards'),
    ('readers = "owner"\nopens_to = "boss"\nopens_at = "done"',
     'readers = "owner"\nopens_to = ["helper", "boss"]\nopens_on = "finish"\nper = "text"'),
)  # fmt: skip


def ticket_r2() -> object:
    """What ``TICKET_R2`` declares, written in Python."""
    base = ticket()
    finish = attrs.evolve(base.transitions[2], party="owner")
    secret = ConfidentialField(
        "comment", "secret", readers=("owner",), opens_to=("helper", "boss"),
        opens_on="finish", per="text", fr="Secret", en="Secret",
    )  # fmt: skip
    return ticket(
        revision=2,
        coordinators=("boss",),
        parties=(
            Party("owner", "Demandeur", "Owner", bound_by=(Binding("start"),)),
            Party(
                "helper",
                "Aide",
                "Helper",
                bound_by=(
                    Binding("comment", "text", "add"),
                    Binding("cancel", "reason", "remove"),
                ),
            ),
        ),
        transitions=(*base.transitions[:2], finish, base.transitions[3]),
        confidential=(secret,),
    )


def test_a_file_with_parties_declares_exactly_what_python_declares() -> None:
    loaded = load_procedure(TICKET_R2, guards=TICKET_GUARDS)
    assert loaded == ticket_r2()
    assert loaded.fingerprint == ticket_r2().fingerprint  # type: ignore[attr-defined]
    assert loaded.revision_key == "ticket@1/r2"


def test_the_2013_revision_2_draft_file_loads() -> None:
    procedure = load_procedure(CONVENTION_2013_R2_FILE, guards=GUARDS_R2)
    assert (procedure.key, procedure.revision) == ("convention-pluripartenariale@2013", 2)
    assert [p.id for p in procedure.parties] == [
        "centre", "steering_committee", "federation", "partner",
    ]  # fmt: skip
    assert procedure.coordinators == ()
    parties = {(t.event, t.party) for t in procedure.transitions}
    assert ("arbitrate", "steering_committee") in parties
    assert ("endorse_protocol", "partner") in parties
    assert ("withdraw", "centre") in parties


def test_the_2013_revision_2_file_needs_the_revision_2_guards() -> None:
    error = errors_of(str(CONVENTION_2013_R2_FILE))
    assert "unknown guard 'period_2013'" in at(error, "guards[2]").problem


# -- bad input, named and located ------------------------------------------------------------

#: A change to ``TICKET_R2``, the key of the problem it causes, what it says, where it is.
FILE_BREAKS = [
    (('party = "owner"', 'party = "ownr"'), "transitions[2].party",
     "unknown party 'ownr' (did you mean 'owner'?)", 'party = "ownr"'),
    (('{ event = "start" }', '{ event = "begin" }'), "parties.owner.bound_by[0].event",
     "unknown event 'begin'", 'bound_by = [{ event = "begin" }]'),
    (('how = "add"', 'how = "append"'), "parties.helper.bound_by[0].how",
     "unknown binding (how) 'append'", "bound_by = [\n  { event = \"comment\""),
    (('{ event = "start" }', '{ event = "start", who = "x" }'), "parties.owner.bound_by[0].who",
     "unknown key (did you mean 'how'?)", "bound_by = [{ event = \"start\", who"),
    (('bound_by = [{ event = "start" }]', 'bound_by = "start"'), "parties.owner.bound_by",
     "expected an array of tables", 'bound_by = "start"'),
    (('bound_by = [{ event = "start" }]\n', ""), "parties.owner.bound_by",
     "missing (expected an array of tables", "[parties.owner]"),
    (("revision = 2", "revision = 0"), "revision",
     "expected a revision, 1 or more, got 0", "revision = 0"),
    (("revision = 2", 'revision = "2"'), "revision", "expected an integer", 'revision = "2"'),
    (('coordinators = ["boss"]', 'coordinators = ["bos"]'), "coordinators",
     "unknown role 'bos' (did you mean 'boss'?)", "coordinators = "),
    (('readers = "owner"', 'readers = "clerk"'), "confidential[0].readers",
     "unknown party or coordinating role 'clerk'", 'readers = "clerk"'),
    (('opens_on = "finish"', 'opens_on = "finnish"'), "confidential[0].opens_on",
     "unknown event 'finnish' (did you mean 'finish'?)", 'opens_on = "finnish"'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "key", "says", "fragment"), FILE_BREAKS, ids=[b[1] for b in FILE_BREAKS]
)
def test_each_bad_party_input_is_named_at_its_line(
    change: tuple[str, str], key: str, says: str, fragment: str
) -> None:
    text = _edit(TICKET_R2, change)
    problem = at(errors_of(text, guards=TICKET_GUARDS), key)
    assert says in problem.problem
    assert problem.line == line_of_text(text, fragment)


DEFINITION_BREAKS = [
    (('field = "text", how', 'field = "note", how'), "unknown_field",
     "parties.helper.bound_by[0].field", "bound_by = [\n  { event = \"comment\""),
    (('per = "text"', 'per = "topic"'), "unknown_field", "confidential[0].per", 'per = "topic"'),
]  # fmt: skip


@pytest.mark.parametrize(("change", "kind", "key", "fragment"), DEFINITION_BREAKS)
def test_definition_problems_of_parties_come_back_located(
    change: tuple[str, str], kind: str, key: str, fragment: str
) -> None:
    text = _edit(TICKET_R2, change)
    error = errors_of(text, guards=TICKET_GUARDS)
    placed = [
        (found.kind, problem.key, problem.line)
        for found, problem in zip(error.definition_problems, error.file_problems, strict=True)
    ]
    assert (kind, key, line_of_text(text, fragment)) in placed


def test_a_party_declared_twice_is_not_valid_toml() -> None:
    # TOML itself refuses a table defined twice: the duplicate never reaches the checks.
    text = _edit(TICKET_R2, ("[parties.helper]", "[parties.owner]"))
    (problem,) = errors_of(text, guards=TICKET_GUARDS).file_problems
    assert problem.problem.startswith("not valid TOML")
    assert problem.line == text.splitlines().index("[parties.owner]", 10) + 1
