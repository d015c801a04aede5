"""The data-file loader: valid files, every error located by key and line, partner guards."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from small import APPROVED, ELIGIBLE, HAS_NOTE, the_case, ticket

from stechnique import (
    GUARDS,
    Actor,
    DefinitionError,
    Engine,
    FileProblem,
    Guard,
    GuardContext,
    GuardFailed,
    ProcedureFileError,
    Registry,
    load_procedure,
)
from stechnique.loader import _file_path
from stechnique.workflows import convention_pluripartenariale_2013

# A partner's own procedure, with a rule of its own (``budget_covers_amount``).
PARTNER = """\
name = "aide-projets-jeunes"
version = "1"
fr = "Aide aux projets de jeunes"
en = "Youth project grant"

[roles]
youth = { fr = "Jeune porteur de projet", en = "Young project leader" }
officer = { fr = "Chargé de mission", en = "Officer" }

[facts.project]
fr = "Projet"
en = "Project"

[facts.amount]
kind = "integer"
minimum = 1

[start]
roles = "youth"

[states.submitted]
initial = true
fr = "Demande déposée"
en = "Request submitted"

[states.granted]
terminal = true
fr = "Aide accordée"
en = "Grant awarded"

[states.refused]
terminal = true
fr = "Aide refusée"
en = "Grant refused"

[[transitions]]
event = "grant"
from = "submitted"
to = "granted"
roles = "officer"
guards = ["budget_covers_amount"]
payload.budget = { kind = "integer", minimum = 0 }

[[transitions]]
event = "refuse"
from = "*"
to = "refused"
roles = ["officer"]
payload.reason = { required = false }
"""


def _budget_covers_amount(context: GuardContext) -> bool:
    return int(context.payload.get("budget", 0)) >= int(context.facts["amount"])


BUDGET = Guard(
    "budget_covers_amount",
    "Le budget restant couvre le montant demandé",
    "The remaining budget covers the amount requested",
    _budget_covers_amount,
    uses_payload=True,
)
PARTNER_GUARDS = {"budget_covers_amount": BUDGET}


def errors_of(text: str, **kwargs: object) -> ProcedureFileError:
    with pytest.raises(ProcedureFileError) as caught:
        load_procedure(text, **kwargs)  # type: ignore[arg-type]
    return caught.value


def line_with(text: str, fragment: str) -> int:
    """The 1-based line of the only line containing ``fragment``."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, (fragment, lines)
    return lines[0]


def at(error: ProcedureFileError, key: str) -> FileProblem:
    found = [problem for problem in error.file_problems if problem.key == key]
    assert found, f"no problem at {key}; got {[str(p) for p in error.file_problems]}"
    return found[0]


# -- valid files ---------------------------------------------------------------------------


def test_the_published_convention_file_loads_and_is_the_registered_version() -> None:
    procedure = load_procedure(convention_pluripartenariale_2013.DATA_FILE)
    assert procedure.key == "convention-pluripartenariale@2013"
    registered = Engine().procedure("convention-pluripartenariale", "2013")
    # The registered version carries the reading rules, whom its cases wait on and its labels,
    # attached outside the file (and the fingerprint): nothing else differs.
    attached = attrs.evolve(
        procedure, reading=registered.reading, waits=registered.waits, labels=registered.labels
    )
    assert attached == registered
    assert [s.id for s in procedure.states] == [
        "protocol", "territorial_diagnosis", "priority_objectives", "social_project",
        "objectives_convention", "evaluation", "closed", "abandoned",
    ]  # fmt: skip
    assert {t.event for t in procedure.transitions} == {"submit_step", "arbitrate", "abandon"}
    assert procedure.guards == tuple(
        GUARDS[n] for n in ("selection_criteria", "step_submitted", "one_year_before_expiry")
    )


def test_a_path_object_a_path_string_and_the_text_give_the_same_procedure(tmp_path: Path) -> None:
    path = tmp_path / "aide.toml"
    path.write_text(PARTNER, encoding="utf-8")
    from_path = load_procedure(path, guards=PARTNER_GUARDS)
    assert load_procedure(str(path), guards=PARTNER_GUARDS) == from_path
    assert load_procedure(PARTNER, guards=PARTNER_GUARDS) == from_path


TICKET = """\
name = "ticket"
version = "1"
fr = "Ticket"
en = "Ticket"
guards = ["approved", "has_note", "eligible"]

[roles]
clerk = { fr = "Agent", en = "Clerk" }
boss = { fr = "Chef", en = "Boss" }
team = { fr = "Équipe", en = "Team" }

[case_roles.owner]
fact = "kind"
roles = { solo = "clerk", group = "team" }

[facts.title]
[facts.kind]
kind = "choice"
options = ["solo", "group"]

[start]
roles = ["clerk", "team"]
guards = ["eligible"]

[states]
open = { fr = "Ouvert", en = "Open", initial = true }
approved = { fr = "Approuvé", en = "Approved" }
done = { fr = "Terminé", en = "Done", terminal = true }
cancelled = { fr = "Annulé", en = "Cancelled", terminal = true }

[[transitions]]
event = "approve"
from = "open"
to = "approved"
roles = "boss"

[[transitions]]
event = "comment"
from = "approved"
to = "approved"
roles = ["clerk", "boss"]
payload = { text = {}, secret = { required = false } }

[[transitions]]
event = "finish"
from = "approved"
to = "done"
roles = "owner"
guards = ["approved", "has_note"]
payload.note = { required = false }

[[transitions]]
event = "cancel"
from = "*"
to = "cancelled"
roles = "owner"
payload.reason = {}

[[confidential]]
event = "comment"
field = "secret"
readers = "owner"
opens_to = "boss"
opens_at = "done"
fr = "Secret"
en = "Secret"
"""


def test_a_file_declares_exactly_what_python_declares() -> None:
    guards = {guard.name: guard for guard in (APPROVED, HAS_NOTE, ELIGIBLE)}
    loaded = load_procedure(TICKET, guards=guards)
    assert loaded == ticket()
    assert loaded.fingerprint == ticket().fingerprint


def test_a_partner_procedure_runs_with_its_own_guard() -> None:
    procedure = load_procedure(PARTNER, guards=PARTNER_GUARDS)
    clock = lambda: datetime(2024, 3, 1, tzinfo=UTC)  # noqa: E731
    engine = Engine(registry=Registry((procedure,)), clock=clock)
    youth, officer = Actor("lea", {"youth"}), Actor("agent-7", {"officer"})
    case = engine.start(
        "aide-projets-jeunes", actor=youth, facts={"project": "Radio", "amount": 800}
    )
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case.id, "grant", actor=officer, payload={"budget": 500})
    assert refused.value.names == ("budget_covers_amount",)
    assert the_case(engine, case.id).seq == 1
    case = engine.fire(case.id, "grant", actor=officer, payload={"budget": 1200})
    assert case.state == "granted"
    assert engine.audit().ok


# -- errors: where and what ----------------------------------------------------------------


def test_not_toml_is_located_at_its_line() -> None:
    text = PARTNER.replace('fr = "Projet"', 'fr = "Projet')
    error = errors_of(text)
    (problem,) = error.file_problems
    assert problem.line == line_with(text, 'fr = "Projet')
    assert problem.problem.startswith("not valid TOML")
    assert problem.file == "<text>"


def test_unknown_keys_are_named_with_a_suggestion_and_their_line() -> None:
    text = PARTNER.replace("initial = true", "inital = true").replace(
        'roles = "officer"', 'role = "officer"'
    )
    error = errors_of(text)
    typo = at(error, "states.submitted.inital")
    assert typo.line == line_with(text, "inital = true")
    assert "unknown key (did you mean 'initial'?)" in typo.problem
    assert at(error, "transitions[0].role").line == line_with(text, 'role = "officer"')
    missing = at(error, "transitions[0].roles")
    assert missing.problem.startswith("missing")
    assert missing.line == line_with(text, 'role = "officer"') - 4  # its [[transitions]] header


def test_wrong_types_are_named() -> None:
    text = PARTNER.replace('version = "1"', "version = 1").replace(
        'terminal = true\nfr = "Aide accordée"', 'terminal = "yes"\nfr = "Aide accordée"'
    )
    error = errors_of(text)
    assert at(error, "version").problem == "expected text, got int 1"
    assert at(error, "version").line == line_with(text, "version = 1")
    bad = at(error, "states.granted.terminal")
    assert bad.problem == "expected true or false, got text 'yes'"
    assert bad.line == line_with(text, 'terminal = "yes"')


def test_unknown_guards_list_the_known_ones() -> None:
    error = errors_of(
        PARTNER.replace('guards = ["budget_covers_amount"]', 'guards = ["step_submited"]')
    )
    problem = at(error, "transitions[0].guards")
    assert "unknown guard 'step_submited' (did you mean 'step_submitted'?)" in problem.problem
    assert all(name in problem.problem for name in GUARDS)


def test_a_partner_guard_is_unknown_until_given() -> None:
    error = errors_of(PARTNER)
    assert "unknown guard 'budget_covers_amount'" in at(error, "transitions[0].guards").problem


def test_bad_field_kinds_list_the_kinds() -> None:
    text = PARTNER.replace('kind = "integer"\nminimum = 1', 'kind = "int"\nminimum = 1')
    problem = at(errors_of(text), "facts.amount.kind")
    assert problem.problem.startswith("unknown field kind 'int'")
    assert "text, email, choice, choices, list, integer, boolean, date, object, objects" in (
        problem.problem
    )
    assert problem.line == line_with(text, 'kind = "int"')


def test_fields_need_what_their_kind_needs() -> None:
    text = PARTNER.replace(
        'payload.budget = { kind = "integer", minimum = 0 }',
        'payload.budget = { kind = "choice", minimum = 0 }',
    )
    error = errors_of(text, guards=PARTNER_GUARDS)
    assert at(error, "transitions[0].payload.budget.options").problem == (
        "missing: a choice field needs options"
    )
    assert at(error, "transitions[0].payload.budget.minimum").problem == (
        "a choice field takes no minimum"
    )
    assert at(error, "transitions[0].payload.budget.minimum").line == line_with(text, "payload.b")


def test_unknown_states_roles_and_payloads_are_located() -> None:
    text = (
        PARTNER.replace('to = "granted"', 'to = "grantd"')
        .replace('roles = ["officer"]', 'roles = ["oficer"]')
        .replace("payload.reason = { required = false }", 'payload = "refusal"')
    )
    error = errors_of(text, guards=PARTNER_GUARDS)
    to = at(error, "transitions[0].to")
    assert to.problem.startswith("unknown state 'grantd' (did you mean 'granted'?)")
    assert to.line == line_with(text, 'to = "grantd"')
    assert at(error, "transitions[1].roles").line == line_with(text, 'roles = ["oficer"]')
    assert "unknown payload 'refusal'" in at(error, "transitions[1].payload").problem
    assert len(error.file_problems) == 3
    assert str(to) == f"<text>:{to.line}: transitions[0].to: {to.problem}"


def test_when_must_name_one_field() -> None:
    text = PARTNER.replace('roles = "officer"', 'roles = "officer"\nwhen = { a = "x", b = "y" }')
    problem = at(errors_of(text, guards=PARTNER_GUARDS), "transitions[0].when")
    assert "expected one entry" in problem.problem
    assert problem.line == line_with(text, "when = {")


def test_rules_the_definition_checks_come_back_located(tmp_path: Path) -> None:
    text = PARTNER.replace('from = "*"', 'from = "granted"') + (
        '[states.lost]\nfr = "Perdu"\nen = "Lost"\n'
    )
    path = tmp_path / "aide.toml"
    path.write_text(text, encoding="utf-8")
    error = errors_of(str(path), guards=PARTNER_GUARDS)
    assert isinstance(error.__cause__, DefinitionError)
    exit_, unreachable, trapped = error.file_problems
    assert exit_.problem == "terminal state 'granted' has an exit: 'refuse'"
    assert (exit_.key, exit_.line) == ("states.granted", line_with(text, "[states.granted]"))
    assert unreachable.problem == "state 'lost' is unreachable from the initial state"
    assert (unreachable.key, unreachable.line) == ("states.lost", line_with(text, "states.lost"))
    assert trapped.problem == "state 'lost' has no path to a terminal state"
    assert str(trapped) == f"{path}:{unreachable.line}: states.lost: {trapped.problem}"


def test_transition_problems_of_the_definition_point_at_the_transition() -> None:
    text = PARTNER.replace('event = "refuse"', 'event = "start"')
    problem = at(errors_of(text, guards=PARTNER_GUARDS), "transitions[1]")
    assert problem.problem == "event 'start' is reserved by the engine"
    assert problem.line == line_with(text, 'event = "start"') - 1


def _edit(text: str, *changes: tuple[str, str], end: str = "") -> str:
    """``text`` with each ``(old, new)`` made once, each ``old`` found, and ``end`` added."""
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text + end


FALL = '\n[[transitions]]\nevent = "fall"\nfrom = "submitted"\nto = "limbo"\nroles = "officer"\n'
LIMBO = '\n[states.limbo]\nfr = "Limbes"\nen = "Limbo"\n'

#: Every kind of definition problem a well-formed file can still have (the file check catches
#: the others first): the broken file, and the key and text where the problem must be placed.
KIND_BREAKS = [
    ("initial_state", _edit(TICKET, ("Approved\" }", "Approved\", initial = true }")),
     "states.approved.initial", "approved = {"),
    ("initial_state", _edit(PARTNER, ("initial = true\n", "")), "states", "[states.submitted]"),
    ("initial_terminal", _edit(PARTNER, ("initial = true\n", "initial = true\nterminal = true\n")),
     "states.submitted.terminal", 'terminal = true\nfr = "Demande'),
    ("no_terminal", _edit(TICKET, (", terminal = true", ""), (", terminal = true", "")),
     "states", "[states]"),
    ("reserved_event", _edit(PARTNER, ('event = "refuse"', 'event = "migrate"')),
     "transitions[1]", '[[transitions]]\nevent = "migrate"'),
    ("terminal_exit", _edit(PARTNER, ('from = "*"', 'from = "granted"')),
     "states.granted", "[states.granted]"),
    ("not_a_choice", _edit(TICKET, ('roles = "boss"\n', 'roles = "boss"\nwhen = { d = "yes" }\n')),
     "transitions[0].when", "when = {"),
    ("not_an_option", _edit(TICKET, ('roles = "boss"\n', 'roles = "boss"\nwhen = { d = "maybe" }\n'
     'payload.d = { kind = "choice", options = ["yes", "no"] }\n')),
     "transitions[0].when", "when = {"),
    ("ambiguous_event", _edit(TICKET, ('event = "finish"', 'event = "comment"')),
     "transitions[2]", '[[transitions]]\nevent = "comment"\nfrom = "approved"\nto = "done"'),
    ("duplicate_guard", _edit(TICKET, ('"eligible"]', '"eligible", "approved"]')),
     "guards[3]", 'guards = ["approved", "has_note", "eligible", "approved"]'),
    ("role_clash", TICKET.replace("owner", "boss"), "case_roles.boss", "[case_roles.boss]"),
    ("not_a_choice", _edit(TICKET, ('fact = "kind"', 'fact = "title"')),
     "case_roles.owner.fact", 'fact = "title"'),
    ("not_an_option", _edit(TICKET, ("group = ", "groupe = ")),
     "case_roles.owner.roles.groupe", "groupe = "),
    ("unknown_field", _edit(TICKET, ('field = "secret"', 'field = "hidden"')),
     "confidential[0].field", 'field = "hidden"'),
    ("unreachable_state", _edit(PARTNER, end=LIMBO), "states.limbo", "[states.limbo]"),
    ("dead_end", _edit(PARTNER, ('from = "*"', 'from = "submitted"'), end=FALL + LIMBO),
     "states.limbo", "[states.limbo]"),
]  # fmt: skip
TICKET_GUARDS = {guard.name: guard for guard in (APPROVED, HAS_NOTE, ELIGIBLE)}


def line_of_text(text: str, fragment: str) -> int:
    """The 1-based line where the only occurrence of ``fragment`` (one line or more) starts."""
    assert text.count(fragment) == 1, fragment
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    ("kind", "text", "key", "fragment"),
    KIND_BREAKS,
    ids=[f"{kind}-{key}" for kind, _, key, _ in KIND_BREAKS],
)
def test_each_kind_of_definition_problem_is_placed_at_its_line_in_the_file(
    kind: str, text: str, key: str, fragment: str
) -> None:
    error = errors_of(text, guards={**PARTNER_GUARDS, **TICKET_GUARDS})
    pairs = list(zip(error.definition_problems, error.file_problems, strict=True))
    assert all(found.message == problem.problem for found, problem in pairs)
    placed = [(problem.key, problem.line) for found, problem in pairs if found.kind == kind]
    assert (key, line_of_text(text, fragment)) in placed


def test_definition_locations_with_other_names_in_the_file() -> None:
    document = {"transitions": [{}, {}], "guards": ["a", "b", "a"]}
    assert _file_path(("transitions", 1, "target"), document) == ("transitions", 1, "to")
    assert _file_path(("transitions", 1, "sources"), document) == ("transitions", 1, "from")
    assert _file_path(("start_roles",), document) == ("start", "roles")
    assert _file_path(("start_guards",), document) == ("start", "guards")
    assert _file_path(("guards", "a"), document) == ("guards", 2)
    assert _file_path(("states", "open", "initial"), document) == ("states", "open", "initial")


def test_every_problem_is_reported_at_once_as_a_definition_error() -> None:
    text = (
        PARTNER.replace('fr = "Aide aux projets de jeunes"\n', "")
        .replace('kind = "integer"\nminimum = 1', 'kind = "number"')
        .replace('to = "granted"', 'to = "nowhere"')
    )
    with pytest.raises(DefinitionError) as caught:
        load_procedure(text)
    error = caught.value
    assert isinstance(error, ProcedureFileError)
    keys = [p.key for p in error.file_problems]
    assert keys == ["facts.amount.kind", "transitions[0].to", "transitions[0].guards", "fr"]
    assert error.problems == tuple(str(p) for p in error.file_problems)
    assert "<text>:" in str(error)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(PARTNER.replace("Chargé", "Charg\xe9").encode("latin-1"))
    (problem,) = errors_of(str(path)).file_problems
    assert problem.file == str(path)
    assert problem.problem.startswith("not UTF-8 text")


def test_partner_guards_must_be_named_as_given_and_not_replace_built_in_ones() -> None:
    renamed = {"budget": BUDGET}
    with pytest.raises(DefinitionError, match="guard given as 'budget' is named"):
        load_procedure(PARTNER, guards=renamed)
    impostor = Guard("step_submitted", "Toujours", "Always", lambda context: True)
    with pytest.raises(DefinitionError, match="'step_submitted' is built in"):
        load_procedure(PARTNER, guards={"step_submitted": impostor})
    same = load_procedure(
        PARTNER, guards={**PARTNER_GUARDS, "step_submitted": GUARDS["step_submitted"]}
    )
    assert same.key == "aide-projets-jeunes@1"


def test_a_guard_used_but_not_in_the_files_guard_list_is_refused() -> None:
    text = PARTNER.replace(
        'en = "Youth project grant"\n', 'en = "Youth project grant"\nguards = []\n'
    )
    problem = at(errors_of(text, guards=PARTNER_GUARDS), "transitions[0].guards")
    assert "not in the file's guards" in problem.problem


#: The data-file guide in French (docs/data-files.md) and English (docs/data-files.en.md): the
#: headings around its complete example, and the words before the loader's error.
_DATA_FILE_PAGES = [
    pytest.param("data-files.md", "## Un exemple complet", "## Les erreurs", "dit :", id="fr"),
    pytest.param("data-files.en.md", "## A complete example", "## Errors", "says:", id="en"),
]


@pytest.mark.parametrize(("page", "example_heading", "errors_heading", "says"), _DATA_FILE_PAGES)
def test_the_complete_example_of_the_data_file_docs_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    example_heading: str,
    errors_heading: str,
    says: str,
) -> None:
    doc = (Path(__file__).parent.parent / "docs" / page).read_text(encoding="utf-8")
    example = doc.split(example_heading, 1)[1].split(errors_heading, 1)[0]
    toml = example.split("```toml\n", 1)[1].split("```", 1)[0]
    python = example.split("```python\n", 1)[1].split("```", 1)[0]
    assert toml == PARTNER
    (tmp_path / "aide-projets-jeunes.toml").write_text(toml, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(python, "docs/data-files.md", "exec"), namespace)
    procedure = namespace["procedure"]
    assert procedure == load_procedure(PARTNER, guards=PARTNER_GUARDS)


@pytest.mark.parametrize(("page", "example_heading", "errors_heading", "says"), _DATA_FILE_PAGES)
def test_the_error_shown_in_the_data_file_docs_is_what_the_loader_says(
    tmp_path: Path, page: str, example_heading: str, errors_heading: str, says: str
) -> None:
    doc = (Path(__file__).parent.parent / "docs" / page).read_text(encoding="utf-8")
    shown = doc.split(f"{says}\n\n```text\n", 1)[1].split("```", 1)[0].splitlines()
    text = (
        PARTNER.replace('version = "1"', "version = 1")
        .replace('[facts.project]\nfr = "Projet"\nen = "Project"\n\n', "")
        .replace('kind = "integer"\nminimum = 1', 'kind = "number"')
        .replace("initial = true", "inital = true")
        .replace('to = "granted"', 'to = "grantd"')
    )
    path = tmp_path / "aide.toml"
    path.write_text(text, encoding="utf-8")
    # The page quotes the English text.
    said = errors_of(str(path)).en.replace(str(path), "aide.toml").splitlines()
    assert said[0] == shown[0]
    for line, expected in zip(said[1:], shown[1:], strict=True):
        assert line.startswith(expected.removesuffix("..."))
