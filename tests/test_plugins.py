"""Partner procedures: found by entry point or given with ``--procedures``, in every command.

The partner is the documentation's own ``aide-projets-jeunes`` (``examples/partner/``). An
installed package is faked the way ``importlib.metadata`` reads real ones: a ``*.dist-info``
folder with ``METADATA`` and ``entry_points.txt`` in a folder on the path, so discovery runs
for real; the command runs as a partner runs it, in a subprocess.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import attrs
import pytest
from small import AS_AUDITOR_CLI

from stechnique import (
    Actor,
    DefinitionError,
    Engine,
    HistoryCorrupted,
    UnknownProcedure,
    UnregisteredProcedure,
    default_registry,
    load_registry,
)
from stechnique.plugins import load_source, split_sources
from stechnique.storage import SQLStorage
from stechnique.workflows import soutien_technique_renforce_2019

ROOT = Path(__file__).resolve().parent.parent
PARTNER = ROOT / "examples" / "partner"
TOML = "aide-projets-jeunes.toml"
WITH_GUARDS = f"{TOML}=aide_projets_jeunes:GUARDS"
YOUTH = Actor("lea", frozenset({"youth"}))
OFFICER = Actor("mission-locale", frozenset({"officer"}))


def fake_distribution(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """An installed distribution as ``importlib.metadata`` finds one: its dist-info folder."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = ["[stechnique.procedures]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the partner's files and its distribution ``partner-aide``."""
    folder = tmp_path / "site"
    shutil.copytree(PARTNER, folder)
    fake_distribution(
        folder, "partner-aide", {"aide-projets-jeunes": "aide_projets_jeunes:procedures"}
    )
    return folder


def run(
    *args: str, db: Path, cwd: Path, path: list[Path] = (), **environ: str
) -> subprocess.CompletedProcess[str]:
    """The ``stechnique`` command, as a partner runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STECHNIQUE_")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [ROOT / "src", *path])
    env |= {"STECHNIQUE_DB": f"sqlite:///{db}", "COLUMNS": "400", **environ}
    return subprocess.run(
        [sys.executable, "-m", "stechnique.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def store_partner_cases(db: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cases of the partner procedure, stored through the API as the partner's app does."""
    monkeypatch.syspath_prepend(str(site))
    storage = SQLStorage(f"sqlite:///{db}")
    try:
        engine = Engine(storage, load_registry([str(site / WITH_GUARDS)], installed=False))
        facts = {"project": "Festival de quartier", "amount": 800}
        engine.start("aide-projets-jeunes", actor=YOUTH, facts=facts, case_id="apj-1")
        engine.fire("apj-1", "grant", actor=OFFICER, payload={"budget": 1000})
        engine.start("aide-projets-jeunes", actor=YOUTH, facts=facts, case_id="apj-2")
        engine.fire("apj-2", "refuse", actor=OFFICER, payload={"reason": "hors délai"})
    finally:
        storage.close()


# -- end to end, through the command ---------------------------------------------------------


@pytest.fixture
def stored(tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite store holding two cases of the partner procedure (its path)."""
    db = tmp_path / "cases.db"
    store_partner_cases(db, site, monkeypatch)
    return db


def test_a_store_read_without_the_partner_procedure_says_how_to_register_it(
    tmp_path: Path, stored: Path
) -> None:
    unaware = run("audit", db=stored, cwd=tmp_path)
    assert unaware.returncode == 1, unaware.stderr
    assert "fingerprint" in unaware.stdout
    assert "stechnique.procedures" in unaware.stdout.replace("\n", " ")
    refused = run("history", "apj-1", *AS_AUDITOR_CLI, db=stored, cwd=tmp_path)
    assert refused.returncode == 2
    assert "corrupted" not in refused.stderr
    assert "qu'aucune définition enregistrée n'a ; enregistrez sa définition" in refused.stderr
    in_english = run(
        "history", "apj-1", *AS_AUDITOR_CLI, db=stored, cwd=tmp_path, STECHNIQUE_LANG="en"
    )
    assert in_english.returncode == 2
    assert "which no registered definition has; register its definition" in in_english.stderr


def test_an_entry_point_registers_the_partner_procedure_for_every_command(
    tmp_path: Path, site: Path, stored: Path
) -> None:
    plugin = [site]  # the installed package: its module and its dist-info
    audited = run("audit", db=stored, cwd=tmp_path, path=plugin)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    history = run("history", "apj-1", *AS_AUDITOR_CLI, db=stored, cwd=tmp_path, path=plugin)
    assert history.returncode == 0, history.stderr
    assert "Aide accordée" in history.stdout
    listed = run("procedures", db=stored, cwd=tmp_path, path=plugin)
    assert (
        "entry point aide-projets-jeunes = aide_projets_jeunes:procedures of partner-aide 1.0"
        in listed.stdout
    )
    assert "published by stechnique" in listed.stdout
    started = run(
        "start", "aide-projets-jeunes", "--actor", "tom", "--role", "youth",
        "--facts", '{"project": "Atelier vidéo", "amount": 300}', "--case-id", "apj-3",
        db=stored, cwd=tmp_path, path=plugin,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    fired = run(
        "fire", "apj-3", "grant", "--actor", "mission-locale", "--role", "officer",
        "--payload", '{"budget": 100}', db=stored, cwd=tmp_path, path=plugin,
    )  # fmt: skip
    assert fired.returncode == 2
    assert "budget_covers_amount" in fired.stderr  # the partner's own rule judged the step
    every = (
        ["show", "aide-projets-jeunes"],
        ["cases", *AS_AUDITOR_CLI],
        ["diagram", "aide-projets-jeunes"],
    )
    for command in every:
        shown = run(*command, db=stored, cwd=tmp_path, path=plugin)
        assert shown.returncode == 0, (command, shown.stderr)
        assert "aide-projets-jeunes" in shown.stdout


def test_the_procedures_option_and_variable_register_a_data_file_with_its_guards(
    site: Path, stored: Path
) -> None:
    db = stored
    (site / "partner_aide-1.0.dist-info" / "entry_points.txt").unlink()  # no entry point now

    # Run from the partner's folder: its guards module is found there, as with python -m.
    audited = run("--procedures", WITH_GUARDS, "audit", db=db, cwd=site)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    listed = run("--procedures", WITH_GUARDS, "procedures", db=db, cwd=site)
    assert "file aide-projets-jeunes.toml (guards aide_projets_jeunes:GUARDS)" in listed.stdout
    history = run("--procedures", WITH_GUARDS, "history", "apj-2", *AS_AUDITOR_CLI, db=db, cwd=site)
    assert "Aide refusée" in history.stdout, history.stderr

    both = f"aide_projets_jeunes:procedures{os.pathsep}{WITH_GUARDS}"
    from_variable = run("audit", db=db, cwd=site, STECHNIQUE_PROCEDURES=both)
    assert from_variable.returncode == 0, from_variable.stdout + from_variable.stderr
    listed = run("procedures", db=db, cwd=site, STECHNIQUE_PROCEDURES=both)
    assert "--procedures aide_projets_jeunes:procedures" in listed.stdout  # the first one

    without_guards = run("--procedures", TOML, "audit", db=db, cwd=site)
    assert without_guards.returncode == 2
    assert "unknown guard 'budget_covers_amount'" in without_guards.stderr


def test_a_plugin_adding_a_version_of_a_published_procedure_is_refused_by_the_command(
    tmp_path: Path,
) -> None:
    rogue = tmp_path / "rogue"
    rogue.mkdir()
    (rogue / "rogue_mstr.py").write_text(
        "import attrs\n"
        "from stechnique.workflows import soutien_technique_renforce_2019 as published\n"
        "PROCEDURE = attrs.evolve(published.PROCEDURE, version='2099')\n"
    )
    fake_distribution(rogue, "rogue", {"mstr": "rogue_mstr:PROCEDURE"})
    refused = run("procedures", db=tmp_path / "x.db", cwd=tmp_path, path=[rogue])
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert "soutien-technique-renforce appartient à published by stechnique" in message
    assert "entry point mstr = rogue_mstr:PROCEDURE of rogue 1.0 may not add version 2099" in (
        message
    )


# -- the registry, in process ----------------------------------------------------------------


def test_entry_points_are_found_in_installed_distributions(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry()
    assert ("aide-projets-jeunes", "1") in registry
    origin = registry.origin("aide-projets-jeunes", "1")
    assert origin is not None
    assert origin.owner == "partner-aide"
    assert ("aide-projets-jeunes", "1") not in load_registry(installed=False)
    assert default_registry().keys() == load_registry(installed=False).keys()


def test_a_package_may_not_add_a_version_to_another_package_s_procedure(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / "copycat.py").write_text(
        "import attrs\n"
        "from aide_projets_jeunes import procedures\n"
        "PROCEDURES = [attrs.evolve(procedures()[0], version='2')]\n"
    )
    fake_distribution(site, "copycat", {"aide": "copycat:PROCEDURES"})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(DefinitionError) as refused:
        load_registry()
    message = str(refused.value)
    # Entry points load in order of distribution: copycat registers the name first.
    assert "entry point aide = copycat:PROCEDURES of copycat 1.0" in message
    assert "entry point aide-projets-jeunes = aide_projets_jeunes:procedures of partner-aide" in (
        message
    )
    assert "belongs to" in message
    assert "appartient à" in message


def test_explicit_sources_may_not_add_a_version_of_a_published_procedure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "mine.py").write_text(
        "import attrs\n"
        "from stechnique.workflows import soutien_technique_renforce_2019 as published\n"
        "PROCEDURE = attrs.evolve(published.PROCEDURE, version='2020')\n"
        "SAME = published.PROCEDURE\n"
        "CHANGED = attrs.evolve(published.PROCEDURE, fr='Soutien revu par un tiers')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DefinitionError, match=r"published by stechnique: --procedures mine:PROC"):
        load_registry(["mine:PROCEDURE"], installed=False)
    with pytest.raises(
        DefinitionError, match=r"--procedures mine:CHANGED may not add version 2019"
    ):
        load_registry(["mine:CHANGED"], installed=False)  # a revision of it, under its key
    # The very same published definition, given again, adds nothing and is harmless.
    registry = load_registry(["mine:SAME"], installed=False)
    assert str(registry.origin("soutien-technique-renforce", "2019")) == "published by stechnique"


def test_an_application_s_own_registry_is_not_held_to_owners() -> None:
    published = soutien_technique_renforce_2019.PROCEDURE
    registry = default_registry()
    registry.register(attrs.evolve(published, version="2020"))  # no origin: the app's code
    assert registry.origin("soutien-technique-renforce", "2020") is None


def test_sources_given_in_one_variable_are_split_by_the_path_separator() -> None:
    posix = "a.toml:pkg.mod:PROCS:b.toml=g.guards:GUARDS:c.toml:x:y.z"
    assert split_sources(posix, ":") == [
        "a.toml",
        "pkg.mod:PROCS",
        "b.toml=g.guards:GUARDS",
        "c.toml",
        "x:y.z",
    ]
    windows = r"C:\p\a.toml;pkg.mod:PROCS;C:\b.toml=g:GUARDS"
    assert split_sources(windows, ";") == [r"C:\p\a.toml", "pkg.mod:PROCS", r"C:\b.toml=g:GUARDS"]
    assert split_sources("", ":") == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("not a source", "is not FILE.toml, FILE.toml=module:attr or module:attr"),
        ("missing.toml", "no such file: missing.toml"),
        (f"{PARTNER / TOML}=aide_projets_jeunes:DATA_FILE", "the guards must be a mapping"),
        ("aide_projets_jeunes:GUARDS", "names dict"),
        ("aide_projets_jeunes:NOTHING", "AttributeError"),
        ("no_such_partner_module:X", "add its folder to PYTHONPATH"),
    ],
)
def test_a_source_that_cannot_be_loaded_is_refused_by_name(
    source: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(PARTNER))
    with pytest.raises(DefinitionError) as refused:
        load_source(source)
    assert problem in str(refused.value)
    assert " / " in refused.value.problems[0]  # French, then English


def test_an_unregistered_pin_says_how_to_register_and_a_foreign_pin_is_corruption() -> None:
    registry = default_registry()
    with pytest.raises(UnregisteredProcedure) as unknown:
        registry.pinned("apj-1", 2, "aide-projets-jeunes", "1", "3fc3757afa4e" + "0" * 52)
    assert isinstance(unknown.value, UnknownProcedure)
    assert "stechnique.procedures" in str(unknown.value)
    assert "--procedures FICHIER.toml" in str(unknown.value)
    published = soutien_technique_renforce_2019.PROCEDURE
    with pytest.raises(HistoryCorrupted, match="which is the fingerprint of soutien-technique"):
        registry.pinned("c", 3, "soutien-technique-renforce", "2015-2017", published.fingerprint)
    with pytest.raises(HistoryCorrupted, match="the registered soutien-technique-renforce@2019"):
        registry.pinned("c", 3, "soutien-technique-renforce", "2019", "f" * 64)


# -- the documentation generator -------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_procedures", ROOT / "docs" / "gen_procedures.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_generator_gives_an_installed_plugin_its_page(
    site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(site))
    generator = _generator()
    assert "aide-projets-jeunes-1.md" not in generator.pages()  # the committed, published pages
    assert generator.main(["--output", str(tmp_path / "pages")]) == 0
    page = (tmp_path / "pages" / "aide-projets-jeunes-1.md").read_text(encoding="utf-8")
    assert page.startswith("# Aide aux projets de jeunes\n")
    assert "budget_covers_amount" in page
    english = (tmp_path / "pages" / "aide-projets-jeunes-1.en.md").read_text(encoding="utf-8")
    assert english.startswith("# Youth project grant\n")


@pytest.mark.parametrize(
    ("name", "heading"),
    [("data-files.md", "## Un exemple complet"), ("data-files.en.md", "## A complete example")],
)
def test_the_shipped_example_is_the_one_the_data_file_page_shows(name: str, heading: str) -> None:
    page = (ROOT / "docs" / name).read_text(encoding="utf-8")
    example = page[page.index(heading) :]
    shown = example[example.index("```toml\n") + 8 : example.index("```\n", 10)]
    shipped = (PARTNER / TOML).read_text(encoding="utf-8")
    assert shipped.endswith(shown)
    assert all(line.startswith("#") for line in shipped[: -len(shown)].splitlines() if line)
