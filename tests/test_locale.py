"""The engine speaks one language per call: ``Engine(lang=...)``, ``explain(lang=...)``, else
the language in force; errors keep both texts whatever they show."""

from __future__ import annotations

import pytest
from small import TickingClock

from stechnique import Actor, Engine, InvalidArgument, UnknownCase
from stechnique.i18n import use_locale

MSTR = "soutien-technique-renforce"
ADMIN = Actor("ca-belle-de-mai", {"administrator"})
CAF = Actor("caf-13-coordination", {"caf_coordinator"})
FACTS = {
    "centre": "Centre social Belle de Mai",
    "management": "association",
    "situation": "crisis",
    "domains": ["financial_management"],
}


def _opened(engine: Engine) -> str:
    return engine.start(MSTR, version="2015-2017", actor=ADMIN, facts=FACTS, case_id="c1").id


def test_an_engine_in_english_raises_errors_that_read_english() -> None:
    engine = Engine(clock=TickingClock(), lang="en")
    with pytest.raises(UnknownCase) as caught:
        engine.fire("ghost", "refer", actor=CAF, payload={"funders": ["caf-13"]})
    assert str(caught.value) == "unknown case 'ghost'"  # French is in force, the engine's wins
    assert caught.value.fr == "dossier inconnu 'ghost'"


def test_an_engine_without_a_language_follows_the_one_in_force() -> None:
    engine = Engine(clock=TickingClock())
    with pytest.raises(UnknownCase) as caught:
        engine.fire("ghost", "refer", actor=CAF)
    assert str(caught.value) == "dossier inconnu 'ghost'"
    with use_locale("en"):
        assert str(caught.value) == "unknown case 'ghost'"


def test_explain_speaks_the_language_asked_per_call() -> None:
    """A service answers French and English callers with one engine."""
    engine = Engine(clock=TickingClock())
    case = _opened(engine)
    french = engine.explain(case, "refer", ADMIN)
    english = engine.explain(case, "refer", ADMIN, lang="en")
    assert french.texts() == ("Rôle requis : Coordination Caf du dispositif",)
    assert english.texts() == ("Role required: CAF coordinator",)
    # Both texts stay on every reason.
    assert french.reasons == english.reasons
    assert english.reasons[0].fr == french.texts()[0]
    engine.lang = "en"  # an engine's own language, overridden per call
    assert engine.explain(case, "refer", ADMIN).texts() == english.texts()
    assert engine.explain(case, "refer", ADMIN, lang="fr").texts() == french.texts()


def test_a_language_stechnique_does_not_speak_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        Engine(lang="de")
    assert caught.value.fields == ("lang",)
    engine = Engine(clock=TickingClock())
    case = _opened(engine)
    with pytest.raises(InvalidArgument):
        engine.explain(case, "refer", ADMIN, lang="de")
