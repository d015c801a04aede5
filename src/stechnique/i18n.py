"""The one locale setting: which language people read, and how dates and numbers look.

French is the default (the users are French public bodies and associations); English is
available. The setting lives in a context variable so that one process can answer French and
English callers at once (a service sets it per request with :func:`use_locale`); the
``STECHNIQUE_LANG`` environment variable gives the process default. Machine-readable outputs
(JSON, JSONL, CSV headers of the canonical export, exit codes, error codes) never depend on it.

Dates, times and numbers are formatted by Babel, not by hand: times are shown in Europe/Paris
local time with their offset, the way a coordinator reads a letter's date.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_decimal as _babel_decimal

#: A language stechnique speaks.
Lang = Literal["fr", "en"]
#: Every language stechnique speaks, the default first.
LANGS: tuple[Lang, ...] = ("fr", "en")
#: The language when nothing else is said.
DEFAULT_LANG: Lang = "fr"
#: Where people read the times: the procedures are French, stored times are UTC.
PARIS = ZoneInfo("Europe/Paris")

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


def format_number(value: float | int | Decimal, lang: Lang | None = None, digits: int = 2) -> str:
    """``value`` as a reader of ``lang`` writes it: « 11 359,5 » in French, « 11,359.5 » in English.

    At most ``digits`` decimals are shown.
    """
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return _babel_decimal(value, format=pattern, locale=lang or current_lang())
