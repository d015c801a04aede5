"""Every public module says exactly what it offers, in ``__all__`` (as httpx checks its own).

The rule, for each public module of the package (no part of its dotted name starts with ``_``;
packages included, found recursively):

* ``__all__`` is sorted the way ruff keeps it (RUF022: CONSTANTS, then Classes, then functions);
* ``__all__`` equals the public names the module **binds itself** (``def``, ``class`` and
  assignments at module level, read from its source; names not starting with ``_``), plus the
  names it **re-exports on purpose**. Any other imported name never counts, nor does a module;
* a re-export on purpose is either a name a package's ``__init__.py`` imports from its own
  modules (``stechnique.storage`` from ``stechnique.storage.base``; the top-level package from
  any of ``stechnique.*``: the front door), or a name imported as itself
  (``from stechnique.clock import ManualClock as ManualClock``), the typing convention for an
  explicit re-export;
* modules of published procedure versions are never edited (``stechnique.workflows``): their
  ``__all__`` names their ``PROCEDURE`` (and ``MIGRATION``); the tables they are built from
  stay public for readers but unlisted;
* every name of ``__all__`` exists, and every class and function it names has a docstring;
* no attribute of a package hides one of its modules (``stechnique.audit`` is the module).

So a helper a module wants to keep to itself starts with ``_``, a public one is listed, and a
name imported only to be used is never mistaken for part of the module's interface.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

import stechnique


def _public_modules() -> list[str]:
    names = ["stechnique"]
    for info in pkgutil.walk_packages(stechnique.__path__, "stechnique."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = _public_modules()


def _isort_style(name: str) -> tuple[int, str]:
    # The order ruff (RUF022) keeps: CONSTANTS, then Classes, then functions.
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, name


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Module-level statements, looking inside ``if``/``try``/``with`` blocks."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If | ast.With):
            found += _top_level(node.body) + _top_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            found += _top_level(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                found += _top_level(handler.body)
    return found


def _targets(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return [name for element in node.elts for name in _targets(element)]
    return []


def _bound_and_imported(module: ModuleType) -> tuple[set[str], dict[str, str], set[str]]:
    """Names the module binds itself, names it imports (name -> the module it is from), and
    names it imports as themselves (``X as X``)."""
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    bound: set[str] = set()
    imported: dict[str, str] = {}
    explicit: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(name for target in node.targets for name in _targets(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            bound.update(_targets(node.target))
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module or ""
                if alias.asname == alias.name:
                    explicit.add(alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.partition(".")[0]] = alias.name
    return bound, imported, explicit


def _expected(module: ModuleType) -> set[str]:
    bound, imported, explicit = _bound_and_imported(module)
    names = {name for name in bound | explicit if not name.startswith("_")}
    if Path(inspect.getfile(module)).name == "__init__.py":
        own = f"{module.__name__}."
        names |= {
            name
            for name, source in imported.items()
            if not name.startswith("_") and source.startswith(own)
        }
    return {name for name in names if not isinstance(getattr(module, name, None), ModuleType)}


def _is_published_procedure(module: ModuleType) -> bool:
    return module.__name__.startswith("stechnique.workflows.") and hasattr(module, "PROCEDURE")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    listed = list(module.__all__)
    assert listed == sorted(listed, key=_isort_style), f"{name}.__all__ is not sorted"
    assert len(set(listed)) == len(listed), f"{name}.__all__ repeats a name"
    expected = _expected(module)
    assert not set(listed) - expected, f"{name}.__all__ lists names it does not define"
    if _is_published_procedure(module):
        assert "PROCEDURE" in listed
        return
    assert not expected - set(listed), f"{name} defines public names missing from __all__"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_every_listed_name_exists_and_is_documented(name: str) -> None:
    module = importlib.import_module(name)
    for member in module.__all__:
        value = getattr(module, member)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name}.{member} has no docstring"


def test_no_package_attribute_hides_one_of_its_modules() -> None:
    for info in pkgutil.walk_packages(stechnique.__path__, "stechnique."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        parent, _, child = info.name.rpartition(".")
        assert getattr(sys.modules[parent], child) is module, f"{info.name} is hidden"
