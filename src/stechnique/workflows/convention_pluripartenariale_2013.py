"""``convention-pluripartenariale`` version ``2013``: declared as data, in the TOML file beside.

This procedure proves the engine is general: it is written in the same data-file format a
partner uses (``stechnique.load_procedure``), not in Python. Read
``convention_pluripartenariale_2013.toml``; this module only loads it.
"""

from __future__ import annotations

from pathlib import Path

from stechnique.loader import load_procedure

__all__ = ["DATA_FILE", "PROCEDURE"]

#: The data file that declares this version (shipped in the package).
DATA_FILE = Path(__file__).with_name("convention_pluripartenariale_2013.toml")

#: The published procedure version, loaded from ``DATA_FILE``.
PROCEDURE = load_procedure(DATA_FILE)
