"""The published procedure versions, and the default registry the engine uses.

One module (or data file) per procedure version, written to read like its source document. A
published version is never edited: a change is a new version in a new module.
"""

from __future__ import annotations

from stechnique.registry import Registry

__all__ = ["default_registry"]


def default_registry() -> Registry:
    """A new registry holding every published procedure version."""
    return Registry(_published())


def _published() -> tuple[()]:
    # The published versions are added here as their modules land.
    return ()
