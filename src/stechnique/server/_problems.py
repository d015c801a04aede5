"""Refusals as RFC 9457 problem documents (``application/problem+json``).

One home for how an error looks over HTTP: its status, its stable ``code`` (what a partner's
program branches on), the French and English texts (French first), and the structured details
the error carries as attributes (the roles allowed, the failed guards, the bad fields...). A
case the account may not see is 404 exactly as a case that does not exist: the document names
the case id the caller sent and nothing else.
"""

from __future__ import annotations

from typing import Any

import attrs

from stechnique.errors import (
    CaseIdTaken,
    ConcurrencyConflict,
    GuardFailed,
    HistoryCorrupted,
    IdempotencyKeyReused,
    InvalidArgument,
    InvalidData,
    InvalidEvent,
    MigrationRefused,
    PermissionDenied,
    RevisionSuperseded,
    StechniqueError,
    StorageError,
    UnknownCase,
    UnknownProcedure,
)

__all__ = ["PROBLEM_TYPE", "Problem", "problem_of"]

#: Where the problem types are documented: ``type`` is this and ``#`` the code.
PROBLEM_TYPE = "https://stechnique.readthedocs.io/serve/#problem-"
#: The media type of every error body.
MEDIA_TYPE = "application/problem+json"

# error class -> (status, code, French title, English title); the first match wins.
_KINDS: tuple[tuple[type[StechniqueError], int, str, str, str], ...] = (
    (UnknownCase, 404, "unknown_case", "Dossier inconnu", "Unknown case"),
    (UnknownProcedure, 404, "unknown_procedure", "Procédure inconnue", "Unknown procedure"),
    (PermissionDenied, 403, "permission_denied", "Action non permise", "Not allowed"),
    (InvalidEvent, 409, "invalid_event", "Événement impossible", "Event not possible"),
    (GuardFailed, 409, "guard_failed", "Règle non satisfaite", "Rule not met"),
    (InvalidArgument, 422, "invalid_argument", "Argument invalide", "Invalid argument"),
    (InvalidData, 422, "invalid_data", "Données invalides", "Invalid data"),
    (CaseIdTaken, 409, "case_id_taken", "Identifiant pris", "Case id taken"),
    (ConcurrencyConflict, 409, "concurrency_conflict", "Dossier modifié", "Case changed"),
    (IdempotencyKeyReused, 422, "idempotency_key_reused", "Clé déjà utilisée", "Key reused"),
    (MigrationRefused, 409, "migration_refused", "Migration refusée", "Migration refused"),
    (RevisionSuperseded, 409, "revision_superseded", "Révision remplacée", "Superseded"),
    (HistoryCorrupted, 500, "history_corrupted", "Historique altéré", "History corrupted"),
    (StorageError, 503, "storage_error", "Stockage indisponible", "Storage unavailable"),
)
# The attributes of an error that are not details (or that would say more than the caller
# may know: none of the errors above carries another case's content).
_NOT_DETAILS = frozenset({"args", "problems", "arguments", "failed_guards"})


@attrs.frozen
class Problem(Exception):
    """A refusal the service answers with: status, code, texts and details.

    Raised inside a route (or made from a ``StechniqueError`` by ``problem_of``), it becomes
    the response body ``to_data`` gives, with the status and ``headers``.
    """

    status: int
    code: str
    title: str
    fr: str
    en: str
    details: dict[str, Any] = attrs.field(factory=dict)
    headers: dict[str, str] = attrs.field(factory=dict)

    def to_data(self, instance: str) -> dict[str, Any]:
        """The problem document (RFC 9457 members, then stechnique's extensions)."""
        return {
            "type": PROBLEM_TYPE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": f"{self.fr} / {self.en}",
            "instance": instance,
            "code": self.code,
            "fr": self.fr,
            "en": self.en,
            "details": self.details,
        }


def problem_of(error: StechniqueError) -> Problem:
    """The problem document ``error`` is answered with."""
    status, code, title_fr, title_en = next(
        (
            (status, code, fr, en)
            for kind, status, code, fr, en in _KINDS
            if isinstance(error, kind)
        ),
        (400, "refused", "Refusé", "Refused"),
    )
    if isinstance(error, ConcurrencyConflict) and error.expected_seq is not None:
        status = 412  # the If-Match precondition failed
    title = f"{title_fr} / {title_en}"
    if status >= 500:
        # The service's own failure: the caller learns that it failed, not the internals
        # (nor, for a corrupted history, anything of a case it may not see).
        fr = "le service n'a pas pu répondre ; l'opérateur a les détails dans son journal"
        en = "the service could not answer; the operator has the details in its log"
        return Problem(status, code, title, fr, en)
    fr, en = _texts(error, title_fr)
    return Problem(status, code, title, fr, en, _details(error))


def _texts(error: StechniqueError, title_fr: str) -> tuple[str, str]:
    """French and English texts: the error's own message is « French / English » for every
    refusal; an ``InvalidData`` names its fields in both languages here."""
    message = str(error)
    if isinstance(error, InvalidArgument):
        fr = "; ".join(f"{p.argument} : {p.fr}" for p in error.arguments)
        en = "; ".join(f"{p.argument}: {p.en}" for p in error.arguments)
        return f"arguments invalides : {fr}", f"invalid arguments: {en}"
    if isinstance(error, InvalidData):
        fields = ", ".join(error.fields)
        return f"{title_fr} ({error.what}) : champs {fields}", message
    fr, sep, en = message.partition(" / ")
    return (fr, en) if sep else (message, message)


def _details(error: StechniqueError) -> dict[str, Any]:
    details: dict[str, Any] = {
        name: _plain(value)
        for name, value in vars(error).items()
        if not name.startswith("_") and name not in _NOT_DETAILS
    }
    if isinstance(error, GuardFailed):
        details["failed_guards"] = [attrs.asdict(guard) for guard in error.failed_guards]
    if isinstance(error, InvalidArgument):
        details["arguments"] = [attrs.asdict(problem) for problem in error.arguments]
    elif isinstance(error, InvalidData):
        details["problems"] = [attrs.asdict(problem) for problem in error.problems]
    return details


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list | frozenset | set):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
