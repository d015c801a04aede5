"""``convention-pluripartenariale`` version ``2013``: declared as data, in the TOML file beside.

This procedure proves the engine is general: it is written in the same data-file format a
partner uses (``stechnique.load_procedure``), not in Python. Read
``convention_pluripartenariale_2013.toml``; this module only loads it.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from stechnique.definition import Binding, Fired, Party, Reading, Wait
from stechnique.loader import load_procedure
from stechnique.workflows.labels import CONVENTION_2013, with_guards

__all__ = ["DATA_FILE", "PROCEDURE", "READING", "STEPS", "WAITS"]

#: The data file that declares this version (shipped in the package).
DATA_FILE = Path(__file__).with_name("convention_pluripartenariale_2013.toml")

#: Who reads a case (stechnique 0.2; outside the fingerprint, like invariants: reading rules
#: change no history). Revision 1 records no party facts, so its parties are those who acted:
#: the centre's side (the body that started the case and every body that submitted a step: the
#: centre or FDCS 92 for it) and the steering committee (every body that arbitrated or ended
#: it). The procedure has no coordinator: « everyone there is a party ».
READING = Reading(
    parties=(
        Party(
            "centre",
            "le centre ou sa fédération",
            "the centre or its federation",
            bound_by=(Binding("start"), Binding("submit_step", how="add")),
        ),
        Party(
            "steering_committee",
            "le comité de pilotage",
            "the steering committee",
            bound_by=(Binding("arbitrate", how="add"), Binding("abandon", how="add")),
        ),
    ),
    coordinators=(),
    confidential=(),
)

#: The six steps, « 6 étapes & 6 phases d'arbitrage ».
STEPS = (
    "protocol",
    "territorial_diagnosis",
    "priority_objectives",
    "social_project",
    "objectives_convention",
    "evaluation",
)

#: Whom an open case waits on (stechnique 0.2; outside the fingerprint, like the reading
#: rules: waiting changes no rule). PROCEDURES.md: in each step, « centre (submit_step), then
#: steering_committee (arbitrate) »; a « rework » arbitration sends the step back to the
#: centre. Revision 1 records no `com_end`: its evaluation has no due date.
WAITS = (
    Wait(
        STEPS,
        on="centre",
        until=Fired("submit_step", reset_by="arbitrate"),
        then="steering_committee",
    ),
)

#: The published procedure version, loaded from ``DATA_FILE``, with its reading rules, whom
#: its cases wait on and its labels.
PROCEDURE = attrs.evolve(
    load_procedure(DATA_FILE),
    reading=READING,
    waits=WAITS,
    # Presentation, outside the fingerprint (stechnique 0.2; docs/decisions.md).
    labels=with_guards(
        CONVENTION_2013, ("selection_criteria", "step_submitted", "one_year_before_expiry")
    ),
)
