"""Hypothesis strategies for the tests: the public ones, plus a few only tests need."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings

from stechnique.testing.strategies import (
    DEFAULT_ACTOR_IDS,
    DEFAULT_WORDS,
    actors,
    actors_with,
    cases,
    clock_steps,
    data,
    field_values,
    invalid_data,
    json_values,
    moments,
    payloads,
    procedures,
    records,
    schema_fields,
    texts,
)

__all__ = [
    "DEFAULT_ACTOR_IDS",
    "DEFAULT_WORDS",
    "actors",
    "actors_with",
    "cases",
    "clock_steps",
    "data",
    "field_values",
    "invalid_data",
    "json_values",
    "machine_settings",
    "moments",
    "payloads",
    "procedures",
    "records",
    "scaled",
    "schema_fields",
    "texts",
]


def scaled(fraction: float, **changes: Any) -> settings:
    """The loaded profile with ``fraction`` of its examples (at least 5), for slower tests."""
    current = settings()
    examples = max(5, int(current.max_examples * fraction))
    return settings(current, max_examples=examples, **changes)


def machine_settings(fraction: float = 2 / 3) -> settings:
    """Settings for a generated state machine: ``fraction`` of the profile's examples.

    The steps per run come from the profile (``stateful_step_count``). A run's smallest input
    is large by nature (a head start of progress, then many steps), hence the health checks.
    The explain phase is left out: tracing every line of hundreds of replays of a long run
    took minutes after a failure was already found and shrunk.
    """
    return scaled(
        fraction,
        phases=[phase for phase in settings().phases if phase is not Phase.explain],
        suppress_health_check=[
            *settings().suppress_health_check,
            HealthCheck.large_base_example,
            HealthCheck.data_too_large,
        ],
    )
