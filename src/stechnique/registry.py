"""The registry of procedure versions: ``(name, version)`` to ``Procedure``.

A published version never changes (invariant 7): registering a *different* definition under a
``(name, version)`` already registered is refused, while registering the very same definition
again is harmless. The latest version of a name is the greatest by natural order of its version
text (``2015-2017`` < ``2019``, ``1.9`` < ``1.10``).

A definition may be registered with its ``Origin`` (published by stechnique, an installed
package's entry point, a file given on the command line...). A name belongs to the owner of
the first origin that registers it: another owner may not add versions to it, so a plugin
can never slip a "new version" of someone else's procedure into a registry (definitions
registered without an origin, by the application's own code, are not checked).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator

import attrs

from stechnique.definition import Procedure
from stechnique.errors import (
    DefinitionError,
    HistoryCorrupted,
    UnknownProcedure,
    UnregisteredProcedure,
)
from stechnique.migration import Migration

__all__ = ["PUBLISHED", "Origin", "Registry", "version_order"]


@attrs.frozen
class Origin:
    """Where a registered definition came from (``where``, for people), and who owns its name.

    ``owner`` publishes names: ``stechnique`` for the published procedures, a distribution's
    name for its entry points, ``--procedures`` for what the person running the command gives.
    """

    owner: str
    where: str

    def __str__(self) -> str:
        return self.where


#: The origin of the procedures stechnique publishes.
PUBLISHED = Origin("stechnique", "published by stechnique")


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
        self._origins: dict[tuple[str, str], Origin | None] = {}
        self._owners: dict[str, Origin] = {}
        for procedure in procedures:
            self.register(procedure)
        for migration in migrations:
            self.register_migration(migration)

    def register(self, procedure: Procedure, origin: Origin | None = None) -> Procedure:
        """Add a procedure version; refuse a different definition under a published key.

        With an ``origin``, also refuse a version (or a changed definition) of a name another
        owner registered first, naming both origins. The very same definition registered again
        is harmless, and keeps its first origin.
        """
        key = (procedure.name, procedure.version)
        with self._lock:
            known = self._by_key.get(key)
            changed = known is not None and known.fingerprint != procedure.fingerprint
            if origin is not None and (known is None or changed):
                self._check_owner(procedure, origin)
            if known is not None and changed:
                raise DefinitionError(
                    procedure.key,
                    [
                        f"{procedure.key} is already published with fingerprint "
                        f"{known.fingerprint[:12]}; a changed definition needs a new version"
                    ],
                )
            if known is None:
                self._origins[key] = origin
            self._by_key[key] = procedure
            self._by_fingerprint[procedure.fingerprint] = procedure
        return procedure

    def _check_owner(self, procedure: Procedure, origin: Origin) -> None:
        owner = self._owners.setdefault(procedure.name, origin)
        if owner.owner == origin.owner:
            return
        raise DefinitionError(
            procedure.key,
            [
                f"la procédure {procedure.name} appartient à {owner.where} : {origin.where} ne "
                f"peut pas lui ajouter la version {procedure.version} ; donnez à la vôtre un nom "
                f"à vous / procedure {procedure.name} belongs to {owner.where}: {origin.where} "
                f"may not add version {procedure.version} to it; give yours a name of its own"
            ],
        )

    def origin(self, name: str, version: str) -> Origin | None:
        """Where the definition of ``name@version`` came from (None: the application's code).

        Raises ``UnknownProcedure`` when ``name@version`` is not registered.
        """
        self.get(name, version)
        return self._origins.get((name, version))

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

    def pinned(
        self, case_id: str, seq: int, name: str, version: str, fingerprint: str
    ) -> Procedure:
        """The definition a stored case or record (``case_id`` at ``seq``) is pinned to.

        Raises ``UnregisteredProcedure`` (saying how to register it) when ``name@version`` is
        not registered at all, and ``HistoryCorrupted`` when the registered definition that has
        ``fingerprint`` is not ``name@version``, or ``name@version`` is registered with another
        fingerprint: the row was altered, or a published definition changed.
        """
        procedure = self._by_fingerprint.get(fingerprint)
        if procedure is None:
            same_key = self._by_key.get((name, version))
            if same_key is None:
                raise UnregisteredProcedure(case_id, seq, name, version, fingerprint)
            reason = (
                f"pinned to {name}@{version} fingerprint {fingerprint[:12]}, but the registered "
                f"{name}@{version} has fingerprint {same_key.fingerprint[:12]}: the row was "
                "altered, or the definition changed without a new version"
            )
            raise HistoryCorrupted(case_id, seq, reason)
        if (procedure.name, procedure.version) != (name, version):
            raise HistoryCorrupted(
                case_id,
                seq,
                f"pinned to {name}@{version} with fingerprint {fingerprint[:12]}, which is "
                f"the fingerprint of {procedure.key}",
            )
        return procedure

    def keys(self) -> list[str]:
        """``name@version`` of every registered procedure, sorted."""
        return sorted(procedure.key for procedure in self._by_key.values())

    def __iter__(self) -> Iterator[Procedure]:
        return iter(sorted(self._by_key.values(), key=lambda p: (p.name, version_order(p.version))))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key
