"""``stechnique serve`` as partners use it: a real uvicorn process on 127.0.0.1, over HTTP.

The service runs as ``stechnique serve`` in a subprocess on a free port, over a SQLite file and
over the PostgreSQL test server (tables under a prefix of their own, dropped afterwards). The
accounts are made in the same store; every call goes through ``httpx``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from _stories import mstr_facts
from sql_support import drop_prefix, server_url, unique_prefix

from stechnique.server.accounts import AccountStore, Grant, token_digest
from stechnique.storage.sql import SQLStorage
from stechnique.workflows.soutien_technique_renforce_2015_2017 import PROCEDURE

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

ROOT = Path(__file__).resolve().parents[1]
NAME, VERSION = "soutien-technique-renforce", "2015-2017"
PROBLEM = "application/problem+json"

# account id -> (body, roles in NAME@VERSION, auditor)
ACCOUNTS = {
    "admin": ("ca-belle-de-mai", {"administrator"}, False),
    "caf": ("caf-coordination", {"caf_coordinator"}, False),
    "funder": ("caf-13", {"funder"}, False),
    "other": ("ca-autre-centre", {"administrator"}, False),
    "auditor": ("cour-des-comptes", set(), True),
    # The case's own body: its token would see the case, were it not revoked.
    "revoked": ("ca-belle-de-mai", {"administrator"}, False),
}


@attrs.frozen
class Service:
    """A running service: its base URL, the token of each account, its store."""

    base: str
    url: str
    prefix: str
    tokens: dict[str, str]

    def call(self, who: str | None, method: str, path: str, **options: Any) -> Any:
        """``method path`` with ``who``'s token (None: no token; ``wrong``: a made-up one)."""
        headers = dict(options.pop("headers", {}))
        if who == "wrong":
            headers["Authorization"] = "Bearer stq_" + uuid.uuid4().hex
        elif who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **options)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"stechnique serve exited: {log.read_text()}")
        try:
            if httpx.get(base + "/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"stechnique serve did not answer within 60 s: {log.read_text()}")


@contextmanager
def _serving(
    kind: str,
    directory: Path,
    *options: str,
    before: tuple[str, ...] = (),
    cwd: Path | None = None,
) -> Iterator[Service]:
    """``stechnique serve`` (with ``options``) on a free port of 127.0.0.1, over a store of
    ``kind`` holding the accounts above; its tables dropped afterwards."""
    if kind == "sqlite":
        url, prefix = f"sqlite:///{directory / 'serve.db'}", "stechnique_"
    else:
        url, prefix = server_url("postgres"), unique_prefix("srv")
    SQLStorage(url, table_prefix=prefix).close()
    store = AccountStore(url, table_prefix=prefix)
    tokens = {}
    for account_id, (body, roles, auditor) in ACCOUNTS.items():
        grants = [Grant(NAME, VERSION, roles)] if roles else []
        _, tokens[account_id] = store.add(
            account_id, body=body, grants=grants, auditor=auditor, now=_now()
        )
    store.revoke("revoked", now=_now())
    store.close()
    port, log = _free_port(), directory / "serve.log"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "STECHNIQUE_TABLE_PREFIX": prefix,
    }
    command = [sys.executable, "-m", "stechnique.cli", *before, "serve", "--db", url,
               "--port", str(port)]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, *options], env=environment, stdout=output, stderr=subprocess.STDOUT,
            cwd=cwd,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log)
        yield Service(base, url, prefix, tokens)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if kind == "postgres":
            drop_prefix(url, prefix)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """``stechnique serve`` on a free port of 127.0.0.1, with the accounts above."""
    with _serving(request.param, tmp_path_factory.mktemp("serve")) as running:
        yield running


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _started(service: Service) -> str:
    answer = service.call(
        "admin",
        "POST",
        "/cases",
        json={"procedure": NAME, "version": VERSION, "facts": mstr_facts()},
    )
    assert answer.status_code == 201, answer.text
    case_id: str = answer.json()["id"]
    return case_id


def _referred(service: Service) -> str:
    case_id = _started(service)
    answer = service.call(
        "caf", "POST", f"/cases/{case_id}/events/refer",
        json={"payload": {"funders": ["caf-13", "etat"]}}, headers={"If-Match": '"1"'},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return case_id


def _stored(service: Service, case_id: str) -> tuple[Any, Any]:
    """The case and its history as the coordination reads them."""
    case = service.call("caf", "GET", f"/cases/{case_id}")
    history = service.call("caf", "GET", f"/cases/{case_id}/history")
    assert case.status_code == history.status_code == 200
    return case.json(), history.json()


def _problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    document: dict[str, Any] = answer.json()
    assert document["code"] == code
    assert document["status"] == status
    assert document["type"].endswith(code)
    assert document["detail"] == f"{document['fr']} / {document['en']}"
    return document


# -- the OpenAPI document ---------------------------------------------------------------------


#: The FastAPI release that wrote docs/openapi.json (change it when regenerating the file).
OPENAPI_WRITTEN_BY = "0.165.0"


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """Each operation of an OpenAPI document: its id and the statuses it answers with."""
    return {
        (path, method): (operation.get("operationId", ""), sorted(operation["responses"]))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_served_openapi_document_is_the_committed_one(service: Service) -> None:
    served = service.call(None, "GET", "/openapi.json").json()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert served["openapi"].startswith("3.1")
    regenerate = (
        "docs/openapi.json is not what the service serves; regenerate it with "
        "`python -m stechnique.server.openapi > docs/openapi.json`"
    )
    # The operations, their ids and statuses, whatever FastAPI release renders the schemas.
    assert _operations(served) == _operations(committed), regenerate
    assert sorted(served["components"]["schemas"]) == sorted(committed["components"]["schemas"]), (
        regenerate
    )
    # Byte for byte where the FastAPI release is the one that wrote it: each release words the
    # schemas a little differently, and the dependency floors' run has an older one.
    import fastapi

    if fastapi.__version__ == OPENAPI_WRITTEN_BY:
        assert served == committed, regenerate


#: Examples per operation and phase (raise it by hand: STECHNIQUE_SCHEMATHESIS_EXAMPLES=200).
SCHEMATHESIS_EXAMPLES = os.environ.get("STECHNIQUE_SCHEMATHESIS_EXAMPLES", "8")
#: What the service promises of every answer; not that every schema-valid request is accepted
#: (a procedure's facts are judged by the procedure, not by the OpenAPI document).
SCHEMATHESIS_CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    service: Service, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if not service.url.startswith("sqlite"):
        pytest.skip("run once, on the SQLite service: the routes are the same")
    command = Path(sys.executable).with_name("schemathesis")
    if not command.exists():
        pytest.skip("schemathesis is not installed (the test extra installs it)")
    done = subprocess.run(
        [str(command), "run", service.base + "/openapi.json",
         "-H", f"Authorization: Bearer {service.tokens['admin']}",
         "--checks", SCHEMATHESIS_CHECKS, "--max-examples", SCHEMATHESIS_EXAMPLES,
         "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, timeout=600, check=False,
        cwd=tmp_path,  # where it keeps its cache, out of the sources
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    with capsys.disabled():
        print(
            "\nschemathesis: "
            + " | ".join(line for line in lines if "generated" in line)
            + " | "
            + lines[-1]
        )
    assert done.returncode == 0, done.stdout[-4000:]


# -- a case through the service -----------------------------------------------------------------


def test_a_case_is_started_fired_and_read_through_the_service(service: Service) -> None:
    # Without a version, the latest: where the account was granted nothing.
    latest = service.call("admin", "POST", "/cases", json={"procedure": NAME, "facts": {}})
    assert _problem(latest, 403, "permission_denied")["details"]["roles"] == []
    started = service.call(
        "admin", "POST", "/cases",
        json={"procedure": NAME, "version": VERSION, "facts": mstr_facts()},
    )  # fmt: skip
    assert started.status_code == 201
    case = started.json()
    assert (case["name"], case["version"], case["state"], case["seq"]) == (
        NAME, VERSION, "requested", 1,
    )  # fmt: skip
    uuid.UUID(case["id"])  # chosen by the service
    assert started.headers["ETag"] == '"1"'
    assert started.headers["Location"] == f"/cases/{case['id']}"
    read = service.call("admin", "GET", started.headers["Location"])
    assert (read.status_code, read.headers["ETag"], read.json()) == (200, '"1"', case)

    referred = service.call(
        "caf", "POST", f"/cases/{case['id']}/events/refer",
        json={"payload": {"funders": ["caf-13", "etat"]}}, headers={"If-Match": '"1"'},
    )  # fmt: skip
    assert (referred.status_code, referred.headers["ETag"]) == (200, '"2"')
    assert referred.json()["state"] == "referred"

    # The funder's command, sent twice with one key, applies once.
    decide = {"json": {"payload": {"decision": "approve"}}, "headers": {"Idempotency-Key": "d-1"}}
    path = f"/cases/{case['id']}/events/record_funder_decision"
    first = service.call("funder", "POST", path, **decide)
    again = service.call("funder", "POST", path, **decide)
    assert first.status_code == again.status_code == 200
    assert first.json()["seq"] == again.json()["seq"] == 3

    history = service.call("funder", "GET", f"/cases/{case['id']}/history").json()
    assert [(r["seq"], r["event"]) for r in history] == [
        (1, "start"), (2, "refer"), (3, "record_funder_decision"),
    ]  # fmt: skip
    # The actor is derived from the account: its body, and the roles granted in the version.
    assert history[2]["actor"] == {"id": "caf-13", "roles": ["funder"], "body": "caf-13"}
    assert history[0]["actor"]["roles"] == ["administrator"]

    events = service.call("admin", "GET", f"/cases/{case['id']}/events").json()
    assert events == {"case_id": case["id"], "events": ["withdraw"]}
    explained = service.call(
        "caf", "POST", f"/cases/{case['id']}/explain", json={"event": "validate"}
    ).json()
    assert explained["allowed"] is False
    assert [reason["kind"] for reason in explained["reasons"]] == ["guard"]
    assert explained["reasons"][0]["fr"]  # in French, and in English
    assert explained["reasons"][0]["en"]


def test_a_start_sent_again_with_its_idempotency_key_opens_one_case(service: Service) -> None:
    key = {"Idempotency-Key": f"ouverture-{uuid.uuid4().hex[:8]}"}
    start = {"procedure": NAME, "version": VERSION, "facts": mstr_facts()}
    first = service.call("admin", "POST", "/cases", json=start, headers=key)
    again = service.call("admin", "POST", "/cases", json=start, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    other = {**start, "facts": {**mstr_facts(), "centre": "Centre social Saint-Mauront"}}
    reused = service.call("admin", "POST", "/cases", json=other, headers=key)
    _problem(reused, 422, "idempotency_key_reused")
    # The key is the account's: the same key from another account is another start.
    elsewhere = service.call("other", "POST", "/cases", json=start, headers=key)
    assert elsewhere.status_code == 201
    assert elsewhere.json()["id"] != first.json()["id"]


def test_a_refused_fire_is_a_french_problem_document_and_changes_nothing(
    service: Service,
) -> None:
    case_id = _referred(service)
    before = _stored(service, case_id)

    # The funder holds no role allowed to validate: 403, said in French first.
    refused = service.call("funder", "POST", f"/cases/{case_id}/events/validate")
    document = _problem(refused, 403, "permission_denied")
    assert document["fr"].startswith("'caf-13' (funder) ne peut pas déclencher 'validate'")
    assert document["details"]["allowed"] == ["caf_coordinator"]
    assert document["details"]["roles"] == ["funder"]

    # A guard: 409, each failed guard named in both languages.
    guarded = service.call("caf", "POST", f"/cases/{case_id}/events/validate")
    failed = _problem(guarded, 409, "guard_failed")["details"]["failed_guards"]
    assert failed
    assert all(guard["fr"] and guard["en"] for guard in failed)

    # A bad payload: 422, the field named.
    bad = service.call(
        "funder", "POST", f"/cases/{case_id}/events/record_funder_decision",
        json={"payload": {"decision": "peut-être"}},
    )  # fmt: skip
    problems = _problem(bad, 422, "invalid_data")["details"]["problems"]
    assert [problem["field"] for problem in problems] == ["decision"]

    # An event the state does not have: 409.
    _problem(service.call("caf", "POST", f"/cases/{case_id}/events/close"), 409, "invalid_event")
    assert _stored(service, case_id) == before


def test_if_match_on_a_case_that_moved_on_is_412_and_changes_nothing(service: Service) -> None:
    case_id = _referred(service)
    before = _stored(service, case_id)
    stale = service.call(
        "funder", "POST", f"/cases/{case_id}/events/record_funder_decision",
        json={"payload": {"decision": "approve"}}, headers={"If-Match": '"1"'},
    )  # fmt: skip
    document = _problem(stale, 412, "concurrency_conflict")
    assert (document["details"]["expected_seq"], document["details"]["actual_seq"]) == (1, 2)
    unreadable = service.call(
        "funder", "POST", f"/cases/{case_id}/events/record_funder_decision",
        json={"payload": {"decision": "approve"}}, headers={"If-Match": "soon"},
    )  # fmt: skip
    assert _problem(unreadable, 422, "invalid_request")["details"]["errors"][0]["loc"] == [
        "header", "if-match",
    ]  # fmt: skip
    assert _stored(service, case_id) == before


def test_the_cases_listed_are_those_the_account_may_see(service: Service) -> None:
    started = _started(service)
    referred = _referred(service)

    def listed(who: str) -> set[str]:
        answer = service.call(who, "GET", "/cases", params={"name": NAME})
        assert answer.status_code == 200
        return {case["id"] for case in answer.json()}

    assert {started, referred} <= listed("admin")
    assert {started, referred} <= listed("caf")  # the coordination sees every case
    assert referred in listed("funder")
    assert started not in listed("funder")
    assert not {started, referred} & listed("other")
    assert not {started, referred} & listed("auditor")  # auditing is a read apart


def test_procedures_come_with_the_json_schemas_of_their_facts_and_payloads(
    service: Service,
) -> None:
    listed = service.call("admin", "GET", "/procedures").json()
    mine = [p for p in listed if (p["name"], p["version"]) == (NAME, VERSION)]
    assert [p["roles_granted"] for p in mine] == [["administrator"]]
    answer = service.call("admin", "GET", f"/procedures/{NAME}/{VERSION}")
    assert answer.status_code == 200
    detail = answer.json()
    assert detail["fingerprint"] == PROCEDURE.fingerprint
    facts = detail["facts_schema"]
    assert set(facts["properties"]) == {field.name for field in PROCEDURE.facts}
    assert facts["required"] == [field.name for field in PROCEDURE.facts if field.required]
    assert facts["additionalProperties"] is False
    refer = next(event for event in detail["events"] if event["event"] == "refer")
    assert refer["payload_schema"]["properties"]["funders"]["type"] == "array"
    assert refer["roles"] == ["caf_coordinator"]
    missing = service.call("admin", "GET", f"/procedures/{NAME}/1999")
    _problem(missing, 404, "unknown_procedure")


def test_an_auditor_reads_unredacted_saying_why_and_the_read_is_logged(service: Service) -> None:
    case_id = _referred(service)
    path = f"/cases/{case_id}/unredacted-history"
    refused = service.call("caf", "GET", path, params={"reason": "curiosité"})
    _problem(refused, 403, "not_an_auditor")
    _problem(service.call("auditor", "GET", path), 422, "invalid_request")  # no reason
    reason = f"contrôle {uuid.uuid4().hex[:8]}"
    read = service.call("auditor", "GET", path, params={"reason": reason})
    assert read.status_code == 200
    assert [record["event"] for record in read.json()] == ["start", "refer"]
    storage = SQLStorage(service.url, table_prefix=service.prefix)
    try:
        logged = [access for access in storage.accesses() if access.reason == reason]
    finally:
        storage.close()
    assert [(a.actor.id, a.actor.body, a.case_ids) for a in logged] == [
        ("cour-des-comptes", "cour-des-comptes", (case_id,))
    ]
    # The auditor's account reads nothing else unredacted: a case it may not see is unknown.
    _problem(service.call("auditor", "GET", f"/cases/{case_id}"), 404, "unknown_case")


def test_an_actor_not_of_the_account_is_refused(service: Service) -> None:
    answer = service.call("admin", "GET", "/cases", headers={"Stechnique-Actor": "caf-13"})
    _problem(answer, 403, "not_an_actor_of_the_account")


# -- authentication ---------------------------------------------------------------------------

CALLERS = ("missing", "wrong", "revoked", "other body")
CASE_ENDPOINTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("GET /cases/{id}", "GET", "/cases/{id}", {}),
    ("POST /cases/{id}/events/{event}", "POST", "/cases/{id}/events/withdraw",
     {"json": {"payload": {"reason": "Le conseil renonce."}}}),
    ("GET /cases/{id}/history", "GET", "/cases/{id}/history", {}),
    ("GET /cases/{id}/events", "GET", "/cases/{id}/events", {}),
    ("POST /cases/{id}/explain", "POST", "/cases/{id}/explain", {"json": {"event": "withdraw"}}),
)  # fmt: skip
OTHER_ENDPOINTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("GET /account", "GET", "/account", {}),
    ("GET /procedures", "GET", "/procedures", {}),
    ("GET /procedures/{name}/{version}", "GET", f"/procedures/{NAME}/{VERSION}", {}),
    ("GET /cases", "GET", "/cases", {}),
    ("POST /cases", "POST", "/cases",
     {"json": {"procedure": NAME, "version": VERSION, "facts": mstr_facts()}}),
    ("GET /cases/{id}/unredacted-history", "GET", "/cases/{id}/unredacted-history",
     {"params": {"reason": "contrôle"}}),
)  # fmt: skip
_WHO = {"missing": None, "wrong": "wrong", "revoked": "revoked", "other body": "other"}


def test_authentication_matrix(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    """Missing, wrong or revoked tokens are 401 everywhere; another body's token is 404 on
    every case-level endpoint, as for a case that does not exist: 0 successes."""
    case_id = _started(service)
    before = _stored(service, case_id)
    rows, successes = [], 0
    for label, method, path, options in CASE_ENDPOINTS + OTHER_ENDPOINTS:
        statuses = []
        for kind in CALLERS:
            if kind == "other body" and (label, method, path, options) in OTHER_ENDPOINTS:
                statuses.append("-")
                continue
            answer = service.call(_WHO[kind], method, path.replace("{id}", case_id), **options)
            successes += answer.status_code < 400
            expected = 404 if kind == "other body" else 401
            assert answer.status_code == expected, (label, kind, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            if expected == 401:
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
            statuses.append(str(answer.status_code))
        rows.append((label, *statuses))
    assert successes == 0
    assert _stored(service, case_id) == before
    with capsys.disabled():
        width = max(len(row[0]) for row in rows)
        print(f"\n{'endpoint'.ljust(width)} | " + " | ".join(CALLERS))
        for label, *statuses in rows:
            print(
                f"{label.ljust(width)} | "
                + " | ".join(s.ljust(len(c)) for s, c in zip(statuses, CALLERS, strict=True))
            )
        print(f"successes: {successes}")


def test_a_case_the_account_may_not_see_reads_exactly_as_a_missing_one(service: Service) -> None:
    case_id, missing = _started(service), str(uuid.uuid4())
    for _, method, path, options in CASE_ENDPOINTS:
        hidden = service.call("other", method, path.replace("{id}", case_id), **options)
        absent = service.call("other", method, path.replace("{id}", missing), **options)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.text.replace(case_id, "ID") == absent.text.replace(missing, "ID")


# -- accounts -----------------------------------------------------------------------------------


def test_a_token_is_kept_only_as_its_digest_and_revoking_refuses_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    SQLStorage(url).close()
    store = AccountStore(url)
    try:
        account, token = store.add("caf-13", body="caf-13", now=_now())
        assert token.startswith("stq_")
        assert len(token) >= 4 + 43
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT * FROM stechnique_accounts")).all()
        engine.dispose()
        assert token not in repr(rows)
        assert token_digest(token) in repr(rows)
        assert store.by_token(token) == account
        assert store.by_token(token[:-1]) is None
        assert store.by_token(token_digest(token)) is None  # the digest is no token
        store.revoke("caf-13", now=_now())
        assert store.by_token(token) is None
        assert store.get("caf-13").revoked_at is not None  # type: ignore[union-attr]
    finally:
        store.close()


def test_the_accounts_commands_add_list_and_revoke(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stechnique.cli import app

    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*arguments: str) -> Any:
        return CliRunner().invoke(app, [*arguments, "--db", db], env={"COLUMNS": "200"})

    added = run(
        "accounts", "add", "caf-13", "--body", "caf-13", "--actor", "agent-durand",
        "--grant", f"{NAME}@{VERSION}=funder",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("stq_")
    store = AccountStore(db)
    try:
        account = store.by_token(token)
        assert account is not None
        assert (account.body, account.actors) == ("caf-13", ("agent-durand",))
        assert account.roles_in(NAME, VERSION) == {"funder"}
        assert account.roles_in(NAME, "2019") == frozenset()  # granted per version

        listed = run("accounts", "list")
        assert listed.exit_code == 0
        assert f"grants={NAME}@{VERSION}=funder" in listed.stdout
        assert token not in listed.stdout

        unknown_role = run(
            "accounts", "add", "x", "--body", "x", "--grant", f"{NAME}@{VERSION}=pope"
        )
        assert unknown_role.exit_code == 2
        # The command speaks the language in force, French by default.
        assert "ne déclare pas le rôle 'pope'" in unknown_role.output
        taken = run("accounts", "add", "caf-13", "--body", "caf-13")
        assert taken.exit_code == 2
        assert "un compte porte déjà cet identifiant" in taken.output

        assert run("accounts", "revoke", "caf-13").exit_code == 0
        assert store.by_token(token) is None
        assert "revoked" in run("accounts", "list").stdout
    finally:
        store.close()


# -- several workers ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_several_workers_on_one_store_behave_as_one(tmp_path: Path) -> None:
    """Two worker processes: one fire wins a race on a seq, a revocation holds in both."""
    with _serving("postgres", tmp_path, "--workers", "2") as running:
        case_id = _referred(running)
        decide = {"json": {"payload": {"decision": "approve"}}, "headers": {"If-Match": '"2"'}}
        path = f"/cases/{case_id}/events/record_funder_decision"
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: running.call("funder", "POST", path, **decide),
                                    range(8)))  # fmt: skip
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses.count(200) == 1
        assert set(statuses) == {200, 412}  # the one-decision guard never had to say it
        history = running.call("caf", "GET", f"/cases/{case_id}/history").json()
        assert [record["event"] for record in history][-1] == "record_funder_decision"
        assert len(history) == 3

        store = AccountStore(running.url, table_prefix=running.prefix)
        try:
            store.revoke("funder", now=_now())
        finally:
            store.close()
        # Each request may land on either worker: none remembers the account.
        with ThreadPoolExecutor(8) as pool:
            after = list(pool.map(lambda _: running.call("funder", "GET", "/account"), range(16)))
        assert {answer.status_code for answer in after} == {401}


# -- the JWT mode ---------------------------------------------------------------------------


@contextmanager
def _identity_provider(public_jwk: dict[str, Any]) -> Iterator[str]:
    """A JWKS document served on 127.0.0.1, as an identity provider publishes its keys."""
    import http.server
    import threading

    body = json.dumps({"keys": [public_jwk]}).encode()

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()


def test_the_jwt_mode_takes_a_verified_token_whose_subject_is_an_account(tmp_path: Path) -> None:
    jwt = pytest.importorskip("jwt")
    from cryptography.hazmat.primitives.asymmetric import rsa

    key, stranger = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                     for _ in range(2))  # fmt: skip
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    issuer, audience = "https://idp.example/realms/partenaires", "stechnique"

    def token(subject: str, *, signer: Any = key, **changes: Any) -> str:
        claims = {"sub": subject, "iss": issuer, "aud": audience,
                  "exp": int(time.time()) + 300, **changes}  # fmt: skip
        encoded: str = jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "k1"})
        return encoded

    with (
        _identity_provider({**public, "kid": "k1", "use": "sig", "alg": "RS256"}) as jwks,
        _serving("sqlite", tmp_path, "--jwks-url", jwks, "--jwt-issuer", issuer,
                 "--jwt-audience", audience) as running,
    ):  # fmt: skip

        def status(bearer: str, path: str = "/account") -> int:
            headers = {"Authorization": f"Bearer {bearer}"}
            answer = httpx.get(running.base + path, headers=headers, timeout=30)
            code: int = answer.status_code
            return code

        account = httpx.get(running.base + "/account", timeout=30,
                            headers={"Authorization": f"Bearer {token('funder')}"})  # fmt: skip
        assert (account.status_code, account.json()["id"]) == (200, "funder")
        assert status(running.tokens["funder"]) == 200  # account tokens still work
        assert status(token("funder", signer=stranger)) == 401  # not the provider's key
        assert status(token("funder", aud="another-service")) == 401
        assert status(token("funder", iss="https://elsewhere.example")) == 401
        assert status(token("funder", exp=int(time.time()) - 60)) == 401  # expired
        assert status(token("nobody")) == 401  # no such account
        assert status(token("revoked")) == 401  # a revoked account
        case_id = _started(running)
        assert status(token("admin"), f"/cases/{case_id}") == 200
        assert status(token("other"), f"/cases/{case_id}") == 404


@pytest.mark.slow
def test_every_worker_serves_the_partner_procedures_given_on_the_command_line(
    tmp_path: Path,
) -> None:
    # The partner's data file and its guards module, found from the current directory.
    partner = ("--procedures", "aide-projets-jeunes.toml=aide_projets_jeunes:GUARDS")
    folder = ROOT / "examples" / "partner"
    with _serving("sqlite", tmp_path, "--workers", "2", before=partner, cwd=folder) as running:
        seen = set()
        for _ in range(12):  # requests land on either worker
            answer = running.call("admin", "GET", "/procedures")
            assert answer.status_code == 200
            seen.add(frozenset(procedure["name"] for procedure in answer.json()))
        assert len(seen) == 1
        assert "aide-projets-jeunes" in next(iter(seen))
