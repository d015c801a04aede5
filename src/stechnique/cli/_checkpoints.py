"""``stechnique checkpoint export|verify``: chain heads an auditor keeps outside the store.

A thin layer over ``stechnique.checkpoint``: ``export`` verifies every hash chain and writes
each case's last seq and hash (signed with the auditor's key when one is given); ``verify``
later proves the store still passes through those very records. The key is read from a file
(``--key-file``) or from ``STECHNIQUE_CHECKPOINT_KEY``, never from the command line, where
other users of the machine could read it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from stechnique.checkpoint import Checkpoint, export_checkpoint, verify_checkpoint
from stechnique.cli._commands import (
    EXIT_NOTHING,
    Db,
    _Group,
    _say,
    app,
    finish_report,
)
from stechnique.cli._support import DEFAULT_DB, CommandLineError, audit_context, open_engine
from stechnique.i18n import both, both_n, format_number

__all__ = ["checkpoint_app"]

#: The environment variable holding the checkpoint key when ``--key-file`` is not given.
KEY_VARIABLE = "STECHNIQUE_CHECKPOINT_KEY"

checkpoint_app = typer.Typer(
    cls=_Group,
    help="Checkpoints: every case's chain head, kept outside the store, verified later.",
    no_args_is_help=True,
)
app.add_typer(checkpoint_app, name="checkpoint")

KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        metavar="FILE",
        help=f"The auditor's secret key, in this file (else ${KEY_VARIABLE}; else unsigned).",
    ),
]


def _key(key_file: Path | None) -> bytes | None:
    if key_file is None:
        text = os.environ.get(KEY_VARIABLE)
        return text.encode("utf-8") if text else None
    key = key_file.read_bytes().rstrip(b"\r\n")  # a key file usually ends with a newline
    if not key:
        raise CommandLineError(both("--key-file {file} is empty", file=key_file))
    return key


@checkpoint_app.command("export")
def checkpoint_export(
    signed_off_by: Annotated[
        str,
        typer.Option(
            "--signed-off-by", metavar="WHO", help="Who signs it off (e.g. 'J. Martin, auditrice')."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this new file (default: stdout)."),
    ] = None,
    key_file: KeyFile = None,
    db: Db = DEFAULT_DB,
) -> None:
    """Record every case's chain head, each chain verified first, to keep outside the store."""
    key = _key(key_file)
    if output is not None and output.exists():
        raise CommandLineError(
            both(
                "{output} already exists: a checkpoint is never overwritten, choose another file",
                output=output,
            )
        )
    with open_engine(db, read_only=True) as engine:
        try:
            checkpoint = export_checkpoint(engine.storage, signed_off_by, key=key)
        except ValueError as error:
            raise CommandLineError(f"--signed-off-by: {error}") from error
    if not checkpoint.heads:
        _say(both("no case, no checkpoint written").text())
        raise typer.Exit(EXIT_NOTHING)
    if output is None:
        typer.echo(checkpoint.to_json(), nl=False)
    else:
        with output.open("x", encoding="utf-8") as file:  # "x": never overwrite
            file.write(checkpoint.to_json())
    heads = len(checkpoint.heads)
    said = both(
        "checkpoint of {cases}, {signed}, by {who}{to}",
        cases=both_n("{n} case", "{n} cases", heads, n=format_number(heads)),
        signed=both("signed") if key else both("unsigned"),
        who=checkpoint.signed_off_by,
        to=f" → {output}" if output is not None else "",
    )
    _say(said.text())


@checkpoint_app.command("verify")
def checkpoint_verify(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A `checkpoint export` file.")],
    key_file: KeyFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Check the store still holds every history as the checkpoint saw it; exit 1 if not."""
    key = _key(key_file)
    checkpoint = Checkpoint.read(file, key)
    if key is None and checkpoint.signature is not None:
        said = both(
            "signature not checked (no key): give --key-file or ${variable}",
            variable=KEY_VARIABLE,
        )
        _say(said.text())
    with open_engine(db, read_only=True) as engine:
        report = verify_checkpoint(engine.storage, checkpoint, key=key)
        context = audit_context(engine, db, {"checkpoint": str(file)})
    context["checkpoint"] = {
        "file": str(file),
        "created_at": checkpoint.created_at.isoformat(),
        "signed_off_by": checkpoint.signed_off_by,
        "cases": len(checkpoint.heads),
        "digest": checkpoint.digest,
        "signature_verified": key is not None,
    }
    nothing = both("the checkpoint lists no case").text()
    finish_report(report, as_json, context, nothing)
