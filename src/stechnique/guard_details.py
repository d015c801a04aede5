"""What a refusing guard found missing, as data and as words: « Il manque l'accord de : Région
Provence-Alpes-Côte d'Azur, Ville de Marseille ».

A guard answers only whether its rule holds. Its *explainer* computes, from the same context,
the structured details of a refusal (``GuardDetail``: which funders have not approved, who
refused and why, from when the step is possible); the judge attaches them to the refusal
(``FailedGuard.details``) and writes them after the guard's refusal text, naming bodies through
the deployment's directory (``Bodies``). Code reads the details; people read the text.

A guard declares its explainer (``Guard.explain``). The guards of published revisions are
never edited (PROCEDURES.md, « Revisions »), so their explainers are registered beside them,
by guard (``register_explainer``); the registry is keyed by the guard's code, so a partner's
guard that reuses a name gets no one else's explainer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from stechnique.bodies import Bodies
    from stechnique.definition import Guard, GuardContext

__all__ = [
    "DetailKind",
    "Explainer",
    "GuardDetail",
    "detail_texts",
    "details_of",
    "register_explainer",
]

#: What a detail says: ``missing_approval`` (``bodies`` have not approved yet),
#: ``refused_by`` (``bodies`` refused, with ``reason`` if given), ``no_decision`` (``bodies``
#: have not decided), ``no_funder`` (no funder is consulted), ``not_before`` (possible from the
#: date ``on``, ISO 8601).
DetailKind = Literal["missing_approval", "refused_by", "no_decision", "no_funder", "not_before"]


def _ids(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(ids)


@attrs.frozen
class GuardDetail:
    """One thing a refusing guard found: its ``kind``, the ``bodies`` concerned (ids), a
    ``reason`` they gave, a date ``on``."""

    kind: DetailKind
    bodies: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    reason: str | None = None
    on: str | None = None


#: Computes the details of a refusal from what the guard saw.
Explainer = Callable[["GuardContext"], Sequence[GuardDetail]]

_REGISTERED: dict[object, Explainer] = {}


def register_explainer(guard: Guard, explain: Explainer) -> None:
    """Give ``guard`` (a published one, whose code is never edited) its explainer."""
    _REGISTERED[guard.check] = explain


def details_of(guard: Guard, context: GuardContext) -> tuple[GuardDetail, ...]:
    """The details of ``guard``'s refusal in ``context`` (none when it has no explainer)."""
    explain = guard.explain or _REGISTERED.get(guard.check)
    return tuple(explain(context)) if explain is not None else ()


def detail_texts(detail: GuardDetail, bodies: Bodies) -> tuple[str, str]:
    """``detail`` in French and English, naming bodies through ``bodies``."""
    names = ", ".join(bodies.named(detail.bodies))
    if detail.kind == "missing_approval":
        return f"Il manque l'accord de : {names}", f"Approval missing from: {names}"
    if detail.kind == "no_decision":
        return f"Sans décision : {names}", f"No decision yet from: {names}"
    if detail.kind == "no_funder":
        return "Aucun financeur n'est consulté", "No funder is consulted"
    if detail.kind == "not_before":
        return _not_before(detail.on or "")
    fr, en = f"Refusé par : {names}", f"Refused by: {names}"
    if detail.reason:
        fr, en = f"{fr} (motif : {detail.reason})", f"{en} (reason: {detail.reason})"
    return fr, en


def _not_before(day: str) -> tuple[str, str]:
    from datetime import date

    from babel.dates import format_date

    shown = format_date(date.fromisoformat(day), "long", locale="fr")
    return f"Possible à partir du {shown}", f"Possible from {day}"
