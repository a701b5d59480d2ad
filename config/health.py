"""`/healthz` and the worker heartbeat it reads.

Each Celery worker writes a heartbeat to the shared cache every
WORKER_HEARTBEAT_SECONDS. Reading it is cheap and works with every broker,
including the embedded filesystem one that has no remote-control channel.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

if TYPE_CHECKING:
    from celery.worker import WorkController

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "health:workers"
_stop = threading.Event()
# name -> callable giving a small dict added to this process's heartbeat (the
# inference app registers its batch statistics: sequences, queue, tokens/s).
heartbeat_extras: dict[str, Callable[[], dict[str, Any]]] = {}


def _heartbeat_ttl() -> int:
    return settings.WORKER_HEARTBEAT_SECONDS * 3


def record_heartbeat(hostname: str, queues: list[str]) -> None:
    workers = cache.get(HEARTBEAT_KEY) or {}
    now = time.time()
    workers = {name: beat for name, beat in workers.items() if now - beat["at"] < _heartbeat_ttl()}
    beat: dict[str, Any] = {"at": now, "queues": queues, "pid": os.getpid()}
    for name, extra in heartbeat_extras.items():
        try:
            beat[name] = extra()
        except Exception:
            logger.exception("heartbeat extra %s failed", name)
    workers[hostname] = beat
    cache.set(HEARTBEAT_KEY, workers, _heartbeat_ttl())


def live_workers() -> dict[str, dict[str, Any]]:
    now = time.time()
    workers = cache.get(HEARTBEAT_KEY) or {}
    return {name: beat for name, beat in workers.items() if now - beat["at"] < _heartbeat_ttl()}


@worker_ready.connect
def _start_heartbeat(sender: WorkController | None = None, **kwargs: object) -> None:
    hostname = getattr(sender, "hostname", socket.gethostname())
    queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values()) if sender else []

    def beat() -> None:
        while not _stop.is_set():
            try:
                record_heartbeat(hostname, queues)
            except Exception:  # the cache being down must not kill the worker
                logger.exception("worker heartbeat failed")
            _stop.wait(settings.WORKER_HEARTBEAT_SECONDS)

    _stop.clear()
    threading.Thread(target=beat, name="heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs: object) -> None:
    _stop.set()


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _check_broker() -> tuple[bool, str]:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _check_cache() -> tuple[bool, str, dict[str, dict[str, Any]]]:
    """The cache holds sessions' rate limits and the worker heartbeats: down is its own answer."""
    try:
        return True, "ok", live_workers()
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}", {}


def _may_see_details(request: HttpRequest) -> bool:
    # Hostnames and exception text help an attacker map the deployment: staff
    # and monitors holding HEALTHZ_TOKEN see them, everyone else the verdicts.
    token = settings.HEALTHZ_TOKEN
    if token and constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    db_ok, db_detail = _check_database()
    broker_ok, broker_detail = _check_broker()
    cache_ok, cache_detail, workers = _check_cache()
    worker_ok = bool(workers)
    if worker_ok:
        worker_detail = "ok"
    elif not cache_ok:
        worker_detail = "unknown: the cache that holds worker heartbeats is down"
    else:
        worker_detail = f"no worker heartbeat in the last {_heartbeat_ttl()} seconds"
    ok = db_ok and broker_ok and cache_ok and worker_ok
    checks = {
        "database": (db_ok, db_detail),
        "broker": (broker_ok, broker_detail),
        "cache": (cache_ok, cache_detail),
        "worker": (worker_ok, worker_detail),
    }
    body: dict[str, object] = {
        "status": "ok" if ok else "error",
        "down": [name for name, (good, _) in checks.items() if not good],
    }
    if _may_see_details(request):
        for name, (good, detail) in checks.items():
            body[name] = {"ok": good, "detail": detail}
        body["worker"] = {"ok": worker_ok, "detail": worker_detail, "workers": workers}
    else:
        for name, (good, _) in checks.items():
            body[name] = {"ok": good}
    return JsonResponse(body, status=200 if ok else 503)
