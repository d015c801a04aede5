"""Plumbing for the ``stechnique`` command: opening the store, reading arguments, errors.

Nothing here prints; the commands decide what the user sees. Every problem with what the user
typed becomes a ``CommandLineError`` whose message names the option and what is wrong, so the
command can print it as one line.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from stechnique._metadata import installed_version
from stechnique.engine import Engine
from stechnique.errors import StechniqueError
from stechnique.i18n import both
from stechnique.plugins import load_registry, split_sources
from stechnique.records import Actor
from stechnique.registry import Registry
from stechnique.storage.base import Storage

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_PREFIX",
    "GIVEN_PREFIX",
    "GRAPHVIZ_HELP",
    "PROCEDURES_ENV",
    "CommandLineError",
    "Reader",
    "Tell",
    "audit_context",
    "command_registry",
    "debug_enabled",
    "examples_dir",
    "load_stories",
    "open_engine",
    "open_storage",
    "parse_actor",
    "parse_json_object",
    "parse_moment",
    "parse_procedure_ref",
    "parse_reader",
    "procedure_sources",
    "remember_sources",
    "render_graphviz",
    "shown_url",
    "table_prefix",
    "upgrade_store",
]

#: The store every command uses unless ``--db`` or ``STECHNIQUE_DB`` says otherwise.
DEFAULT_DB = "sqlite:///stechnique.db"
#: Where the procedure sources are read from when ``--procedures`` is not given.
PROCEDURES_ENV = "STECHNIQUE_PROCEDURES"
#: The tables' prefix unless ``STECHNIQUE_TABLE_PREFIX`` says otherwise.
DEFAULT_PREFIX = "stechnique_"


class CommandLineError(StechniqueError):
    """Something the user typed on the command line is malformed (bad JSON, bad ``--as``...)."""


def _check_url(url: str) -> None:
    if "://" not in url:
        raise CommandLineError(
            both(
                "--db {url!r} is not a database URL; use e.g. sqlite:///stechnique.db or "
                "postgresql+psycopg://user@host/dbname",
                url=url,
            )
        )


#: The global ``--table-prefix`` of the command being run (set by the application's callback).
GIVEN_PREFIX: ContextVar[str | None] = ContextVar("GIVEN_PREFIX", default=None)


def table_prefix(environ: Mapping[str, str] = os.environ) -> str:
    """The table prefix: the global ``--table-prefix`` (which also reads
    ``STECHNIQUE_TABLE_PREFIX``), else that variable, else the library's default."""
    prefix = GIVEN_PREFIX.get() or environ.get("STECHNIQUE_TABLE_PREFIX") or DEFAULT_PREFIX
    return _checked_prefix(prefix, "--table-prefix / STECHNIQUE_TABLE_PREFIX")


def _checked_prefix(prefix: str, option: str) -> str:
    from stechnique.storage._sql_schema import check_prefix  # SQLAlchemy: only when needed

    try:
        return check_prefix(prefix)
    except ValueError as error:
        raise CommandLineError(f"{option}: {error}") from error


def open_storage(url: str, *, read_only: bool = False) -> Storage:
    """The SQL store at ``url``: brought up to date when it opens, or, ``read_only``, opened
    without creating or changing anything (``StoreNotFound`` when there is no store there)."""
    _check_url(url)
    from stechnique.storage import SQLStorage

    storage: Storage = SQLStorage(url, table_prefix=table_prefix(), read_only=read_only)
    return storage


def upgrade_store(url: str, prefix: str) -> str | None:
    """Run the schema migrations of the store at ``url`` up to the newest revision; return the
    revision the tables were at before (``None``: they were created)."""
    _check_url(url)
    from stechnique.storage import upgrade_schema

    return upgrade_schema(url, table_prefix=_checked_prefix(prefix, "--table-prefix"))


def shown_url(url: str) -> str:
    """``url`` as the user should read it: password masked, a SQLite file's path absolute (it
    says where the file is, and still works as ``--db``)."""
    from stechnique.storage._sql_engine import hide_password  # SQLAlchemy: only when needed

    text = hide_password(url)
    scheme, slashes, rest = text.partition(":///")
    if scheme == "sqlite" and slashes and rest and ":" not in rest and "?" not in rest:
        return f"sqlite:///{Path(rest).absolute()}"
    return text


@contextmanager
def open_engine(url: str, *, read_only: bool = False, existing: bool = False) -> Iterator[Engine]:
    """An engine over the store at ``url`` with the command's registry; closed afterwards.

    ``read_only`` for the commands that only read: they never create a file or a table.
    ``existing`` for the reads that write only a log line (an auditor's read): the store must
    be there already (``StoreNotFound``, nothing created), then opens for writing.
    """
    if existing and not read_only:
        open_storage(url, read_only=True).close()
    storage = open_storage(url, read_only=read_only)
    try:
        yield Engine(storage, command_registry())
    finally:
        storage.close()


class _Invocation:
    """The procedure sources of the running command, and the registry built from them."""

    sources: tuple[str, ...] = ()
    registry: Registry | None = None


# One command runs per invocation; the app's callback resets this before every command.
_invocation = _Invocation()


def remember_sources(given: list[str] | None, environ: Mapping[str, str] = os.environ) -> None:
    """Keep the procedure sources of this invocation: ``--procedures``, else the variable."""
    sources = given if given else split_sources(environ.get(PROCEDURES_ENV, ""))
    _invocation.sources = tuple(sources)
    _invocation.registry = None


def procedure_sources() -> tuple[str, ...]:
    """The procedure sources of this invocation: ``--procedures``, else the variable."""
    return _invocation.sources


def command_registry() -> Registry:
    """The registry every command of this invocation uses, built once on first use.

    Published procedures, those of installed packages (entry points) and the ``--procedures``
    sources. Like ``python -m``, the current directory is importable, so a partner's guards
    module next to its data file is found.
    """
    if _invocation.registry is None:
        sources = _invocation.sources
        if sources and os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        _invocation.registry = load_registry(sources)
    return _invocation.registry


def audit_context(engine: Engine, url: str, scope: Mapping[str, Any]) -> dict[str, Any]:
    """What an auditor records beside a report: who checked (stechnique's version), what (the
    store without its password, the tables, the selection), when, and against which rules
    (the fingerprint of every procedure version the audit knew)."""
    return {
        "stechnique": installed_version(),
        "store": shown_url(url),
        "table_prefix": table_prefix(),
        "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scope": {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in scope.items()
        },
        "procedures": [
            {"name": p.name, "version": p.version, "fingerprint": p.fingerprint}
            for p in engine.registry
        ],
    }


def parse_procedure_ref(text: str) -> tuple[str, str | None]:
    """Split ``NAME[@VERSION]`` (no version: the latest, or the case's)."""
    name, at, version = text.partition("@")
    if not name or (at and not version):
        raise CommandLineError(both("{text!r} is not NAME or NAME@VERSION", text=text))
    return name, version or None


def parse_actor(text: str | None, option: str = "--as") -> Actor:
    """An actor from ``ID:ROLE[,ROLE...][:BODY]`` (e.g. ``caf-13:funder``, or
    ``marie:administrator:ca-belle-de-mai`` for a person acting for a body)."""
    if text is None:
        # A required option the oldest click versions let through unset.
        raise CommandLineError(
            both("{option} is required (ID:ROLE[,ROLE...][:BODY])", option=option)
        )
    actor_id, colon, rest = text.partition(":")
    roles_text, _, body = rest.partition(":")
    roles = [role.strip() for role in roles_text.split(",")]
    if not actor_id.strip() or not colon or not all(roles) or (_ and not body.strip()):
        raise CommandLineError(
            both(
                "{option} {text!r} is not ID:ROLE[,ROLE...][:BODY] (for example caf-13:funder, "
                "or marie:administrator:ca-belle-de-mai)",
                option=option,
                text=text,
            )
        )
    return Actor(actor_id.strip(), frozenset(roles), body.strip() or None)


@attrs.frozen
class Reader:
    """Who reads, as a command names them: a viewer (``--as``), or an auditor with a reason
    (``--auditor`` and ``--reason``), whose read is logged in the store."""

    viewer: Actor | None
    auditor: Actor | None
    reason: str | None

    @property
    def who(self) -> Actor:
        """The viewer or the auditor."""
        actor = self.viewer or self.auditor
        assert actor is not None
        return actor


def parse_reader(viewer: str | None, auditor: str | None, reason: str | None) -> Reader:
    """The reader of a command: ``--as ID:ROLES``, or ``--auditor ID --reason TEXT``."""
    if (viewer is None) == (auditor is None) or (auditor is not None and not reason):
        raise CommandLineError(
            both(
                "name who reads: --as ID:ROLE[,ROLE...], or --auditor ID --reason TEXT (an "
                "unredacted read, logged in the store)"
            )
        )
    if viewer is not None:
        return Reader(parse_actor(viewer), None, None)
    assert auditor is not None
    return Reader(None, Actor(auditor.strip(), frozenset({"auditor"})), reason)


def parse_json_object(text: str | None, option: str) -> dict[str, Any]:
    """A JSON object given inline, as ``@path`` (read from a file) or ``@-`` (standard input)."""
    if text is None:
        return {}
    source = "inline"
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandLineError(
                both("{option}: cannot read {source}: {reason}", option=option, source=source,
                     reason=error.strerror or "")
            ) from error  # fmt: skip
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandLineError(
            both(
                "{option} is not valid JSON ({source}): {reason} at line {line} column {column}",
                option=option,
                source=source,
                reason=error.msg,
                line=error.lineno,
                column=error.colno,
            )
        ) from error
    if not isinstance(value, dict):
        raise CommandLineError(
            both("{option} must be a JSON object, got {kind}", option=option,
                 kind=type(value).__name__)
        )  # fmt: skip
    return value


def parse_moment(text: str, option: str) -> datetime:
    """An aware datetime from ISO 8601 text (a date means its midnight; naive means UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandLineError(
            both("{option} {text!r} is not an ISO 8601 date or time (e.g. 2019-01-01)",
                 option=option, text=text)
        ) from error  # fmt: skip
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


GRAPHVIZ_HELP = both(
    "install Graphviz to get its 'dot' program (Debian/Ubuntu: sudo apt-get install graphviz; "
    "Fedora: sudo dnf install graphviz; macOS: brew install graphviz; Windows: winget install "
    "graphviz; others: https://graphviz.org/download/), or use --format mermaid or --format "
    "dot, which need no other program"
)


def render_graphviz(source: str, output_format: str) -> bytes:
    """Graphviz ``dot`` text rendered to ``svg`` or ``png`` by the installed ``dot`` program."""
    program = shutil.which("dot")
    if program is None:
        raise CommandLineError(
            both("--format {format} needs Graphviz: {help}", format=output_format,
                 help=GRAPHVIZ_HELP)
        )  # fmt: skip
    done = subprocess.run(
        [program, f"-T{output_format}"],
        input=source.encode("utf-8"),
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CommandLineError(
            both("Graphviz failed to draw {format} (exit {code}): {detail}",
                 format=output_format, code=done.returncode,
                 detail=detail[0] if detail else "—")
        )  # fmt: skip
    return done.stdout


def examples_dir() -> Path | None:
    """Where the example stories are: shipped in the package, else the source tree's."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_examples", package.parent.parent / "examples"):
        if candidate.is_dir() and any(candidate.glob("*.py")):
            return candidate
    return None


#: A story's ``tell``: writes its cases (skipping those already there), returns their ids.
Tell = Callable[[Engine], list[str]]


def load_stories(directory: Path | None = None) -> list[tuple[str, Tell]]:
    """The example stories, by file name: each script's ``tell`` function."""
    directory = directory or examples_dir()
    if directory is None:
        raise CommandLineError(
            both(
                "the example stories are missing from this installation (expected the "
                "package's _examples folder or the source tree's examples/); reinstall stechnique"
            )
        )
    stories = []
    for path in sorted(directory.glob("[!_]*.py")):
        namespace = runpy.run_path(str(path), run_name=f"stechnique_example_{path.stem}")
        tell = namespace.get("tell")
        if not callable(tell):
            raise CommandLineError(
                both("example {file} defines no tell(engine) function", file=path.name)
            )
        stories.append((path.stem, tell))
    return stories


def debug_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``STECHNIQUE_DEBUG`` asks for tracebacks instead of one-line errors."""
    return environ.get("STECHNIQUE_DEBUG", "") not in ("", "0")
