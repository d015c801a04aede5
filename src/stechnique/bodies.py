"""What bodies are called: a deployment's directory of body ids and their French names.

Cases record bodies by id (``caf-13``, ``ca-belle-de-mai``); people read names (« Caf des
Bouches-du-Rhône », « Association Belle de Mai »). PROCEDURES.md, « Body names »: refusals and
pages name a body by the name the deployment's directory gives it, else, for a known funder,
by its name in the 2015-2017 leaflet (``workflows.known_funders``), else by its id.

A ``Bodies`` directory is a small typed value, given to ``Engine(..., bodies=...)``, built in
code or read from a TOML file of ``id = "name"`` lines under ``[bodies]`` (``Bodies.load``).
Names are presentation: no history records them, and no rule depends on them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from stechnique.errors import ArgumentProblem, InvalidArgument

__all__ = ["Bodies", "body_name"]


def _names(value: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = value.items() if isinstance(value, Mapping) else value
    return tuple((str(body), str(name)) for body, name in pairs)


@attrs.frozen
class Bodies:
    """A directory of bodies: ``names`` pairs each body id with the name people read.

    ``Bodies({"ca-belle-de-mai": "Association Belle de Mai"})``; ``Bodies()`` knows only the
    known funders.
    """

    names: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_names)
    _index: Mapping[str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        # The known funders first, the deployment's names over them.
        object.__setattr__(self, "_index", {**_known_funders(), **dict(self.names)})

    def name(self, body: str) -> str:
        """What ``body`` is called: the directory's name, else the known funder's, else the id."""
        return self._index.get(body) or body

    def named(self, bodies: Iterable[str]) -> tuple[str, ...]:
        """The names of ``bodies``, in their order."""
        return tuple(self.name(body) for body in bodies)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Bodies:
        """A directory from plain data: ``{"bodies": {id: name, ...}}`` (what ``load`` reads)."""
        table = data.get("bodies", {})
        unknown = sorted(set(data) - {"bodies"})
        if unknown or not isinstance(table, dict):
            raise _problem(
                "bodies",
                f"une table [bodies] attendue, reçu {unknown or type(table).__name__}",
                f"expected a [bodies] table, got {unknown or type(table).__name__}",
            )
        bad = sorted(body for body, name in table.items()
                     if not isinstance(name, str) or not name.strip())  # fmt: skip
        if bad:
            raise _problem(
                "bodies",
                f"un nom (texte non vide) attendu pour : {', '.join(bad)}",
                f"expected a name (non-empty text) for: {', '.join(bad)}",
            )
        return cls(table)

    @classmethod
    def load(cls, path: str | Path) -> Bodies:
        """A directory from a TOML file: ``[bodies]`` then one ``id = "name"`` line per body."""
        with Path(path).open("rb") as file:
            try:
                data = tomllib.load(file)
            except tomllib.TOMLDecodeError as error:
                raise _problem(
                    "bodies", f"TOML illisible : {error}", f"unreadable TOML: {error}"
                ) from error
        return cls.from_data(data)


def _known_funders() -> Mapping[str, str]:
    # Read when a directory is built, not when this module is imported: the procedures'
    # package imports the engine's modules, which name bodies.
    from stechnique.workflows.known_funders import KNOWN_FUNDERS

    return KNOWN_FUNDERS


def body_name(body: str, bodies: Bodies | None = None) -> str:
    """What ``body`` is called in ``bodies`` (``None``: the known funders only)."""
    return (bodies or Bodies()).name(body)


def _problem(name: str, fr: str, en: str) -> InvalidArgument:
    return InvalidArgument([ArgumentProblem(name, fr, en)])
