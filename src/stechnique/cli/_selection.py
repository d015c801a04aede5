"""What a command selected, told truthfully: unknown filters, empty selections, counts.

A filter nobody could match (a typo in ``--state``) is refused with the known values listed,
rather than answered with an empty table; a check that selected nothing says so rather than
« conforme »; a count agrees with its noun in French and in English.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from stechnique.cli._support import CommandLineError
from stechnique.engine import Engine
from stechnique.records import Actor, Case

__all__ = ["check_filters", "count", "nothing_selected", "refuse_version_alone"]


def count(number: int, fr: tuple[str, str], en: tuple[str, str]) -> tuple[str, str]:
    """``number`` with its noun, singular or plural, in French (0 and 1 take the singular)
    and in English (only 1 does): ``count(1, ("dossier", "dossiers"), ("case", "cases"))``."""
    return (
        f"{number} {fr[0] if number <= 1 else fr[1]}",
        f"{number} {en[0] if number == 1 else en[1]}",
    )


def refuse_version_alone(name: str | None, version: str | None) -> None:
    """``--version`` filters the versions of one procedure: it needs ``--name``."""
    if version is not None and name is None:
        raise CommandLineError(
            f"--version {version} a besoin de --name / --version {version} needs --name "
            "(a version belongs to one procedure: --name NAME --version VERSION)"
        )


def check_filters(
    engine: Engine,
    reader: Actor | None,
    *,
    name: str | None,
    version: str | None,
    state: str | None = None,
) -> None:
    """Refuse a ``--name``, ``--version`` or ``--state`` that names nothing anywhere: neither
    in the engine's procedures nor among the cases ``reader`` may know of (the others are not
    theirs to learn of, not even through a refusal; ``None``: the audit, which reads every
    case anyway). Called when a selection came back empty, so a store of millions of cases is
    only listed to explain a refusal."""
    stored = engine.storage.cases() if reader is None else engine.cases(viewer=reader)
    procedures = [p for p in engine.registry if name is None or p.name == name]
    cases = [c for c in stored if name is None or c.name == name]
    names = {p.name for p in engine.registry} | {c.name for c in stored}
    _known("--name", name, names)
    versions = {p.version for p in procedures} | {c.version for c in cases}
    _known("--version", version, versions, f" ({name})" if name else "")
    kept_procedures = [p for p in procedures if version is None or p.version == version]
    kept_cases: Iterable[Case] = [c for c in cases if version is None or c.version == version]
    states = {s.id for p in kept_procedures for s in p.states} | {c.state for c in kept_cases}
    _known("--state", state, states)


def _known(option: str, value: str | None, known: set[str], of: str = "") -> None:
    if value is None or value in known:
        return
    listed = ", ".join(sorted(known)) or "—"
    raise CommandLineError(
        f"{option} {value!r} inconnu / unknown {option} {value!r}; connus / known{of}: {listed}"
    )


def nothing_selected(
    case_id: str | None = None,
    name: str | None = None,
    version: str | None = None,
    since: datetime | None = None,
    appended_after: int | None = None,
) -> str:
    """Why an audit or export has nothing to say: what was asked for, which nothing matched."""
    asked_fr, asked_en = [], []
    if case_id is not None:
        asked_fr.append(f"dossier {case_id!r}")
        asked_en.append(f"case {case_id!r}")
    if name is not None:
        key = name if version is None else f"{name}@{version}"
        asked_fr.append(f"dossiers de {key}")
        asked_en.append(f"cases of {key}")
    if since is not None:
        asked_fr.append(f"enregistrés depuis {since.isoformat()}")
        asked_en.append(f"written since {since.isoformat()}")
    if appended_after is not None:
        asked_fr.append(f"ajoutés après la position {appended_after}")
        asked_en.append(f"appended after position {appended_after}")
    fr = ", ".join(asked_fr) or "tout le magasin"
    en = ", ".join(asked_en) or "the whole store"
    return (
        f"rien n'a été sélectionné ({fr}) : ni conforme ni non conforme (statut 3) / "
        f"nothing selected ({en}): neither ok nor in violation (exit status 3)"
    )
