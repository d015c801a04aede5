"""MkDocs hook: the procedure pages are generated from the definitions at every build.

The pages under ``docs/procedures/`` are also committed (so they can be read on a forge), and a
test keeps them equal to the generator's output; at build time this hook regenerates them from
the installed definitions all the same (in French, ``X.md``, and English, ``X.en.md``), so a
published site can never show a stale table or diagram. It also lists one navigation entry per
version under "Procédures", and gives a procedure page the width of the table of contents (its
diagram and transition table are wide; its few headings are in the navigation already). The
definitions are those the ``stechnique`` command sees (``load_registry``): an installed partner
package's procedures are listed too, and the strict build fails until their pages are written
(``python docs/gen_procedures.py``).

The pages are regenerated as each one is rendered rather than added as generated files: the
i18n plugin pairs a page with its translation by the file it was read from, which a generated
file lacks.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

_GENERATOR = Path(__file__).resolve().parent.parent / "gen_procedures.py"
_SECTION = "Procédures"
_FOLDER = "procedures"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stechnique_docs_gen_procedures", _GENERATOR)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the page generator {_GENERATOR}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
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


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """A procedure page's text, generated afresh; its table of contents hidden, for its wide
    diagram."""
    source = page.file.abs_src_path
    if source is None or Path(source).parent.name != _FOLDER:
        return markdown
    if not Path(source).name.startswith("index."):
        page.meta.setdefault("hide", ["toc"])
    return _pages().get(Path(source).name, markdown)
