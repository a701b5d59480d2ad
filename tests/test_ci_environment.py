"""In CI the suite must really run on PostgreSQL, Redis, Chromium and the real models.

On a developer's machine the embedded defaults are fine and these checks are
skipped; under CI=true a missing piece fails the run instead of silently
skipping the tests that need it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from inference.provision import smollm2_path
from tests.conftest import IN_CI

pytestmark = pytest.mark.skipif(not IN_CI, reason="checks CI's own environment (CI=true)")


def test_ci_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_ci_runs_with_redis_as_cache_and_broker():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_ci_has_chromium_and_the_offline_model():
    assert Path("/usr/bin/chromium").exists()
    assert smollm2_path().stat().st_size > 50_000_000
