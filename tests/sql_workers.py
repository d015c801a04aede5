"""Code the multi-process SQL tests run in child processes.

Children come from a fork server that has imported this module (and so stechnique, SQLAlchemy
and Alembic) once: they start in milliseconds, yet inherit no connection from the test process.
Each opens its own ``SQLStorage``, as separate application instances would, and shares nothing
with the parent but the database.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from small import ticket

from stechnique import Actor, ConcurrencyConflict, Engine, Registry
from stechnique.storage import SQLStorage

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["sql_workers", "stechnique.storage.sql", "psycopg", "pymysql"])
CLERK = Actor("clerk-1", {"clerk"})
BOSS = Actor("boss-1", {"boss"})


def registry() -> Registry:
    """The registry every test process uses: the small ``ticket`` procedure."""
    return Registry((ticket(),))


def engine(url: str, prefix: str, **options: Any) -> Engine:
    """An engine over its own ``SQLStorage``."""
    return Engine(SQLStorage(url, table_prefix=prefix, **options), registry=registry())


def open_ticket(engine: Engine, case_id: str) -> None:
    """Start a ticket and approve it: from there ``comment`` may fire any number of times."""
    engine.start("ticket", actor=CLERK, facts={"title": case_id, "kind": "solo"}, case_id=case_id)
    engine.fire(case_id, "approve", actor=BOSS)


def _child(target: Callable[..., Any], args: Sequence[Any], results: Any) -> None:
    try:
        results.put((os.getpid(), "ok", target(*args)))
    except BaseException:
        results.put((os.getpid(), "error", traceback.format_exc()))


def run_processes(
    target: Callable[..., Any], args: Sequence[Sequence[Any]], timeout: float = 60
) -> list[Any]:
    """Run ``target(*a)`` for each ``a`` in its own process, all at once; their results.

    Any failure in a child fails the caller with the child's traceback.
    """
    results = CONTEXT.Queue()
    processes = [CONTEXT.Process(target=_child, args=(target, a, results)) for a in args]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in processes:
            outcomes.append(results.get(timeout=timeout))
    except queue.Empty:
        raise AssertionError(f"{len(processes) - len(outcomes)} processes never answered") from None
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    errors = [detail for _, status, detail in outcomes if status == "error"]
    assert not errors, "\n".join(errors)
    return [value for _, _, value in outcomes]


# -- targets ---------------------------------------------------------------------------------


def open_store(url: str, prefix: str, barrier: Any) -> str:
    """Open (and so create or upgrade) the store as soon as every opener is ready."""
    barrier.wait(timeout=60)
    SQLStorage(url, table_prefix=prefix).close()
    return "opened"


def open_and_tell(url: str, prefix: str, barrier: Any) -> tuple[str | None, str] | None:
    """Open the store as soon as every opener is ready; the upgrade this opening applied."""
    barrier.wait(timeout=60)
    storage = SQLStorage(url, table_prefix=prefix)
    storage.close()
    upgraded = storage.upgraded
    return None if upgraded is None else (upgraded.before, upgraded.after)


def fire_comments(
    url: str, prefix: str, case_ids: Sequence[str], worker: int, fires: int, barrier: Any
) -> dict[str, Any]:
    """Fire ``comment`` ``fires`` times, cycling over ``case_ids``; report wins and conflicts.

    Each payload names the worker and attempt, so the parent can check that every win is in a
    history exactly once.
    """
    eng = engine(url, prefix)
    wins: list[tuple[str, str]] = []
    conflicts = 0
    barrier.wait(timeout=60)
    for attempt in range(fires):
        case_id = case_ids[attempt % len(case_ids)]
        label = f"w{worker}-{attempt}"
        try:
            eng.fire(case_id, "comment", actor=CLERK, payload={"text": label})
        except ConcurrencyConflict:
            conflicts += 1
            continue
        wins.append((case_id, label))
    eng.storage.close()
    return {"wins": wins, "conflicts": conflicts}


def fire_with_key(url: str, prefix: str, case_id: str, key: str, barrier: Any) -> int:
    """Fire one ``comment`` with idempotency key ``key``, retrying lost races; the seq it got."""
    eng = engine(url, prefix)
    barrier.wait(timeout=60)
    while True:
        try:
            case = eng.fire(case_id, "comment", actor=CLERK, payload={"text": key},
                            idempotency_key=key)  # fmt: skip
        except ConcurrencyConflict:
            continue
        eng.storage.close()
        return case.seq


def burst(url: str, prefix: str, case_ids: Sequence[str], progress: Any) -> None:
    """Fire ``comment`` on the cases, round robin, forever (until killed).

    ``progress`` counts the fires that returned, so the parent knows fires are under way.
    """
    eng = engine(url, prefix)
    attempt = 0
    while True:
        case_id = case_ids[attempt % len(case_ids)]
        eng.fire(case_id, "comment", actor=CLERK, payload={"text": f"burst {attempt}" * 20})
        attempt += 1
        with progress.get_lock():
            progress.value += 1


# -- the change feed under load (test_feed_load.py) ------------------------------------------

#: Who follows the feed in the load test: a boss sees every ticket (a procedure without
#: parties keeps 0.1.0's rule: its roles see its cases).
WATCHER = Actor("watcher-1", {"boss"})


def fire_for(
    url: str, prefix: str, case_ids: Sequence[str], worker: int, seconds: float, barrier: Any
) -> dict[str, int]:
    """Fire ``comment`` round robin over the shared cases for ``seconds``, starting a case of
    its own every 25 fires; lost races are skipped. What it wrote."""
    import time

    eng = engine(url, prefix)
    fired = started = conflicts = 0
    barrier.wait(timeout=60)
    deadline = time.monotonic() + seconds
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        if attempt % 25 == 0:
            open_ticket(eng, f"w{worker}-{attempt}")
            started += 1
            continue
        try:
            eng.fire(case_ids[attempt % len(case_ids)], "comment", actor=CLERK,
                     payload={"text": f"w{worker}-{attempt}"})  # fmt: skip
        except ConcurrencyConflict:
            conflicts += 1
            continue
        fired += 1
    eng.storage.close()
    return {"fired": fired, "started": started, "conflicts": conflicts}


def follow_feed(url: str, prefix: str, consumer: str, log: str, idle: float) -> None:
    """Follow the feed as ``consumer`` until it has been quiet for ``idle`` seconds, writing
    each entry handled to ``log`` (one unbuffered write a line: a SIGKILL loses none written)
    before the batch is acknowledged; each run starts with a ``run`` line."""
    eng = engine(url, prefix)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"run {eng.acknowledged(consumer)}\n".encode())
        for batch in eng.follow(consumer, viewer=WATCHER, limit=50, idle=idle):
            lines = "".join(
                f"{c.position} {c.kind} {c.record.case_id} {c.record.seq}\n" for c in batch
            )
            os.write(fd, lines.encode())
    finally:
        os.close(fd)
        eng.storage.close()
