"""Public test tools for partners: the storage contract suite and hypothesis strategies.

A partner who writes its own storage adapter subclasses the contract suite with a ``storage``
fixture; a partner who declares its own procedure runs the generated state machine on it.
"""

from stechnique.clock import ManualClock as ManualClock
from stechnique.testing._checks import (
    Withheld,
    definition_problems,
    example_data,
    redaction_problems,
    snapshot,
    store_problems,
)
from stechnique.testing.contract import CaseBuilder, StorageContract
from stechnique.testing.stateful import (
    Fire,
    ProcedureMachine,
    Read,
    Start,
    procedure_machine,
)

__all__ = [
    "CaseBuilder",
    "Fire",
    "ManualClock",
    "ProcedureMachine",
    "Read",
    "Start",
    "StorageContract",
    "Withheld",
    "definition_problems",
    "example_data",
    "procedure_machine",
    "redaction_problems",
    "snapshot",
    "store_problems",
]
