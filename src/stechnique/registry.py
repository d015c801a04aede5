"""The registry of procedure revisions: ``(name, version, revision)`` to ``Procedure``.

A published revision never changes (invariant 7): registering a *different* definition under a
``(name, version, revision)`` already registered is refused, while registering the very same
definition again is harmless. A correction of a published version is a new revision of it
(``Procedure.revision``: 1, 2, 3...); every revision stays registered, since the cases started
under it are pinned to it by fingerprint. Revisions of a version may be registered in any
order; their numbers are unique. The latest version of a name is the greatest by natural order
of its version text (``2015-2017`` < ``2019``, ``1.9`` < ``1.10``), and the latest revision of
a version the greatest number: ``get`` answers with those unless asked for others.

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


#: ``(name, version, revision)``: where a registered definition is filed.
_Key = tuple[str, str, int]
#: ``(name, from version, from revision, to version, to revision)``: where a migration is filed.
_MigrationKey = tuple[str, str, int, str, int]


def _key(procedure: Procedure) -> _Key:
    return (procedure.name, procedure.version, procedure.revision)


class Registry:
    """Procedure revisions by name, version and revision, and by fingerprint; migrations
    between them."""

    def __init__(
        self, procedures: Iterable[Procedure] = (), migrations: Iterable[Migration] = ()
    ) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[_Key, Procedure] = {}
        self._by_fingerprint: dict[str, Procedure] = {}
        self._migrations: dict[_MigrationKey, Migration] = {}
        self._origins: dict[_Key, Origin | None] = {}
        self._owners: dict[str, Origin] = {}
        for procedure in procedures:
            self.register(procedure)
        for migration in migrations:
            self.register_migration(migration)

    def register(self, procedure: Procedure, origin: Origin | None = None) -> Procedure:
        """Add a procedure revision; refuse a different definition under a published key.

        The key is ``(name, version, revision)``: a new revision of a registered version is
        added beside the others (in any order), a different definition under a key already
        registered is refused. With an ``origin``, also refuse a version or revision (or a
        changed definition) of a name another owner registered first, naming both origins. The
        very same definition registered again is harmless, and keeps its first origin.
        """
        # A revision that is not 1, 2, 3... never gets here: the definition refuses it.
        key = _key(procedure)
        with self._lock:
            known = self._by_key.get(key)
            changed = known is not None and known.fingerprint != procedure.fingerprint
            if origin is not None and (known is None or changed):
                self._check_owner(procedure, origin)
            if known is not None and changed:
                shown = procedure.revision_key
                raise DefinitionError(
                    procedure.key,
                    [
                        f"{shown} est déjà publiée avec l'empreinte {known.fingerprint[:12]} ; "
                        "une définition modifiée demande une nouvelle version ou révision / "
                        f"{shown} is already published with fingerprint "
                        f"{known.fingerprint[:12]}; a changed definition needs a new version "
                        "or revision"
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

    def origin(self, name: str, version: str, revision: int | None = None) -> Origin | None:
        """Where the definition of ``name@version`` (its latest revision unless ``revision`` is
        given) came from (None: the application's code).

        Raises ``UnknownProcedure`` when that revision is not registered.
        """
        procedure = self.get(name, version, revision)
        return self._origins.get(_key(procedure))

    def register_migration(self, migration: Migration) -> Migration:
        """Add a migration between two registered revisions, checked against both."""
        old = self.get(migration.name, migration.from_version, migration.from_revision)
        new = self.get(migration.name, migration.to_version, migration.to_revision)
        problems = migration.problems(old, new)
        if problems:
            raise DefinitionError(migration.key, problems)
        with self._lock:
            self._migrations[_migration_key(migration)] = migration
        return migration

    def migration(
        self,
        name: str,
        from_version: str,
        to_version: str,
        *,
        from_revision: int = 1,
        to_revision: int = 1,
    ) -> Migration | None:
        """The migration declared from ``from_version`` (at ``from_revision``) to
        ``to_version`` (at ``to_revision``) of ``name``, if any."""
        return self._migrations.get((name, from_version, from_revision, to_version, to_revision))

    def migration_between(self, old: Procedure, new: Procedure) -> Migration | None:
        """The migration declared from revision ``old`` to revision ``new``, if any."""
        if old.name != new.name:
            return None
        return self.migration(
            old.name,
            old.version,
            new.version,
            from_revision=old.revision,
            to_revision=new.revision,
        )

    def get(self, name: str, version: str | None = None, revision: int | None = None) -> Procedure:
        """The procedure ``name`` at ``version`` and ``revision``.

        Without ``version``, the latest version; without ``revision``, the latest revision of
        that version. Raises ``UnknownProcedure`` when nothing is registered there.
        """
        if version is None:
            version = self.latest(name).version
        if revision is None:
            revisions = self.revisions(name, version)
            if not revisions:
                raise UnknownProcedure(name, version, self.keys())
            return revisions[-1]
        procedure = self._by_key.get((name, version, revision))
        if procedure is None:
            wanted = version if revision == 1 else f"{version}/r{revision}"
            raise UnknownProcedure(name, wanted, self.keys())
        return procedure

    def revisions(self, name: str, version: str) -> list[Procedure]:
        """Every registered revision of ``name@version``, oldest first (empty: none)."""
        return sorted(
            (p for (n, v, _), p in self._by_key.items() if (n, v) == (name, version)),
            key=lambda procedure: procedure.revision,
        )

    def latest(self, name: str) -> Procedure:
        """The latest revision of the latest registered version of ``name``."""
        versions = [p for (n, _, _), p in self._by_key.items() if n == name]
        if not versions:
            raise UnknownProcedure(name, None, self.keys())
        return max(
            versions, key=lambda procedure: (version_order(procedure.version), procedure.revision)
        )

    def is_latest(self, procedure: Procedure) -> bool:
        """Whether ``procedure`` is the latest registered revision of its version."""
        revisions = self.revisions(procedure.name, procedure.version)
        return bool(revisions) and revisions[-1].fingerprint == procedure.fingerprint

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
            same_key = self.revisions(name, version)
            if not same_key:
                raise UnregisteredProcedure(case_id, seq, name, version, fingerprint)
            # Revision 1 alone reads as before revisions existed.
            registered = ", ".join(
                f"{p.revision_key} {p.fingerprint[:12]}"
                if len(same_key) > 1
                else f"fingerprint {p.fingerprint[:12]}"
                for p in same_key
            )
            reason = (
                f"pinned to {name}@{version} fingerprint {fingerprint[:12]}, but the registered "
                f"{name}@{version} has {registered}: the row was "
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
        """``Procedure.revision_key`` of every registered revision (``name@version``, then
        ``name@version/r2``...), in the order of iteration."""
        return [procedure.revision_key for procedure in self]

    def __iter__(self) -> Iterator[Procedure]:
        """Every registered revision: by name, version (natural order), then revision."""
        return iter(
            sorted(
                self._by_key.values(),
                key=lambda p: (p.name, version_order(p.version), p.revision),
            )
        )

    def __len__(self) -> int:
        """How many revisions are registered (of every version of every name)."""
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        """Whether ``(name, version)`` (any revision) or ``(name, version, revision)`` is
        registered."""
        if isinstance(key, tuple) and len(key) == 2:
            return any((n, v) == key for n, v, _ in self._by_key)
        return key in self._by_key


def _migration_key(migration: Migration) -> _MigrationKey:
    return (
        migration.name,
        migration.from_version,
        migration.from_revision,
        migration.to_version,
        migration.to_revision,
    )
