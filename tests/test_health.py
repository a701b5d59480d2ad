"""/healthz: database, broker and worker heartbeat; 200 only when all three are fine."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from config.health import HEARTBEAT_KEY, live_workers, record_heartbeat
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_heartbeat_cache(settings):
    # A real worker started by another test module heartbeats into the shared
    # cache; a cache of our own makes "no heartbeat" mean exactly that here.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "health"}}
    cache.clear()


def _get():  # type: ignore[no-untyped-def]
    return Client().get(reverse("healthz"))


def test_healthz_without_worker_heartbeat_is_503():
    response = _get()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["down"] == ["worker"]
    assert body["worker"] == {"ok": False}
    assert body["database"] == {"ok": True}
    assert body["broker"] == {"ok": True}


def test_healthz_with_heartbeat_is_200_and_shows_anonymous_callers_no_details():
    record_heartbeat("celery@test-host", ["celery"])

    response = _get()

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "down": [],
        "database": {"ok": True},
        "broker": {"ok": True},
        "cache": {"ok": True},
        "worker": {"ok": True},
    }
    assert b"test-host" not in response.content


def test_healthz_shows_staff_hostnames_and_details():
    record_heartbeat("celery@test-host", ["celery"])
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    body = client.get(reverse("healthz")).json()

    assert body["database"] == {"ok": True, "detail": "ok"}
    assert list(body["worker"]["workers"]) == ["celery@test-host"]
    assert body["worker"]["workers"]["celery@test-host"]["queues"] == ["celery"]


def test_healthz_shows_details_to_a_monitor_with_the_token_only(settings):
    settings.HEALTHZ_TOKEN = "monitor-secret"
    record_heartbeat("celery@test-host", ["celery"])

    with_token = Client().get(reverse("healthz"), HTTP_AUTHORIZATION="Bearer monitor-secret").json()
    wrong_token = Client().get(reverse("healthz"), HTTP_AUTHORIZATION="Bearer guess").json()
    learner = Client()
    learner.force_login(UserFactory())

    assert "workers" in with_token["worker"]
    assert "workers" not in wrong_token["worker"]
    assert "workers" not in learner.get(reverse("healthz")).json()["worker"]


def test_healthz_names_a_cache_that_is_down_with_503(settings):
    # A Redis nobody listens on: port 9 (discard) on loopback refuses at once.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }

    response = _get()

    assert response.status_code == 503
    assert response.json()["down"] == ["cache", "worker"]
    assert response.json()["cache"] == {"ok": False}


def test_healthz_stale_heartbeat_is_503(settings):
    cache.set(
        HEARTBEAT_KEY, {"celery@gone": {"at": time.time() - 3 * settings.WORKER_HEARTBEAT_SECONDS - 1, "queues": []}}
    )

    response = _get()

    assert response.status_code == 503
    assert response.json()["down"] == ["worker"]


def test_record_heartbeat_keeps_every_live_worker_and_drops_stale_ones(settings):
    cache.set(
        HEARTBEAT_KEY, {"celery@gone": {"at": time.time() - 3 * settings.WORKER_HEARTBEAT_SECONDS - 1, "queues": []}}
    )

    record_heartbeat("celery@a", ["celery"])
    record_heartbeat("celery@b", ["sandbox"])

    assert sorted(live_workers()) == ["celery@a", "celery@b"]
    assert sorted(cache.get(HEARTBEAT_KEY)) == ["celery@a", "celery@b"]


def test_healthz_is_json_and_never_cached():
    response = _get()

    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]


def test_healthz_post_not_allowed():
    response = Client().post(reverse("healthz"))

    assert response.status_code == 405


def test_healthz_needs_no_login():
    record_heartbeat("celery@test-host", ["celery"])

    response = Client().get("/healthz")

    assert response.status_code == 200
