"""Shared pytest configuration: a deterministic hypothesis profile and the ``slow`` marker.

Hypothesis runs derandomized (the same examples on every run and machine), with
no deadline (timings are never a pass criterion) and no example database, so a
failure reproduces from the test alone. ``HYPOTHESIS_PROFILE=thorough`` runs
many more examples for a local soak.

Slow cases carry ``@pytest.mark.slow``; pyproject.toml deselects them by
default (run them with ``-m slow`` or ``-m "slow or not slow"``).
"""

from __future__ import annotations

import os

import pytest

from hypothesis import HealthCheck, Phase, settings

# No explain phase: its tracing is slow, and the shrunk example already says what failed.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)

settings.register_profile(
    "deterministic",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=20,
    print_blob=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    derandomize=False,
    deadline=None,
    database=None,
    max_examples=500,
    print_blob=True,
    phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))



@pytest.fixture(scope="session", autouse=True)
def _private_disk_cache(tmp_path_factory):
    """Solved bases go to a folder of this test session, never to the user's cache."""
    folder = tmp_path_factory.mktemp("constrainnet-cache")
    old = os.environ.get("CONSTRAINNET_CACHE_DIR")
    os.environ["CONSTRAINNET_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("CONSTRAINNET_CACHE_DIR", None)
    else:
        os.environ["CONSTRAINNET_CACHE_DIR"] = old
