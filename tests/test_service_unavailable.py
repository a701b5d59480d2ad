"""A cache or broker outage answers 503 with a clear message, never a 500 (RELIABILITY 35)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Port 9 (discard) on loopback: nothing listens, so connecting fails at once.
DOWN_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
}


def test_sign_in_with_the_cache_down_is_a_clear_503_page(settings):
    UserFactory(email="learner@example.com")
    settings.CACHES = DOWN_REDIS

    response = Client().post("/accounts/login/", {"login": "learner@example.com", "password": "whatever"})

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"(cache) is not answering" in response.content


def test_api_with_the_cache_down_answers_json_503(settings, world, smollm2):
    client = world.client_for(world.alice)
    settings.CACHES = DOWN_REDIS

    response = client.post(
        "/api/sandbox/runs",
        {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]},
        content_type="application/json",
    )

    assert response.status_code == 503
    assert "unreachable right now" in response.json()["error"]
