"""The one locale setting: which language people read, and how dates and numbers look.

French is the default (the users are French public bodies and associations); English is
available. The setting lives in a context variable so that one process can answer French and
English callers at once (a service sets it per request with :func:`use_locale`); the
``STECHNIQUE_LANG`` environment variable gives the process default. Machine-readable outputs
(JSON, JSONL, CSV headers of the canonical export, exit codes, error codes) never depend on it.

Dates, times and numbers are formatted by Babel, not by hand: times are shown in Europe/Paris
local time with their offset, the way a coordinator reads a letter's date.

The library's own sentences go through gettext catalogs (``stechnique/locales``, domain
``stechnique``): the source says each one in English, marked by :func:`both` (or
:func:`both_n` for counts, :func:`N_` for a constant translated later), and the French
catalog gives its translation. ``both`` translates into every language at once and returns a
:class:`Label`, the value every error, reason and title carries: each reader then picks its
language, so an error raised under one locale still reads right under another.
"""

from __future__ import annotations

import contextvars
import functools
import gettext
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal as _babel_decimal

__all__ = [
    "DEFAULT_LANG",
    "DOMAIN",
    "LANGS",
    "LOCALES",
    "N_",
    "PARIS",
    "Label",
    "Lang",
    "both",
    "both_n",
    "current_lang",
    "default_lang",
    "format_date",
    "format_datetime",
    "format_number",
    "joined",
    "parse_lang",
    "translate",
    "translations",
    "use_locale",
]

#: A language stechnique speaks.
Lang = Literal["fr", "en"]
#: Every language stechnique speaks, the default first.
LANGS: tuple[Lang, ...] = ("fr", "en")
#: The language when nothing else is said.
DEFAULT_LANG: Lang = "fr"
#: Where people read the times: the procedures are French, stored times are UTC.
PARIS = ZoneInfo("Europe/Paris")

#: The gettext domain of the library's messages, and where its compiled catalogs are.
DOMAIN = "stechnique"
LOCALES = Path(__file__).parent / "locales"

_current: contextvars.ContextVar[Lang | None] = contextvars.ContextVar(
    "stechnique_lang", default=None
)


def parse_lang(value: str) -> Lang:
    """``value`` as a language stechnique speaks (``fr``, ``en``, ``fr_FR``, ``en-GB``...).

    Raises ``ValueError`` naming the languages available; callers at the public boundary turn
    it into their own refusal.
    """
    code = value.strip().lower().replace("-", "_").split("_", 1)[0]
    if code not in LANGS:
        raise ValueError(
            f"langue inconnue : {value!r} (possibles : {', '.join(LANGS)}) / "
            f"unknown language: {value!r} (available: {', '.join(LANGS)})"
        )
    return code


def default_lang() -> Lang:
    """The process default: ``STECHNIQUE_LANG`` if set and known, else French."""
    value = os.environ.get("STECHNIQUE_LANG", "")
    try:
        return parse_lang(value) if value else DEFAULT_LANG
    except ValueError:
        return DEFAULT_LANG


def current_lang() -> Lang:
    """The language in force here: the innermost :func:`use_locale`, else the default."""
    return _current.get() or default_lang()


@contextmanager
def use_locale(lang: Lang | str | None) -> Iterator[Lang]:
    """Speak ``lang`` inside the block (``None`` keeps the language in force)."""
    chosen = current_lang() if lang is None else parse_lang(lang)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def format_datetime(moment: datetime, lang: Lang | None = None) -> str:
    """``moment`` in Paris time with its offset, as a reader of ``lang`` writes it.

    French: « 8 déc. 2026, 00:54:30 UTC+01:00 »; English: « Dec 8, 2026, 12:54:30 AM UTC+01:00 ».
    """
    lang = lang or current_lang()
    local = moment.astimezone(PARIS)
    shown = _babel_datetime(local, "medium", tzinfo=PARIS, locale=lang)
    # The offset says which of winter or summer time the reader is looking at.
    return f"{shown} UTC{_babel_datetime(local, 'xxx', tzinfo=PARIS, locale=lang)}"


def format_date(day: date | datetime, lang: Lang | None = None) -> str:
    """``day`` as a reader of ``lang`` writes it: « 8 déc. 2026 », « Dec 8, 2026 ».

    A ``datetime`` is the day it is in Paris.
    """
    if isinstance(day, datetime):
        day = day.astimezone(PARIS).date()
    return _babel_date(day, "medium", locale=lang or current_lang())


def format_number(
    value: float | int | Decimal,
    lang: Lang | None = None,
    digits: int = 2,
    *,
    at_least: int = 0,
) -> str:
    """``value`` as a reader of ``lang`` writes it: « 11 359,5 » in French, « 11,359.5 » in English.

    At most ``digits`` decimals are shown, and at least ``at_least`` (a duration: « 0,01 s »).
    """
    shown = max(digits, at_least)
    decimals = "0" * at_least + "#" * (shown - at_least)
    pattern = "#,##0" + ("." + decimals if shown else "")
    return _babel_decimal(value, format=pattern, locale=lang or current_lang())


class Label(NamedTuple):
    """One thing said in French (``fr``, shown first) and English (``en``)."""

    fr: str
    en: str

    def both(self) -> str:
        """``fr / en``, for titles read by people of either language."""
        return f"{self.fr} / {self.en}"

    def text(self, lang: Lang | None = None) -> str:
        """What a reader of ``lang`` reads (default: the language in force)."""
        return self.en if (lang or current_lang()) == "en" else self.fr


@functools.cache
def translations(lang: Lang) -> gettext.NullTranslations:
    """The catalog of ``lang``: the msgids are English, so English needs none.

    A missing French catalog is an installation error, not a reason to speak English quietly:
    ``gettext.translation`` raises ``FileNotFoundError``.
    """
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES, languages=[lang])


def _filled(text: str, lang: Lang, params: dict[str, object]) -> str:
    if not params:
        return text
    # A parameter that is itself a Label (a role's label, a nested phrase) speaks the same
    # language as the sentence around it.
    return text.format(
        **{key: value.text(lang) if isinstance(value, Label) else value
           for key, value in params.items()}
    )  # fmt: skip


def both(msgid: str, /, **params: object) -> Label:
    """The library's sentence ``msgid`` (English, ``str.format`` fields) in every language.

    ``both("unknown case {case_id!r}", case_id=case_id)``: each language's catalog text is
    filled with ``params``; a ``Label`` parameter gives its text in that language.
    """
    fr, en = (_filled(translations(lang).gettext(msgid), lang, params) for lang in LANGS)
    return Label(fr, en)


def both_n(singular: str, plural: str, n: int, /, **params: object) -> Label:
    """Like :func:`both`, for a sentence that counts ``n`` things (``{n}`` is filled too)."""
    params = {"n": n, **params}
    fr, en = (
        _filled(translations(lang).ngettext(singular, plural, n), lang, params) for lang in LANGS
    )
    return Label(fr, en)


def N_(msgid: str) -> str:  # noqa: N802 - the gettext convention the extractor knows
    """Mark ``msgid`` for the catalogs without translating it yet (a constant's text)."""
    return msgid


def translate(msgid: str, lang: Lang | None = None) -> str:
    """``msgid`` (marked with :func:`N_`) in ``lang`` (default: the language in force)."""
    return translations(lang or current_lang()).gettext(msgid)


def joined(labels: Iterable[Label], separator: str = ", ") -> Label:
    """``labels`` listed, each language on its own: « Financeurs, Structure »."""
    listed = tuple(labels)
    return Label(
        separator.join(label.fr for label in listed), separator.join(label.en for label in listed)
    )
