"""What the browser tests share: the system's Chromium through Playwright, and a folder for
their screenshots (tests/test_docs_site.py, tests/test_pages_browser.py).

Playwright never downloads a browser here: it drives Debian's ``chromium``. Where Chromium,
Playwright or another tool is missing the tests skip, except under
``STECHNIQUE_REQUIRE_SERVERS=1`` (CI), where they fail.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("STECHNIQUE_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = "STECHNIQUE_REQUIRE_SERVERS"


def missing(reason: str) -> None:
    """Skip for ``reason``, or fail where CI requires every tool."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}; {REQUIRE}=1 makes this a failure", pytrace=False)
    pytest.skip(reason)


def system_chromium() -> Iterator[Any]:
    """Headless Chromium, the system's own, for a fixture to yield from."""
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set STECHNIQUE_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


def artifacts_folder(request: pytest.FixtureRequest, prefix: str, what: str) -> Path:
    """Where the screenshots go (``STECHNIQUE_ARTIFACTS``, else a new temporary folder); the
    path is printed, as ``what: <folder>``, even when output is captured."""
    chosen = os.environ.get("STECHNIQUE_ARTIFACTS")
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n{what}: {folder}")
    return folder
