"""A definition's fingerprint is the same in every process, whatever the hash seed.

Two (three) fresh interpreters with different ``PYTHONHASHSEED`` build the published versions,
the small test procedure and a fixed series of generated definitions (hypothesis derandomized,
so both draw the very same ones), and print canonical forms and fingerprints; they must agree.
A fingerprint that moved with the hash seed would make every stored case unreadable in the next
process (invariant 7).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).parent

CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from hypothesis import HealthCheck, given, settings
from small import ticket
from stechnique.records import canonical_json
from stechnique.testing.strategies import procedures
from stechnique.workflows import default_registry

found = {p.key: p.fingerprint for p in default_registry()}
found["ticket"] = ticket().fingerprint
generated = []

@settings(derandomize=True, max_examples=20, database=None,
          suppress_health_check=list(HealthCheck))
@given(procedures())
def collect(procedure):
    generated.append([canonical_json(procedure.canonical()), procedure.fingerprint])

collect()
found["generated"] = generated
print(json.dumps(found))
"""

SET_BUILT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from small import ticket
from stechnique import Transition
# Roles given as a set, as Python code naturally writes them.
approve = Transition("approve", "open", "approved", {"boss", "clerk", "team"})
print(json.dumps(ticket(transitions=(approve, *ticket().transitions[1:])).fingerprint))
"""


def run(script: str, seed: str) -> Any:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", script, str(TESTS)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_fingerprints_do_not_depend_on_the_hash_seed() -> None:
    first, second, third = (run(CHILD, seed) for seed in ("0", "4242", "random"))
    assert first == second == third
    assert len(first["generated"]) >= 10
    assert {"soutien-technique-renforce@2019", "ticket"} <= set(first)


@pytest.mark.slow
def test_fingerprint_of_a_definition_built_from_sets_does_not_depend_on_the_hash_seed() -> None:
    assert len({run(SET_BUILT, seed) for seed in ("1", "2", "3", "4")}) == 1
