"""The published procedure versions, and the default registry the engine uses.

One module (or data file) per procedure version, written to read like its source document. A
published version is never edited: a change is a new version in a new module.
"""

from __future__ import annotations

from stechnique.definition import Procedure
from stechnique.migration import Migration
from stechnique.registry import PUBLISHED, Registry

__all__ = ["default_registry"]

# The explainers of revision 1's guards are registered beside them (their code is never
# edited): whoever uses a guard of this package gets them.
from stechnique.workflows import explainers as _explainers  # noqa: F401


def default_registry() -> Registry:
    """A new registry holding every published procedure version."""
    registry = Registry()
    for procedure in _published():
        registry.register(procedure, PUBLISHED)
    for migration in _migrations():
        registry.register_migration(migration)
    return registry


def _published() -> tuple[Procedure, ...]:
    from stechnique.workflows import (
        convention_pluripartenariale_2013,
        soutien_technique_renforce_2015_2017,
        soutien_technique_renforce_2019,
    )

    return (
        soutien_technique_renforce_2015_2017.PROCEDURE,
        soutien_technique_renforce_2019.PROCEDURE,
        convention_pluripartenariale_2013.PROCEDURE,
    )


def _migrations() -> tuple[Migration, ...]:
    from stechnique.workflows import soutien_technique_renforce_2019

    return (soutien_technique_renforce_2019.MIGRATION,)
