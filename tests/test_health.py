"""/healthz: database, broker and worker heartbeat; 200 only when all three are fine."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from config.health import HEARTBEAT_KEY, live_workers, record_heartbeat

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
    assert body["worker"]["ok"] is False
    assert body["worker"]["workers"] == []
    assert "no worker heartbeat" in body["worker"]["detail"]
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_healthz_with_heartbeat_is_200():
    record_heartbeat("celery@test-host", ["celery"])

    response = _get()

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": {"ok": True, "detail": "ok"},
        "broker": {"ok": True, "detail": "ok"},
        "worker": {"ok": True, "detail": "ok", "workers": ["celery@test-host"]},
    }


def test_healthz_stale_heartbeat_is_503(settings):
    cache.set(
        HEARTBEAT_KEY, {"celery@gone": {"at": time.time() - 3 * settings.WORKER_HEARTBEAT_SECONDS - 1, "queues": []}}
    )

    response = _get()

    assert response.status_code == 503
    assert response.json()["worker"]["workers"] == []


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
