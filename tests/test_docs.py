"""The documentation's examples run as written, and its figures come from somewhere.

Every ```python block of a page runs in order, in one namespace (as a reader would type them
one after the other), in a temporary working directory so SQLite files land there; each page
is checked in French (``X.md``) and English (``X.en.md``).

No figure is typed by hand: a measured time, rate or size is included from what a benchmark
wrote (``bench/RESULTS.md``, with ``--8<--``), never written in a page; a count a page quotes
from the demo is what the demo writes; a limit a page quotes (longest id, remembered cases,
table prefix) is the library's.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from stechnique._arguments import MAX_ID, MAX_NAME

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [
    "docs/embedding.md",
    "docs/embedding.en.md",
    "docs/audit.md",
    "docs/audit.en.md",
    "README.md",
]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: A measured quantity: a number followed by a unit of time, rate or size.
_MEASURE = re.compile(
    r"(?<![\w.])\d[\d,.\u202f ]*\s?(?:ms|µs|s|[a-z ]+/s|MB|Mo|KB|ko|GB|Go)(?![\w/'’])",
    re.IGNORECASE,
)
#: Where a page includes a benchmark's figures.
_INCLUDE = re.compile(r'^--8<-- "bench/RESULTS\.md:(\w+)"$', re.MULTILINE)


def python_blocks(page: str) -> list[str]:
    """The Python code blocks of a documentation page, in order."""
    return _BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


#: Developer pages, English only, edited by every change: their figures are measurements taken
#: when a decision was made, kept as the record of why (not claims about the current release).
_DEVELOPER_PAGES = {"decisions.md", "api.md"}


def _pages() -> list[Path]:
    """Every user page (both languages), the generated procedure pages and the README."""
    guide = [page for page in sorted(DOCS.glob("*.md")) if page.name not in _DEVELOPER_PAGES]
    return [*guide, *sorted((DOCS / "procedures").glob("*.md")), ROOT / "README.md"]


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(page)
    assert blocks, f"{page} lost its examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{page} block {number}", "exec")
        exec(code, namespace)


def test_french_and_english_pages_have_the_same_code() -> None:
    # A translation changes the words, never an example.
    for english in sorted(DOCS.glob("*.en.md")):
        french = english.with_name(english.name.removesuffix(".en.md") + ".md")
        assert french.exists(), f"{english.name} has no French page"
        assert python_blocks(str(french.relative_to(ROOT))) == python_blocks(
            str(english.relative_to(ROOT))
        ), f"{french.name} and {english.name} differ in their Python examples"


def test_no_page_types_a_measured_figure() -> None:
    typed = [
        f"{page.relative_to(ROOT)}:{number}: {match.group(0)!r}"
        for page in _pages()
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        for match in _MEASURE.finditer(line)
    ]
    assert typed == [], "include the figure from bench/RESULTS.md instead"


def test_the_audit_guide_includes_the_measured_throughput() -> None:
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    for page in ("audit.md", "audit.en.md"):
        sections = _INCLUDE.findall((DOCS / page).read_text(encoding="utf-8"))
        assert sections == ["audit"], page
        assert "<!-- --8<-- [start:audit] -->" in results
        assert "<!-- --8<-- [end:audit] -->" in results
    audit = results.split("[start:audit]")[1].split("[end:audit]")[0]
    assert re.search(
        r"\| audit of [\d,]+ records: records/s \(wall\) \| [\d,]+ records/s \|", audit
    )


_DEMO_FR = re.compile(r"Démo : (\d+) histoires, (\d+) dossiers .*\((\d+) enregistrements écrits\)")
_DEMO_EN = re.compile(r"Demo: (\d+) stories, (\d+) cases .*\((\d+) records written\)")


def test_the_demo_counts_quoted_are_what_the_demo_writes(tmp_path: Path) -> None:
    # The demo speaks one language (French by default, English with --lang en): one run each.
    for lang, pattern in (("fr", _DEMO_FR), ("en", _DEMO_EN)):
        where = tmp_path / lang
        where.mkdir()
        ran = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from stechnique.cli import app; app(['--lang', '{lang}', 'demo'])",
            ],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={"PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200", "PATH": ""},
        )
        assert ran.returncode == 0, ran.stderr
        written = pattern.search(ran.stdout)
        assert written is not None, ran.stdout[-2000:]
        for page in ("getting-started.md", "getting-started.en.md"):
            quoted = pattern.search((DOCS / page).read_text(encoding="utf-8"))
            assert quoted is not None, f"{page} no longer quotes the demo's last lines"
            assert quoted.groups() == written.groups(), page


def _known_cases_default() -> int:
    from stechnique import Engine

    default: int = inspect.signature(Engine).parameters["known_cases"].default
    return default


def _longest_prefix() -> int:
    from stechnique.storage._sql_schema import check_prefix

    return max(n for n in range(1, 100) if _prefix_ok(check_prefix, "p" * n))


def _prefix_ok(check: Callable[[str], str], prefix: str) -> bool:
    try:
        check(prefix)
    except ValueError:
        return False
    return True


def _limits() -> list[tuple[str, str, tuple[str, ...]]]:
    """(page, pattern, what the library says) for every limit the guides quote."""
    ids, names = str(MAX_ID), str(MAX_NAME)
    known = f"{_known_cases_default():,}"
    return [
        ("embedding.en.md", r"\(ids (\d+), names (\d+)\)", (ids, names)),
        ("embedding.md", r"\(identifiants (\d+), noms (\d+)\)", (ids, names)),
        ("embedding.en.md", r"at most (\d+) characters \(procedure names,\s+versions, events"
         r" and states: (\d+)\)", (ids, names)),
        ("embedding.md", r"d'au plus (\d+) caractères \(noms de procédures, versions,\s+"
         r"événements et états : (\d+)\)", (ids, names)),
        ("storage.en.md", r"up to (\d+) characters, and procedure names, versions, states and"
         r"\s+events up to (\d+)", (ids, names)),
        ("storage.md", r"jusqu'à (\d+) caractères, et les\s+noms de procédures, versions, états"
         r" et événements jusqu'à (\d+)", (ids, names)),
        ("storage.en.md", r"remembers the last ([\d,]+) cases", (known,)),
        ("storage.md", r"des ([\d ]+) derniers dossiers", (known.replace(",", " "),)),
        ("storage.en.md", r"\((\d+) to (\d+) letters", ("1", str(_longest_prefix()))),
        ("storage.md", r"\((\d+) à (\d+) lettres", ("1", str(_longest_prefix()))),
    ]  # fmt: skip


def test_the_limits_the_guides_quote_are_the_librarys() -> None:
    for page, pattern, expected in _limits():
        text = (DOCS / page).read_text(encoding="utf-8")
        quoted = re.search(pattern, text)
        assert quoted is not None, f"{page} no longer says /{pattern}/"
        assert quoted.groups() == expected, page
