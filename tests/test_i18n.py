"""The one locale setting: French by default, English on demand, per context."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from stechnique.i18n import current_lang, format_datetime, format_number, parse_lang, use_locale


def test_french_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STECHNIQUE_LANG", raising=False)
    assert current_lang() == "fr"


def test_the_environment_sets_the_process_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STECHNIQUE_LANG", "en_GB.UTF-8")
    assert current_lang() == "en"


def test_use_locale_is_per_context_and_restored() -> None:
    seen: list[str] = []

    def other_thread() -> None:
        seen.append(current_lang())

    with use_locale("en"):
        assert current_lang() == "en"
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert current_lang() == "fr"
    # A new thread starts from the process default, not from another caller's choice.
    assert seen == ["fr"]


def test_unknown_language_names_the_available_ones() -> None:
    with pytest.raises(ValueError, match="possibles : fr, en"):
        parse_lang("de")


def test_times_are_paris_time_with_their_offset() -> None:
    winter = datetime(2026, 12, 7, 23, 54, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert format_datetime(winter, "fr") == "8 déc. 2026, 00:54:30 UTC+01:00"
    assert format_datetime(summer, "fr") == "1 juil. 2026, 12:00:00 UTC+02:00"
    assert format_datetime(winter, "en").endswith("UTC+01:00")


def test_numbers_follow_the_reader() -> None:
    assert format_number(11359.5, "fr") == "11\u202f359,5"
    assert format_number(11359.5, "en") == "11,359.5"
    assert format_number(0.01, "fr") == "0,01"
