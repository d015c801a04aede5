"""The web pages in a real browser: Debian's Chromium driven by Playwright, axe-core on each.

A coordinator logs in, filters the cases, opens one and fires an event through its form; a
funder sends a form the engine refuses and reads the refusal; both read the statistics page.
axe-core (the npm registry's package, fetched with ``npm pack`` into a temporary folder) runs
on every page: no serious or critical violation. Screenshots go to ``STECHNIQUE_ARTIFACTS``
when set, else to a temporary folder whose path is printed.

Without Chromium, Playwright or npm the tests skip and say why, except under
``STECHNIQUE_REQUIRE_SERVERS=1`` (CI), where they fail.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import artifacts_folder, missing, system_chromium
from test_serve import Service, _serving, _started

from stechnique.workflows.soutien_technique_renforce_2015_2017 import PROCEDURE

pytest.importorskip("jinja2")

#: The impacts axe-core reports that the pages may not have.
_FORBIDDEN = {"serious", "critical"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``stechnique serve`` over SQLite with test_serve's accounts."""
    with _serving("sqlite", tmp_path_factory.mktemp("pages-browser")) as running:
        yield running


@pytest.fixture(scope="module")
def axe(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core's script, from the npm registry (``npm pack``: no install, no node_modules)."""
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed (apt-get install npm): axe-core comes from the npm registry")
    folder = tmp_path_factory.mktemp("axe")
    packed = subprocess.run([npm, "pack", "axe-core@4", "--silent"], cwd=folder,
                            capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    if packed.returncode != 0:
        missing(f"npm pack axe-core failed: {packed.stderr.strip()}")
    with tarfile.open(folder / packed.stdout.strip().splitlines()[-1]) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        return member.read().decode("utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, the system's own."""
    yield from system_chromium()


@pytest.fixture(scope="module")
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where the screenshots and axe counts go."""
    return artifacts_folder(request, "stechnique-pages-", "pages screenshots and axe counts")


class Visit:
    """A browser page on the service: screenshots and axe-core on each page it shows."""

    def __init__(self, browser: Any, service: Service, axe: str, artifacts: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.service, self.axe, self.artifacts = service, axe, artifacts
        self.outside: list[str] = []
        self.page.on("request", self._record)

    def _record(self, request: Any) -> None:
        if not request.url.startswith(self.service.base):
            self.outside.append(request.url)

    def check(self, name: str) -> None:
        """Screenshot the page, run axe-core on it: no serious or critical violation."""
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)
        self.page.add_script_tag(content=self.axe)
        violations = self.page.evaluate("async () => (await axe.run()).violations")
        counts = dict.fromkeys(("minor", "moderate", "serious", "critical"), 0)
        for violation in violations:
            counts[violation["impact"]] += 1
        with (self.artifacts / "axe.txt").open("a") as log:
            log.write(f"{name}: {counts}\n")
        bad = [(v["id"], v["impact"], v["help"]) for v in violations if v["impact"] in _FORBIDDEN]
        assert not bad, f"{name}: {bad}"
        assert not self.outside, f"{name} fetched from outside the service: {self.outside}"

    def log_in(self, who: str) -> None:
        """Log in through the form with the keyboard."""
        self.page.goto(self.service.base + "/pages/login")
        self.page.get_by_label("Jeton du compte").fill(self.service.tokens[who])
        self.page.keyboard.press("Enter")
        self.page.wait_for_url("**/pages/cases")


@pytest.fixture
def visit(browser: Any, service: Service, axe: str, artifacts: Path) -> Iterator[Visit]:
    """A fresh browser context (no cookie) on the service."""
    opened = Visit(browser, service, axe, artifacts)
    yield opened
    opened.context.close()


def test_a_coordinator_logs_in_filters_opens_a_case_and_fires_through_its_form(
    visit: Visit, service: Service
) -> None:
    case_id = _started(service)
    page = visit.page
    page.goto(service.base + "/pages/login")
    visit.check("login")
    visit.log_in("caf")
    visit.check("cases")
    page.keyboard.press("Tab")  # the first stop skips to the content, for keyboard users
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    page.get_by_label("État").select_option("requested")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**state=requested**")
    visit.check("cases-filtered")
    page.get_by_role("link", name="Centre social Belle de Mai").last.click()
    page.wait_for_url(f"**/pages/cases/{case_id}")
    assert page.locator("#state").inner_text() == PROCEDURE.state("requested").fr
    visit.check("case")
    page.get_by_label("Financeurs consultés").fill("caf-13\netat")
    page.get_by_role("button", name="Envoyer : Saisir les partenaires").click()
    page.wait_for_url(f"**/pages/cases/{case_id}?done=1")
    assert page.get_by_role("status").inner_text() == "Enregistré."
    assert page.locator("#state").inner_text() == PROCEDURE.state("referred").fr
    visit.check("case-fired")
    history = service.call("caf", "GET", f"/cases/{case_id}/history").json()
    assert [r["event"] for r in history] == ["start", "refer"]


def test_a_funder_sees_a_refusal_in_french_and_nothing_changes(
    visit: Visit, service: Service
) -> None:
    case_id = _started(service)
    referred = service.call(
        "caf", "POST", f"/cases/{case_id}/events/refer", json={"payload": {"funders": ["caf-13"]}}
    )
    assert referred.status_code == 200
    visit.log_in("funder")
    page = visit.page
    page.goto(f"{service.base}/pages/cases/{case_id}")
    page.get_by_role("button", name="Envoyer : Décision d'un financeur").click()
    alert = page.locator("#refusal")
    assert "Données invalides" in alert.inner_text()
    visit.check("case-refused")
    assert service.call("caf", "GET", f"/cases/{case_id}").json()["seq"] == 2


def test_the_statistics_page_reads_in_french_and_in_english(visit: Visit, service: Service) -> None:
    _started(service)
    visit.log_in("caf")
    page = visit.page
    page.get_by_role("link", name="Suivi et évaluation du dispositif").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Suivi et évaluation du dispositif"
    assert page.locator("figure.chart svg").count() >= 3  # drawn by pygal, served inline
    visit.check("stats")
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Monitoring and evaluation"
    visit.check("stats-en")


def test_an_auditor_runs_an_audit_from_its_page(visit: Visit, service: Service) -> None:
    _started(service)
    visit.log_in("auditor")
    page = visit.page
    page.get_by_role("link", name="Audit des historiques").click()
    visit.check("audit")
    page.get_by_role("button", name="Lancer l'audit").click()
    assert page.locator("#verdict").inner_text() == "Aucune violation."
    visit.check("audit-report")
