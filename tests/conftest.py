"""Shared test configuration: hypothesis profiles and the small test procedures.

Hypothesis profiles: ``ci`` (default) keeps the suite fast; ``deep`` runs far more examples.
Choose with ``STECHNIQUE_HYPOTHESIS_PROFILE=deep``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("STECHNIQUE_HYPOTHESIS_PROFILE", "ci"))
