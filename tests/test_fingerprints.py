"""Published procedure versions never change: their fingerprints are pinned here, by hand.

If a test here fails, a published definition was changed (a label, a guard's text, a state...).
Do not update the pin: restore the published version and declare the change as a new version,
in a new module or data file, with its own pin below (invariant 7 of PROCEDURES.md).
"""

from __future__ import annotations

import os
import subprocess
import sys

import attrs
import pytest

from stechnique import DefinitionError, Procedure, Registry, default_registry

PINNED = {
    "convention-pluripartenariale@2013": (
        "74265c1e99e1f45d8851eb161137da3c50c07ae280bef1dec71ea76e4956d174"
    ),
    "soutien-technique-renforce@2015-2017": (
        "ed104c01ffc32040798793afc3c7495e7dc1b79efb3d5864ebaaf82ff76c26a5"
    ),
    "soutien-technique-renforce@2019": (
        "3826de394bc8375bdbe7898c83fc4ce59c8f0870f3d0344de4d98af3d496370a"
    ),
}


def published() -> list[Procedure]:
    return list(default_registry())


def test_every_published_version_is_pinned() -> None:
    assert sorted(p.key for p in published()) == sorted(PINNED)


@pytest.mark.parametrize("key", sorted(PINNED))
def test_a_published_version_keeps_its_fingerprint(key: str) -> None:
    (procedure,) = [p for p in published() if p.key == key]
    assert procedure.fingerprint == PINNED[key], (
        f"{key} changed: a published version is never edited; declare a new version instead"
    )


@pytest.mark.parametrize("key", sorted(PINNED))
def test_changing_one_label_changes_the_fingerprint_and_the_registry_refuses_it(key: str) -> None:
    (procedure,) = [p for p in published() if p.key == key]
    state = procedure.states[-1]
    changed = attrs.evolve(
        procedure, states=(*procedure.states[:-1], attrs.evolve(state, fr=state.fr + " "))
    )
    assert changed.fingerprint != procedure.fingerprint
    with pytest.raises(DefinitionError, match="needs a new version"):
        Registry((procedure, changed))


def test_fingerprints_do_not_depend_on_the_process() -> None:
    script = "import stechnique; print(*(p.fingerprint for p in stechnique.default_registry()))"
    seen = set()
    for seed in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        seen.add(run.stdout.strip())
    assert seen == {" ".join(p.fingerprint for p in published())}
