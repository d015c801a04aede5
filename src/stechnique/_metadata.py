"""The installed distribution's version, read from its metadata.

``pyproject.toml`` is the one place the version is written; the package reads it back from the
metadata of the installed distribution rather than keeping a second copy that could drift.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["UNKNOWN_VERSION", "installed_version"]

#: The version a source tree that was never installed reports (a PEP 440 local version).
UNKNOWN_VERSION = "0+unknown"


def installed_version() -> str:
    """The version of the installed ``stechnique`` distribution, or ``UNKNOWN_VERSION``."""
    try:
        return version("stechnique")
    except PackageNotFoundError:
        return UNKNOWN_VERSION
