"""Public test tools for partners: the storage contract suite and hypothesis strategies.

A partner who writes its own storage adapter subclasses the contract suite with a ``storage``
fixture; a partner who declares its own procedure runs the generated state machine on it.

They need pytest and hypothesis, which a plain install leaves out: install the ``testing`` extra
(``pip install "stechnique[testing]"``). Without them, importing this package raises an
``ImportError`` that says so.
"""

import importlib.util as _importlib_util

#: What this package imports beyond the library's own dependencies (the ``testing`` extra).
_NEEDED = ("pytest", "hypothesis")

_missing = [name for name in _NEEDED if _importlib_util.find_spec(name) is None]
if _missing:
    raise ImportError(
        f"stechnique.testing a besoin de {' et '.join(_missing)} : "
        'pip install "stechnique[testing]" / '
        f"stechnique.testing needs {' and '.join(_missing)}: "
        'pip install "stechnique[testing]"',
        name=_missing[0],
    )

# The imports wait for the check above, so a missing extra is named before pytest is imported.
from stechnique.clock import ManualClock as ManualClock  # noqa: E402
from stechnique.testing._checks import (  # noqa: E402
    Withheld,
    definition_problems,
    example_data,
    redaction_problems,
    snapshot,
    store_problems,
)
from stechnique.testing.contract import CaseBuilder, StorageContract  # noqa: E402
from stechnique.testing.stateful import (  # noqa: E402
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
