"""``stechnique demo`` writes its fictional cases only into a store of its own.

Histories are append-only: six fictional cases written into a real store could never be taken
out again without breaking its audit. So before writing, the demo rehearses every story in
memory (the stories run on fixed clocks, so each case's first record, hash included, is the
same wherever it is told) and refuses a store holding any case that is not one of its own,
unless told ``--into-existing-store``.
"""

from __future__ import annotations

import attrs

from stechnique.cli._support import CommandLineError, Tell
from stechnique.engine import Engine
from stechnique.i18n import both_n
from stechnique.records import Actor
from stechnique.registry import Registry
from stechnique.storage.base import Storage
from stechnique.storage.memory import MemoryStorage

__all__ = ["DEMO_DB", "DEMO_NARRATOR", "DemoCases", "check_own_store", "rehearse"]

#: Who reads the demo's stories back to print them: whole, as an auditor, the read logged.
DEMO_NARRATOR = Actor("stechnique-demo", frozenset({"auditor"}))

#: Where ``demo`` writes unless ``--db`` says otherwise: a file of its own, never the store
#: ``STECHNIQUE_DB`` names.
DEMO_DB = "sqlite:///stechnique-demo.db"


@attrs.frozen
class DemoCases:
    """The demo's cases: the hash of each one's first record, by case id."""

    first_hashes: dict[str, str]

    def records_in(self, storage: Storage) -> int:
        """How many records of the demo's cases ``storage`` holds."""
        return sum(len(storage.records(case_id)) for case_id in self.first_hashes)


def rehearse(stories: list[tuple[str, Tell]], registry: Registry) -> DemoCases:
    """Tell every story into a throw-away memory store: which cases the demo writes."""
    memory = MemoryStorage()
    for _, tell in stories:
        tell(Engine(memory, registry))
    return DemoCases({case.id: memory.records(case.id)[0].hash for case in memory.cases()})


def check_own_store(storage: Storage, demo: DemoCases, where: str) -> None:
    """Refuse ``storage`` if it holds a case the demo did not write (same id, same first
    record); the refusal says how many, and nothing about them."""
    foreign = 0
    for case in storage.cases():
        first = storage.records(case.id)[:1]
        if not first or demo.first_hashes.get(case.id) != first[0].hash:
            foreign += 1
    if foreign:
        raise CommandLineError(
            both_n(
                "{where} holds {n} case the demo did not write; the demo writes only into a "
                "store of its own (without --db: {demo_db}). Its histories could never be "
                "removed: add --into-existing-store only if that is really wanted",
                "{where} holds {n} cases the demo did not write; the demo writes only into a "
                "store of its own (without --db: {demo_db}). Its histories could never be "
                "removed: add --into-existing-store only if that is really wanted",
                foreign,
                where=where,
                demo_db=DEMO_DB,
            )
        )
