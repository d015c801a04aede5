"""A partner's youth project grant: its one rule of its own, and the procedure it declares.

``aide-projets-jeunes.toml``, next to this module, declares the procedure as data
(``docs/data-files.md``); this module holds the rule the file names, ``budget_covers_amount``.
Two ways to register the procedure where its cases are read:

* the ``stechnique`` command, with the data file and this module's guards::

      stechnique --procedures aide-projets-jeunes.toml=aide_projets_jeunes:GUARDS procedures

* an installed package declaring an entry point, so every command (and the documentation
  generator) finds it without being told::

      [project.entry-points."stechnique.procedures"]
      aide-projets-jeunes = "aide_projets_jeunes:procedures"
"""

from __future__ import annotations

from pathlib import Path

from stechnique import Guard, GuardContext, Procedure, load_procedure

#: The data file declaring the procedure.
DATA_FILE = Path(__file__).with_name("aide-projets-jeunes.toml")


def budget_covers_amount(context: GuardContext) -> bool:
    """The budget given with the grant covers the amount the young person asked for."""
    return bool(context.payload["budget"] >= context.facts["amount"])


BUDGET = Guard(
    "budget_covers_amount",
    "Le budget restant couvre le montant demandé",
    "The remaining budget covers the amount requested",
    budget_covers_amount,
    uses_payload=True,  # it judges the payload, so it is decided when the payload is known
)
#: The partner's own rules, by name: what ``load_procedure`` and ``--procedures`` take.
GUARDS = {BUDGET.name: BUDGET}


def procedures() -> list[Procedure]:
    """The partner's procedure versions: what its entry point names."""
    return [load_procedure(DATA_FILE, guards=GUARDS)]
