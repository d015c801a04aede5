"""Fuzzing the two doors the engine's own fuzz (``test_boundary_fuzz.py``) does not reach: a
JSONL file given to ``import_jsonl``, and the command line.

* An export, one line changed (a field made hostile, dropped or added, a line cut short,
  lines swapped or repeated), imported into an empty store of each adapter: either a
  ``StechniqueError`` that left the store empty, or an import the audit finds clean (a change
  the hashes do not cover must not get in as tampering).
* ``stechnique`` read-only commands with hostile arguments: an answer or a one-line refusal,
  never an « internal error » or a traceback, and the store's file byte-identical.

Bounded for CI: a few dozen examples per test in the default profile.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_stories import engine_on, mstr_closed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from small import AS_AUDITOR
from sql_support import SQLBackend, empty_tables
from test_cli import cli

from stechnique import StechniqueError, export_jsonl
from stechnique.audit import audit
from stechnique.export import import_jsonl
from stechnique.storage import MemoryStorage, SQLStorage, Storage
from stechnique.testing.contract import stored


def _export() -> list[dict[str, Any]]:
    storage = MemoryStorage()
    mstr_closed(engine_on(storage), "mstr-fuzz")
    out = io.StringIO()
    export_jsonl(storage, out, **AS_AUDITOR)
    return [json.loads(line) for line in out.getvalue().splitlines()]


LINES = _export()
KEYS = sorted({key for line in LINES for key in line})
#: Values JSON can carry that no field should hold, and a few that trip drivers and parsers.
HOSTILE: list[Any] = [
    None, "", " ", "a\x00b", "x" * 300, 0, -1, 2**53 + 1, 10**40, True, 1.5, "\udc80",
    [], ["form-42"], {}, {"a": 1}, "2016-13-45T99:00:00", "1", "f" * 64,
]  # fmt: skip


def _line(data: Any) -> str:
    return json.dumps(data, allow_nan=True)  # as a file holds it: non-ASCII as \\u escapes


@st.composite
def damaged_files(draw: st.DrawFn) -> str:
    """The export with one line damaged, or two lines moved."""
    lines = [_line(line) for line in LINES]
    index = draw(st.integers(0, len(lines) - 1))
    record = dict(LINES[index])
    how = draw(st.sampled_from(["set", "drop", "add", "cut", "swap", "repeat", "nan"]))
    if how == "set":
        record[draw(st.sampled_from(KEYS))] = draw(st.sampled_from(HOSTILE))
        lines[index] = _line(record)
    elif how == "drop":
        record.pop(draw(st.sampled_from(KEYS)), None)
        lines[index] = _line(record)
    elif how == "add":
        record[draw(st.sampled_from(["extra", "", "\udc80"]))] = draw(st.sampled_from(HOSTILE))
        lines[index] = _line(record)
    elif how == "cut":
        lines[index] = lines[index][: draw(st.integers(0, len(lines[index]) - 1))]
    elif how == "swap":
        other = draw(st.integers(0, len(lines) - 1))
        lines[index], lines[other] = lines[other], lines[index]
    elif how == "repeat":
        lines.insert(index, lines[index])
    else:
        record["payload"] = {
            **record["payload"],
            "montant": draw(st.sampled_from([math.nan, math.inf])),
        }
        lines[index] = _line(record)
    return "".join(line + "\n" for line in lines)


@pytest.fixture
def fresh_stores(request: pytest.FixtureRequest, table_prefix: str) -> Iterator[Any]:
    """A factory of empty stores of one adapter: one per example (an accepted import fills it)."""
    kind = request.param
    if kind == "memory":
        yield lambda: _Memory()
        return
    backend = SQLBackend(kind, request.getfixturevalue(f"{kind}_url"), table_prefix)
    yield lambda: _Sql(backend)
    empty_tables(backend.url, backend.prefix)


class _Memory:
    def __enter__(self) -> Storage:
        return MemoryStorage()

    def __exit__(self, *_: object) -> None:
        return None


class _Sql:
    def __init__(self, backend: SQLBackend) -> None:
        self.backend = backend
        self.storage: SQLStorage | None = None

    def __enter__(self) -> Storage:
        empty_tables(self.backend.url, self.backend.prefix)
        self.storage = self.backend.open()
        return self.storage

    def __exit__(self, *_: object) -> None:
        assert self.storage is not None
        self.storage.close()


ADAPTER_PARAMS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


@pytest.mark.parametrize("fresh_stores", ADAPTER_PARAMS, indirect=True)
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=damaged_files())
def test_a_damaged_export_is_refused_whole_or_imports_clean(fresh_stores: Any, text: str) -> None:
    with fresh_stores() as storage:
        try:
            import_jsonl(storage, io.StringIO(text))
        except StechniqueError as refused:
            str(refused).encode("utf-8")  # the message itself can be printed and logged
            assert stored(storage) == ([], [])
            return
        report = audit(storage)
        assert report.ok, report.summary()


def test_the_damage_bites() -> None:
    """Without damage the file imports (so a refusal above is the damage's doing)."""
    storage = MemoryStorage()
    report = import_jsonl(storage, io.StringIO("".join(_line(line) + "\n" for line in LINES)))
    assert report.records == len(LINES)
    assert audit(storage).ok


# -- the command line -------------------------------------------------------------------------

TEXT = st.sampled_from(
    ["", " ", "\udc80", "a\x00b", "x" * 300, "mstr-fuzz", "-1", "caf-13", ":", "::", "a:b:c:d",
     "caf-13:", ":funder", "caf-13:funder", "2016-13-45", "9" * 40, "--db", "é" * 10]
)  # fmt: skip
READ_ONLY = {
    "audit": ("--case", "--name", "--version", "--since"),
    "cases": ("--as", "--name", "--version", "--state"),
    "history": ("CASE", "--as"),
    "timeline": ("CASE", "--as"),
    "explain": ("CASE", "EVENT", "--as"),
    "waiting": ("--as", "--on", "--name"),
    "export": ("--as", "--case", "--name", "--format"),
}


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding one closed MSTR case."""
    path = tmp_path_factory.mktemp("fuzz") / "store.db"
    with SQLStorage(f"sqlite:///{path}") as storage:
        mstr_closed(engine_on(storage), "mstr-fuzz")
    return path


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(READ_ONLY)))
    argv = [command]
    for slot in READ_ONLY[command]:
        value = draw(TEXT)
        if slot.isupper():
            argv.append(value)
        elif draw(st.booleans()):
            argv += [slot, value]
    return argv


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> list[str]:
    """The files of ``folder``, but for SQLite's WAL sidecars: a read-only reader of a WAL store
    in a writable folder leaves an empty ``-wal`` and a ``-shm`` (it may not delete them);
    they change nothing the store holds."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_hostile_arguments_to_read_only_commands(cli_store: Path, argv: list[str]) -> None:
    before, listing = _digest(cli_store), _files(cli_store.parent)
    code, out, err = cli(*argv, "--db", f"sqlite:///{cli_store}")
    assert "internal error" not in out + err
    assert "Traceback" not in out + err
    assert code in (0, 1, 2, 3), (code, err)
    assert _digest(cli_store) == before
    assert _files(cli_store.parent) == listing


# -- still open ---------------------------------------------------------------------------


def _with(line: int, field: str, value: Any) -> list[dict[str, Any]]:
    lines = [dict(record) for record in LINES]
    lines[line][field] = value
    return lines


@pytest.mark.parametrize("field", ["prev_hash", "fingerprint"])
def test_a_lone_surrogate_in_a_file_is_refused_as_invalid_data(tmp_path: Path, field: str) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(_line(r) + "\n" for r in _with(2, field, "\udc80")), "utf-8")
    storage = MemoryStorage()
    with pytest.raises(StechniqueError, match="Unicode"):
        import_jsonl(storage, path)
    assert stored(storage) == ([], [])


@pytest.mark.parametrize("field", ["case_id", "event", "idempotency_key"])
def test_a_lone_surrogate_in_a_text_stream_is_refused_as_invalid_data(field: str) -> None:
    lines = _with(2, field, "\udc80")
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
    storage = MemoryStorage()
    with pytest.raises(StechniqueError, match="Unicode"):
        import_jsonl(storage, io.StringIO(text))
    assert stored(storage) == ([], [])
