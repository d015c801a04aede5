"""The ``stechnique`` command, through its real entry points.

Most tests run the Typer ``app`` in-process with ``CliRunner`` (fast); each command family is
also run at least once as the installed console script in a subprocess, as a user would. Every
store is a real SQLite file in a temporary directory, prepared through the public engine API.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console
from small import AS_AUDITOR, AS_AUDITOR_CLI, all_cases, the_case
from sql_support import SQLBackend
from typer.testing import CliRunner

from stechnique import Actor, Engine, SchemaOutOfDate, default_registry, export_jsonl
from stechnique._metadata import UNKNOWN_VERSION, installed_version
from stechnique.cli import app
from stechnique.cli._commands import audit_with_progress, import_with_progress
from stechnique.cli._support import load_stories, shown_url
from stechnique.i18n import both_n
from stechnique.storage import SQLStorage, upgrade_schema
from stechnique.storage._sql_upgrade import head_revision

MSTR = "soutien-technique-renforce"
ADMIN = Actor("ca-belle-de-mai", {"administrator"})
CAF = Actor("caf-13-coordination", {"caf_coordinator"})
FUNDER = Actor("caf-13", {"funder"})
PROVIDER = Actor("cabinet-conseil", {"provider"})
REPORT = "Trésorerie inférieure à un mois de charges."
FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["governance"],
}
SCRIPT = Path(sys.executable).with_name("stechnique")
WIDE = {"COLUMNS": "250", "NO_COLOR": "1"}
# A developer's own store settings must never leak into the tests' commands.
OWN_SETTINGS = (
    "STECHNIQUE_DB",
    "STECHNIQUE_TABLE_PREFIX",
    "STECHNIQUE_DEBUG",
    "STECHNIQUE_CHECKPOINT_KEY",
    "STECHNIQUE_LANG",
)
COMMANDS = [
    ["procedures"],
    ["show"],
    ["diagram"],
    ["start"],
    ["fire"],
    ["migrate"],
    ["cases"],
    ["history"],
    ["timeline"],
    ["explain"],
    ["waiting"],
    ["demo"],
    ["audit"],
    ["export"],
    ["import"],
    ["db"],
    ["db", "upgrade"],
    ["checkpoint"],
    ["checkpoint", "export"],
    ["checkpoint", "verify"],
    ["serve"],
    ["accounts"],
    ["accounts", "add"],
    ["accounts", "list"],
    ["accounts", "revoke"],
]
#: Command groups, and ``demo``, which writes into a store of its own (never STECHNIQUE_DB).
NO_STECHNIQUE_DB = (["db"], ["checkpoint"], ["demo"], ["accounts"])
#: Reading as the CAF coordinator, who sees every MSTR case.
CAF_AS = ("--as", "caf-coordination:caf_coordinator")


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A fresh SQLite store URL in a temporary directory."""
    return f"sqlite:///{tmp_path / 'cli.db'}"


def cli(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run the app in-process; return exit code, stdout and stderr."""
    unset: dict[str, str | None] = dict.fromkeys(OWN_SETTINGS)
    result = CliRunner().invoke(app, list(args), env={**unset, **WIDE, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def script(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    assert SCRIPT.exists(), f"the console script is not installed next to {sys.executable}"
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={
            **{k: v for k, v in os.environ.items() if k not in OWN_SETTINGS},
            **WIDE,
            **(env or {}),
        },
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture
def engine(db: str) -> Iterator[Engine]:
    """An engine over the same store the commands use."""
    storage = SQLStorage(db)
    yield Engine(storage)
    storage.close()


def report_sent(engine: Engine, case_id: str = "mstr-bdm") -> str:
    """An MSTR case whose confidential diagnosis report was sent but not yet validated."""
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id=case_id)
    steps: list[tuple[str, Actor, dict[str, object]]] = [
        ("refer", CAF, {"funders": [FUNDER.id]}),
        ("record_funder_decision", FUNDER, {"decision": "approve"}),
        ("validate", CAF, {}),
        ("acknowledge_confidentiality", PROVIDER, {}),
        ("start_diagnosis", PROVIDER, {}),
        ("submit_report", PROVIDER, {"report": REPORT}),
    ]
    for event, actor, payload in steps:
        engine.fire(case_id, event, actor=actor, payload=payload)
    return case_id


def one_error_line(code: int, stderr: str, *fragments: str) -> None:
    """A refused command: exit 2, one ``erreur :`` line (French by default) naming the problem,
    no traceback."""
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("erreur : ")
    assert "internal error" not in lines[0]
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


def records_of(engine: Engine, case_id: str) -> list[tuple[int, str]]:
    """(seq, hash) of every stored record of a case."""
    return [(record.seq, record.hash) for record in engine.storage.records(case_id)]


# -- help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    code, out, _ = cli(*command, "--help")
    assert code == 0
    assert "Usage" in out
    assert "stechnique " + " ".join(command) in out


def test_console_script_help_lists_every_command() -> None:
    done = script("--help")
    assert done.returncode == 0, done.stderr
    for command in {c[0] for c in COMMANDS}:
        assert command in done.stdout


def test_every_store_command_takes_db_and_the_environment() -> None:
    for command in [c for c in COMMANDS if c not in NO_STECHNIQUE_DB]:
        _, out, _ = cli(*command, "--help")
        assert "--db" in out, command
        assert "STECHNIQUE_DB" in out, command


# -- procedures and show ------------------------------------------------------------------


def test_procedures_lists_every_published_version_with_its_fingerprint() -> None:
    done = script("procedures")
    assert done.returncode == 0, done.stderr
    for procedure in default_registry():
        assert procedure.name in done.stdout
        assert procedure.version in done.stdout
        assert procedure.fingerprint[:12] in done.stdout


@pytest.mark.parametrize("key", [p.key for p in default_registry()])
def test_show_tables_hold_every_state_transition_role_and_guard_in_french(key: str) -> None:
    name, version = key.split("@")
    procedure = default_registry().get(name, version)
    code, out, _ = cli("show", key, env={"COLUMNS": "1000"})  # no cell wraps
    assert code == 0
    assert procedure.fingerprint in out
    for state in procedure.states:
        assert state.id in out
        assert state.fr in out
    for transition in procedure.transitions:
        assert transition.event in out
        assert transition.fr in out
    for role in procedure.roles:
        assert role.fr in out
    for guard in procedure.guards:
        assert guard.name in out
        assert guard.fr in out
    # Revision 1 names its source by a path readers do not have: the title is shown instead.
    assert "seeds/" not in out
    assert "(seed " not in out


def test_show_without_version_is_the_latest() -> None:
    latest = default_registry().latest(MSTR)
    code, out, _ = cli("show", MSTR)
    assert code == 0
    assert latest.fingerprint in out


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [("no-such-procedure", "procédure inconnue no-such-procedure"), (f"{MSTR}@1999", "@1999")],
)
def test_show_unknown_procedure_is_one_error_line(argument: str, fragment: str) -> None:
    code, _, err = cli("show", argument)
    one_error_line(code, err, fragment, "enregistrées :")


def test_show_malformed_reference() -> None:
    code, _, err = cli("show", f"{MSTR}@")
    one_error_line(code, err, "NOM@VERSION")


# -- diagram ------------------------------------------------------------------------------


def test_diagram_mermaid_and_dot_need_no_program(tmp_path: Path) -> None:
    key = f"{MSTR}@2015-2017"
    code, out, err = cli("diagram", key, "--format", "mermaid", env={"PATH": str(tmp_path)})
    assert code == 0, err
    assert out.startswith("---\n")
    assert "stateDiagram-v2" in out
    assert "Saisine concertée" in out
    code, out, _ = cli("diagram", key, "-f", "dot", "-o", str(tmp_path / "mstr.dot"))
    assert code == 0
    assert (tmp_path / "mstr.dot").read_text(encoding="utf-8").startswith("digraph ")


def test_diagram_highlights_the_path_a_case_took(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    code, plain, _ = cli("diagram", f"{MSTR}@2015-2017", "--db", db)
    assert code == 0
    code, marked, _ = cli("diagram", f"{MSTR}@2015-2017", "--case", case_id, *CAF_AS, "--db", db)
    assert code == 0
    assert "✔" not in plain
    assert "requested --> referred : refer ✔" in marked
    assert "diagnosis --> report_sent : submit_report ✔" in marked
    assert "report_sent --> report_validated : validate_report ✔" not in marked


def test_diagram_of_a_case_of_another_procedure_is_refused(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    code, _, err = cli(
        "diagram", "convention-pluripartenariale", "--case", case_id, *CAF_AS, "--db", db
    )
    one_error_line(code, err, case_id, MSTR)


def test_diagram_svg_without_graphviz_says_how_to_get_it(tmp_path: Path) -> None:
    done = script("diagram", f"{MSTR}@2019", "--format", "svg", env={"PATH": str(tmp_path)})
    one_error_line(done.returncode, done.stderr, "Graphviz", "apt-get install graphviz")
    assert done.stdout == ""


@pytest.mark.skipif(
    not any((Path(p) / "dot").exists() for p in os.environ.get("PATH", "").split(os.pathsep)),
    reason="Graphviz's dot program is not installed here",
)
def test_diagram_svg_and_png_with_graphviz(tmp_path: Path) -> None:
    code, out, _ = cli("diagram", f"{MSTR}@2019", "-f", "svg")
    assert code == 0
    assert "<svg" in out
    assert "Demande déposée" in out
    code, _, _ = cli("diagram", f"{MSTR}@2019", "-f", "png", "-o", str(tmp_path / "d.png"))
    assert code == 0
    assert (tmp_path / "d.png").read_bytes().startswith(b"\x89PNG")


# -- start, fire, cases -------------------------------------------------------------------


def test_start_fire_cases_through_the_console_script(db: str, engine: Engine) -> None:
    started = script(
        "start", f"{MSTR}@2015-2017", "--actor", ADMIN.id, "--role", "administrator",
        "--facts", json.dumps(FACTS), "--case-id", "c1", "--db", db,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "Fiche d'information transmise" in started.stdout
    fired = script(
        "fire", "c1", "refer", "--actor", CAF.id, "--role", "caf_coordinator",
        "--payload", '{"funders": ["caf-13"]}', "--db", db,
    )  # fmt: skip
    assert fired.returncode == 0, fired.stderr
    assert "Saisine concertée" in fired.stdout
    assert "seq 2" in fired.stdout
    case = the_case(engine, "c1")
    assert (case.state, case.seq) == ("referred", 2)
    code, out, _ = cli("cases", *AS_AUDITOR_CLI, "--db", db)
    assert code == 0
    assert "c1" in out
    assert "Saisine concertée (referred)" in out


def test_db_comes_from_the_environment(db: str, engine: Engine) -> None:
    report_sent(engine, "from-env")
    code, out, _ = cli("cases", *AS_AUDITOR_CLI, env={"STECHNIQUE_DB": db})
    assert code == 0
    assert "from-env" in out


def test_fire_payload_from_a_file(db: str, engine: Engine, tmp_path: Path) -> None:
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id="c2")
    payload = tmp_path / "payload.json"
    payload.write_text('{"funders": ["caf-13", "etat"]}', encoding="utf-8")
    code, _, err = cli(
        "fire", "c2", "refer", "--actor", CAF.id, "--role", "caf_coordinator",
        "--payload", f"@{payload}", "--db", db,
    )  # fmt: skip
    assert code == 0, err
    assert engine.storage.records("c2")[-1].payload == {"funders": ["caf-13", "etat"]}


def test_cases_filters(db: str, engine: Engine) -> None:
    report_sent(engine, "a")
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id="b")
    code, out, _ = cli("cases", *AS_AUDITOR_CLI, "--state", "report_sent", "--db", db)
    assert code == 0
    assert "│ a " in out
    assert "│ b " not in out
    code, out, _ = cli("cases", *AS_AUDITOR_CLI, "--name", MSTR, "--version", "2019", "--db", db)
    assert code == 0
    assert "│ a " not in out
    assert "│ b " not in out


FIRE_FAILURES = [
    pytest.param(
        ["--payload", '{"funders": ['], "--payload n'est pas du JSON valide", id="bad-json"
    ),
    pytest.param(["--payload", "[1, 2]"], "doit être un objet JSON", id="not-an-object"),
    pytest.param(["--payload", "@/no/such/file.json"], "impossible de lire", id="missing-file"),
    pytest.param(
        ["--payload", '{"funders": []}'], "données de 'refer' non valides", id="invalid-data"
    ),
]


@pytest.mark.parametrize(("extra", "fragment"), FIRE_FAILURES)
def test_fire_bad_payload_is_refused_and_writes_nothing(
    db: str, engine: Engine, extra: list[str], fragment: str
) -> None:
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id="c3")
    before = records_of(engine, "c3")
    code, _, err = cli(
        "fire", "c3", "refer", "--actor", CAF.id, "--role", "caf_coordinator", *extra, "--db", db
    )
    one_error_line(code, err, fragment)
    assert records_of(engine, "c3") == before


REFUSALS = [
    pytest.param("validate", CAF, "caf_coordinator", "validated_by_funders", id="guard"),
    pytest.param("close", CAF, "caf_coordinator", "possibles :", id="invalid-event"),
    pytest.param("validate", FUNDER, "funder", "rôles requis : Coordination Caf", id="role"),
]


@pytest.mark.parametrize(("event", "actor", "role", "fragment"), REFUSALS)
def test_refused_event_is_one_line_and_writes_nothing(
    db: str, engine: Engine, event: str, actor: Actor, role: str, fragment: str
) -> None:
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id="c4")
    engine.fire("c4", "refer", actor=CAF, payload={"funders": [FUNDER.id]})
    before = records_of(engine, "c4")
    code, _, err = cli("fire", "c4", event, "--actor", actor.id, "--role", role, "--db", db)
    one_error_line(code, err, event, fragment)
    assert records_of(engine, "c4") == before


def test_start_refusals(db: str, engine: Engine) -> None:
    code, _, err = cli(
        "start", MSTR, "--actor", "x", "--role", "structure", "--facts", "{}", "--db", db
    )
    one_error_line(code, err, "faits de soutien-technique-renforce@2019 non valides")
    code, _, err = cli(
        "start", "nope@1", "--actor", "x", "--role", "r", "--facts", "{}", "--db", db
    )
    one_error_line(code, err, "procédure inconnue nope@1")
    assert all_cases(engine) == []


def test_unknown_case(db: str) -> None:
    code, _, err = cli("fire", "ghost", "refer", "--actor", "a", "--role", "r", "--db", db)
    one_error_line(code, err, "dossier inconnu 'ghost'")
    code, _, err = cli("history", "ghost", *AS_AUDITOR_CLI, "--db", db)
    one_error_line(code, err, "dossier inconnu 'ghost'")


def test_missing_option_is_a_usage_error() -> None:
    code, _, err = cli("fire", "c1", "refer")
    assert code == 2
    # Both are missing; which one is named first depends on the typer release (0.16: --role).
    assert "Missing option '--actor'" in err or "Missing option '--role'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("url", ["stechnique.db", "foo://bar"])
def test_bad_db_url(url: str) -> None:
    code, _, err = cli("cases", *AS_AUDITOR_CLI, "--db", url)
    one_error_line(code, err, url)


# -- history ------------------------------------------------------------------------------


def test_history_as_funder_and_as_manager(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    funder = script("history", case_id, "--as", "caf-13:funder", "--db", db)
    manager = script("history", case_id, "--as", f"{ADMIN.id}:administrator", "--db", db)
    assert funder.returncode == 0, funder.stderr
    assert manager.returncode == 0, manager.stderr
    assert "vu par caf-13 (Partenaire financeur)" in funder.stdout
    assert REPORT not in funder.stdout
    assert "« confidentiel »" in funder.stdout
    assert REPORT in manager.stdout
    assert "« confidentiel »" not in manager.stdout
    assert re.findall(r"^│ +(\d+) │", funder.stdout, re.MULTILINE) == [str(n) for n in range(1, 8)]


def test_history_without_viewer_shows_everything(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    code, out, _ = cli("history", case_id, *AS_AUDITOR_CLI, "--db", db)
    assert code == 0
    assert REPORT in out
    assert "Transmettre le rapport au gestionnaire (submit_report)" in out


@pytest.mark.parametrize("viewer", ["caf-13", "caf-13:", ":funder", "caf-13:funder,", ""])
def test_history_bad_as_syntax(db: str, engine: Engine, viewer: str) -> None:
    case_id = report_sent(engine)
    code, _, err = cli("history", case_id, "--as", viewer, "--db", db)
    one_error_line(code, err, "ID:RÔLE")


# -- audit --------------------------------------------------------------------------------


def tamper_payload(db: str, case_id: str, seq: int) -> None:
    """Change a stored record's payload behind the library's back."""
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        changed = connection.execute(
            "UPDATE stechnique_records SET payload = ? WHERE case_id = ? AND seq = ?",
            (json.dumps({"report": "Tout va bien."}), case_id, seq),
        ).rowcount
    assert changed == 1


def test_audit_clean_then_tampered(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    clean = script("audit", "--db", db)
    assert clean.returncode == 0, clean.stderr
    assert "conforme" in clean.stdout
    tamper_payload(db, case_id, 7)
    tampered = script("audit", "--db", db)
    assert tampered.returncode == 1
    assert "VIOLATIONS" in tampered.stdout
    assert f"│ {case_id} │ 7   │ hash" in tampered.stdout


def test_audit_json(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    report_sent(engine, "other")
    code, out, _ = cli("audit", "--json", "--db", db)
    assert code == 0
    clean = json.loads(out)
    assert clean["ok"] is True
    assert (clean["cases_checked"], clean["records_checked"]) == (2, 14)
    tamper_payload(db, case_id, 7)
    code, out, _ = cli("audit", "--json", "--db", db)
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert {(v["case_id"], v["seq"], v["code"]) for v in report["violations"]} >= {
        (case_id, 7, "hash")
    }
    code, out, _ = cli("audit", "--json", "--case", "other", "--db", db)
    assert code == 0
    assert json.loads(out)["cases_checked"] == 1


def test_audit_since(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, out, _ = cli("audit", "--json", "--since", "2999-01-01", "--db", db)
    assert code == 3  # nothing written since: nothing audited, which is not « conforme »
    assert json.loads(out)["records_checked"] == 0
    assert json.loads(out)["result"] == "nothing_selected"
    code, _, err = cli("audit", "--since", "yesterday", "--db", db)
    one_error_line(code, err, "--since", "ISO 8601")


@pytest.mark.parametrize(("from_cases", "drawn"), [(1, True), (3, False)])
def test_audit_progress_bar_on_large_stores_only(
    engine: Engine, from_cases: int, drawn: bool
) -> None:
    report_sent(engine, "a")
    report_sent(engine, "b")
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, color_system=None, width=100)
    scope = {"case_id": None, "name": None, "version": None, "since": None}
    report = audit_with_progress(engine, scope, terminal, from_cases=from_cases)
    assert (report.ok, report.cases_checked, report.records_checked) == (True, 2, 14)
    assert ("2/2 dossiers / cases" in screen.getvalue()) is drawn


# -- export, import, db upgrade -----------------------------------------------------------


def test_export_import_round_trip(db: str, engine: Engine, tmp_path: Path) -> None:
    case_id = report_sent(engine)
    exported = tmp_path / "all.jsonl"
    done = script("export", *AS_AUDITOR_CLI, "--format", "jsonl", "-o", str(exported), "--db", db)
    assert done.returncode == 0, done.stderr
    assert f"exporté vers {exported} : 7 enregistrements" in done.stderr
    restored = f"sqlite:///{tmp_path / 'restored.db'}"
    done = script("import", str(exported), "--db", restored)
    assert done.returncode == 0, done.stderr
    assert ": 1 dossier, 7 enregistrements" in done.stderr
    storage = SQLStorage(restored)
    try:
        assert [(r.seq, r.hash) for r in storage.records(case_id)] == records_of(engine, case_id)
    finally:
        storage.close()
    assert cli("audit", "--db", restored)[0] == 0


def test_export_csv_as_a_funder_is_redacted(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, out, _ = cli("export", "-f", "csv", "--as", "caf-13:funder", "--db", db)
    assert code == 0
    assert out.startswith("case_id,seq,")
    assert REPORT not in out
    code, out, _ = cli("export", *AS_AUDITOR_CLI, "-f", "csv", "--db", db)
    assert REPORT in out


@pytest.mark.parametrize(("from_lines", "drawn"), [(1, True), (15, False)])
def test_import_progress_bar_on_large_files_only(
    engine: Engine, tmp_path: Path, from_lines: int, drawn: bool
) -> None:
    report_sent(engine, "a")
    report_sent(engine, "b")
    exported = tmp_path / "all.jsonl"
    export_jsonl(engine.storage, exported, **AS_AUDITOR)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, color_system=None, width=100)
    restored = Engine(SQLStorage(f"sqlite:///{tmp_path / 'restored.db'}"))
    report = import_with_progress(restored, exported, terminal, from_lines=from_lines)
    restored.storage.close()
    assert (report.cases, report.records) == (2, 14)
    assert ("14/14 enregistrements / records" in screen.getvalue()) is drawn


def test_import_refusals(db: str, engine: Engine, tmp_path: Path) -> None:
    report_sent(engine)
    exported = tmp_path / "all.jsonl"
    assert cli("export", *AS_AUDITOR_CLI, "-o", str(exported), "--db", db)[0] == 0
    code, _, err = cli("import", str(exported), "--db", db)
    one_error_line(code, err, "empty store")
    code, _, err = cli("import", str(tmp_path / "none.jsonl"), "--db", db)
    one_error_line(code, err, "none.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"x": 1}\n', encoding="utf-8")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, _, err = cli("import", str(broken), "--db", fresh)
    one_error_line(code, err, "line 1")


def test_db_upgrade_prepares_a_store_opened_without_upgrading(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    done = script("db", "upgrade", "--db", url, "--table-prefix", "partner_")
    assert done.returncode == 0, done.stderr
    assert f"tables partner_* créées (révision {head_revision()})" in done.stderr
    assert f"tables partner_* créées (révision {head_revision()})" in done.stderr
    assert "up to date" not in done.stderr
    storage = SQLStorage(url, table_prefix="partner_", upgrade=False)
    storage.close()
    code, _, err = cli("--table-prefix", "partner_", "db", "upgrade", "--db", url)
    assert code == 0
    assert "tables partner_* déjà à jour" in err
    upgrade_schema(url, table_prefix="older_", revision="0001")
    code, _, err = cli("db", "upgrade", "--db", url, env={"STECHNIQUE_TABLE_PREFIX": "older_"})
    assert code == 0
    assert "tables older_* mises à jour depuis 0001" in err
    assert "tables older_* mises à jour depuis 0001" in err
    code, _, err = cli("db", "upgrade", "--db", url, "--table-prefix", "bad-prefix")
    one_error_line(code, err, "bad-prefix")


def test_table_prefix_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prefixed.db'}"
    storage = SQLStorage(url, table_prefix="partner_")
    report_sent(Engine(storage), "prefixed")
    storage.close()
    code, out, _ = cli(
        "cases", *AS_AUDITOR_CLI, "--db", url, env={"STECHNIQUE_TABLE_PREFIX": "partner_"}
    )
    assert code == 0
    assert "prefixed" in out
    code, out, err = cli(
        "cases", *AS_AUDITOR_CLI, "--db", url
    )  # the default prefix has no tables here
    one_error_line(code, err, "aucun magasin stechnique à", "'stechnique_'")
    assert "prefixed" not in out


# -- demo ---------------------------------------------------------------------------------


def stored(url: str) -> list[tuple[str, int, str]]:
    """Every record of the store as (case id, seq, hash)."""
    storage = SQLStorage(url)
    try:
        return [(r.case_id, r.seq, r.hash) for r in storage.iter_records()]
    finally:
        storage.close()


def test_demo_runs_every_story_twice_safely_in_its_own_store(tmp_path: Path) -> None:
    """``pip install . && stechnique demo``, twice, in a fresh directory: the README's command.

    ``STECHNIQUE_DB`` names another store: the demo never writes there."""
    stories = load_stories()
    assert len(stories) >= 4
    elsewhere = {"STECHNIQUE_DB": f"sqlite:///{tmp_path / 'production.db'}"}
    first = script("demo", cwd=tmp_path, env=elsewhere)
    assert first.returncode == 0, first.stderr
    url = f"sqlite:///{tmp_path / 'stechnique-demo.db'}"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stechnique-demo.db"]
    after_first = stored(url)
    assert after_first
    written = len(after_first)
    cases = len({case_id for case_id, _, _ in after_first})
    said = f"Démo : {len(stories)} histoires, {cases} dossiers dans {url} ({written} "
    assert said + "enregistrements écrits)" in first.stdout
    assert f"audit conforme ({cases} dossiers, {written} enregistrements)" in first.stdout
    for case_id in {case_id for case_id, _, _ in after_first}:
        assert f"Dossier {case_id}" in first.stdout
    # The second time, in English (--lang): the summary in that language only.
    second = script("--lang", "en", "demo", cwd=tmp_path, env=elsewhere)
    assert second.returncode == 0, second.stderr
    assert stored(url) == after_first
    said = f"Demo: {len(stories)} stories, {cases} cases in {url} (nothing new written); "
    assert said + f"audit compliant ({cases} cases, {written} records)" in second.stdout
    assert "Démo :" not in second.stdout


def test_demo_refuses_a_store_holding_other_cases(db: str, engine: Engine) -> None:
    """Histories cannot be removed: the demo writes into another store only when told to. A
    case with one of the demo's ids but another history is not the demo's either."""
    report_sent(engine, "real-case")
    report_sent(engine, "mstr-belle-de-mai")  # the id of story 1, another history
    before = stored(db)
    code, _, err = cli("demo", "--db", db)
    one_error_line(code, err, "contient 2 dossiers étrangers à la démo", "--into-existing-store")
    assert "contient 2 dossiers étrangers à la démo" in err
    assert "real-case" not in err
    assert stored(db) == before


def test_demo_into_an_existing_store_when_told(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with SQLStorage(url) as storage:
        report_sent(Engine(storage), "real-case")
    before = stored(url)
    code, out, err = cli("demo", "--db", url, "--into-existing-store")
    assert code == 0, err
    assert set(before) < set(stored(url))
    assert "Démo : 5 histoires, 6 dossiers dans" in out  # its own six are audited, not the others
    code, _, err = cli("demo", "--db", url)
    one_error_line(code, err, "contient 1 dossier étranger à la démo")


def test_demo_without_stories_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(Exception, match="tell"):
        load_stories(tmp_path)


def test_stories_are_found_in_the_source_tree() -> None:
    names: Sequence[str] = [name for name, _ in load_stories()]
    assert names == sorted(names)
    assert names[0].startswith("01_")


# -- every SQL backend --------------------------------------------------------------------


def test_commands_on_every_sql_backend(sql_backend: SQLBackend, sql_storage: SQLStorage) -> None:
    """``--db`` reaches PostgreSQL and MariaDB as it reaches SQLite (prefix from the env)."""
    case_id = report_sent(Engine(sql_storage))
    env = {"STECHNIQUE_TABLE_PREFIX": sql_backend.prefix}
    db = ["--db", sql_backend.url]
    code, out, _ = cli("history", case_id, "--as", "caf-13:funder", *db, env=env)
    assert code == 0
    assert "« confidentiel »" in out
    assert REPORT not in out
    code, out, err = cli(
        "fire", case_id, "validate_report", "--actor", ADMIN.id, "--role", "administrator", *db,
        env=env,
    )  # fmt: skip
    assert code == 0, err
    stored = sql_storage.get(case_id)
    assert stored is not None
    assert stored.state == "report_validated"
    code, out, _ = cli("history", case_id, "--as", "caf-13:funder", *db, env=env)
    assert REPORT in out  # the report opens to funders once validated
    code, out, _ = cli("audit", "--json", *db, env=env)
    assert code == 0
    assert json.loads(out)["records_checked"] == 8


# -- messages that tell the truth ---------------------------------------------------------


def test_start_with_a_taken_case_id_says_so_and_nothing_more(db: str, engine: Engine) -> None:
    report_sent(engine, "taken")
    before = records_of(engine, "taken")
    code, _, err = cli(
        "start", f"{MSTR}@2015-2017", "--actor", "someone-else", "--role", "administrator",
        "--facts", json.dumps(FACTS), "--case-id", "taken", "--db", db,
    )  # fmt: skip
    one_error_line(code, err, "l'identifiant de dossier 'taken' est déjà pris")
    for leak in ("concurrently", "seq", "report_sent", "2015-2017", ADMIN.id):
        assert leak not in err
    assert records_of(engine, "taken") == before


@pytest.mark.parametrize("command", ["audit", "export"])
def test_version_without_name_is_refused(db: str, engine: Engine, command: str) -> None:
    report_sent(engine)
    code, out, err = cli(command, "--version", "2019", "--db", db)
    one_error_line(code, err, "--version 2019 a besoin de --name")
    assert out == ""


@pytest.mark.parametrize(
    ("url", "use"),
    [
        ("mysql://root@127.0.0.1/test", "mysql+pymysql://"),
        ("mariadb://root@127.0.0.1/test", "mariadb+pymysql://"),
        ("postgresql+psycopg2://postgres@127.0.0.1/test", "postgresql+psycopg://"),
    ],
)
def test_a_url_for_a_driver_we_do_not_install_says_which_url_to_use(url: str, use: str) -> None:
    code, _, err = cli("cases", *AS_AUDITOR_CLI, "--db", url)
    one_error_line(code, err, use)


def test_a_bad_port_is_blamed_on_the_url_not_the_table_prefix() -> None:
    code, _, err = cli(
        "cases", *AS_AUDITOR_CLI, "--db", "postgresql+psycopg://auditor:s3cret@db.example:abc/x"
    )
    one_error_line(code, err, "database URL", "auditor:***@db.example:abc", "'abc'")
    assert "TABLE_PREFIX" not in err
    assert "s3cret" not in err


def test_a_bad_table_prefix_is_blamed_on_the_prefix(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, _, err = cli("--table-prefix", "bad-prefix", "cases", *AS_AUDITOR_CLI, "--db", db)
    one_error_line(code, err, "--table-prefix", "bad-prefix")
    code, _, err = cli(
        "cases", *AS_AUDITOR_CLI, "--db", db, env={"STECHNIQUE_TABLE_PREFIX": "bad-prefix"}
    )
    one_error_line(code, err, "STECHNIQUE_TABLE_PREFIX", "bad-prefix")


@pytest.mark.parametrize(
    ("number", "fr", "en"),
    [(0, "0 dossier", "0 cases"), (1, "1 dossier", "1 case"), (2, "2 dossiers", "2 cases")],
)
def test_counts_agree_with_their_noun(number: int, fr: str, en: str) -> None:
    # The plural rule is each catalog's (French: 0 and 1 take the singular).
    assert both_n("{n} case", "{n} cases", number) == (fr, en)


def test_diagram_png_is_never_written_to_a_terminal() -> None:
    main, terminal = pty.openpty()
    shown = b""
    try:
        process = subprocess.Popen(
            [str(SCRIPT), "diagram", f"{MSTR}@2019", "-f", "png"],
            stdout=terminal, stderr=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if k not in OWN_SETTINGS},
        )  # fmt: skip
        os.close(terminal)
        while True:  # read the terminal as it is written: a full one would block the writer
            if select.select([main], [], [], 0.1)[0]:
                try:
                    shown += os.read(main, 65536)
                except OSError:  # the last writer closed the terminal
                    break
            elif process.poll() is not None:
                break
        _, stderr = process.communicate(timeout=120)
    finally:
        os.close(main)
    one_error_line(process.returncode, stderr, "-o FILE.png", "image binaire")
    assert b"PNG" not in shown


def test_cases_refuses_a_filter_that_names_nothing(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, out, err = cli("cases", *AS_AUDITOR_CLI, "--state", "nonsense", "--db", db)
    one_error_line(code, err, "--state 'nonsense' inconnu", "report_sent", "requested")
    assert out == ""
    code, _, err = cli("cases", *AS_AUDITOR_CLI, "--name", "nonsense", "--db", db)
    one_error_line(code, err, "--name 'nonsense' inconnu", MSTR, "convention-pluripartenariale")
    code, _, err = cli("cases", *AS_AUDITOR_CLI, "--name", MSTR, "--version", "1999", "--db", db)
    one_error_line(code, err, "--version '1999' inconnu", "2015-2017", "2019")
    code, out, _ = cli(
        "cases", *AS_AUDITOR_CLI, "--state", "closed", "--db", db
    )  # known, just no case there
    assert code == 0
    assert "mstr-bdm" not in out


# -- read-only commands and missing stores -----------------------------------------------

READ_ONLY = [
    ["cases", *CAF_AS],
    ["waiting", *CAF_AS],
    ["history", "mstr-bdm", *CAF_AS],
    ["history", "mstr-bdm", *AS_AUDITOR_CLI],
    ["audit"],
    ["export", *CAF_AS],
    ["export", *AS_AUDITOR_CLI],
    ["diagram", MSTR, "--case", "mstr-bdm", *CAF_AS],
    ["checkpoint", "export", "--signed-off-by", "auditor"],
]


@pytest.mark.parametrize(
    "command", READ_ONLY, ids=lambda c: c[0] + " " + c[1] if len(c) > 1 else c[0]
)
def test_reading_a_store_that_is_not_there_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    typo = f"sqlite:///{tmp_path / 'typo.db'}"
    code, out, err = cli(*command, "--db", typo)
    one_error_line(code, err, f"aucun magasin stechnique à {typo}")
    assert "conforme" not in out
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_verify_of_a_missing_store_creates_nothing(
    db: str, engine: Engine, tmp_path: Path
) -> None:
    report_sent(engine)
    checkpoint = tmp_path / "q1.json"
    assert (
        cli("checkpoint", "export", "--signed-off-by", "a", "-o", str(checkpoint), "--db", db)[0]
        == 0
    )
    code, _, err = cli(
        "checkpoint", "verify", str(checkpoint), "--db", f"sqlite:///{tmp_path / 'typo.db'}"
    )
    one_error_line(code, err, "aucun magasin stechnique à")
    assert not (tmp_path / "typo.db").exists()


def test_reading_a_server_without_tables_creates_none(sql_backend: SQLBackend) -> None:
    prefix = f"ro{uuid.uuid4().hex[:8]}_"
    for reader in (CAF_AS, AS_AUDITOR_CLI):
        code, _, err = cli("--table-prefix", prefix, "cases", *reader, "--db", sql_backend.url)
        one_error_line(code, err, "aucun magasin stechnique à", repr(prefix))
    engine = sa.create_engine(sql_backend.url, poolclass=sa.NullPool)
    try:
        assert [t for t in sa.inspect(engine).get_table_names() if t.startswith(prefix)] == []
    finally:
        engine.dispose()


def test_an_older_schema_read_only_says_to_run_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_schema(url, revision="0001")
    code, _, err = cli("audit", "--db", url)
    one_error_line(code, err, "0001", "stechnique db upgrade")
    with pytest.raises(SchemaOutOfDate):
        SQLStorage(url, upgrade=False)  # still at 0001


@pytest.fixture
def archived(tmp_path: Path) -> Iterator[Path]:
    """A store with two cases, file and directory without write permission."""
    folder = tmp_path / "archive"
    folder.mkdir()
    with SQLStorage(f"sqlite:///{folder / 'cases.db'}") as storage:
        report_sent(Engine(storage), "a")
        report_sent(Engine(storage), "b")
    (folder / "cases.db").chmod(0o444)
    folder.chmod(0o555)
    yield folder / "cases.db"
    folder.chmod(0o755)


def test_an_archived_store_can_be_audited_and_is_left_as_it_was(archived: Path) -> None:
    before = hashlib.sha256(archived.read_bytes()).hexdigest()
    listing = sorted(os.listdir(archived.parent))
    url = f"sqlite:///{archived}"
    done = script("audit", "--db", url)
    assert done.returncode == 0, done.stderr
    assert "conforme" in done.stdout
    assert "│ 2 " in done.stdout
    # Viewers read an archive; an auditor's read would be logged in it, so it is not.
    for command in (
        ["cases", *CAF_AS],
        ["history", "a", *CAF_AS],
        ["export", *CAF_AS],
        ["checkpoint", "export", "--signed-off-by", "x"],
    ):
        code, _, err = cli(*command, "--db", url)
        assert code == 0, (command, err)
    assert hashlib.sha256(archived.read_bytes()).hexdigest() == before
    assert sorted(os.listdir(archived.parent)) == listing


# -- selecting nothing is not « conforme » ------------------------------------------------


def test_an_audit_that_selects_nothing_has_its_own_result(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, out, err = cli("audit", "--case", "no-such-case", "--db", db)
    assert code == 3, err
    assert "rien de sélectionné" in out
    assert "conforme" not in out
    assert "rien n'a été sélectionné (dossier 'no-such-case')" in err
    code, out, _ = cli("audit", "--json", "--name", "convention-pluripartenariale", "--db", db)
    assert code == 3
    assert (json.loads(out)["result"], json.loads(out)["ok"]) == ("nothing_selected", False)
    code, _, err = cli("audit", "--name", "nonexistent", "--db", db)
    one_error_line(code, err, "--name 'nonexistent' inconnu", MSTR)


def test_an_empty_store_audits_to_nothing_selected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    SQLStorage(url).close()
    done = script("audit", "--db", url)
    assert done.returncode == 3, done.stderr
    assert "conforme" not in done.stdout


def test_an_export_that_selects_nothing_has_its_own_exit_status(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, out, err = cli("export", *AS_AUDITOR_CLI, "--case", "nope", "--db", db)
    assert code == 3
    assert out == ""
    assert "exporté : 0 enregistrement" in err
    assert "rien n'a été sélectionné (dossier 'nope')" in err
    code, _, err = cli("export", *AS_AUDITOR_CLI, "--name", "nope", "--db", db)
    one_error_line(code, err, "--name 'nope' inconnu")


# -- what an auditor records --------------------------------------------------------------


def test_audit_json_records_version_store_time_and_fingerprints(db: str, engine: Engine) -> None:
    report_sent(engine)
    began = datetime.now(UTC).replace(microsecond=0)
    code, out, _ = cli("audit", "--json", "--name", MSTR, "--db", db)
    assert code == 0
    report = json.loads(out)
    assert report["result"] == "ok"
    assert report["stechnique"] == installed_version() != UNKNOWN_VERSION
    assert (report["store"], report["table_prefix"]) == (db, "stechnique_")
    assert began <= datetime.fromisoformat(report["audited_at"]) <= datetime.now(UTC)
    assert report["scope"] == {"case_id": None, "name": MSTR, "version": None, "since": None}
    assert {(p["name"], p["version"], p["fingerprint"]) for p in report["procedures"]} == {
        (p.name, p.version, p.fingerprint) for p in default_registry()
    }


def test_the_store_is_shown_without_its_password(postgres_url: str) -> None:
    assert shown_url("postgresql+psycopg://auditor:s3cret@db.example/x") == (
        "postgresql+psycopg://auditor:***@db.example/x"
    )
    with_password = str(sa.make_url(postgres_url).set(password="s3cret").render_as_string(False))
    prefix = f"pw{uuid.uuid4().hex[:8]}_"
    code, out, err = cli("--table-prefix", prefix, "audit", "--json", "--db", with_password)
    one_error_line(code, err, "aucun magasin stechnique à")
    assert "s3cret" not in err + out


# -- checkpoints --------------------------------------------------------------------------


def test_checkpoint_export_then_verify(db: str, engine: Engine, tmp_path: Path) -> None:
    case_id = report_sent(engine)
    report_sent(engine, "other")
    key = tmp_path / "auditor.key"
    key.write_text("s3cret\n", encoding="utf-8")
    saved = tmp_path / "2026-q1.json"
    done = script(
        "checkpoint", "export", "--signed-off-by", "Jeanne Martin, auditrice",
        "--key-file", str(key), "-o", str(saved), "--db", db,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "point de contrôle de 2 dossiers, signé, par Jeanne Martin, auditrice" in done.stderr
    assert "point de contrôle de 2 dossiers, signé" in done.stderr
    written = json.loads(saved.read_text(encoding="utf-8"))
    assert (written["cases"], written["signed_off_by"]) == (2, "Jeanne Martin, auditrice")
    code, out, _ = cli("checkpoint", "verify", str(saved), "--key-file", str(key), "--db", db)
    assert code == 0
    assert "conforme" in out
    env = {"STECHNIQUE_CHECKPOINT_KEY": "s3cret"}
    assert cli("checkpoint", "verify", str(saved), "--db", db, env=env)[0] == 0
    tamper_payload(db, case_id, 7)
    code, out, _ = cli("checkpoint", "verify", str(saved), "--json", "--db", db, env=env)
    assert code == 1
    report = json.loads(out)
    assert (case_id, 7, "hash") in {
        (v["case_id"], v["seq"], v["code"]) for v in report["violations"]
    }
    assert report["checkpoint"]["signed_off_by"] == "Jeanne Martin, auditrice"
    assert report["checkpoint"]["signature_verified"] is True


def test_checkpoint_refusals(db: str, engine: Engine, tmp_path: Path) -> None:
    saved = tmp_path / "q1.json"
    code, _, err = cli("checkpoint", "export", "--signed-off-by", "x", "-o", str(saved), "--db", db)
    assert code == 3  # no case: nothing to sign off
    assert "aucun dossier, aucun point de contrôle écrit" in err
    assert not saved.exists()
    report_sent(engine)
    key = tmp_path / "key"
    key.write_text("s3cret", encoding="utf-8")
    args = ["--signed-off-by", "x", "--key-file", str(key), "-o", str(saved), "--db", db]
    assert cli("checkpoint", "export", *args)[0] == 0
    first = saved.read_bytes()
    code, _, err = cli("checkpoint", "export", *args)
    one_error_line(code, err, "existe déjà", "ne s'écrase pas")
    assert saved.read_bytes() == first
    code, _, err = cli("checkpoint", "export", "--signed-off-by", " ", "--db", db)
    one_error_line(code, err, "--signed-off-by", "signs the checkpoint off")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the key", encoding="utf-8")
    code, _, err = cli("checkpoint", "verify", str(saved), "--key-file", str(wrong), "--db", db)
    one_error_line(code, err, "signature does not verify")
    code, _, err = cli(
        "checkpoint", "verify", str(saved), "--key-file", str(tmp_path / "none"), "--db", db
    )
    one_error_line(code, err, "none")
    code, _, err = cli("checkpoint", "verify", str(saved), "--db", db)
    assert code == 0
    assert "signature non vérifiée (aucune clé)" in err


# -- who reads ----------------------------------------------------------------------------


def test_reads_name_who_reads_and_outsiders_learn_nothing(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    for command in (["cases"], ["history", case_id], ["timeline", case_id], ["export"]):
        code, _, err = cli(*command, "--db", db)
        one_error_line(code, err, "--as", "--auditor")
        code, _, err = cli(*command, "--auditor", "x", "--db", db)  # no reason given
        one_error_line(code, err, "--reason")
    code, out, _ = cli("cases", "--as", "ca-autre-centre:administrator", "--db", db)
    assert code == 0
    assert case_id not in out
    code, _, err = cli("history", case_id, "--as", "ca-autre-centre:administrator", "--db", db)
    one_error_line(code, err, f"dossier inconnu '{case_id}'")
    # A person acting for the centre's body reads as the centre.
    marie = f"marie:administrator:{ADMIN.id}"
    code, out, _ = cli("timeline", case_id, "--as", marie, "--db", db)
    assert code == 0
    assert REPORT[:20] in out
    code, out, _ = cli("timeline", case_id, "--as", f"{FUNDER.id}:funder", "--db", db)
    assert code == 0
    assert REPORT[:20] not in out


def test_an_auditor_read_is_logged_in_the_store(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    code, out, _ = cli("history", case_id, "--auditor", "cour-des-comptes",
                       "--reason", "contrôle 2017", "--db", db)  # fmt: skip
    assert code == 0
    assert REPORT[:20] in out
    (access,) = engine.accesses()
    assert (access.actor.id, access.reason, access.case_ids) == (
        "cour-des-comptes",
        "contrôle 2017",
        (case_id,),
    )


def test_explain_says_why_and_fire_acts_for_a_body(db: str, engine: Engine) -> None:
    case_id = report_sent(engine)
    code, out, _ = cli("explain", case_id, "validate_report", "--as",
                       f"{FUNDER.id}:funder", "--db", db)  # fmt: skip
    assert code == 1
    assert "Rôle requis" in out
    code, out, _ = cli("explain", case_id, "validate_report", "--as",
                       f"marie:administrator:{ADMIN.id}", "--db", db)  # fmt: skip
    assert code == 0
    assert "possible maintenant" in out
    code, _, err = cli("fire", case_id, "validate_report", "--actor", "marie",
                       "--role", "administrator", "--body", ADMIN.id, "--db", db)  # fmt: skip
    assert code == 0, err
    last = engine.storage.records(case_id)[-1]
    assert (last.actor.id, last.actor.body) == ("marie", ADMIN.id)


# -- the language: --lang and STECHNIQUE_LANG ------------------------------------------------


def test_history_is_french_by_default_and_english_with_lang(db: str, engine: Engine) -> None:
    """One language at a time: no « fr / en » doubles once a language is chosen."""
    case = report_sent(engine)
    viewer = ("--as", "caf-13-coordination:caf_coordinator", "--db", db)
    code, french, _ = cli("history", case, *viewer)
    assert code == 0
    assert "Historique du dossier mstr-bdm, vu par caf-13-coordination" in french
    assert "(heure de Paris)" in french
    assert "Saisine concertée" in french
    assert "History of" not in french
    assert "Joint referral" not in french
    code, english, _ = cli("--lang", "en", "history", case, *viewer)
    assert code == 0
    assert "History of case mstr-bdm, as caf-13-coordination" in english
    assert "(Paris time)" in english
    assert "Joint referral" in english
    assert "Historique" not in english
    assert "Saisine concertée" not in english
    # The environment chooses too; --lang wins over it.
    code, from_env, _ = cli("history", case, *viewer, env={"STECHNIQUE_LANG": "en"})
    assert from_env == english
    code, chosen, _ = cli("--lang", "fr", "history", case, *viewer, env={"STECHNIQUE_LANG": "en"})
    assert chosen == french


def test_errors_are_said_in_the_language_chosen(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, _, err = cli("--lang", "en", "fire", "ghost", "validate", "--actor", "a", "--role",
                       "caf_coordinator", "--db", db)  # fmt: skip
    assert code == 2
    assert err.strip() == "error: unknown case 'ghost'"
    code, _, err = cli("fire", "ghost", "validate", "--actor", "a", "--role", "caf_coordinator",
                       "--db", db)  # fmt: skip
    one_error_line(code, err, "dossier inconnu 'ghost'")
    assert "unknown" not in err


def test_an_unknown_language_is_refused(db: str) -> None:
    code, _, err = cli("--lang", "de", "cases", *AS_AUDITOR_CLI, "--db", db)
    assert code == 2
    assert "--lang" in err
    code, _, err = cli("cases", *AS_AUDITOR_CLI, "--db", db, env={"STECHNIQUE_LANG": "de"})
    assert code == 2


def test_machine_readable_outputs_are_the_same_in_every_language(
    db: str, engine: Engine, tmp_path: Path
) -> None:
    """JSON, JSON Lines, the canonical CSV and exit statuses keep their identifiers."""
    report_sent(engine)
    outputs = {}
    for lang in ("fr", "en"):
        jsonl, csv_file = tmp_path / f"{lang}.jsonl", tmp_path / f"{lang}.csv"
        for fmt, path in (("jsonl", jsonl), ("csv", csv_file)):
            code, _, _ = cli("--lang", lang, "export", "--format", fmt, *AS_AUDITOR_CLI, "-o",
                             str(path), "--db", db)  # fmt: skip
            assert code == 0
        code, report, _ = cli("--lang", lang, "audit", "--json", "--db", db)
        audit = json.loads(report)
        for moving in ("seconds", "records_per_second", "audited_at"):
            audit.pop(moving, None)
        csv_text = csv_file.read_text(encoding="utf-8-sig")
        outputs[lang] = (code, audit, jsonl.read_text(encoding="utf-8"), csv_text)
    assert outputs["fr"] == outputs["en"]
    assert outputs["fr"][3].startswith("case_id,seq,at,at_utc,event,event_fr,")


def test_the_labelled_csv_speaks_the_readers_language(db: str, engine: Engine) -> None:
    case = report_sent(engine)
    viewer = ("--as", "caf-13-coordination:caf_coordinator", "--case", case, "--db", db)
    code, french, _ = cli("export", "--format", "csv", "--labelled", *viewer)
    assert code == 0
    assert french.startswith("Dossier;N°;Date (heure de Paris);Étape;De;Vers;Acteur;Rôles;Données")
    assert "Saisir les partenaires;Fiche d'information transmise;Saisine concertée" in french
    assert "Financeurs consultés : caf-13" in french
    code, english, _ = cli("--lang", "en", "export", "--format", "csv", "--labelled", *viewer)
    assert code == 0
    assert english.startswith("Case,No.,Date (Paris time),Step,From,To,Actor,Roles,Data")
    assert "Refer to the partners,Information sheet sent,Joint referral" in english
    code, _, err = cli("export", "--format", "jsonl", "--labelled", *viewer)
    one_error_line(code, err, "--labelled")


def test_explain_names_fields_roles_and_events_by_their_labels(db: str, engine: Engine) -> None:
    """No raw id or English where a label exists (issue 15's quoted explanations)."""
    engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id="x")
    code, out, _ = cli("explain", "x", "refer", "--as", "caf-13-coordination:caf_coordinator",
                       "--payload", '{"funders": []}', "--db", db)  # fmt: skip
    assert code == 1
    assert "Champ « Financeurs consultés » : une liste non vide de textes attendue" in out
    assert "expected" not in out
    code, out, _ = cli("explain", "x", "refer", "--as", "ca-belle-de-mai:administrator", "--db", db)
    assert "Rôle requis : Coordination Caf du dispositif" in out
    code, out, _ = cli("explain", "x", "validate", "--as", "caf-13-coordination:caf_coordinator",
                       "--db", db)  # fmt: skip
    assert "(possibles : Saisir les partenaires, Retirer la demande)" in out
    code, out, _ = cli("--lang", "en", "explain", "x", "validate", "--as",
                       "caf-13-coordination:caf_coordinator", "--db", db)  # fmt: skip
    assert "(possible: Refer to the partners, Withdraw the request)" in out
    assert "possibles" not in out


def test_the_audit_writes_numbers_as_its_reader_does(db: str, engine: Engine) -> None:
    report_sent(engine)
    code, out, _ = cli("audit", "--db", db)
    assert code == 0
    assert re.search(r"\d+,\d\d s \([\d\u202f]+ enregistrements/s\)", out), out
    code, out, _ = cli("--lang", "en", "audit", "--db", db)
    assert re.search(r"\d+\.\d\d s \([\d,]+ records/s\)", out), out
