"""Partner procedures: found in installed packages (entry points) or given explicitly.

``load_registry`` builds the registry the ``stechnique`` command and the documentation use, and
that an application may use too: the published procedures, then those every installed package
declares in the entry point group ``stechnique.procedures`` (found with
``importlib.metadata.entry_points``, the way pytest finds its plugins), then explicit sources:

* ``FILE.toml``: a procedure data file, its guards resolved in ``stechnique.GUARDS``;
* ``FILE.toml=module:attr``: the same, with the partner's own guards, ``attr`` being a mapping
  from name to ``Guard`` or an iterable of ``Guard`` (a data file never names code itself);
* ``module:attr``: like an entry point's value.

An entry point (or ``module:attr``) names a ``Procedure``, an iterable of them, or a callable
returning either. Each definition is registered with its ``Origin``; a package may add
procedures under names of its own, never a version of a name stechnique or another package
publishes (``Registry.register``). A list or tuple may also hold ``Migration`` values between
the versions or revisions it gives of its own names: they are registered after its
procedures, so that ``stechnique migrate`` can move the package's cases.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, NoReturn

from stechnique._labels import PROCEDURES_ENTRY_POINTS
from stechnique.definition import Guard, Procedure
from stechnique.errors import DefinitionError, StechniqueError
from stechnique.loader import load_procedure
from stechnique.migration import Migration
from stechnique.registry import Origin, Registry
from stechnique.workflows import default_registry

__all__ = ["ENTRY_POINT_GROUP", "EXPLICIT", "load_registry", "load_source", "split_sources"]

#: The entry point group where an installed package declares its procedures.
ENTRY_POINT_GROUP = PROCEDURES_ENTRY_POINTS
#: The owner of every explicit source: the person who gives them, for all of them at once.
EXPLICIT = "--procedures"

_SOURCES = "FILE.toml, FILE.toml=module:attr or module:attr"
_SOURCES_FR = "FICHIER.toml, FICHIER.toml=module:attribut ni module:attribut"


def load_registry(sources: Iterable[str] = (), *, installed: bool = True) -> Registry:
    """The published procedures, those of installed packages, then those of ``sources``.

    ``installed=False`` leaves out the entry points of installed packages. Raises
    ``DefinitionError`` naming the source at fault when one cannot be loaded, names no
    procedure, or adds a version to a procedure another source publishes.
    """
    registry = default_registry()
    if installed:
        for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=_entry_point_key):
            origin = _entry_point_origin(entry_point)
            value = _loaded(origin, entry_point.load)
            _register(registry, origin, *_definitions(origin, value))
    for source in sources:
        origin, procedures = _source(source)
        _register(registry, origin, *procedures)
    return registry


def load_source(source: str) -> tuple[Origin, list[Procedure]]:
    """The procedures of one explicit source (``FILE.toml[=module:attr]`` or ``module:attr``)."""
    origin, (procedures, _) = _source(source)
    return origin, procedures


def _source(source: str) -> tuple[Origin, tuple[list[Procedure], list[Migration]]]:
    """The procedures of one explicit source, and the migrations it declares between them."""
    path, equals, guards = source.rpartition("=")
    if equals and path.endswith(".toml") and _is_object_reference(guards):
        origin, procedures = _toml(source, Path(path), guards)
        return origin, (procedures, [])
    if source.endswith(".toml"):
        origin, procedures = _toml(source, Path(source), None)
        return origin, (procedures, [])
    origin = Origin(EXPLICIT, f"--procedures {source}")
    if not _is_object_reference(source):
        _refuse(origin, f"{source!r} n'est pas {_SOURCES_FR}", f"{source!r} is not {_SOURCES}")
    value = _loaded(origin, _reference(source).load)
    return origin, _definitions(origin, value)


def split_sources(text: str, separator: str = os.pathsep) -> list[str]:
    """The sources of ``STECHNIQUE_PROCEDURES``, separated by ``os.pathsep``.

    Where the separator is ``:`` (POSIX), the ``:`` of ``module:attr`` is told apart: a part
    that is a module (not a ``.toml`` path) is joined to the attribute that follows it.
    """
    parts = [part for part in text.split(separator) if part.strip()]
    if separator != ":":
        return parts
    sources: list[str] = []
    for part in parts:
        if sources and _wants_attribute(sources[-1]):
            sources[-1] += ":" + part
        else:
            sources.append(part)
    return sources


def _wants_attribute(source: str) -> bool:
    path, equals, module = source.rpartition("=")
    if equals and path.endswith(".toml"):
        return ":" not in module
    return not source.endswith(".toml") and ":" not in source


_REFERENCE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _is_object_reference(text: str) -> bool:
    return _REFERENCE.fullmatch(text) is not None


def _reference(text: str) -> EntryPoint:
    # The standard library resolves ``module:attr.sub`` exactly as it does for entry points.
    return EntryPoint(name=text, value=text, group=ENTRY_POINT_GROUP)


def _entry_point_key(entry_point: EntryPoint) -> tuple[str, str, str]:
    dist = entry_point.dist
    return (dist.name if dist is not None else "", entry_point.name, entry_point.value)


def _entry_point_origin(entry_point: EntryPoint) -> Origin:
    dist = entry_point.dist
    name = dist.name if dist is not None else f"entry point {entry_point.name}"
    of = f" of {dist.name} {dist.version}" if dist is not None else ""
    return Origin(name, f"entry point {entry_point.name} = {entry_point.value}{of}")


def _toml(source: str, path: Path, guards: str | None) -> tuple[Origin, list[Procedure]]:
    where = f"file {path}" + (f" (guards {guards})" if guards else "")
    origin = Origin(EXPLICIT, where)
    library = _guards(origin, _loaded(origin, _reference(guards).load)) if guards else None
    if not path.is_file():
        _refuse(origin, f"fichier introuvable : {path}", f"no such file: {path}")
    try:
        return origin, [load_procedure(path, guards=library)]
    except OSError as error:
        _refuse(origin, f"lecture impossible : {error.strerror}", f"cannot read: {error.strerror}")


def _guards(origin: Origin, value: Any) -> dict[str, Guard]:
    if isinstance(value, Mapping):
        value = value.values()
    guards = list(value) if isinstance(value, Iterable) else [value]
    if not guards or not all(isinstance(guard, Guard) for guard in guards):
        _refuse(
            origin,
            "les gardes doivent être un dictionnaire nom → Guard ou une suite de Guard",
            "the guards must be a mapping of names to Guard or an iterable of Guard",
        )
    return {guard.name: guard for guard in guards}


def _loaded(origin: Origin, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except StechniqueError:
        raise  # already names what is wrong (a data file's problems, say)
    except Exception as error:  # any failure of a partner's import: say which source failed
        failure = f"{type(error).__name__}: {error}"
        fr, en = f"chargement impossible ({failure})", f"cannot load it ({failure})"
        if isinstance(error, ModuleNotFoundError):
            fr += " ; installez le module, ou ajoutez son dossier à PYTHONPATH"
            en += "; install the module, or add its folder to PYTHONPATH"
        _refuse(origin, fr, en, error)


def _definitions(origin: Origin, value: Any) -> tuple[list[Procedure], list[Migration]]:
    """What an entry point or ``module:attr`` names: its procedures, and the migrations it
    declares between them (a migration of a name it does not give is refused)."""
    if callable(value) and not isinstance(value, Procedure):
        value = _loaded(origin, value)
    items = list(value) if isinstance(value, list | tuple) else []
    migrations = [item for item in items if isinstance(item, Migration)]
    if migrations:
        procedures = _procedures(origin, [i for i in items if not isinstance(i, Migration)])
        names = {procedure.name for procedure in procedures}
        for migration in migrations:
            if migration.name not in names:
                _refuse(
                    origin,
                    f"la migration {migration.key} ne relie pas des procédures de cette source",
                    f"migration {migration.key} does not link procedures of this source",
                )
        return procedures, migrations
    return _procedures(origin, value), []


def _procedures(origin: Origin, value: Any) -> list[Procedure]:
    """What an entry point or ``module:attr`` names, as a list of procedures."""
    if callable(value) and not isinstance(value, Procedure):
        value = _loaded(origin, value)
    if isinstance(value, Procedure):
        return [value]
    found = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else None
    if not found or not all(isinstance(item, Procedure) for item in found):
        what = f"{type(value).__name__} {value!r:.60}"
        _refuse(
            origin,
            f"désigne {what}, ni une Procedure, ni une suite de Procedure, ni une fonction qui "
            "en renvoie",
            f"names {what}, not a Procedure, an iterable of them or a callable returning them",
        )
    return found


def _register(
    registry: Registry,
    origin: Origin,
    procedures: Iterable[Procedure],
    migrations: Iterable[Migration] = (),
) -> None:
    for procedure in procedures:
        registry.register(procedure, origin)
    for migration in migrations:
        registry.register_migration(migration)


def _refuse(origin: Origin, fr: str, en: str, cause: BaseException | None = None) -> NoReturn:
    raise DefinitionError(str(origin), [f"{fr} / {en}"]) from cause
