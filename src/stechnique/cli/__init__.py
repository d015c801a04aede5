"""The ``stechnique`` command: run, inspect and audit procedures from a terminal.

Every command takes ``--db URL`` (default ``sqlite:///stechnique.db``, or ``STECHNIQUE_DB``).
Exit status: 0 on success, 1 when an audit finds violations, 2 when the command is refused or
wrong (unknown case or procedure, refused event, bad JSON, no store...), 3 when an audit or
export selected nothing. Errors are one line on standard error, without a traceback
(``STECHNIQUE_DEBUG=1`` shows it).

``app`` is the Typer application (the ``stechnique`` console script, or
``python -m stechnique.cli``). Inside: ``_commands`` holds the commands (``_checkpoints`` the
``checkpoint`` ones, ``_server`` ``serve`` and ``accounts``, ``_demo`` the demo's own store),
``_support`` reads what the user typed and opens the store, ``_selection`` tells what a command
selected, ``_render`` draws what the user sees.
"""

from stechnique.cli import (
    _checkpoints,  # noqa: F401 (adds the ``checkpoint`` commands)
    _server,  # noqa: F401 (adds ``serve`` and the ``accounts`` commands)
    _stats,  # noqa: F401 (adds ``stats``)
)
from stechnique.cli._commands import app

__all__ = ["app"]
