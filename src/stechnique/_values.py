"""Converters from what a declaration gives to the tuples a frozen definition keeps.

Order is part of a definition (it shows in tables and in the fingerprint), so lists and tuples
keep theirs. A set has none: its iteration order follows ``PYTHONHASHSEED``, which would give
one definition a different fingerprint in every process. Sets are therefore sorted, by their
canonical form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stechnique.records import canonical_json, converter

__all__ = ["items", "names", "pairing", "pairs"]


def items(value: Iterable[Any]) -> tuple[Any, ...]:
    """A tuple of the values, in declared order (sorted when given as a set)."""
    if isinstance(value, set | frozenset):
        return tuple(sorted(value, key=lambda item: canonical_json(converter.unstructure(item))))
    return tuple(value)


def names(value: Iterable[str] | str) -> tuple[str, ...]:
    """One name, or several (a bare string is one name, not its letters)."""
    return (value,) if isinstance(value, str) else items(value)


def pairs(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """A mapping as sorted key-value pairs (a mapping's order carries no meaning here)."""
    return tuple(sorted(dict(value).items()))


def pairing(value: Iterable[str] | None) -> tuple[str, str] | None:
    """An optional (field, value) pair, as ``Transition.when`` takes it."""
    if value is None:
        return None
    field, wanted = value
    return (field, wanted)
