"""The web pages of ``stechnique serve`` over HTTP (a real uvicorn process, as in test_serve):
login and sessions, CSRF, the cases list, a case page and its forms, the statistics.

The same pages in a real browser, with axe-core: ``test_pages_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_serve import Service, _now, _referred, _serving, _started

from stechnique.server.accounts import AccountStore

httpx = pytest.importorskip("httpx")
pytest.importorskip("jinja2")

_HIDDEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """``stechnique serve`` over SQLite with test_serve's accounts."""
    with _serving("sqlite", tmp_path_factory.mktemp("pages")) as running:
        yield running


def _csrf(page: Any) -> str:
    found = _HIDDEN.search(page.text)
    assert found, page.text
    return found.group(1)


def logged_in(service: Service, who: str) -> Any:
    """An httpx client holding ``who``'s session cookie."""
    client = httpx.Client(base_url=service.base, timeout=30)
    form = client.get("/pages/login")
    answer = client.post("/pages/login", data={"csrf": _csrf(form), "token": service.tokens[who]})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/pages/cases"
    return client


def test_login_sets_an_httponly_samesite_cookie_that_never_holds_the_token(
    service: Service,
) -> None:
    client = httpx.Client(base_url=service.base, timeout=30)
    form = client.get("/pages/login")
    assert form.status_code == 200
    assert '<label for="token">' in form.text
    assert 'lang="fr"' in form.text
    answer = client.post("/pages/login", data={"csrf": _csrf(form), "token": service.tokens["caf"]})
    cookie = answer.headers["set-cookie"]
    assert "stechnique_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https or the option sets it
    assert service.tokens["caf"] not in cookie
    assert client.get("/pages/cases").status_code == 200


def test_behind_a_tls_proxy_the_session_cookie_is_secure(service: Service) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a reverse proxy on the host.
    proxied = {"X-Forwarded-Proto": "https"}
    client = httpx.Client(base_url=service.base, timeout=30, headers=proxied)
    form = client.get("/pages/login")
    assert "Secure" in form.headers["set-cookie"]  # the login form's own CSRF cookie
    # httpx keeps Secure cookies off plain http: the test sends it back as a browser on https.
    sent = {**proxied, "Cookie": f"stechnique_login_csrf={form.cookies['stechnique_login_csrf']}"}
    answer = httpx.post(
        service.base + "/pages/login", headers=sent,
        data={"csrf": _csrf(form), "token": service.tokens["caf"]},
    )  # fmt: skip
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


def test_a_wrong_or_revoked_token_or_a_forged_cookie_gets_no_session(service: Service) -> None:
    for token in ("stq_nothing", service.tokens["revoked"]):
        client = httpx.Client(base_url=service.base, timeout=30)
        form = client.get("/pages/login")
        answer = client.post("/pages/login", data={"csrf": _csrf(form), "token": token})
        assert answer.status_code == 401
        assert "Jeton inconnu ou révoqué" in answer.text
        assert "stechnique_session" not in client.cookies
    forged = httpx.get(service.base + "/pages/cases", cookies={"stechnique_session": "caf"})
    assert forged.status_code == 303
    assert forged.headers["location"] == "/pages/login"


def test_a_login_without_its_csrf_token_is_refused(service: Service) -> None:
    client = httpx.Client(base_url=service.base, timeout=30)
    client.get("/pages/login")
    answer = client.post("/pages/login", data={"csrf": "forged", "token": service.tokens["caf"]})
    assert answer.status_code == 400
    assert "stechnique_session" not in client.cookies


def test_a_fire_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    service: Service,
) -> None:
    case_id = _started(service)
    client = logged_in(service, "caf")
    answer = client.post(
        f"/pages/cases/{case_id}/events/refer", data={"csrf": "forged", "funders": ["caf-13"]}
    )
    assert answer.status_code == 400
    assert service.call("caf", "GET", f"/cases/{case_id}").json()["seq"] == 1


def test_a_case_is_fired_through_its_form_then_redirected(service: Service) -> None:
    case_id = _started(service)
    client = logged_in(service, "caf")
    page = client.get(f"/pages/cases/{case_id}")
    assert page.status_code == 200
    assert f'action="/pages/cases/{case_id}/events/refer"' in page.text
    assert "Chronologie" in page.text
    answer = client.post(
        f"/pages/cases/{case_id}/events/refer",
        data={"csrf": _csrf(page), "seq": "1", "funders": "caf-13\netat"},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/pages/cases/{case_id}?done=1"
    case = service.call("caf", "GET", f"/cases/{case_id}").json()
    assert (case["state"], case["seq"]) == ("referred", 2)
    history = service.call("caf", "GET", f"/cases/{case_id}/history").json()
    assert history[-1]["payload"] == {"funders": ["caf-13", "etat"]}  # one funder a line


def test_a_refused_form_shows_the_french_refusal_and_changes_nothing(service: Service) -> None:
    case_id = _referred(service)
    client = logged_in(service, "funder")
    page = client.get(f"/pages/cases/{case_id}")
    # the decision is a choice: no value is a refusal of the engine's, named in French
    answer = client.post(
        f"/pages/cases/{case_id}/events/record_funder_decision",
        data={"csrf": _csrf(page), "seq": "2"},
    )
    assert answer.status_code == 422
    assert 'role="alert"' in answer.text
    assert "Données invalides" in answer.text
    assert "decision" in answer.text
    assert service.call("caf", "GET", f"/cases/{case_id}").json()["seq"] == 2


def test_a_case_the_account_may_not_see_is_not_found(service: Service) -> None:
    case_id = _started(service)
    client = logged_in(service, "other")
    assert client.get(f"/pages/cases/{case_id}").status_code == 404
    assert case_id not in client.get("/pages/cases").text
    answer = client.post(f"/pages/cases/{case_id}/events/withdraw",
                         data={"csrf": "x"})  # fmt: skip
    assert answer.status_code in (400, 404)
    assert service.call("caf", "GET", f"/cases/{case_id}").json()["seq"] == 1


def test_the_cases_page_filters_by_state_and_speaks_english_on_request(
    service: Service,
) -> None:
    started, referred = _started(service), _referred(service)
    client = logged_in(service, "caf")
    page = client.get("/pages/cases", params={"state": "referred"})
    assert referred in page.text
    assert started not in page.text
    waiting = client.get("/pages/cases", params={"waiting": "caf-13", "page": 1000}).text
    assert referred in waiting
    assert started not in waiting
    this_year = str(_now().year)
    assert referred in client.get("/pages/cases", params={"year": this_year}).text
    assert referred not in client.get("/pages/cases", params={"year": "2001"}).text
    english = client.get("/pages/cases", params={"lang": "en"})
    assert 'lang="en"' in english.text
    assert "Cases" in english.text
    assert 'lang="en"' in client.get("/pages/cases").text  # remembered in a cookie


def test_logout_ends_the_session(service: Service) -> None:
    client = logged_in(service, "caf")
    page = client.get("/pages/cases")
    assert client.post("/pages/logout", data={"csrf": _csrf(page)}).status_code == 303
    assert client.get("/pages/cases").headers["location"] == "/pages/login"


def test_a_session_ends_when_its_account_is_revoked(service: Service, tmp_path: Path) -> None:
    store = AccountStore(service.url, table_prefix=service.prefix)
    try:
        store.add("short-lived", body="caf-coordination", now=_now())
        client = httpx.Client(base_url=service.base, timeout=30)
        # a token for it: add returns it; take a fresh account to log in with
        _, token = store.add("short-lived-2", body="caf-coordination", now=_now())
        form = client.get("/pages/login")
        client.post("/pages/login", data={"csrf": _csrf(form), "token": token})
        assert client.get("/pages/cases").status_code == 200
        store.revoke("short-lived-2", now=_now())
        assert client.get("/pages/cases").status_code == 303
    finally:
        store.close()


def _counts(client: Any, table: str) -> dict[str, str]:
    answer = client.get(f"/pages/stats/{table}.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = [line.split(",") for line in answer.text.splitlines()]
    assert rows[0] == ["key", "count"]
    return dict(rows[1:])


def test_the_statistics_suppress_small_counts_except_for_coordinators(
    service: Service,
) -> None:
    case_id = _referred(service)
    decided = service.call(
        "funder", "POST", f"/cases/{case_id}/events/record_funder_decision",
        json={"payload": {"decision": "approve"}},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    coordination, funder = logged_in(service, "caf"), logged_in(service, "funder")
    full = coordination.get("/pages/stats")
    assert full.status_code == 200
    assert "Suivi et évaluation du dispositif" in full.text
    assert "Chiffres complets" in full.text
    # Every case the coordination may see is counted, by state, exactly.
    seen = service.call("caf", "GET", "/cases").json()
    by_state = _counts(coordination, "by_state")
    assert sum(int(count) for count in by_state.values()) == len(seen)
    key = "record_funder_decision: approve"
    assert _counts(coordination, "decisions")[key] == "1"
    # The funder sees its own cases only, and one decision is too few to be shown.
    assert "Chiffres sur les seuls dossiers" in funder.get("/pages/stats").text
    assert _counts(funder, "decisions")[key] == "<5"
    assert "&lt; 5" in funder.get("/pages/stats").text


def test_the_cases_come_a_page_at_a_time_oldest_first(service: Service) -> None:
    from stechnique.server.pages._views import PAGE_SIZE

    while len(service.call("caf", "GET", "/cases").json()) <= PAGE_SIZE:
        _started(service)
    every = [case["id"] for case in service.call("caf", "GET", "/cases").json()]
    client = logged_in(service, "caf")
    first, second = client.get("/pages/cases"), client.get("/pages/cases", params={"page": 2})
    listed = re.compile(r'href="/pages/cases/([^"]+)"')
    assert listed.findall(first.text) == every[:PAGE_SIZE]
    assert listed.findall(second.text) == every[PAGE_SIZE : 2 * PAGE_SIZE]
    assert 'rel="next"' in first.text
    assert 'rel="prev"' in second.text


def test_an_auditor_runs_an_audit_and_reads_the_violations_by_case_and_seq(
    tmp_path: Path,
) -> None:
    import base64
    import json
    import sqlite3

    with _serving("sqlite", tmp_path) as running:
        clean, tampered = _referred(running), _referred(running)
        with sqlite3.connect(running.url.removeprefix("sqlite:///")) as connection:
            changed = connection.execute(
                "UPDATE stechnique_records SET payload = ? WHERE case_id = ? AND seq = 2",
                (json.dumps({"funders": ["caf-13"]}), tampered),
            ).rowcount
        assert changed == 1
        coordination = logged_in(running, "caf")
        assert coordination.get("/pages/audit").status_code == 403
        assert "/pages/audit" not in coordination.get("/pages/cases").text
        auditor = logged_in(running, "auditor")
        form = auditor.get("/pages/audit")
        assert form.status_code == 200
        assert auditor.post("/pages/audit", data={"csrf": "forged"}).status_code == 400
        report = auditor.post("/pages/audit", data={"csrf": _csrf(form), "procedure": ""})
        assert report.status_code == 200
        assert "Des violations ont été trouvées." in report.text
        assert f"<td>{tampered}</td><td>2</td>" in report.text
        assert clean not in report.text
        encoded = re.search(r'href="data:application/json;base64,([^"]+)"', report.text)
        assert encoded is not None
        document = json.loads(base64.b64decode(encoded.group(1)))
        assert document["cases_checked"] == 2
        assert {(v["case_id"], v["seq"]) for v in document["violations"]} == {(tampered, 2)}


def test_what_partners_typed_is_shown_escaped(service: Service) -> None:
    from _stories import mstr_facts

    facts = {**mstr_facts(), "centre": "<script>alert(1)</script>"}
    started = service.call(
        "admin", "POST", "/cases",
        json={"procedure": "soutien-technique-renforce", "version": "2015-2017", "facts": facts},
    )  # fmt: skip
    assert started.status_code == 201
    client = logged_in(service, "caf")
    for path in ("/pages/cases", f"/pages/cases/{started.json()['id']}"):
        page = client.get(path, params={"page": 1000})
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
