"""The library's messages: every sentence marked in the sources has its French, and the
compiled catalogs the wheel ships say exactly what their ``.po`` says.

The sentences are extracted from the sources here, with the keywords of
``scripts/catalogs.py`` (the developer's command), so a sentence added without running it, or
run but left untranslated, fails this test.
"""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from stechnique import i18n
from stechnique.errors import UnknownCase
from stechnique.i18n import both, use_locale

ROOT = Path(__file__).resolve().parent.parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalogs", ROOT / "scripts" / "catalogs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


def _marked() -> dict[str, str]:
    """Every sentence marked in the sources (the singular of a plural), with where it is."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        TOOL.SOURCES, keywords=TOOL.KEYWORDS, comment_tags=()
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _catalog(lang: str) -> Catalog:
    with (TOOL.LOCALES / lang / "LC_MESSAGES" / f"{TOOL.DOMAIN}.po").open("rb") as file:
        return read_po(file)


def _key(text: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return text if isinstance(text, str) else tuple(text)


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _untranslated(catalog: Catalog, marked: dict[str, str]) -> list[str]:
    missing = []
    for msgid, where in marked.items():
        message = catalog.get(msgid)
        strings = () if message is None else (
            (message.string,) if isinstance(message.string, str) else message.string
        )  # fmt: skip
        if message is None or message.fuzzy or not strings or not all(strings):
            missing.append(f"{where}: {msgid!r}")
    return missing


def test_sources_mark_the_messages_the_extractor_finds() -> None:
    marked = _marked()
    # The refusals people read most: if the keywords went out of step with the sources, this
    # list would shrink and every later check would pass on nothing.
    assert "unknown case {case_id!r}" in marked
    assert "expected a non-empty list of text, got {kind}" in marked
    assert "Role required: {roles}" in marked
    assert len(marked) > 60


@pytest.mark.parametrize("lang", TOOL.LANGUAGES)
def test_every_marked_message_has_its_translation(lang: str) -> None:
    missing = _untranslated(_catalog(lang), _marked())
    assert not missing, f"untranslated in {lang} (run scripts/catalogs.py, translate):\n" + (
        "\n".join(missing)
    )


@pytest.mark.parametrize("lang", TOOL.LANGUAGES)
def test_translations_fill_the_same_fields(lang: str) -> None:
    """A translation that drops or renames ``{case_id}`` would fail at run time, or say less."""
    wrong = []
    for message in _catalog(lang):
        if not message.id or not message.string:
            continue
        ids = (message.id,) if isinstance(message.id, str) else message.id
        strings = (message.string,) if isinstance(message.string, str) else message.string
        expected = set().union(*(_fields(text) for text in ids))
        for text in strings:
            if _fields(text) - expected or (len(ids) == 1 and _fields(text) != expected):
                wrong.append(f"{message.id!r} -> {text!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("lang", TOOL.LANGUAGES)
def test_the_compiled_catalog_is_the_po(lang: str) -> None:
    """The ``.mo`` the library reads says what the ``.po`` says (run scripts/catalogs.py)."""
    po = _catalog(lang)
    with (TOOL.LOCALES / lang / "LC_MESSAGES" / f"{TOOL.DOMAIN}.mo").open("rb") as file:
        mo = read_mo(file)
    translated = {_key(m.id): _key(m.string) for m in po if m.id and m.string and not m.fuzzy}
    compiled = {_key(m.id): _key(m.string) for m in mo if m.id}
    assert compiled == translated


def test_both_translates_into_every_language_and_str_follows_the_locale() -> None:
    said = both("unknown case {case_id!r}", case_id="c-1")
    assert said == ("dossier inconnu 'c-1'", "unknown case 'c-1'")
    error = UnknownCase("c-1")
    assert (error.fr, error.en) == said
    assert str(error) == "dossier inconnu 'c-1'"  # French by default
    with use_locale("en"):
        assert str(error) == "unknown case 'c-1'"


def test_the_french_catalog_is_read_from_the_package() -> None:
    """The catalogs ship inside the package (the wheel takes ``src/stechnique`` whole)."""
    assert Path(i18n.LOCALES).is_relative_to(Path(i18n.__file__).parent)
    assert (Path(i18n.LOCALES) / "fr" / "LC_MESSAGES" / "stechnique.mo").is_file()
