"""The documentation site, built and looked at in a real browser.

The site is built with ``mkdocs build --strict`` into a temporary folder, served on 127.0.0.1,
and opened in headless Chromium (Debian's ``/usr/bin/chromium``, or ``STECHNIQUE_CHROMIUM``,
driven by Playwright) at 1280 px: every procedure diagram must be drawn, with a node for each
state and labels of at least 12 px; nothing may be fetched from outside the site; the API page
must list the fields of the value objects, with signatures that fit their column. Screenshots go
to ``STECHNIQUE_ARTIFACTS`` when it is set, else to a temporary folder whose path is printed.

Without Chromium, Playwright or MkDocs the tests skip and say why, except under
``STECHNIQUE_REQUIRE_SERVERS=1`` (CI), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urljoin

import attrs
import pytest
from browser_support import artifacts_folder, missing, system_chromium

from stechnique import Actor, AuditReport, Case, Procedure, Record, Violation, default_registry

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 1280
SMALLEST_LABEL_PX = 12.0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly from this checkout."""
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        missing("MkDocs is not installed (pip install -e '.[docs]')")
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", folder],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stdout}{built.stderr}"
    return folder


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    """The site served over HTTP on 127.0.0.1, as a reader's browser gets it."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where the screenshots go."""
    return artifacts_folder(request, "stechnique-docs-", "docs site screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, the system's own."""
    yield from system_chromium()


def _open(browser: Any, base_url: str) -> Any:
    # A 1280 px wide page that records every request leaving the site.
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    opened = context.new_page()
    opened.outside = []

    def record(request: Any) -> None:
        if not request.url.startswith(base_url):
            opened.outside.append(request.url)

    opened.on("request", record)
    return opened


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh 1280 px wide page that records every request leaving the site."""
    opened = _open(browser, base_url)
    yield opened
    opened.context.close()


@pytest.fixture(scope="module")
def api_page(browser: Any, base_url: str) -> Iterator[Any]:
    """The API reference, opened once (it is the heaviest page)."""
    opened = _open(browser, base_url)
    opened.goto(base_url + "api/")
    yield opened
    opened.context.close()


# -- the built HTML -------------------------------------------------------------------------


class _Sources(HTMLParser):
    """Every address a page makes the browser load by itself (scripts, styles, fonts, images)."""

    LOADED: ClassVar[dict[str, str]] = {
        "script": "src",
        "link": "href",
        "img": "src",
        "iframe": "src",
        "source": "src",
    }

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = self.LOADED.get(tag)
        values = dict(attrs)
        if tag == "link" and values.get("rel") in {"canonical", "alternate", None}:
            return
        if wanted and values.get(wanted):
            self.sources.append(str(values[wanted]))


def test_built_site_loads_no_script_style_or_font_from_outside(site: Path) -> None:
    outside: list[str] = []
    for html in sorted(site.rglob("*.html")):
        parser = _Sources()
        parser.feed(html.read_text(encoding="utf-8"))
        outside += [
            f"{html.relative_to(site)}: {source}"
            for source in parser.sources
            if source.startswith(("http://", "https://", "//"))
        ]
    for css in sorted(site.rglob("*.css")):
        text = css.read_text(encoding="utf-8")
        outside += [
            f"{css.relative_to(site)}: @import/url" for s in ("url(http", "@import") if s in text
        ]
    assert outside == []


# -- two languages --------------------------------------------------------------------------

_HTML_LANG = re.compile(r'<html lang="(\w+)"')


def _page_text(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path", ["", "getting-started/", "embedding/", "audit/", "cli/", "domain/", "procedures/"]
)
def test_each_guide_page_is_in_french_at_the_root_and_english_under_en(
    site: Path, path: str
) -> None:
    french, english = _page_text(site, path), _page_text(site, "en/" + path)
    assert _HTML_LANG.findall(french) == ["fr"]
    assert _HTML_LANG.findall(english) == ["en"]
    # The theme's language menu links each page to the same page in the other language.
    switch = re.compile(r'<a href="([^"]*)" hreflang="(\w+)" class="md-select__link"')
    for text, url in ((french, f"/{path}"), (english, f"/en/{path}")):
        links = {lang: urljoin(url, href) for href, lang in switch.findall(text)}
        assert links == {"fr": f"/{path}", "en": f"/en/{path}"}
    assert french != english


@pytest.mark.parametrize("procedure", list(default_registry()), ids=lambda p: p.key)
def test_each_procedure_page_names_its_states_in_its_language(
    site: Path, procedure: Procedure
) -> None:
    french = _page_text(site, _procedure_url(procedure, "fr")).replace("&quot;", '"')
    english = _page_text(site, _procedure_url(procedure, "en")).replace("&quot;", '"')
    for state in procedure.states:
        if state.fr != state.en:
            assert f'state "{state.fr}" as' in french
            assert f'state "{state.en}" as' in english
            assert f'state "{state.en}" as' not in french


def test_the_audit_guide_shows_the_measured_throughput_in_both_languages(site: Path) -> None:
    results = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    measured = re.findall(r"\| (audit of [\d,]+ records: records/s \(wall\)) \| ([\d,]+) ", results)
    assert measured
    for path in ("audit/", "en/audit/"):
        text = _page_text(site, path)
        for what, rate in measured:
            assert what in text
            assert rate in text


# -- a procedure page -----------------------------------------------------------------------

_DIAGRAMS = """() => [...document.querySelectorAll("div.mermaid-diagram")].map((block) => {
  const svg = block.querySelector("svg");
  if (!svg) return {drawn: false};
  const box = svg.getBoundingClientRect();
  const view = svg.viewBox.baseVal;
  const scale = view && view.width ? box.width / view.width : 1;
  const labels = [...svg.querySelectorAll(".nodeLabel, .edgeLabel, text")]
    .filter((label) => label.textContent.trim() !== "");
  const sizes = labels.map((label) => parseFloat(getComputedStyle(label).fontSize) * scale);
  const states = [...svg.querySelectorAll("g.node.statediagram-state")].map((node) => node.id);
  return {drawn: true, states: states, labels: labels.length, smallest: Math.min(...sizes)};
})"""


def _state_ids(procedure: Procedure) -> set[str]:
    # As diagram.mermaid writes them: Mermaid ids allow word characters only.
    return {re.sub(r"\W", "_", state.id) for state in procedure.states}


#: Where each language's pages are: French at the root, English under /en/.
LANGUAGES = {"fr": "", "en": "en/"}


def _procedure_url(procedure: Procedure, lang: str = "fr") -> str:
    return f"{LANGUAGES[lang]}procedures/{procedure.name}-{procedure.version}/"


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("procedure", list(default_registry()), ids=lambda p: p.key)
def test_procedure_diagram_is_drawn_and_legible_at_1280_px(
    page: Any, base_url: str, artifacts: Path, procedure: Procedure, lang: str
) -> None:
    page.goto(base_url + _procedure_url(procedure, lang))
    page.wait_for_function(
        "document.documentElement.dataset.diagrams !== undefined", timeout=30_000
    )
    assert page.evaluate("document.documentElement.dataset.diagrams") == "drawn"
    diagrams = page.evaluate(_DIAGRAMS)
    assert len(diagrams) == 1
    diagram = diagrams[0]
    assert diagram["drawn"], "the Mermaid block has no svg"
    # One box per state (Mermaid names it "<diagram>-state-<state id>-<n>"), each labelled.
    boxes = diagram["states"]
    drawn = {
        state for state in _state_ids(procedure) if any(f"-state-{state}-" in box for box in boxes)
    }
    assert len(diagram["states"]) >= len(procedure.states)
    assert drawn == _state_ids(procedure)
    assert diagram["labels"] >= len(procedure.states)
    assert diagram["smallest"] >= SMALLEST_LABEL_PX, diagram
    name = f"procedure-{procedure.name}-{procedure.version}-{lang}"
    page.screenshot(path=artifacts / f"{name}-top.png")
    page.locator("div.mermaid-diagram").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / f"{name}-diagram.png")
    assert page.outside == []


# -- the API page ---------------------------------------------------------------------------

_FIELDS = """(id) => {
  const heading = document.getElementById(id);
  if (!heading) return null;
  const contents = heading.parentElement.querySelector(":scope > .doc-contents");
  // The class's own sections come before its members' (in .doc-children): its first table
  // is its "Attributes" section.
  const table = contents && contents.querySelector("table");
  if (!table) return [];
  return [...table.querySelectorAll("tbody tr")].map((row) => row.cells[0].innerText.trim());
}"""

# The signature's <code> is what scrolls sideways (the theme gives it overflow: auto).
_WIDE_SIGNATURES = """() => [...document.querySelectorAll(".doc-signature code")]
  .filter((code) => code.scrollWidth > code.clientWidth + 1)
  .map((code) => code.innerText.split("\\n")[0])"""


def _show(page: Any, anchor: str) -> None:
    # Scroll the heading to the top, below the theme's fixed header.
    page.evaluate(
        "(id) => { document.getElementById(id).scrollIntoView(); scrollBy(0, -64); }", anchor
    )


@pytest.mark.parametrize(
    ("value", "anchor"),
    [
        pytest.param(value, f"{value.__module__}.{value.__name__}", id=value.__name__)
        for value in (Actor, Case, Record, AuditReport, Violation)
    ],
)
def test_api_page_lists_every_field_of_the_value_objects(
    api_page: Any, artifacts: Path, value: type, anchor: str
) -> None:
    documented = api_page.evaluate(_FIELDS, anchor)
    assert documented is not None, f"no {anchor} on the API page"
    assert documented == [field.name for field in attrs.fields(value)]
    if value is Record:
        _show(api_page, anchor)
        api_page.screenshot(path=artifacts / "api-record.png")
    assert api_page.outside == []


def test_api_signatures_fit_their_column_at_1280_px(api_page: Any, artifacts: Path) -> None:
    assert api_page.locator(".doc-signature code").count() > 20
    assert api_page.evaluate(_WIDE_SIGNATURES) == []
    _show(api_page, "stechnique.engine.Engine.fire")
    api_page.screenshot(path=artifacts / "api-engine-fire.png")
