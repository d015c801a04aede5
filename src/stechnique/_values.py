"""Converters from what a declaration gives to the tuples a frozen definition keeps.

Order is part of a definition (it shows in tables and in the fingerprint), so lists and tuples
keep theirs. A set has none: its iteration order follows ``PYTHONHASHSEED``, which would give
one definition a different fingerprint in every process. Sets are therefore sorted, by their
canonical form.
"""

from __future__ import annotations

import copy
import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

import attrs

from stechnique.records import canonical_json, converter

__all__ = ["copied", "items", "names", "pairing", "pairs", "replaced"]


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


def copied(value: Any) -> Any:
    """A deep copy of plain JSON data (facts, payloads): dicts and lists are new, the scalars
    in them are immutable and shared. A third of the time of ``copy.deepcopy`` on facts."""
    kind = value.__class__
    if kind is dict:
        return {key: copied(item) for key, item in value.items()}
    if kind is list:
        return [copied(item) for item in value]
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is tuple:
        return tuple(copied(item) for item in value)
    return copy.deepcopy(value)


_T = TypeVar("_T")


def replaced(value: _T, field: str, new: Any) -> _T:
    """``attrs.evolve(value, **{field: new})`` in half the time: the memory store and the
    engine copy a case or record on every fire, and ``evolve`` looks up the fields each time."""
    kind: type = value.__class__
    get, index = _fields(kind, field)
    values = list(get(value))
    values[index] = new
    return cast(_T, kind(*values))


@functools.cache
def _fields(kind: type, field: str) -> tuple[Callable[[Any], tuple[Any, ...]], int]:
    """The attrs fields of ``kind`` in ``__init__`` order, read at once; where ``field`` is."""
    names = [item.name for item in attrs.fields(kind)]
    return operator.attrgetter(*names), names.index(field)
