"""The package as it is installed: its version, its extras, and what it declares of itself.

The version is written once, in ``pyproject.toml``; the package and the command read it back
from the installed distribution's metadata. ``stechnique.testing`` needs the ``testing`` extra
and says so when it is missing. The classifiers name only the Pythons ``.ci/quick-tests`` tests.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import stechnique
import stechnique.testing

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*arguments], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


# -- the version ----------------------------------------------------------------------------


def test_the_version_is_the_installed_distributions() -> None:
    assert stechnique.__version__ == importlib.metadata.version("stechnique")


def test_the_command_prints_the_same_version() -> None:
    done = _run(sys.executable, "-m", "stechnique.cli", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stechnique {stechnique.__version__}\n"


def test_the_console_script_prints_the_same_version() -> None:
    script = Path(sys.executable).with_name("stechnique")
    if not script.exists():
        pytest.skip(f"no stechnique console script beside {sys.executable}")
    done = _run(str(script), "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stechnique {stechnique.__version__}\n"


def test_an_installed_checkout_reports_the_version_of_its_pyproject() -> None:
    # The metadata is the checkout's only when this checkout is what was installed (CI's venvs);
    # a development venv may hold another checkout's install on its path.
    distribution = importlib.metadata.distribution("stechnique")
    origin = json.loads(distribution.read_text("direct_url.json") or "{}").get("url", "")
    if origin != ROOT.as_uri():
        pytest.skip(f"the installed stechnique comes from {origin or 'an index'}, not {ROOT}")
    assert distribution.version == PROJECT["version"]


# -- the testing extra ----------------------------------------------------------------------


def _import_testing_without(*modules: str) -> subprocess.CompletedProcess[str]:
    # None in sys.modules makes both ``import`` and ``find_spec`` treat the module as absent.
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in modules)
    return _run(sys.executable, "-c", f"import sys; {blocked}; import stechnique.testing")


def test_testing_without_pytest_and_hypothesis_names_the_extra() -> None:
    done = _import_testing_without("pytest", "hypothesis")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "ImportError: stechnique.testing a besoin de pytest et hypothesis : "
        'pip install "stechnique[testing]" / stechnique.testing needs pytest and hypothesis: '
        'pip install "stechnique[testing]"'
    )


@pytest.mark.parametrize("missing", ["pytest", "hypothesis"])
def test_testing_names_the_one_package_missing(missing: str) -> None:
    done = _import_testing_without(missing)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), done.stderr
    assert f"needs {missing}: " in last
    assert 'pip install "stechnique[testing]"' in last


def test_the_library_imports_without_the_testing_extra() -> None:
    done = _run(
        sys.executable,
        "-c",
        "import sys; sys.modules['pytest'] = None; sys.modules['hypothesis'] = None; "
        "import stechnique, stechnique.cli, stechnique.storage; print(stechnique.__version__)",
    )
    assert done.returncode == 0, done.stderr


def _third_party_imports(package: Path, *leaving_out: Path) -> set[str]:
    found: set[str] = set()
    for path in package.rglob("*.py") if package.is_dir() else [package]:
        if any(path.is_relative_to(left) for left in leaving_out):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found - set(sys.stdlib_module_names) - {"stechnique", "__future__"}


def test_the_testing_extra_is_what_stechnique_testing_imports_beyond_the_library() -> None:
    package = Path(stechnique.testing.__file__).parent
    beyond = _third_party_imports(package) - _third_party_imports(package.parent, package)
    extra = {_requirement_name(r) for r in PROJECT["optional-dependencies"]["testing"]}
    assert beyond == extra == set(stechnique.testing._NEEDED)


def test_the_test_extra_includes_the_testing_extra() -> None:
    assert "stechnique[testing]" in PROJECT["optional-dependencies"]["test"]


def test_the_library_imports_only_what_it_depends_on() -> None:
    library = Path(stechnique.__file__).parent
    imported = _third_party_imports(
        library, Path(stechnique.testing.__file__).parent, *_serving(library)
    )
    declared = {_requirement_name(r) for r in PROJECT["dependencies"]}
    assert imported <= declared, f"imported but not declared: {sorted(imported - declared)}"


#: Distributions imported under another name.
_IMPORTED_AS = {"pyjwt": "jwt"}
#: What the server extra needs that starlette imports for it (its form parser), not stechnique.
_USED_THROUGH_STARLETTE = {"python-multipart"}


def _serving(library: Path) -> tuple[Path, Path]:
    """What needs the ``server`` extra: ``stechnique.server`` and ``stechnique serve``."""
    return library / "server", library / "cli" / "_server.py"


def test_the_server_extra_is_what_stechnique_server_imports_beyond_the_library() -> None:
    library = Path(stechnique.__file__).parent
    serving = _serving(library)
    used = set().union(*(_third_party_imports(path) for path in serving))
    beyond = used - _third_party_imports(library, *serving)
    extra = {_requirement_name(r) for r in PROJECT["optional-dependencies"]["server"]}
    extra -= _USED_THROUGH_STARLETTE
    assert beyond == {_IMPORTED_AS.get(name, name) for name in extra}


def test_serve_without_the_server_extra_says_what_to_install_in_french_and_english() -> None:
    done = _run(
        sys.executable,
        "-c",
        "import sys; sys.modules['fastapi'] = None; from stechnique.cli import app; "
        "app(['serve', '--db', 'sqlite://'])",
    )
    assert done.returncode == 2, done.stderr
    assert "l'extra « server »" in done.stderr
    assert "the HTTP service needs the 'server' extra (fastapi missing)" in done.stderr
    assert "pip install 'stechnique[server]'" in done.stderr


# -- what the package declares ----------------------------------------------------------------


def test_the_classifiers_name_the_pythons_ci_tests() -> None:
    claimed = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    runs = (ROOT / ".ci/quick-tests").read_text(encoding="utf-8")
    tested = set(re.findall(r'^    "(3\.\d+)\|', runs, re.MULTILINE))
    assert claimed == tested
    assert PROJECT["requires-python"] == f">={min(claimed, key=lambda v: int(v[2:]))}"


def test_the_license_file_ships_with_the_package() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 stechnique developers\n")
