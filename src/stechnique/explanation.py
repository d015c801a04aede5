"""Why an event would be refused now: every reason at once, in French and English."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from stechnique._judge import Kind, Refusal
from stechnique.i18n import Lang, current_lang

__all__ = ["Explanation", "Reason", "reasons"]


@attrs.frozen
class Reason:
    """One reason an event would be refused now, in French and English.

    ``kind`` is ``event`` (not possible in this state), ``role``, ``data`` (a bad payload field)
    or ``guard``; ``code`` is the event, role list, field path or guard name concerned.
    """

    kind: Kind
    code: str
    fr: str
    en: str

    def text(self, lang: Lang | None = None) -> str:
        """The reason as a reader of ``lang`` reads it (default: the language in force)."""
        return self.en if (lang or current_lang()) == "en" else self.fr


@attrs.frozen
class Explanation:
    """Why an event would or would not fire now: ``allowed`` is true when ``reasons`` is empty.

    ``lang`` is the language it was asked in (``Engine.explain(lang=...)``, else the engine's);
    ``None`` reads it in the language in force. Each reason keeps both texts.
    """

    case_id: str
    event: str
    state: str
    reasons: tuple[Reason, ...]
    lang: Lang | None = None

    def texts(self) -> tuple[str, ...]:
        """Every reason, in the explanation's language."""
        return tuple(reason.text(self.lang) for reason in self.reasons)

    @property
    def allowed(self) -> bool:
        """Whether nothing stands in the way."""
        return not self.reasons


def reasons(refusals: Iterable[Refusal]) -> tuple[Reason, ...]:
    """The judge's refusals as reasons a person reads (one per field, guard...)."""
    return tuple(
        Reason(refusal.kind, code, fr, en)
        for refusal in refusals
        for code, fr, en in refusal.reasons()
    )
