"""MkDocs hook: the procedure pages are generated from the definitions at every build.

The pages under ``docs/procedures/`` are also committed (so they can be read on a forge), and a
test keeps them equal to the generator's output; at build time this hook regenerates them from
the installed definitions all the same, so a published site can never show a stale table or
diagram. It also lists one navigation entry per version under "Procedures", and gives a
procedure page the width of the table of contents (its diagram and transition table are wide;
its few headings are in the navigation already). The definitions are those the ``stechnique``
command sees (``load_registry``): an installed partner package's procedures get their pages too.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

_GENERATOR = Path(__file__).resolve().parent.parent / "gen_procedures.py"
_SECTION = "Procedures"
_FOLDER = "procedures"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stechnique_docs_gen_procedures", _GENERATOR)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the page generator {_GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> dict[str, str]:
    from stechnique import load_registry

    pages: dict[str, str] = _generator().pages(load_registry())
    return pages


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fill the "Procedures" navigation section with every registered version."""
    from stechnique import load_registry

    generator = _generator()
    entries: list[Any] = [f"{_FOLDER}/index.md"]
    entries += [
        {f"{p.name} {p.version}": f"{_FOLDER}/{generator.page_name(p)}"} for p in load_registry()
    ]
    for item in config.nav or []:
        if isinstance(item, dict) and _SECTION in item:
            item[_SECTION] = entries
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Replace the committed procedure pages by freshly generated ones."""
    for name, text in _pages().items():
        uri = f"{_FOLDER}/{name}"
        existing = files.get_file_from_path(uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, uri, content=text))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Hide the table of contents on a procedure version's page, for its wide diagram."""
    uri = page.file.src_uri
    if uri.startswith(f"{_FOLDER}/") and uri != f"{_FOLDER}/index.md":
        page.meta.setdefault("hide", ["toc"])
    return markdown
