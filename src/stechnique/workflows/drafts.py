"""Revision 2 of the published procedure versions, as DRAFTS.

Revision 2 (PROCEDURES.md, « Revision 2 of every published version ») binds each step to a
party of the case, lets the coordinators unblock a case, requires reasons, names the known
funders and the versions' periods. It stays a draft until revision 2 is published, when
these are in: the parties and the party checks of the judge (issue 13), the coordinators'
events of issue 14 (``transfer_to_dla`` opens the DLA case: ``Procedure.opens``), the
French label model of issue 15 and the record-format decisions of issue 16. Publishing it
means pinning its fingerprints in ``tests/test_fingerprints.py`` and registering it in
``default_registry``; until then nothing may depend on it: ``default_registry`` does not hold
it, and cases are opened on it only through ``draft_registry``.

Drafted so far:

- ``soutien-technique-renforce`` ``2015-2017`` revision 2
  (``soutien_technique_renforce_2015_2017_r2``);
- ``convention-pluripartenariale`` ``2013`` revision 2
  (``convention_pluripartenariale_2013_r2.toml``, loaded with the guards of ``guards_r2``);
- ``soutien-technique-renforce`` ``2019`` revision 2, the DLA
  (``soutien_technique_renforce_2019_r2``), with the migration of its revision-1 cases
  (``draft_migrations``).
"""

from __future__ import annotations

from pathlib import Path

import attrs

from stechnique.definition import Due, Fired, Procedure, Wait
from stechnique.loader import load_procedure
from stechnique.migration import Migration
from stechnique.registry import Registry
from stechnique.workflows import default_registry
from stechnique.workflows.guards_r2 import GUARDS_R2
from stechnique.workflows.labels import CONVENTION_2013, with_guards

__all__ = [
    "CONVENTION_2013_R2_FILE",
    "CONVENTION_2013_R2_WAITS",
    "draft_migrations",
    "draft_registry",
    "drafts",
]

#: The data file of ``convention-pluripartenariale`` 2013 revision 2.
CONVENTION_2013_R2_FILE = Path(__file__).with_name("convention_pluripartenariale_2013_r2.toml")

#: Whom an open 2013 revision-2 case waits on (outside the fingerprint): as revision 1, in each
#: step « centre (submit_step), then steering_committee (arbitrate) »; the evaluation is **due**
#: one year before the `com_end` recorded when the convention was approved (« un an avant la
#: date d'échéance de la convention d'objectifs et de moyens »).
CONVENTION_2013_R2_WAITS = (
    Wait(
        ("protocol", "territorial_diagnosis", "priority_objectives", "social_project",
         "objectives_convention"),
        on="centre",
        until=Fired("submit_step", reset_by="arbitrate"),
        then="steering_committee",
    ),
    Wait(
        "evaluation",
        on="centre",
        until=Fired("submit_step", reset_by="arbitrate"),
        then="steering_committee",
        due=Due("arbitrate", "com_end", years_before=1),
    ),
)  # fmt: skip


def drafts() -> tuple[Procedure, ...]:
    """The drafted revisions, built afresh (never published: see the module docstring)."""
    from stechnique.workflows import (
        soutien_technique_renforce_2015_2017_r2,
        soutien_technique_renforce_2019_r2,
    )

    return (
        soutien_technique_renforce_2015_2017_r2.PROCEDURE,
        _convention_2013_r2(),
        soutien_technique_renforce_2019_r2.PROCEDURE,
    )


def _convention_2013_r2() -> Procedure:
    """The 2013 revision-2 data file, with whom its cases wait on and version 2013's labels
    (both outside the fingerprint)."""
    procedure = load_procedure(CONVENTION_2013_R2_FILE, guards=GUARDS_R2)
    labels = with_guards(CONVENTION_2013, (guard.name for guard in procedure.guards))
    return attrs.evolve(procedure, waits=CONVENTION_2013_R2_WAITS, labels=labels)


def draft_migrations() -> tuple[Migration, ...]:
    """The migrations of published revision-1 cases to the drafts (drafts themselves)."""
    from stechnique.workflows import soutien_technique_renforce_2019_r2

    return (
        soutien_technique_renforce_2019_r2.MIGRATION,
        *soutien_technique_renforce_2019_r2.FROM_2015_2017,
    )


def draft_registry() -> Registry:
    """A new registry holding every published procedure version and, beside, the drafts.

    Needs a registry that keeps several revisions of one version (``Procedure.revision``);
    the published revisions stay registered, so every history written under them still reads.
    """
    registry = default_registry()
    for procedure in drafts():
        registry.register(procedure)
    for migration in draft_migrations():
        registry.register_migration(migration)
    return registry
