"""The commands of ``stechnique``, each a thin call to the library, and their error handling.

What the user typed is read by ``_support``, what they see is drawn by ``_render``; a command
only calls the engine between the two. Every error a command raises becomes one line on
standard error and exit status 2 (``_Group``). Commands that only read open the store
read-only: they never create a file or a table.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stechnique import diagram as diagrams
from stechnique import export
from stechnique._labels import CASES, role_both, state_both
from stechnique._metadata import installed_version
from stechnique.audit import AuditReport, audit
from stechnique.cli import _render as render
from stechnique.cli._demo import DEMO_DB, DEMO_NARRATOR, check_own_store, rehearse
from stechnique.cli._selection import (
    check_filters,
    nothing_selected,
    refuse_version_alone,
)
from stechnique.cli._support import (
    DEFAULT_DB,
    DEFAULT_PREFIX,
    GIVEN_PREFIX,
    CommandLineError,
    Reader,
    audit_context,
    command_registry,
    debug_enabled,
    load_stories,
    open_engine,
    parse_actor,
    parse_json_object,
    parse_moment,
    parse_procedure_ref,
    parse_reader,
    remember_sources,
    render_graphviz,
    shown_url,
    upgrade_store,
)
from stechnique.cli._support import table_prefix as global_table_prefix
from stechnique.definition import Procedure
from stechnique.engine import Engine
from stechnique.errors import StechniqueError, StoreNotFound
from stechnique.feed import Change
from stechnique.i18n import LANGS, both, both_n, format_number, parse_lang, use_locale
from stechnique.migration import shown
from stechnique.records import Actor, Record
from stechnique.timeline import timeline
from stechnique.waiting import Limit, Policy

__all__ = ["app", "audit_with_progress", "finish_report", "import_with_progress"]

#: Exit status of a refused or malformed command.
EXIT_ERROR = 2
#: Exit status of an audit that found violations (and of a bulk migration that refused cases).
EXIT_VIOLATIONS = 1
#: Exit status of an audit or export that selected nothing: not « conforme », not an error.
EXIT_NOTHING = 3
#: Stores with fewer cases are audited without a progress bar (it would only flicker).
PROGRESS_FROM_CASES = 200
#: Files with fewer lines are imported without a progress bar.
PROGRESS_FROM_LINES = 5_000


class _Group(typer.core.TyperGroup):
    """Turns every error a command raises into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # the reader went away (``| head``): the command-line library exits quietly
        except (StechniqueError, OSError) as error:
            if debug_enabled():
                raise
            _fail(_message(error))
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except Exception as error:
            if debug_enabled() or _is_click_error(error):
                raise
            _fail(
                f"internal error {type(error).__name__}: {error} "
                "(run with STECHNIQUE_DEBUG=1 for the traceback)"
            )


def _is_click_error(error: Exception) -> bool:
    # Usage errors and exits of the command-line library carry their own exit status.
    return any(cls.__name__ in ("ClickException", "Exit") for cls in type(error).__mro__)


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror}: {error.filename}"
    return str(error)  # a StechniqueError shows the language in force (--lang)


def _fail(message: str) -> None:
    said = both("error: {message}", message=message).text()
    Console(stderr=True, highlight=False).print(said, markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


def _chosen_lang(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_lang(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


app = typer.Typer(
    cls=_Group,
    name="stechnique",
    help="Administrative support procedures as versioned state machines, with an audit trail.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(cls=_Group, help="Manage the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _print_version(asked: bool) -> None:
    if asked:
        _line(f"stechnique {installed_version()}")
        raise typer.Exit()


Db = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="STECHNIQUE_DB",
        metavar="URL",
        help="Store URL: sqlite:///file.db, postgresql+psycopg://..., mysql+pymysql://...",
    ),
]
Procedures = Annotated[
    list[str] | None,
    typer.Option(
        "--procedures",
        metavar="FILE.toml[=module:attr]|module:attr",
        help="Register partner procedures too (repeat; default: STECHNIQUE_PROCEDURES, "
        "several separated by the path separator). Installed packages' entry points "
        "(group stechnique.procedures) are always registered.",
    ),
]


@app.callback()
def _options(
    ctx: typer.Context,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            envvar="STECHNIQUE_LANG",
            metavar="|".join(LANGS),
            callback=_chosen_lang,
            help="The language of what the command says: errors, tables, timelines (default "
            "fr, French). Machine-readable output (JSON, JSONL, CSV headers, exit statuses) is "
            "the same in every language.",
        ),
    ] = None,
    table_prefix: Annotated[
        str | None,
        typer.Option(
            "--table-prefix",
            envvar="STECHNIQUE_TABLE_PREFIX",
            metavar="PREFIX",
            help=f"Prefix of the stechnique tables (default {DEFAULT_PREFIX}).",
        ),
    ] = None,
    procedures: Procedures = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Show the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Administrative support procedures as versioned state machines, with an audit trail."""
    # The language holds until the command is done, errors included (``_Group.invoke``).
    ctx.with_resource(use_locale(lang))
    GIVEN_PREFIX.set(table_prefix)  # read where a store is opened (``_support.table_prefix``)
    remember_sources(procedures)


ViewerOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="ID:ROLE,...[:BODY]",
        help="Read as this viewer: only its cases, confidential fields redacted (e.g. "
        "caf-13:funder, or marie:administrator:ca-belle-de-mai acting for a body).",
    ),
]
AuditorOption = Annotated[
    str | None,
    typer.Option(
        "--auditor",
        metavar="ID",
        help="Read everything unredacted as this auditor (needs --reason; logged in the store).",
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", metavar="TEXT", help="Why the auditor reads.")
]
BodyOption = Annotated[
    str | None,
    typer.Option("--body", metavar="BODY", help="The body the actor acts for (default: itself)."),
]


def _out() -> Console:
    return Console(highlight=False)


def _line(message: str) -> None:
    """One line of output, never broken by the console (ids and labels stay whole)."""
    _out().print(message, markup=False, soft_wrap=True)


# -- procedures ---------------------------------------------------------------------------


@app.command()
def procedures(db: Db = DEFAULT_DB) -> None:
    """List the registered procedure versions and where each came from."""
    _out().print(render.procedures_table(command_registry()))


@app.command()
def show(
    procedure: Annotated[str, typer.Argument(metavar="NAME[@VERSION]")],
    db: Db = DEFAULT_DB,
) -> None:
    """Show a procedure version: roles, facts, states, transitions, guards, confidentiality."""
    name, version = parse_procedure_ref(procedure)
    found = command_registry().get(name, version)
    console = _out()
    for part in render.procedure_tables(found):
        console.print(part)


class DiagramFormat(StrEnum):
    """Output formats of ``stechnique diagram``."""

    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"
    png = "png"


@app.command()
def diagram(
    procedure: Annotated[str, typer.Argument(metavar="NAME[@VERSION]")],
    output_format: Annotated[
        DiagramFormat,
        typer.Option("--format", "-f", help="mermaid and dot are text; svg and png need Graphviz."),
    ] = DiagramFormat.mermaid,
    case: Annotated[
        str | None, typer.Option("--case", metavar="ID", help="Highlight the path this case took.")
    ] = None,
    viewer: ViewerOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Draw a procedure's state diagram, optionally with the path a case took (--case, seen
    by --as)."""
    name, version = parse_procedure_ref(procedure)
    found, records = _diagram_subject(name, version, case, db, viewer)
    draw = diagrams.dot if output_format is not DiagramFormat.mermaid else diagrams.mermaid
    text = draw(found, records)
    if output_format in (DiagramFormat.mermaid, DiagramFormat.dot):
        _write((text.rstrip("\n") + "\n").encode("utf-8"), output)
        return
    if output_format is DiagramFormat.png and output is None and _stdout_is_terminal():
        raise CommandLineError(
            "--format png est une image binaire : donnez -o FICHIER.png ou redirigez la sortie "
            "/ --format png is binary: give -o FILE.png or redirect standard output"
        )
    _write(render_graphviz(text, output_format.value), output)


def _stdout_is_terminal() -> bool:
    return typer.get_binary_stream("stdout").isatty()


def _diagram_subject(
    name: str, version: str | None, case: str | None, db: str, viewer: str | None
) -> tuple[Procedure, list[Record] | None]:
    if case is None:
        return command_registry().get(name, version), None
    if viewer is None:
        raise CommandLineError(both("--case needs --as: who looks at this case?"))
    reader = parse_actor(viewer)
    with open_engine(db, read_only=True) as engine:
        stored = engine.case(case, reader)
        if stored.name != name:
            raise CommandLineError(
                both(
                    "case {case} is a case of {procedure}, not of {name}",
                    case=case,
                    procedure=stored.name,
                    name=name,
                )
            )
        records = engine.history(case, reader)
        return engine.procedure(name, version or stored.version), records


def _write(data: bytes, output: Path | None) -> None:
    if output is not None:
        output.write_bytes(data)
        return
    stream = typer.get_binary_stream("stdout")
    stream.write(data)
    stream.flush()


# -- cases --------------------------------------------------------------------------------


@app.command()
def start(
    procedure: Annotated[str, typer.Argument(metavar="NAME[@VERSION]")],
    actor: Annotated[str, typer.Option("--actor", metavar="ID", help="Who opens the case.")],
    role: Annotated[
        list[str], typer.Option("--role", metavar="ROLE", help="A role of the actor (repeat).")
    ],
    facts: Annotated[
        str, typer.Option("--facts", metavar="JSON|@FILE", help="The facts recorded at start.")
    ],
    case_id: Annotated[
        str | None, typer.Option("--case-id", metavar="ID", help="Choose the case id.")
    ] = None,
    body: BodyOption = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Open a case of a procedure (latest version unless NAME@VERSION)."""
    name, version = parse_procedure_ref(procedure)
    data = parse_json_object(facts, "--facts")
    who = Actor(actor, frozenset(role), body)
    with open_engine(db) as engine:
        case = engine.start(name, version=version, actor=who, facts=data, case_id=case_id)
        label = state_both(engine.procedure(case.name, case.version), case.state)
    key = f"{case.name}@{case.version}"
    _line(
        both("{case_id}: {key} opened, state '{state}'", case_id=case.id, key=key, state=label)
        .text()
    )  # fmt: skip


@app.command()
def fire(
    case: Annotated[str, typer.Argument(metavar="CASE")],
    event: Annotated[str, typer.Argument(metavar="EVENT")],
    actor: Annotated[str, typer.Option("--actor", metavar="ID", help="Who fires the event.")],
    role: Annotated[
        list[str], typer.Option("--role", metavar="ROLE", help="A role of the actor (repeat).")
    ],
    payload: Annotated[
        str | None, typer.Option("--payload", metavar="JSON|@FILE", help="The event's data.")
    ] = None,
    expected_seq: Annotated[
        int | None, typer.Option(help="Refuse unless the case is still at this seq.")
    ] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Firing again with the same key changes nothing.")
    ] = None,
    body: BodyOption = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Fire an event on a case as an actor."""
    data = parse_json_object(payload, "--payload")
    with open_engine(db) as engine:
        after = engine.fire(
            case,
            event,
            actor=Actor(actor, frozenset(role), body),
            payload=data,
            expected_seq=expected_seq,
            idempotency_key=idempotency_key,
        )
        label = state_both(engine.procedure(after.name, after.version), after.state)
    _line(
        both(
            "{case_id}: {event} → '{state}', seq {seq}",
            case_id=after.id,
            event=event,
            state=label,
            seq=after.seq,
        ).text()
    )


@app.command()
def migrate(
    case: Annotated[
        str | None, typer.Argument(metavar="[CASE]", help="The case to move (not with --all).")
    ] = None,
    actor: Annotated[
        str, typer.Option("--actor", metavar="ID", help="Who orders the migration.")
    ] = "",
    role: Annotated[
        list[str] | None,
        typer.Option("--role", metavar="ROLE", help="A role of the actor (repeat)."),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why the case moves (recorded).")
    ] = "",
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="The version to move to (default: the case's own, for a later revision).",
        ),
    ] = None,
    revision: Annotated[
        int | None,
        typer.Option(
            "--revision",
            metavar="N",
            help="The revision to move to (default: the latest; required with --all).",
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            "--all",
            metavar="NAME@VERSION",
            help="Every open case of this version under an older revision than --revision.",
        ),
    ] = None,
    from_revision: Annotated[
        int | None,
        typer.Option(
            "--from-revision", metavar="N", help="With --all: only cases of this revision."
        ),
    ] = None,
    facts: Annotated[
        str | None,
        typer.Option("--facts", metavar="JSON|@FILE", help="Facts the migration needs supplied."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and say what would be done; write nothing.")
    ] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Move an open case (or, with --all, every open case of a version) to a newer version or
    revision, as one recorded step; --dry-run first. With --all, exit status 1 when some cases
    were refused (each is listed with why)."""
    if (case is None) == (every is None):
        raise CommandLineError(both("give a CASE or --all NAME@VERSION (not both)"))
    if not actor or not role:
        raise CommandLineError(both("--actor and --role are required"))
    who = Actor(actor, frozenset(role))
    data = parse_json_object(facts, "--facts") if facts is not None else None
    if every is not None:
        _migrate_all(every, who, reason, revision, from_revision, data, dry_run, db)
        return
    assert case is not None  # one of the two, checked above
    with open_engine(db) as engine:
        version = to if to is not None else engine.case(case, who).version
        plan = engine.migrate(case, version, actor=who, facts=data, reason=reason,
                              dry_run=dry_run, to_revision=revision)  # fmt: skip
    done = (both("migrated") if plan.applied else both("would migrate (dry run)")).text()
    _line(
        f"{plan.case_id}: {done} {shown(plan.from_version, plan.from_revision)} "
        f"{plan.source} → {shown(plan.to_version, plan.to_revision)} {plan.target}"
    )


def _migrate_all(
    every: str,
    actor: Actor,
    reason: str,
    revision: int | None,
    from_revision: int | None,
    facts: dict[str, Any] | None,
    dry_run: bool,
    db: str,
) -> None:
    name, version = parse_procedure_ref(every)
    if version is None or revision is None:
        raise CommandLineError(both("--all takes NAME@VERSION and needs --revision N"))
    with open_engine(db) as engine:
        report = engine.migrate_all(
            name,
            version,
            revision,
            actor=actor,
            reason=reason,
            facts=facts,
            dry_run=dry_run,
            from_revision=from_revision,
        )
    _line(report.summary())
    if report.refused:
        raise typer.Exit(EXIT_VIOLATIONS)


@app.command()
def cases(
    viewer: ViewerOption = None,
    auditor: AuditorOption = None,
    reason: ReasonOption = None,
    name: Annotated[str | None, typer.Option(help="Only this procedure.")] = None,
    version: Annotated[str | None, typer.Option(help="Only this version.")] = None,
    state: Annotated[str | None, typer.Option(help="Only cases in this state.")] = None,
    db: Db = DEFAULT_DB,
) -> None:
    """List the cases --as a viewer may know of (or all of them, --auditor with --reason),
    oldest first; an unknown --name, --version or --state is refused."""
    reader = parse_reader(viewer, auditor, reason)
    with open_engine(db, read_only=reader.auditor is None, existing=True) as engine:
        if reader.viewer is not None:
            found = engine.cases(viewer=reader.viewer, name=name, version=version, state=state)
        else:
            found = engine.unredacted_cases(
                auditor=reader.who, reason=reader.reason or "", name=name, version=version,
                state=state,
            )  # fmt: skip
        if not found:
            check_filters(engine, reader.who, name=name, version=version, state=state)
        _out().print(render.cases_table(found, engine.registry))


@app.command()
def history(
    case: Annotated[str, typer.Argument(metavar="CASE")],
    viewer: ViewerOption = None,
    auditor: AuditorOption = None,
    reason: ReasonOption = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Show a case's history as a viewer reads it (--as), or unredacted to an auditor
    (--auditor with --reason, logged in the store)."""
    reader = parse_reader(viewer, auditor, reason)
    with open_engine(db, read_only=reader.auditor is None, existing=True) as engine:
        records = _read_history(engine, case, reader)
        who = reader.who
        procedure = engine.registry.by_fingerprint(records[0].fingerprint) if records else None
        roles = ", ".join(sorted(role_both(procedure, role).text() for role in who.roles))
        title = both(
            "History of case {case}, as {viewer} ({roles}) reads it",
            case=case,
            viewer=who.id,
            roles=roles,
        ).text()
        _out().print(render.history_table(records, engine.registry, title, engine.bodies))


@app.command("timeline")
def timeline_command(
    case: Annotated[str, typer.Argument(metavar="CASE")],
    viewer: ViewerOption = None,
    auditor: AuditorOption = None,
    reason: ReasonOption = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Tell a case's story in French as a viewer reads it (--as), or to an auditor."""
    reader = parse_reader(viewer, auditor, reason)
    with open_engine(db, read_only=reader.auditor is None, existing=True) as engine:
        records = _read_history(engine, case, reader)
        text = timeline(records, engine.registry)
    _out().print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("changes")
def changes_command(
    viewer: ViewerOption = None,
    after: Annotated[
        int, typer.Option("--after", min=0, metavar="N", help="Start after this position.")
    ] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep waiting for new changes (Ctrl-C stops).")
    ] = False,
    consumer: Annotated[
        str | None,
        typer.Option(
            "--consumer",
            metavar="NAME",
            help="A durable consumer: start after the position it acknowledged, and "
            "acknowledge each batch once printed (instead of --after).",
        ),
    ] = None,
    idle: Annotated[
        float | None,
        typer.Option(
            "--idle", min=0, metavar="SECONDS", help="With --follow: stop after this long quiet."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per entry and line (JSON Lines).")
    ] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Print what happened, in order, to the cases --as a viewer may see: each record as it
    could read it then, and what a step disclosed of earlier records."""
    reader = parse_reader(viewer, None, None)
    with open_engine(db, read_only=consumer is None, existing=True) as engine:
        batches = engine.follow(
            consumer, viewer=reader.who, after=after, idle=idle if follow else 0
        )
        try:
            for batch in batches:
                for change in batch:
                    _line(_change_json(change) if as_json else _change_line(change))
        except KeyboardInterrupt:
            # Ctrl-C ends --follow; the batch being printed stays unacknowledged (again next
            # time), and the store closes as the command returns.
            return


def _change_json(change: Change) -> str:
    return json.dumps(change.to_data(), ensure_ascii=False, sort_keys=True)


def _change_line(change: Change) -> str:
    """One entry as a line: position, kind, case, seq, event, time, actor (the kind and the ids
    as the JSON output gives them: a line a script may read too)."""
    record = change.record
    line = (
        f"{change.position:>8}  {change.kind:<10}  {record.case_id}  #{record.seq}  "
        f"{record.event}  {record.at.isoformat()}  {record.actor.id}"
    )
    if change.disclosed:
        shown = ", ".join(f"#{earlier.seq}" for earlier in change.disclosed)
        line += "  " + both("discloses {records}", records=shown).text()
    return line


@app.command()
def explain(
    case: Annotated[str, typer.Argument(metavar="CASE")],
    event: Annotated[str, typer.Argument(metavar="EVENT")],
    viewer: Annotated[
        str,
        typer.Option("--as", metavar="ID:ROLE,...[:BODY]", help="Who would fire the event."),
    ],
    payload: Annotated[
        str | None, typer.Option("--payload", metavar="JSON|@FILE", help="The event's data.")
    ] = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Say why EVENT would be refused now to --as (every reason), or that it would fire."""
    actor = parse_actor(viewer)
    data = parse_json_object(payload, "--payload") if payload is not None else None
    with open_engine(db, read_only=True) as engine:
        answer = engine.explain(case, event, actor, data)
        procedure = engine.registry.by_fingerprint(engine.case(case, actor).fingerprint)
    for line in render.explanation_lines(answer, procedure):
        _line(line)
    if not answer.allowed:
        raise typer.Exit(1)


@app.command()
def waiting(
    viewer: Annotated[
        str,
        typer.Option("--as", metavar="ID:ROLE,...[:BODY]", help="Who asks: only its cases."),
    ],
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            metavar="BODY|ROLE",
            help="Only the cases waiting on this body or coordinating role.",
        ),
    ] = None,
    overdue_after: Annotated[
        list[str] | None,
        typer.Option(
            "--overdue-after",
            metavar="STATE=DAYS",
            help="How many days a case may wait in STATE before it is overdue (repeat; the "
            "deployment's policy).",
        ),
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            metavar="FILE.toml",
            help="The deployment's policy: [[limit]] tables of state, days, and optionally "
            "name and version.",
        ),
    ] = None,
    moment: Annotated[
        str | None,
        typer.Option("--at", metavar="DATE", help="Judge lateness at this time (default: now)."),
    ] = None,
    only_late: Annotated[
        bool, typer.Option("--overdue", help="Only the overdue cases (a policy or a due date).")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Only this procedure.")] = None,
    version: Annotated[str | None, typer.Option(help="Only this version.")] = None,
    db: Db = DEFAULT_DB,
) -> None:
    """List the open cases --as a viewer may see, whom each waits on and since when; with a
    policy (--overdue-after, --policy), since when each is overdue. Firing never depends on it."""
    actor = parse_actor(viewer)
    policy = _policy(overdue_after or [], policy_file)
    when = parse_moment(moment, "--at") if moment is not None else None
    with open_engine(db, read_only=True) as engine:
        found = engine.waiting(actor, on=on, name=name, version=version)
        at = when or engine.clock()
        overdue = engine.overdue(actor, at, policy, on=on, name=name, version=version)
        late = {item.waiting.case_id: item for item in overdue}
        if only_late:
            found = [item for item in found if item.case_id in late]
        shows_late = bool(policy.limits) or only_late or any(w.due for w in found)
        title = both("Waiting, as {viewer} sees it", viewer=actor.id).text()
        table = render.waiting_table(
            found, engine.registry, late if shows_late else None, title=title
        )
        _out().print(table)


#: The longest wait a limit may allow: about 270 years, far below what a duration can hold.
MAX_DAYS = 100_000


def _policy(limits: list[str], path: Path | None) -> Policy:
    """The policy the command was given: the file's limits, then each --overdue-after."""
    policy = Policy.load(path) if path is not None else Policy()
    given: list[Limit] = []
    for text in limits:
        state, equals, days = text.partition("=")
        try:
            count = float(days)
        except ValueError:
            count = -1.0
        if not equals or not state.strip() or not 0 <= count <= MAX_DAYS:
            raise CommandLineError(
                both("--overdue-after {text!r} is not STATE=DAYS (for example referred=30)",
                     text=text)
            )  # fmt: skip
        given.append(Limit(state.strip(), timedelta(days=count)))
    return Policy((*policy.limits, *given))


def _read_history(engine: Engine, case: str, reader: Reader) -> list[Record]:
    if reader.viewer is not None:
        return engine.history(case, reader.viewer)
    return engine.unredacted_history(case, auditor=reader.who, reason=reader.reason or "")


# -- demo ---------------------------------------------------------------------------------


@app.command()
def demo(
    db: Annotated[
        str,
        typer.Option(
            "--db", metavar="URL", help="The demo's own store (STECHNIQUE_DB is not read)."
        ),
    ] = DEMO_DB,
    into_existing_store: Annotated[
        bool,
        typer.Option(
            "--into-existing-store",
            help="Also write into a store holding other cases (the demo's can never be removed).",
        ),
    ] = False,
) -> None:
    """Run the example stories into a store of their own, print their timelines (safe twice)."""
    stories = load_stories()
    where = shown_url(db)
    demo_cases = rehearse(stories, command_registry())
    if not into_existing_store:
        try:  # read-only first: nothing is created or upgraded in a store that is refused
            with open_engine(db, read_only=True) as engine:
                check_own_store(engine.storage, demo_cases, where)
        except StoreNotFound:
            pass  # a new store: the demo's own
    with open_engine(db) as engine:
        before = demo_cases.records_in(engine.storage)
        for name, tell in stories:
            # One engine per story: a story may set its own clock to the period it tells.
            for case_id in tell(Engine(engine.storage, engine.registry)):
                _out().rule(f"{name} — {case_id}")
                # The narrator of the demo reads its own stories whole, as an auditor would.
                records = engine.unredacted_history(
                    case_id, auditor=DEMO_NARRATOR, reason="stechnique demo"
                )
                text = timeline(records, engine.registry)
                _out().print(text, markup=False, highlight=False, soft_wrap=True)
        written = demo_cases.records_in(engine.storage) - before
        reports = [audit(engine.storage, engine.registry, c) for c in demo_cases.first_hashes]
    _out().rule()
    for line in render.demo_summary(where, len(stories), written, reports):
        _line(line)


# -- audit --------------------------------------------------------------------------------


@app.command("audit")
def audit_command(
    case: Annotated[str | None, typer.Option("--case", help="Audit only this case.")] = None,
    name: Annotated[str | None, typer.Option(help="Only cases of this procedure.")] = None,
    version: Annotated[str | None, typer.Option(help="With --name: only this version.")] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="Only records written since (ISO 8601, UTC if naive)."),
    ] = None,
    after: Annotated[
        int | None,
        typer.Option(
            "--after",
            min=0,
            metavar="N",
            help="Only records appended after position N of the change feed (whatever time "
            "they claim).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Verify stored histories: exit status 1 on violations, 3 when nothing was selected."""
    refuse_version_alone(name, version)
    scope: dict[str, Any] = {
        "case_id": case,
        "name": name,
        "version": version,
        "since": parse_moment(since, "--since") if since is not None else None,
    }
    if after is not None:  # (absent otherwise: the report's scope stays as it was)
        scope["appended_after"] = after
    with open_engine(db, read_only=True) as engine:
        progress = None if as_json else Console(stderr=True)
        report = audit_with_progress(engine, scope, progress)
        if render.verdict(report) == "nothing_selected":
            check_filters(engine, None, name=name, version=version)
        context = audit_context(engine, db, scope)
    finish_report(report, as_json, context, nothing_selected(**scope))


def finish_report(
    report: AuditReport, as_json: bool, context: dict[str, Any], nothing: str
) -> None:
    """Print an audit's report, then exit 1 on violations, 3 (saying ``nothing``) when it
    selected nothing: an audit of nothing is not « conforme »."""
    if as_json:
        typer.echo(render.audit_json(report, context))
    else:
        _out().print(render.audit_summary(report, context))
    verdict = render.verdict(report)
    if verdict == "violations":
        raise typer.Exit(EXIT_VIOLATIONS)
    if verdict == "nothing_selected":
        _say(nothing)
        raise typer.Exit(EXIT_NOTHING)


def audit_with_progress(
    engine: Engine,
    scope: dict[str, Any],
    console: Console | None,
    from_cases: int = PROGRESS_FROM_CASES,
) -> AuditReport:
    """Audit ``scope``; a progress bar on a terminal ``console`` counts the cases of big stores."""
    storage = engine.storage
    if console is None or not console.is_terminal:
        return audit(storage, engine.registry, **scope)
    if scope["case_id"] is not None:
        total = 1
    else:
        total = len(storage.cases(name=scope["name"], version=scope["version"]))
    if total < from_cases:
        return audit(storage, engine.registry, **scope)
    columns = (
        TextColumn("audit"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(CASES.both()),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("audit", total=total)
        return audit(
            storage,
            engine.registry,
            **scope,
            progress=lambda done: progress.update(task, completed=done),
        )


# -- export, import, schema --------------------------------------------------------------


class ExportFormat(StrEnum):
    """Output formats of ``stechnique export``."""

    jsonl = "jsonl"
    csv = "csv"


@app.command("export")
def export_command(
    output_format: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="jsonl (restorable, canonical) or csv (spreadsheets)."),
    ] = ExportFormat.jsonl,
    viewer: ViewerOption = None,
    auditor: AuditorOption = None,
    reason: ReasonOption = None,
    case: Annotated[str | None, typer.Option("--case", help="Export only this case.")] = None,
    name: Annotated[str | None, typer.Option(help="Only cases of this procedure.")] = None,
    version: Annotated[str | None, typer.Option(help="With --name: only this version.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
    ] = None,
    labelled: Annotated[
        bool,
        typer.Option(
            "--labelled",
            help="With --format csv: the variant for people, in the --lang language (labels, "
            "Paris time, ';' between columns in French) instead of the canonical columns.",
        ),
    ] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Export histories, one record per line (jsonl) or row (csv): --as a viewer (its cases,
    redacted), or --auditor with --reason (everything, restorable, the read logged); exit
    status 3 when nothing was selected."""
    refuse_version_alone(name, version)
    if labelled and output_format is not ExportFormat.csv:
        raise CommandLineError(both("--labelled goes with --format csv"))
    reader = parse_reader(viewer, auditor, reason)
    write: Any = export.export_jsonl
    if output_format is ExportFormat.csv:
        write = functools.partial(export.export_csv, labelled=labelled)
    with open_engine(db, read_only=reader.auditor is None, existing=True) as engine:
        exported = write(
            engine.storage,
            output if output is not None else typer.get_text_stream("stdout"),
            case_id=case,
            name=name,
            version=version,
            viewer=reader.viewer,
            auditor=reader.auditor,
            reason=reader.reason,
            registry=engine.registry,
        )
        if not exported:
            check_filters(engine, reader.who, name=name, version=version)
    records = both_n("{n} record", "{n} records", exported, n=format_number(exported))
    if output is None:
        _say(both("exported: {records}", records=records).text())
    else:
        _say(both("exported to {output}: {records}", output=output, records=records).text())
    if not exported:
        _say(nothing_selected(case, name, version))
        raise typer.Exit(EXIT_NOTHING)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A `stechnique export` JSONL file.")],
    db: Db = DEFAULT_DB,
) -> None:
    """Restore a JSONL export into an empty store: all or nothing, every hash chain verified."""
    with open_engine(db) as engine:
        try:
            restored = import_with_progress(engine, file, Console(stderr=True))
        except ValueError as error:
            raise CommandLineError(
                both("cannot import {file} into {db}: {error}", file=file, db=db, error=error)
            ) from error
    said = both(
        "imported from {file} into {where}: {cases}, {records}",
        file=file,
        where=shown_url(db),
        cases=both_n("{n} case", "{n} cases", restored.cases, n=format_number(restored.cases)),
        records=both_n(
            "{n} record", "{n} records", restored.records, n=format_number(restored.records)
        ),
    )
    _say(said.text())


def import_with_progress(
    engine: Engine, file: Path, console: Console, from_lines: int = PROGRESS_FROM_LINES
) -> export.ImportReport:
    """Import ``file``; a progress bar on a terminal ``console`` counts the records of big
    files (their lines, counted first: a fast pass over the bytes)."""
    storage = engine.storage
    if not console.is_terminal:
        return export.import_jsonl(storage, file, registry=engine.registry)
    with file.open("rb") as stream:
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    if total < from_lines:
        return export.import_jsonl(storage, file, registry=engine.registry)
    columns = (
        TextColumn("import"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("enregistrements / records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("import", total=total)
        return export.import_jsonl(
            storage,
            file,
            registry=engine.registry,
            progress=lambda done: progress.update(task, completed=done),
        )


@db_app.command("upgrade")
def db_upgrade(
    db: Db = DEFAULT_DB,
    table_prefix: Annotated[
        str | None,
        typer.Option(
            metavar="PREFIX", help="Prefix of the stechnique tables (as the global option)."
        ),
    ] = None,
) -> None:
    """Create or upgrade the store's tables to this version of stechnique."""
    from stechnique.storage._sql_upgrade import head_revision  # Alembic: only when needed

    prefix = table_prefix or global_table_prefix()
    before = upgrade_store(db, prefix)
    where, head = shown_url(db), head_revision()
    if before is None:
        done = both("tables {prefix}* created", prefix=prefix)
    elif before == head:
        done = both("tables {prefix}* already up to date", prefix=prefix)
    else:
        done = both("tables {prefix}* upgraded from {before}", prefix=prefix, before=before)
    _say(both("{where}: {done} (revision {head})", where=where, done=done, head=head).text())


def _say(message: str) -> None:
    Console(stderr=True, highlight=False).print(message, markup=False, soft_wrap=True)
