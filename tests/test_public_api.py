"""The front door: ``stechnique.__all__`` is sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect

import stechnique


def _isort_style(name: str) -> tuple[int, str]:
    # The order ruff (RUF022) keeps: CONSTANTS, then Classes, then functions.
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, name


def test_all_is_sorted() -> None:
    assert list(stechnique.__all__) == sorted(stechnique.__all__, key=_isort_style)


def test_all_names_exist_and_are_documented() -> None:
    for name in stechnique.__all__:
        value = getattr(stechnique, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


#: Functions other modules of the library build on; applications have no use for them, so they
#: stay in their module (``__all__`` of each module lists them: ``test_exported_members.py``).
STAY_IN_THEIR_MODULE = {
    "definition": {"failed_guards"},
    "explanation": {"reasons"},
    "registry": {"version_order"},
}


def test_every_public_class_and_function_is_exported() -> None:
    exported = {getattr(stechnique, name) for name in stechnique.__all__ if not name.isupper()}
    for module_name in ("errors", "definition", "records", "registry", "engine", "explanation"):
        module = importlib.import_module(f"stechnique.{module_name}")
        for name in set(module.__all__) - STAY_IN_THEIR_MODULE.get(module_name, set()):
            if module_name == "records" and name not in {"Actor", "Case", "Record"}:
                continue  # hashing and encoding helpers stay in stechnique.records
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value in exported, f"stechnique.{module_name}.{name} is not re-exported"
