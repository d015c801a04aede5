"""The registry of procedure versions: ``(name, version)`` to ``Procedure``.

A published version never changes (invariant 7): registering a *different* definition under a
``(name, version)`` already registered is refused, while registering the very same definition
again is harmless. The latest version of a name is the greatest by natural order of its version
text (``2015-2017`` < ``2019``, ``1.9`` < ``1.10``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator

from stechnique.definition import Procedure
from stechnique.errors import DefinitionError, UnknownProcedure
from stechnique.migration import Migration

__all__ = ["Registry", "version_order"]


def version_order(version: str) -> tuple[tuple[int, str], ...]:
    """Sort key that orders version texts naturally: numbers as numbers, the rest as text."""
    return tuple(
        (int(part), "") if part.isdigit() else (-1, part)
        for part in re.findall(r"\d+|[^\d\W]+", version)
    )


class Registry:
    """Procedure versions by name and version, and by fingerprint; migrations between them."""

    def __init__(
        self, procedures: Iterable[Procedure] = (), migrations: Iterable[Migration] = ()
    ) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], Procedure] = {}
        self._by_fingerprint: dict[str, Procedure] = {}
        self._migrations: dict[tuple[str, str, str], Migration] = {}
        for procedure in procedures:
            self.register(procedure)
        for migration in migrations:
            self.register_migration(migration)

    def register(self, procedure: Procedure) -> Procedure:
        """Add a procedure version; refuse a different definition under a published key."""
        key = (procedure.name, procedure.version)
        with self._lock:
            known = self._by_key.get(key)
            if known is not None and known.fingerprint != procedure.fingerprint:
                raise DefinitionError(
                    procedure.key,
                    [
                        f"{procedure.key} is already published with fingerprint "
                        f"{known.fingerprint[:12]}; a changed definition needs a new version"
                    ],
                )
            self._by_key[key] = procedure
            self._by_fingerprint[procedure.fingerprint] = procedure
        return procedure

    def register_migration(self, migration: Migration) -> Migration:
        """Add a migration between two registered versions, checked against both."""
        old = self.get(migration.name, migration.from_version)
        new = self.get(migration.name, migration.to_version)
        problems = migration.problems(old, new)
        if problems:
            raise DefinitionError(migration.key, problems)
        with self._lock:
            self._migrations[(migration.name, migration.from_version, migration.to_version)] = (
                migration
            )
        return migration

    def migration(self, name: str, from_version: str, to_version: str) -> Migration | None:
        """The migration declared from ``from_version`` to ``to_version`` of ``name``, if any."""
        return self._migrations.get((name, from_version, to_version))

    def get(self, name: str, version: str | None = None) -> Procedure:
        """The procedure ``name`` at ``version`` (the latest when ``version`` is None)."""
        if version is None:
            return self.latest(name)
        procedure = self._by_key.get((name, version))
        if procedure is None:
            raise UnknownProcedure(name, version, self.keys())
        return procedure

    def latest(self, name: str) -> Procedure:
        """The latest registered version of ``name``."""
        versions = [p for (n, _), p in self._by_key.items() if n == name]
        if not versions:
            raise UnknownProcedure(name, None, self.keys())
        return max(versions, key=lambda procedure: version_order(procedure.version))

    def by_fingerprint(self, fingerprint: str) -> Procedure | None:
        """The procedure with that fingerprint, if registered."""
        return self._by_fingerprint.get(fingerprint)

    def keys(self) -> list[str]:
        """``name@version`` of every registered procedure, sorted."""
        return sorted(procedure.key for procedure in self._by_key.values())

    def __iter__(self) -> Iterator[Procedure]:
        return iter(sorted(self._by_key.values(), key=lambda p: (p.name, version_order(p.version))))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key
