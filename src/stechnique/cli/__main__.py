"""``python -m stechnique.cli``: the ``stechnique`` command."""

from stechnique.cli import app

app()
