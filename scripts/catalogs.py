"""The developer's one command for the library's message catalogs (Babel's own tools).

``python scripts/catalogs.py`` extracts every sentence marked in ``src/stechnique`` (calls of
``both``, ``both_n`` and ``N_`` from ``stechnique.i18n``) into the template
``src/stechnique/locales/stechnique.pot``, merges it into each language's ``.po`` (new
sentences come untranslated, for a person to translate) and compiles the ``.mo`` files the
wheel ships. ``tests/test_catalogs.py`` fails until every sentence has its French and the
``.mo`` matches its ``.po``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "src" / "stechnique"
LOCALES = SOURCES / "locales"
TEMPLATE = LOCALES / "stechnique.pot"
DOMAIN = "stechnique"
#: The languages with a catalog: the msgids are English, so English needs none.
LANGUAGES = ("fr",)
#: The functions whose first argument (``both_n``: first two; ``schema._field_problem``: second) is
#: a sentence to translate.
KEYWORDS = {"both": None, "both_n": (1, 2), "N_": None, "_field_problem": (2,)}


def _keyword_options() -> list[str]:
    options = []
    for name, spec in KEYWORDS.items():
        shown = name if spec is None else f"{name}:{','.join(map(str, spec))}"
        options += ["-k", shown]
    return options


def _pybabel(*arguments: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *arguments])


def main() -> None:
    """Extract, update every catalog, compile."""
    LOCALES.mkdir(exist_ok=True)
    # Paths relative to the repository, file names without line numbers: the template does not
    # change each time a line moves.
    os.chdir(ROOT)
    _pybabel(
        "extract", "--no-default-keywords", *_keyword_options(), "--sort-by-file",
        "--no-wrap", "--add-location=file", "--project=stechnique",
        "--copyright-holder=stechnique developers",
        "--header-comment=# The messages of the stechnique library (scripts/catalogs.py).",
        "-o", str(TEMPLATE.relative_to(ROOT)), str(SOURCES.relative_to(ROOT)),
    )  # fmt: skip
    for lang in LANGUAGES:
        po = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        command = "update" if po.exists() else "init"
        extra = ["--no-wrap", "--ignore-obsolete"] if command == "update" else ["--no-wrap"]
        _pybabel(command, "-D", DOMAIN, "-i", str(TEMPLATE), "-d", str(LOCALES), "-l", lang,
                 *extra)  # fmt: skip
    _pybabel("compile", "-D", DOMAIN, "-d", str(LOCALES), "--statistics")


if __name__ == "__main__":
    sys.exit(main())
