"""The checks of what a caller passes to the engine, before anything is read or written.

Every public command and query checks its identifiers and arguments here, with the same limits
whatever the store: an argument a SQL server could not hold, or that a hash could not encode,
is refused as ``InvalidArgument`` naming it, rather than failing half-way in a driver or
(worse) being stored in a form the hash does not cover. The limits are the SQL columns'
(``storage/_sql_schema.py``; a test checks that they agree), so the memory store refuses what
a server would. Facts and payloads are checked by their schema (``schema.validate``).

What is already stored is judged by the audit under the rules of its time, not by these: a
0.1.0 history imports and audits even where these checks would now refuse a new command.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from stechnique.errors import ArgumentProblem, InvalidArgument
from stechnique.i18n import LANGS, Lang, both, parse_lang
from stechnique.records import Actor

__all__ = [
    "MAX_ID",
    "MAX_NAME",
    "MAX_SEQ",
    "Arguments",
    "described",
    "storable_problem",
]

#: Longest case id, actor id and idempotency key (the SQL columns are ``varchar(255)``).
MAX_ID = 255
#: Longest procedure name, version, state, event and role (``varchar(200)`` columns).
MAX_NAME = 200
#: Largest seq: the largest integer a JSON reader holds exactly (2^53 - 1).
MAX_SEQ = 2**53 - 1


class Arguments:
    """The arguments of one call, checked one by one; ``done`` raises every problem found.

    Each check returns the value to use (a plain ``str`` for text) so that the call goes on
    with exactly what was checked.
    """

    __slots__ = ("_problems",)

    def __init__(self) -> None:
        self._problems: list[ArgumentProblem] = []

    def identifier(self, name: str, value: Any, limit: int = MAX_ID) -> str:
        """A case id, actor id, idempotency key (or, with ``MAX_NAME``, a procedure name...)."""
        problem = _identifier_problem(value, limit)
        if problem is not None:
            self._refuse(name, *problem)
            return ""
        return value if value.__class__ is str else str.__str__(value)

    def optional(self, name: str, value: Any, limit: int = MAX_ID) -> str | None:
        """An identifier, or None."""
        return None if value is None else self.identifier(name, value, limit)

    def actor(self, name: str, value: Any) -> Actor:
        """An ``Actor`` whose id and roles a store can hold."""
        if not isinstance(value, Actor):
            self._refuse(name, *_expected("un Actor", "an Actor", value))
            return value  # type: ignore[no-any-return]
        self.identifier(f"{name}.id", value.id)
        if value.body is not None:
            self.identifier(f"{name}.body", value.body)
        for role in value.roles:
            problem = _identifier_problem(role, MAX_NAME)
            if problem is not None:
                self._refuse(f"{name}.roles", *problem)
                break
        return value

    def optional_actor(self, name: str, value: Any) -> Actor | None:
        """An actor, or None."""
        return None if value is None else self.actor(name, value)

    def mapping(self, name: str, value: Any) -> Mapping[str, Any]:
        """Facts or a payload: a mapping (its fields are the schema's to judge)."""
        if value.__class__ is not dict and not isinstance(value, Mapping):
            self._refuse(name, *_expected("un objet (dict)", "an object (dict)", value))
            return {}
        return value

    def optional_mapping(self, name: str, value: Any) -> Mapping[str, Any] | None:
        """A mapping, or None (not given)."""
        return None if value is None else self.mapping(name, value)

    def seq(self, name: str, value: Any) -> int | None:
        """An optional seq: a whole number from 1 to ``MAX_SEQ``."""
        if value is None:
            return None
        if value.__class__ is not int or not 1 <= value <= MAX_SEQ:
            self._refuse(
                name,
                f"un entier de 1 à 2^53 - 1 attendu, reçu {described(value)[0]}",
                f"expected a whole number from 1 to 2^53 - 1, got {described(value)[1]}",
            )
            return None
        return int(value)

    def position(self, name: str, value: Any) -> int:
        """A position in the change feed: a whole number from 0 (before the first record) to
        ``MAX_SEQ``."""
        if value.__class__ is not int or not 0 <= value <= MAX_SEQ:
            self._refuse(
                name,
                f"un entier de 0 à 2^53 - 1 attendu, reçu {described(value)[0]}",
                f"expected a whole number from 0 to 2^53 - 1, got {described(value)[1]}",
            )
            return 0
        return int(value)

    def count(self, name: str, value: Any) -> int:
        """How many to read at most: a whole number from 1 to ``MAX_SEQ``."""
        if value.__class__ is not int or not 1 <= value <= MAX_SEQ:
            self._refuse(
                name,
                f"un entier de 1 à 2^53 - 1 attendu, reçu {described(value)[0]}",
                f"expected a whole number from 1 to 2^53 - 1, got {described(value)[1]}",
            )
            return 1
        return int(value)

    def seconds(self, name: str, value: Any) -> float | None:
        """An optional duration in seconds: a number from 0."""
        if value is None:
            return None
        if value.__class__ is bool or not isinstance(value, int | float) or not value >= 0:
            self._refuse(
                name,
                f"une durée en secondes (≥ 0) attendue, reçu {described(value)[0]}",
                f"expected a duration in seconds (≥ 0), got {described(value)[1]}",
            )
            return None
        return float(value)

    def revision(self, name: str, value: Any, *, required: bool = False) -> int | None:
        """A revision number, a whole number from 1; None when not given (unless
        ``required``)."""
        if value is None and required:
            self._refuse(name, "numéro de révision requis", "a revision number is required")
            return None
        return self.seq(name, value)

    def flag(self, name: str, value: Any) -> bool:
        """True or False, nothing else."""
        if value is not True and value is not False:
            self._refuse(name, *_expected("true ou false", "true or false", value))
        return value is True

    def text(self, name: str, value: Any) -> str:
        """Free text (a reason): valid Unicode; control characters are allowed, and whether a
        blank text is allowed is the command's rule (it reports it with the other data)."""
        if not isinstance(value, str):
            self._refuse(name, *_expected("du texte", "text", value))
            return ""
        if _has_surrogate(value):
            self._refuse(name, *_NOT_UNICODE)
            return ""
        return str.__str__(value)

    def reason(self, name: str, value: Any) -> str:
        """Why an auditor reads past the reading rules: text that is not blank."""
        text = self.text(name, value)
        if isinstance(value, str) and not text.strip():
            self._refuse(name, "un motif non vide attendu", "expected a reason, not blank")
        return text

    def reader(
        self, viewer: Any, auditor: Any, reason: Any
    ) -> tuple[Actor | None, Actor | None, str]:
        """Who reads: a ``viewer`` (what they may see), or an ``auditor`` with a ``reason``
        (everything, logged); exactly one of the two."""
        if (viewer is None) == (auditor is None):
            self._refuse(
                "viewer",
                "nommez qui lit : viewer, ou auditor avec un motif (reason)",
                "name who reads: viewer, or auditor with a reason",
            )
            return None, None, ""
        if viewer is not None:
            return self.actor("viewer", viewer), None, ""
        return None, self.actor("auditor", auditor), self.reason("reason", reason)

    def moment(self, name: str, value: Any) -> datetime | None:
        """An optional aware ``datetime``."""
        if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
            return value
        got = (
            ("une date et heure sans fuseau", "a naive datetime (no time zone)")
            if isinstance(value, datetime)
            else described(value)
        )
        self._refuse(
            name,
            f"une date et heure avec fuseau (UTC) attendue, reçu {got[0]}",
            f"expected an aware datetime (UTC), got {got[1]}",
        )
        return None

    def callback(self, name: str, value: Any) -> Callable[..., Any] | None:
        """An optional callable."""
        if value is not None and not callable(value):
            self._refuse(name, *_expected("une fonction", "a callable", value))
            return None
        return value  # type: ignore[no-any-return]

    def lang(self, name: str, value: Any) -> Lang | None:
        """A language stechnique speaks (``fr``, ``en``, ``fr_FR``...), or None."""
        if value is None:
            return None
        try:
            return parse_lang(value) if isinstance(value, str) else parse_lang(repr(value))
        except ValueError:
            said = both("expected one of {langs}", langs=", ".join(LANGS))
            self._refuse(name, said.fr, said.en)
            return None

    @staticmethod
    def one_lang(value: Any, name: str = "lang") -> Lang:
        """A language, or ``InvalidArgument`` naming ``name``."""
        check = Arguments()
        lang = check.lang(name, value)
        check.done()
        assert lang is not None  # None was refused above
        return lang

    def done(self) -> None:
        """Raise ``InvalidArgument`` naming every problem found, if any."""
        if self._problems:
            raise InvalidArgument(self._problems)

    def _refuse(self, name: str, fr: str, en: str) -> None:
        self._problems.append(ArgumentProblem(name, fr, en))


def storable_problem(value: Any, limit: int = MAX_ID) -> str | None:
    """Why a stored identifier (read back from an export) cannot be kept by a store, in
    English; None when it can. Only what a store cannot hold: text, valid Unicode, length."""
    if not isinstance(value, str):
        return f"expected text, got {described(value)[1]}"
    if _has_surrogate(value):
        return _NOT_UNICODE[1]
    if len(value) > limit:
        return f"longer than {limit} characters ({len(value)})"
    return None


def _identifier_problem(value: Any, limit: int) -> tuple[str, str] | None:
    if (
        value.__class__ is str
        and 0 < len(value) <= limit
        and value.isprintable()
        and not value.isspace()
    ):
        return None  # the common case, decided without looking at each character
    if not isinstance(value, str):
        return _expected("du texte", "text", value)
    if not value.strip():
        return ("vide", "empty")
    if len(value) > limit:
        return (
            f"plus de {limit} caractères ({len(value)})",
            f"longer than {limit} characters ({len(value)})",
        )
    categories = {unicodedata.category(char) for char in value if not char.isprintable()}
    if "Cs" in categories:
        return _NOT_UNICODE
    if "Cc" in categories:
        return (
            "contient des caractères de contrôle (retour à la ligne, tabulation, NUL...)",
            "holds control characters (newline, tab, NUL...)",
        )
    return None


# A lone surrogate (from a badly decoded file or command line) cannot be written as UTF-8.
_NOT_UNICODE = (
    "contient des caractères qui ne sont pas de l'Unicode valide (un demi-caractère isolé)",
    "holds characters that are not valid Unicode (a lone surrogate)",
)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _expected(fr: str, en: str, value: Any) -> tuple[str, str]:
    got_fr, got_en = described(value)
    return (f"{fr} attendu, reçu {got_fr}", f"expected {en}, got {got_en}")


_DESCRIBED: dict[type, tuple[str, str]] = {
    type(None): ("rien (None)", "nothing (None)"),
    str: ("du texte", "text"),
    bool: ("un booléen", "a boolean"),
    int: ("un entier", "an integer"),
    float: ("un nombre décimal", "a decimal number"),
    list: ("une liste", "a list"),
    tuple: ("un tuple", "a tuple"),
    dict: ("un objet (dict)", "an object (dict)"),
    bytes: ("des octets", "bytes"),
}


def described(value: Any) -> tuple[str, str]:
    """What ``value`` is, in French and English, without showing it: a message must not echo
    a value that may be confidential, unprintable, or too large to print at all."""
    for kind in type(value).__mro__:
        if kind in _DESCRIBED:
            return _DESCRIBED[kind]
    name = type(value).__qualname__
    return (f"une valeur de type {name}", f"a value of type {name}")
