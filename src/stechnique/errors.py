"""Every error stechnique raises, under one root.

The tree::

    StechniqueError
    ├── DefinitionError        a procedure definition is inconsistent (all problems listed)
    ├── UnknownProcedure       no procedure registered under that name / version / fingerprint
    │   └── UnregisteredProcedure  a stored case is pinned to a definition not registered here
    ├── UnknownCase            no case with that id in the store
    ├── InvalidEvent           the event does not exist or is not allowed in the current state
    ├── PermissionDenied       the actor has none of the roles allowed to fire the event
    ├── GuardFailed            one or more guards refused the event (each with fr / en text)
    ├── InvalidData            facts or payload fields are missing or malformed (each named)
    │   └── InvalidArgument    an argument is unusable: wrong type, empty, too long... (named)
    ├── CaseIdTaken            a case with that id already exists: choose another id
    ├── ConcurrencyConflict    the case moved on since it was read (lost race, stale seq)
    ├── IdempotencyKeyReused   an idempotency key was replayed with a different command
    ├── MigrationRefused       a case cannot move to another procedure version or revision
    ├── RevisionSuperseded     start asked for a revision a later revision replaces
    ├── HistoryCorrupted       a stored history is tampered, inconsistent or unknown
    ├── CheckpointInvalid      an audit checkpoint was altered, or its signature does not verify
    └── StorageError           the store failed (driver error, unreachable server, ...)
        ├── SchemaOutOfDate    the SQL schema is behind and automatic upgrade is disabled
        ├── SchemaTooNew       the SQL schema was upgraded by a newer stechnique than this one
        ├── StoreNotEmpty      an import asked for an empty store, and this one holds cases
        └── StoreNotFound      opened read-only, the URL holds no stechnique store

Every error keeps its context as attributes and builds its message in ``__init__``, so the
message a user reads and the attributes a program inspects always agree. The message is kept in
French and English (``label``, ``fr``, ``en``, from the library's gettext catalogs); ``str()``
shows the language in force (``stechnique.i18n.current_lang``, French by default). A refused
command (any of ``InvalidEvent`` to ``RevisionSuperseded``) never changes the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from stechnique._labels import NO_ROLE, REGISTER_PROCEDURE, french_to
from stechnique.guard_details import GuardDetail
from stechnique.i18n import Label, Lang, both, both_n, current_lang, joined

__all__ = [
    "ArgumentProblem",
    "CaseIdTaken",
    "CheckpointInvalid",
    "ConcurrencyConflict",
    "DefinitionError",
    "DefinitionProblem",
    "FailedGuard",
    "FieldProblem",
    "GuardFailed",
    "HistoryCorrupted",
    "IdempotencyKeyReused",
    "InvalidArgument",
    "InvalidData",
    "InvalidEvent",
    "MigrationRefused",
    "PermissionDenied",
    "RevisionSuperseded",
    "SchemaOutOfDate",
    "SchemaTooNew",
    "StechniqueError",
    "StorageError",
    "StoreNotEmpty",
    "StoreNotFound",
    "UnknownCase",
    "UnknownProcedure",
    "UnregisteredProcedure",
]


class StechniqueError(Exception):
    """Root of every error raised by stechnique.

    ``label`` holds the message in French and English (a plain text given by a caller stands
    for both); ``str()`` shows ``lang`` when set (an ``Engine(lang=...)`` sets it on what it
    raises), else the language in force; ``args`` holds both texts.
    """

    #: The language ``str()`` shows; ``None``: the language in force when it is read.
    lang: Lang | None = None

    def __init__(self, message: Label | str = "") -> None:
        self.label = message if isinstance(message, Label) else Label(message, message)
        super().__init__(self.label.both() if self.label.fr != self.label.en else self.label.en)

    @property
    def fr(self) -> str:
        """The message in French."""
        return self.label.fr

    @property
    def en(self) -> str:
        """The message in English."""
        return self.label.en

    def __str__(self) -> str:
        return self.label.text(self.lang)


def _said(text: Label | str) -> Label:
    """A text given to an error: a ``Label``, or one text that stands for both languages."""
    return text if isinstance(text, Label) else Label(text, text)


def _where(case_id: str | None) -> Label | str:
    return both(" on case {case_id}", case_id=case_id) if case_id else ""


@attrs.frozen
class DefinitionProblem:
    """One problem the checks of a procedure definition found, as a value a program can use.

    ``kind`` names the rule broken with a stable identifier (``unknown_state``, ``dead_end``...;
    the list is in ``docs/embedding.md``). ``subject`` is the name at fault: a state id, an
    event, a role, a guard, a field. ``message`` is the sentence a person reads. ``location``
    points into the definition: a ``Procedure`` attribute, then an item of it (states, roles,
    case roles, guards and facts by id or name; transitions and confidential rules by
    position), then an attribute of that item: ``("transitions", 3, "target")``,
    ``("states", "diagnosis")``, ``("start_roles",)``.
    """

    kind: str
    subject: str
    message: str
    location: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return self.message


class DefinitionError(StechniqueError):
    """A procedure definition is inconsistent; ``problems`` lists every problem found, as text.

    ``definition_problems`` holds, as ``DefinitionProblem`` values, the problems the checks of
    the definition found: all of them when a ``Procedure`` refuses to be built. Problems that
    are not about the definition's rules (the structure of a data file, say) come as text only.
    """

    def __init__(self, procedure: str, problems: Sequence[DefinitionProblem | str]) -> None:
        self.procedure = procedure
        self.problems = tuple(str(problem) for problem in problems)
        self.definition_problems = tuple(p for p in problems if isinstance(p, DefinitionProblem))
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            both_n(
                "procedure {procedure} is not valid ({n} problem):\n{lines}",
                "procedure {procedure} is not valid ({n} problems):\n{lines}",
                len(self.problems),
                procedure=procedure,
                lines=lines,
            )
        )


class UnknownProcedure(StechniqueError):
    """No procedure is registered under that name, version or fingerprint."""

    def __init__(self, name: str, version: str | None = None, known: Iterable[str] = ()) -> None:
        self.name = name
        self.version = version
        self.known = tuple(known)
        wanted = name if version is None else f"{name}@{version}"
        if self.known:
            message = both(
                "unknown procedure {wanted}; registered: {known}",
                wanted=wanted,
                known=", ".join(self.known),
            )
        else:
            message = both("unknown procedure {wanted}", wanted=wanted)
        super().__init__(message)


class UnregisteredProcedure(UnknownProcedure):
    """A stored case or record is pinned to a procedure version this registry does not hold.

    The history is not corrupted for that: it was written under a procedure (a partner's, say)
    that is not registered where it is read. The message says how to register it, in French and
    English. (A version registered with *another* fingerprint is ``HistoryCorrupted``: a
    published version never changes.)
    """

    def __init__(self, case_id: str, seq: int, name: str, version: str, fingerprint: str) -> None:
        # UnknownProcedure's attributes, set here: its message would not say enough.
        self.name, self.version, self.known = name, version, ()
        self.case_id = case_id
        self.seq = seq
        self.fingerprint = fingerprint
        key = f"{name}@{version}"
        message = both(
            "case {case_id} (seq {seq}) is pinned to {key} fingerprint {short}, which no "
            "registered definition has; {register}",
            case_id=case_id,
            seq=seq,
            key=key,
            short=fingerprint[:12],
            register=REGISTER_PROCEDURE,
        )
        StechniqueError.__init__(self, message)


class UnknownCase(StechniqueError):
    """No case with that id exists in the store."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(both("unknown case {case_id!r}", case_id=case_id))


class InvalidEvent(StechniqueError):
    """The event is not allowed in the case's current state; ``allowed`` lists those that are.

    ``state_label`` is what people call the state (its id when not given); a state that allows
    no event is the end of the case (granted, refused, withdrawn...), and the message says so.
    """

    def __init__(
        self,
        case_id: str,
        event: str,
        state: str,
        allowed: Iterable[str],
        *,
        state_label: Label | None = None,
    ) -> None:
        self.case_id = case_id
        self.event = event
        self.state = state
        self.allowed = tuple(allowed)
        shown = state_label or Label(state, state)
        if self.allowed:
            message = both(
                "event {event!r} is not possible on case {case_id} in state '{state}'; "
                "possible events: {allowed}",
                event=event,
                case_id=case_id,
                state=shown,
                allowed=", ".join(self.allowed),
            )
        else:
            message = both(
                "event {event!r} is not possible: case {case_id} is over (state '{state}'), "
                "no event can follow",
                event=event,
                case_id=case_id,
                state=shown,
            )
        super().__init__(message)


class PermissionDenied(StechniqueError):
    """The actor may not fire the event: it holds none of the roles allowed, or (``party``) it
    holds one but does not act for the party of the case the step is reserved to.

    ``party`` is the party's id, ``party_fr`` / ``party_en`` what it is called (« le
    gestionnaire du dossier »); all three are ``None`` when the role was missing.
    """

    def __init__(
        self,
        case_id: str | None,
        event: str,
        actor_id: str,
        roles: Iterable[str],
        allowed: Iterable[str],
        *,
        party: str | None = None,
        party_fr: str | None = None,
        party_en: str | None = None,
        allowed_labels: Sequence[Label] = (),
        party_names: Sequence[str] = (),
    ) -> None:
        self.case_id = case_id
        self.event = event
        self.actor_id = actor_id
        self.roles = tuple(sorted(roles))
        self.allowed = tuple(allowed)
        self.party = party
        self.party_fr = party_fr
        self.party_en = party_en
        #: What the bodies bound to the party are called (« Association Belle de Mai »): only
        #: an actor who sees the case is refused this way, and may know who its parties are.
        self.party_names = tuple(party_names)
        if party is None:
            # The roles allowed by what people call them (``allowed_labels``, in the order of
            # ``allowed``), else by id.
            labels = tuple(allowed_labels) or tuple(Label(r, r) for r in self.allowed)
            message = both(
                "actor {actor!r} ({held}) may not fire {event!r}{where}; roles allowed: {allowed}",
                actor=actor_id,
                held=", ".join(self.roles) or NO_ROLE,
                event=event,
                where=_where(case_id),
                allowed=joined(labels) if labels else both("none"),
            )
        elif self.party_names:
            message = both(
                "{event!r}{where} is reserved to {party} of the case ({names}), for which actor "
                "{actor!r} does not act",
                event=event,
                where=_where(case_id),
                party=Label(french_to(party_fr or party), party_en or party),
                names=", ".join(self.party_names),
                actor=actor_id,
            )
        else:
            message = both(
                "{event!r}{where} is reserved to {party} of the case, for which actor {actor!r} "
                "does not act",
                event=event,
                where=_where(case_id),
                party=Label(french_to(party_fr or party), party_en or party),
                actor=actor_id,
            )
        super().__init__(message)


def _guard_details(details: Iterable[GuardDetail]) -> tuple[GuardDetail, ...]:
    return tuple(details)


@attrs.frozen
class FailedGuard:
    """One guard that refused an event, with the rule it enforces in French and English."""

    name: str
    fr: str
    en: str
    #: What the guard found missing (``stechnique.guard_details.GuardDetail``: which funders
    #: have not approved, who refused and why), for code; ``fr`` / ``en`` say it in words.
    details: tuple[GuardDetail, ...] = attrs.field(default=(), converter=_guard_details)

    def __str__(self) -> str:
        return f"{self.name} « {self.fr} » ({self.en})"


class GuardFailed(StechniqueError):
    """One or more guards refused the event; ``failed_guards`` lists every one of them."""

    def __init__(
        self, case_id: str | None, event: str, failed_guards: Iterable[FailedGuard]
    ) -> None:
        self.case_id = case_id
        self.event = event
        self.failed_guards = tuple(failed_guards)
        fr = " ; ".join(f"{guard.name} : {guard.fr}" for guard in self.failed_guards)
        en = "; ".join(f"{guard.name}: {guard.en}" for guard in self.failed_guards)
        super().__init__(
            both(
                "event {event!r} refused{where}: {guards}",
                event=event,
                where=_where(case_id),
                guards=Label(fr, en),
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the failed guards, in declaration order."""
        return tuple(guard.name for guard in self.failed_guards)

    @property
    def details(self) -> tuple[GuardDetail, ...]:
        """What the failed guards found missing, guard after guard (``FailedGuard.details``)."""
        return tuple(detail for guard in self.failed_guards for detail in guard.details)


@attrs.frozen
class FieldProblem:
    """One bad field: its dotted path (``actions[0].group``) and what is wrong with it.

    ``problem`` says it in English, ``fr`` in French (the same text when not given).
    """

    field: str
    problem: str
    fr: str = ""

    @classmethod
    def said(cls, field: str, label: Label) -> FieldProblem:
        """The problem of ``field``, said in both languages."""
        return cls(field, label.en, label.fr)

    @property
    def label(self) -> Label:
        """What is wrong, in French and English."""
        return Label(self.fr or self.problem, self.problem)

    def text(self, lang: Lang | None = None) -> str:
        """``field: problem`` in ``lang`` (default: the language in force)."""
        if (lang or current_lang()) == "en":
            return f"{self.field}: {self.problem}"
        return f"{self.field} : {self.fr or self.problem}"

    def __str__(self) -> str:
        return self.text()


def _problems_said(problems: Sequence[FieldProblem]) -> Label:
    return Label(
        " ; ".join(f"{p.field} : {p.label.fr}" for p in problems),
        "; ".join(f"{p.field}: {p.label.en}" for p in problems),
    )


class InvalidData(StechniqueError):
    """Facts or payload are malformed; ``problems`` names each bad field.

    ``what`` says whose data, in English (``what_label`` in both languages).
    """

    def __init__(self, what: Label | str, problems: Iterable[FieldProblem]) -> None:
        self.what_label = _said(what)
        self.what = self.what_label.en
        self.problems = tuple(problems)
        super().__init__(
            both(
                "invalid {what}: {details}",
                what=self.what_label,
                details=_problems_said(self.problems),
            )
        )

    @property
    def fields(self) -> tuple[str, ...]:
        """The paths of the bad fields."""
        return tuple(problem.field for problem in self.problems)


class CaseIdTaken(StechniqueError):
    """A case with that id already exists; retrying the same id can never succeed.

    The message says nothing else about the existing case (not its procedure, state or seq):
    whoever chose the id may not be allowed to know anything about the case holding it.
    """

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(
            both("case id {case_id!r} is already taken; choose another id", case_id=case_id)
        )


@attrs.frozen
class ArgumentProblem:
    """One unusable argument: its name (``case_id``, ``actor.roles``) and what is wrong with
    it, in French and English. The value itself is never repeated."""

    argument: str
    fr: str
    en: str

    def __str__(self) -> str:
        if current_lang() == "en":
            return f"{self.argument}: {self.en}"
        return f"{self.argument} : {self.fr}"


class InvalidArgument(InvalidData):
    """An argument of a command or query is unusable; ``arguments`` names each one.

    Identifiers must be text, not blank, without control characters or lone surrogates, at
    most 255 characters (names and versions: 200); facts and payloads must be mappings;
    ``actor`` an ``Actor``. A subclass of ``InvalidData`` (``problems`` holds one
    ``FieldProblem`` per argument): what the caller gave cannot be used.
    """

    def __init__(self, arguments: Iterable[ArgumentProblem]) -> None:
        self.arguments = tuple(arguments)
        super().__init__(
            both("arguments"),
            [FieldProblem(problem.argument, problem.en, problem.fr) for problem in self.arguments],
        )


class ConcurrencyConflict(StechniqueError):
    """The case is no longer where the command was based on; reload and try again.

    ``detail`` replaces the generic explanation (e.g. a case at the expected seq whose head or
    state is not the one the record follows).
    """

    def __init__(
        self,
        case_id: str,
        expected_seq: int | None,
        actual_seq: int | None,
        detail: Label | str | None = None,
    ) -> None:
        self.case_id = case_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq
        if detail is None:
            if expected_seq is None:
                detail = both("another writer was creating a case with that id at the same time")
            elif actual_seq is None:
                detail = both(
                    "expected seq {expected} but another writer got there first",
                    expected=expected_seq,
                )
            else:
                detail = both(
                    "expected seq {expected} but it is at seq {actual}",
                    expected=expected_seq,
                    actual=actual_seq,
                )
        self.detail = _said(detail)
        super().__init__(
            both(
                "case {case_id} changed concurrently: {detail}; reload the case and retry",
                case_id=case_id,
                detail=self.detail,
            )
        )


class IdempotencyKeyReused(StechniqueError):
    """An idempotency key already used on the case was sent with a different command."""

    def __init__(self, case_id: str, key: str, first_event: str, event: str) -> None:
        self.case_id = case_id
        self.key = key
        self.first_event = first_event
        self.event = event
        super().__init__(
            both(
                "idempotency key {key!r} on case {case_id} was first used for {first_event!r} "
                "with other data; use a new key for {event!r}",
                key=key,
                case_id=case_id,
                first_event=first_event,
                event=event,
            )
        )


class MigrationRefused(StechniqueError):
    """A case cannot be migrated to the requested procedure version or revision.

    ``from_revision`` and ``to_revision`` are the revisions of ``from_version`` and
    ``to_version`` concerned (1 unless the migration concerns later revisions). ``reason`` is
    the English text of why, ``reason_label`` both texts.
    """

    def __init__(
        self,
        case_id: str,
        from_version: str,
        to_version: str,
        reason: Label | str,
        *,
        from_revision: int = 1,
        to_revision: int = 1,
    ) -> None:
        self.case_id = case_id
        self.from_version = from_version
        self.to_version = to_version
        self.reason_label = _said(reason)
        self.reason = self.reason_label.en
        self.from_revision = from_revision
        self.to_revision = to_revision
        super().__init__(
            both(
                "case {case_id} cannot move from {old} to {new}: {reason}",
                case_id=case_id,
                old=_shown(from_version, from_revision),
                new=_shown(to_version, to_revision),
                reason=self.reason_label,
            )
        )


class RevisionSuperseded(StechniqueError):
    """``start`` asked for a revision of a version that a later revision replaces: only the
    latest revision of a version opens cases (``latest``), the older ones run the cases
    already pinned to them until they close or migrate."""

    def __init__(self, name: str, version: str, revision: int, latest: int) -> None:
        self.name = name
        self.version = version
        self.revision = revision
        self.latest = latest
        key = f"{name}@{version}"
        super().__init__(
            both(
                "revision {revision} of {key} is superseded by revision {latest}: only the "
                "latest revision opens cases",
                revision=revision,
                key=key,
                latest=latest,
            )
        )


def _shown(version: str, revision: int) -> str:
    return version if revision == 1 else f"{version}/r{revision}"


class HistoryCorrupted(StechniqueError):
    """A stored history is tampered with, inconsistent, or pinned to an unknown definition.

    ``reason`` is the English text of what is wrong, ``reason_label`` both texts.
    """

    def __init__(self, case_id: str, seq: int | None, reason: Label | str) -> None:
        self.case_id = case_id
        self.seq = seq
        self.reason_label = _said(reason)
        self.reason = self.reason_label.en
        if seq is None:
            message = both(
                "history of case {case_id} is corrupted: {reason}",
                case_id=case_id,
                reason=self.reason_label,
            )
        else:
            message = both(
                "history of case {case_id} is corrupted at seq {seq}: {reason}",
                case_id=case_id,
                seq=seq,
                reason=self.reason_label,
            )
        super().__init__(message)


class CheckpointInvalid(StechniqueError):
    """An audit checkpoint cannot be trusted: altered, unreadable, or its signature is wrong."""

    def __init__(self, reason: Label | str) -> None:
        self.reason_label = _said(reason)
        self.reason = self.reason_label.en
        super().__init__(both("checkpoint cannot be trusted: {reason}", reason=self.reason_label))


class StorageError(StechniqueError):
    """The store failed; the underlying driver error is chained as ``__cause__``."""


class SchemaOutOfDate(StorageError):
    """The SQL schema is behind this version of stechnique and automatic upgrade is disabled."""

    def __init__(self, current: str | None, head: str, how: str) -> None:
        self.current = current
        self.head = head
        self.how = how
        super().__init__(
            both(
                "the stechnique schema is at revision {current} but this version needs {head}; "
                "{how}",
                current=current or both("none (empty database)"),
                head=head,
                how=how,
            )
        )


class StoreNotFound(StorageError):
    """Opened read-only, the URL holds no stechnique store (no file, or no stechnique tables).

    ``where`` is the URL without its password; ``reason`` says what is missing. Nothing was
    created: a read-only open never writes a file or a table.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(
            both("no stechnique store at {where}: {reason}", where=where, reason=reason)
        )


class SchemaTooNew(StorageError):
    """The SQL schema is at a revision this version of stechnique does not know: a newer
    stechnique upgraded it. Nothing is read or written through it (its records may be in a
    form this version cannot verify); upgrade stechnique.

    ``current`` is the revision found, ``head`` the newest this version knows, ``prefix`` the
    table prefix.
    """

    def __init__(self, prefix: str, current: str, head: str) -> None:
        self.prefix = prefix
        self.current = current
        self.head = head
        super().__init__(
            f"les tables de préfixe {prefix!r} sont à la révision de schéma {current!r}, "
            f"inconnue de cette version de stechnique (qui s'arrête à {head!r}) : une version "
            "plus récente les a mises à jour ; mettez stechnique à jour / the tables with "
            f"prefix {prefix!r} are at schema revision {current!r}, which this version of "
            f"stechnique does not know (it knows up to {head!r}): a newer version upgraded "
            "them; upgrade stechnique"
        )


class StoreNotEmpty(StorageError):
    """An import (``import_jsonl``, ``Storage.restore``) needs an empty store, and this one
    already holds cases or records. Nothing was written."""

    def __init__(self) -> None:
        super().__init__(
            "l'import ne se fait que dans un magasin vide, et celui-ci contient déjà des "
            "dossiers ; rien n'a été écrit / import restores into an empty store only, and "
            "this one already holds cases; nothing was written"
        )
