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
from stechnique.i18n import both, format_datetime, joined
from stechnique.records import Actor, Case

__all__ = ["check_filters", "nothing_selected", "refuse_version_alone"]


def refuse_version_alone(name: str | None, version: str | None) -> None:
    """``--version`` filters the versions of one procedure: it needs ``--name``."""
    if version is not None and name is None:
        raise CommandLineError(
            both(
                "--version {version} needs --name (a version belongs to one procedure: --name "
                "NAME --version VERSION)",
                version=version,
            )
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
        both(
            "unknown {option} {value!r}; known{of}: {listed}",
            option=option,
            value=value,
            of=of,
            listed=listed,
        )
    )


def nothing_selected(
    case_id: str | None = None,
    name: str | None = None,
    version: str | None = None,
    since: datetime | None = None,
    appended_after: int | None = None,
) -> str:
    """Why an audit or export has nothing to say: what was asked for, which nothing matched."""
    asked = []
    if case_id is not None:
        asked.append(both("case {case_id!r}", case_id=case_id))
    if name is not None:
        key = name if version is None else f"{name}@{version}"
        asked.append(both("cases of {key}", key=key))
    if since is not None:
        asked.append(both("written since {since}", since=format_datetime(since)))
    if appended_after is not None:
        asked.append(both("appended after position {position}", position=appended_after))
    said = both(
        "nothing selected ({asked}): neither compliant nor in violation (exit status 3)",
        asked=joined(asked) if asked else both("the whole store"),
    )
    return said.text()
